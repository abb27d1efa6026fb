package uridb

import "sip-router.org/core/db/schema"

// The history of the uri table, from OpenSER's tools/mysqldb.sh (2005 for
// OpenSER 1.0, 2007 for 1.2) and Kamailio 3.0's
// utils/kamctl/mysql/uri_db-create.sql. Its version has been 1 all along:
//
//   - OpenSER 1.0 and 1.1: username, domain VARCHAR(128), uri_user
//     VARCHAR(50), last_modified; primary key (username, domain,
//     uri_user).
//   - OpenSER 1.2: an id primary key, the three columns a unique key
//     (udu_uri).
//   - Kamailio 3.0: the unique key is account_idx, domain and uri_user
//     VARCHAR(64).
//
// TableFixes bring either older shape to 3.0's at version 1, the rows
// kept (domain keeps its width where it was wider).

var uriUser50 = schema.Column{Name: "uri_user", Type: schema.String, Size: 50, Default: "''"}

// TableOpenSER10 is the uri table as OpenSER 1.0 created it (version 1,
// without id), for migration tests and for tools that recognise old
// databases.
func TableOpenSER10() *schema.Table {
	return &schema.Table{
		Name:    "uri",
		Version: 1,
		Columns: []schema.Column{
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 128, Default: "''"},
			uriUser50,
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		},
		Primary: []string{"username", "domain", "uri_user"},
	}
}

// TableFixes are the shape fixes of the uri table t (as Table declares
// it): at version 1, an id primary key, uri_user widened, Kamailio 3.0's
// unique key.
func TableFixes(t *schema.Table) []schema.Fix {
	key := t.Keys[0]
	return []schema.Fix{{
		Version: 1,
		Note:    "id primary key, uri_user VARCHAR(64), the unique key " + key.Name + " (OpenSER 1.2 and Kamailio 3.0, version unchanged)",
		Done:    []schema.Cond{schema.HasColumn(t.AutoColumn().Name), schema.HasIndex(key.Name), schema.LacksIndex("udu_uri")},
		Steps: []schema.Step{
			schema.DropIndex("udu_uri", true),
			schema.ChangeType(uriUser50, *t.Col("uri_user")),
			schema.AddID(*t.AutoColumn()),
			schema.CreateUniqueIndex(key),
		},
	}}
}
