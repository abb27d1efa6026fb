package aliasdb

import "sip-router.org/core/db/schema"

// The history of the dbaliases table, from OpenSER's tools/mysqldb.sh
// (2005 for OpenSER 1.0, 2007 for 1.2) and Kamailio 3.0's
// utils/kamctl/mysql/alias_db-create.sql. Its version has been 1 all
// along:
//
//   - OpenSER 1.0 and 1.1: alias_username, alias_domain, username,
//     domain (the domains VARCHAR(128)); no primary key, a unique key
//     alias_key on the alias, an index alias_user on the target.
//   - OpenSER 1.2: an id primary key besides.
//   - Kamailio 3.0: the unique key is alias_idx, the index target_idx,
//     the domains VARCHAR(64).
//
// TableFixes bring either older shape to 3.0's at version 1, the rows
// kept (the domains keep their width where they were wider).

// TableOpenSER10 is the dbaliases table as OpenSER 1.0 created it (version
// 1, without id), for migration tests and for tools that recognise old
// databases.
func TableOpenSER10() *schema.Table {
	return &schema.Table{
		Name:    "dbaliases",
		Version: 1,
		Columns: []schema.Column{
			{Name: "alias_username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "alias_domain", Type: schema.String, Size: 128, Default: "''"},
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 128, Default: "''"},
		},
		Keys:    []schema.Index{{Name: "alias_key", Columns: []string{"alias_username", "alias_domain"}}},
		Indexes: []schema.Index{{Name: "alias_user", Columns: []string{"username", "domain"}}},
	}
}

// TableFixes are the shape fixes of the dbaliases table t (as Table
// declares it): at version 1, an id primary key and Kamailio 3.0's key
// and index in place of OpenSER's.
func TableFixes(t *schema.Table) []schema.Fix {
	done := []schema.Cond{schema.HasColumn(t.AutoColumn().Name), schema.LacksIndex("alias_key"), schema.LacksIndex("alias_user")}
	steps := []schema.Step{schema.DropIndex("alias_key", true), schema.DropIndex("alias_user", false), schema.AddID(*t.AutoColumn())}
	for _, k := range t.Keys {
		done = append(done, schema.HasIndex(k.Name))
		steps = append(steps, schema.CreateUniqueIndex(k))
	}
	for _, ix := range t.Indexes {
		done = append(done, schema.HasIndex(ix.Name))
		steps = append(steps, schema.CreateIndex(ix))
	}
	return []schema.Fix{{
		Version: 1,
		Note:    "id primary key, Kamailio 3.0's unique key and index in place of OpenSER's (OpenSER 1.2 and Kamailio 3.0, version unchanged)",
		Done:    done,
		Steps:   steps,
	}}
}
