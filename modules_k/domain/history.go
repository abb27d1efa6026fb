package domain

import "sip-router.org/core/db/schema"

// The history of the domain table, from OpenSER's tools/mysqldb.sh (2005
// for OpenSER 1.0, 2007 for 1.2) and Kamailio 3.0's
// utils/kamctl/mysql/domain-create.sql. Its version has been 1 all along:
//
//   - OpenSER 1.0 and 1.1: domain VARCHAR(128), the primary key, and
//     last_modified.
//   - OpenSER 1.2: an id primary key, domain a unique key (d_domain).
//   - Kamailio 3.0: the unique key is domain_idx, domain VARCHAR(64).
//
// TableFixes bring either older shape to 3.0's at version 1, the rows
// kept (domain keeps its width where it was wider).

// TableOpenSER10 is the domain table as OpenSER 1.0 created it (version 1,
// without id), for migration tests and for tools that recognise old
// databases.
func TableOpenSER10() *schema.Table {
	return &schema.Table{
		Name:    "domain",
		Version: 1,
		Columns: []schema.Column{
			{Name: "domain", Type: schema.String, Size: 128, Default: "''"},
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		},
		Primary: []string{"domain"},
	}
}

// TableFixes are the shape fixes of the domain table t (as Table declares
// it): at version 1, an id primary key in place of the key on domain, and
// Kamailio 3.0's unique key.
func TableFixes(t *schema.Table) []schema.Fix {
	key := t.Keys[0]
	return []schema.Fix{{
		Version: 1,
		Note:    "id primary key and the unique key " + key.Name + " (OpenSER 1.2 and Kamailio 3.0, version unchanged)",
		Done:    []schema.Cond{schema.HasColumn(t.AutoColumn().Name), schema.HasIndex(key.Name), schema.LacksIndex("d_domain")},
		Steps: []schema.Step{
			schema.DropIndex("d_domain", true),
			schema.AddID(*t.AutoColumn()),
			schema.CreateUniqueIndex(key),
		},
	}}
}
