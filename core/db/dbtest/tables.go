// Package dbtest is the test kit of the database layer: sample table
// declarations and an integration suite that each driver module runs
// against its real server (modules/db_mysql, db_postgres, db_sqlite).
// The core links no driver, so the suite lives here and the drivers'
// tests call it.
package dbtest

import (
	"sip-router.org/core/db/schema"
)

// Location is Kamailio 3.0's usrloc table (version 1004), as
// utils/kamctl/mysql/usrloc-create.sql declares it.
func Location() *schema.Table {
	return &schema.Table{
		Name:    "location",
		Version: 1004,
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 64, Null: true},
			{Name: "contact", Type: schema.String, Size: 255, Default: "''"},
			{Name: "received", Type: schema.String, Size: 128, Null: true},
			{Name: "path", Type: schema.String, Size: 128, Null: true},
			{Name: "expires", Type: schema.DateTime, Default: "'2020-05-28 21:32:15'"},
			{Name: "q", Type: schema.Float, Default: "1.0"},
			{Name: "callid", Type: schema.String, Size: 255, Default: "'Default-Call-ID'"},
			{Name: "cseq", Type: schema.Int, Default: "13"},
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
			{Name: "flags", Type: schema.Int, Default: "0"},
			{Name: "cflags", Type: schema.Int, Default: "0"},
			{Name: "user_agent", Type: schema.String, Size: 255, Default: "''"},
			{Name: "socket", Type: schema.String, Size: 64, Null: true},
			{Name: "methods", Type: schema.Int, Null: true},
		},
		Indexes: []schema.Index{{Name: "account_contact_idx", Columns: []string{"username", "domain", "contact"}}},
	}
}

// Subscriber is Kamailio 3.0's auth_db table (version 6).
func Subscriber() *schema.Table {
	return &schema.Table{
		Name:    "subscriber",
		Version: 6,
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
			{Name: "password", Type: schema.String, Size: 25, Default: "''"},
			{Name: "email_address", Type: schema.String, Size: 64, Default: "''"},
			{Name: "ha1", Type: schema.String, Size: 64, Default: "''"},
			{Name: "ha1b", Type: schema.String, Size: 64, Default: "''"},
			{Name: "rpid", Type: schema.String, Size: 64, Null: true},
		},
		Keys:    []schema.Index{{Name: "account_idx", Columns: []string{"username", "domain"}}},
		Indexes: []schema.Index{{Name: "username_idx", Columns: []string{"username"}}},
	}
}

// Commented is a table with comments, an explicit primary key, a unique
// key and a column of every type.
func Commented() *schema.Table {
	return &schema.Table{
		Name:    "commented",
		Version: 2,
		Comment: "A table with comments, an explicit primary key and every type",
		Columns: []schema.Column{
			{Name: "uid", Type: schema.String, Size: 64, Comment: "user's id"},
			{Name: "did", Type: schema.String, Size: 64, Default: "'_default'"},
			{Name: "big", Type: schema.BigInt, Unsigned: true, Default: "0"},
			{Name: "body", Type: schema.Blob, Null: true},
			{Name: "text", Type: schema.Text, Null: true, Comment: "any\ntext"},
			{Name: "at", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
			{Name: "f", Type: schema.Float, Default: "1.5"},
		},
		Primary: []string{"uid", "did"},
		Keys:    []schema.Index{{Name: "did_idx", Columns: []string{"did", "big"}}},
	}
}

// widgetV1Columns are the columns of the made-up migration test table at
// version 1: one of every type, nullable and not.
func widgetV1Columns() []schema.Column {
	return []schema.Column{
		{Name: "id", Type: schema.Int, Auto: true},
		{Name: "name", Type: schema.String, Size: 64, Default: "''"},
		{Name: "n", Type: schema.Int, Default: "0"},
		{Name: "big", Type: schema.BigInt, Null: true},
		{Name: "created", Type: schema.DateTime, Default: "'2000-01-01 00:00:00'"},
		{Name: "score", Type: schema.Float, Null: true},
		{Name: "note", Type: schema.Text, Null: true},
		{Name: "data", Type: schema.Blob, Null: true},
	}
}

// WidgetV1 is the made-up table of the migration test, at version 1.
func WidgetV1() *schema.Table {
	return &schema.Table{Name: "widget", Version: 1, Columns: widgetV1Columns()}
}

var kindColumn = schema.Column{Name: "kind", Type: schema.String, Size: 16, Default: "'basic'", Comment: "added in version 2"}

// WidgetV3 is the table at version 3: version 2 added a column with a
// default, version 3 an index.
func WidgetV3() *schema.Table {
	t := &schema.Table{Name: "widget", Version: 3, Columns: append(widgetV1Columns(), kindColumn)}
	t.Indexes = []schema.Index{{Name: "name_idx", Columns: []string{"name"}}}
	t.Migrations = []schema.Migration{
		{From: 1, Note: "kind of widget", Steps: []schema.Step{schema.AddColumn(kindColumn)}},
		{From: 2, Note: "look-ups by name", Steps: []schema.Step{schema.CreateIndex(t.Indexes[0])}},
	}
	return t
}

// WidgetV4 is the table at version 4: name widened to 128, note moved to
// a new column memo (copied, then the old one dropped), a unique key on
// (name, n).
func WidgetV4() *schema.Table {
	t := WidgetV3()
	t.Version = 4
	var cols []schema.Column
	for _, c := range t.Columns {
		switch c.Name {
		case "note":
			continue
		case "name":
			c.Size = 128
		}
		cols = append(cols, c)
	}
	memo := schema.Column{Name: "memo", Type: schema.Text, Null: true}
	t.Columns = append(cols, memo)
	t.Keys = []schema.Index{{Name: "name_n_idx", Columns: []string{"name", "n"}}}
	oldName := schema.Column{Name: "name", Type: schema.String, Size: 64, Default: "''"}
	newName := oldName
	newName.Size = 128
	t.Migrations = append(t.Migrations, schema.Migration{From: 3, Note: "longer names; note becomes memo", Steps: []schema.Step{
		schema.ChangeType(oldName, newName),
		schema.AddColumn(schema.Column{Name: "memo_tmp", Type: schema.Text, Null: true}),
		schema.CopyColumn("note", "memo_tmp"),
		schema.DropColumn("note"),
		schema.RenameColumn("memo_tmp", "memo"),
		schema.CreateUniqueIndex(t.Keys[0]),
	}})
	return t
}
