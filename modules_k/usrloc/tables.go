package usrloc

import (
	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// TableVersion is the version of the location table (and of every usrloc
// table) this module reads and writes: Kamailio 3.0's UL_TABLE_VERSION.
const TableVersion = 1004

// The history of the location and aliases tables, from OpenSER's
// scripts/mysqldb.sh and Kamailio 3.0's lib/srdb1/schema/location.xml:
//
//   - 1001 (OpenSER 1.0, 2005): username, domain, contact, received,
//     expires, q, callid, cseq, last_modified, flags, user_agent, socket;
//     primary key (username, domain, contact).
//   - 1002 (2005-12): methods, the methods a contact accepts (Allow).
//   - 1003 (2006-01, OpenSER 1.1): path, the Path vector (RFC 3327).
//   - 1004 (OpenSER 1.2, 2007): cflags, the branch flags of the contact
//     (NAT marking moved from message flags to branch flags). OpenSER 1.3
//     (2008) then generated the schema from XML without a version bump:
//     an auto-increment id became the primary key, (username, domain,
//     contact) a plain index, domain nullable (NULL without use_domain),
//     and received, path and socket got their Kamailio 3.0 sizes.
//
// Migration 1003 → 1004 brings a table of either 1.2 or 1.1 shape to the
// 3.0 one: a table created by OpenSER 1.2 is at 1004 already and is not
// touched (it lacks id and still works: usrloc never reads id).

// columns1004 are the columns of a usrloc table at version 1004, as
// Kamailio 3.0's utils/kamctl/mysql/usrloc-create.sql creates them.
func columns1004() []schema.Column {
	return []schema.Column{
		{Name: "id", Type: schema.Int, Auto: true},
		{Name: "username", Type: schema.String, Size: 64, Default: "''", Comment: "user part of the AOR"},
		{Name: "domain", Type: schema.String, Size: 64, Null: true, Comment: "domain part of the AOR (with use_domain)"},
		{Name: "contact", Type: schema.String, Size: 255, Default: "''", Comment: "contact URI"},
		{Name: "received", Type: schema.String, Size: 128, Null: true, Comment: "source address of the REGISTER behind a NAT"},
		{Name: "path", Type: schema.String, Size: 128, Null: true, Comment: "Path vector (RFC 3327)"},
		{Name: "expires", Type: schema.DateTime, Default: "'2020-05-28 21:32:15'", Comment: "end of the binding (1970-01-01 00:00:00: permanent)"},
		{Name: "q", Type: schema.Float, Default: "1.0"},
		{Name: "callid", Type: schema.String, Size: 255, Default: "'Default-Call-ID'"},
		{Name: "cseq", Type: schema.Int, Default: "13"},
		{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		{Name: "flags", Type: schema.Int, Default: "0"},
		{Name: "cflags", Type: schema.Int, Default: "0", Comment: "branch flags"},
		{Name: "user_agent", Type: schema.String, Size: 255, Default: "''"},
		{Name: "socket", Type: schema.String, Size: 64, Null: true, Comment: "local socket the REGISTER arrived on"},
		{Name: "methods", Type: schema.Int, Null: true, Comment: "methods the contact accepts, as a bit mask (NULL: all)"},
	}
}

// Column definitions that changed on the way, for the migrations.
var (
	domain1001   = schema.Column{Name: "domain", Type: schema.String, Size: 128, Default: "''"}
	received1001 = schema.Column{Name: "received", Type: schema.String, Size: 255, Null: true}
	socket1001   = schema.Column{Name: "socket", Type: schema.String, Size: 128, Null: true}
	methods1002  = schema.Column{Name: "methods", Type: schema.Int, Null: true}
	path1003     = schema.Column{Name: "path", Type: schema.String, Size: 255, Null: true}
	cflags1004   = schema.Column{Name: "cflags", Type: schema.Int, Default: "0", Comment: "branch flags"}
)

// Table declares a usrloc table of Kamailio 3.0 (version 1004) named
// name, with its (username, domain, contact) index called index and the
// migrations from version 1001. location and aliases are such tables.
func Table(name, index, comment string) *schema.Table {
	t := &schema.Table{
		Name:    name,
		Version: TableVersion,
		Comment: comment,
		Columns: columns1004(),
		Indexes: []schema.Index{{Name: index, Columns: []string{"username", "domain", "contact"}}},
	}
	t.Migrations = migrations(t)
	return t
}

// Location is the location table (owned by usrloc).
func Location() *schema.Table {
	return Table("location", "account_contact_idx", "User location: the contacts registered for each address of record")
}

// TableV1001 is a usrloc table as OpenSER 1.0 created it (version 1001),
// for migration tests and for tools that must recognise it.
func TableV1001(name string) *schema.Table {
	return &schema.Table{
		Name:    name,
		Version: 1001,
		Columns: []schema.Column{
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			domain1001,
			{Name: "contact", Type: schema.String, Size: 255, Default: "''"},
			received1001,
			{Name: "expires", Type: schema.DateTime, Default: "'2020-05-28 21:32:15'"},
			{Name: "q", Type: schema.Float, Default: "1.0"},
			{Name: "callid", Type: schema.String, Size: 255, Default: "'Default-Call-ID'"},
			{Name: "cseq", Type: schema.Int, Default: "13"},
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
			{Name: "flags", Type: schema.Int, Default: "0"},
			{Name: "user_agent", Type: schema.String, Size: 255, Default: "''"},
			socket1001,
		},
		Primary: []string{"username", "domain", "contact"},
	}
}

// migrations lead a usrloc table from version 1001 to 1004.
func migrations(t *schema.Table) []schema.Migration {
	final := func(name string) schema.Column { return *t.Col(name) }
	// SQLite rebuilds the table in the id step, with the 1004 columns:
	// the column changes after it have nothing left to do there.
	sqliteDone := map[string][]string{"sqlite": {}}
	change := func(from schema.Column) schema.Step {
		s := schema.ChangeType(from, final(from.Name))
		s.SQL = sqliteDone
		return s
	}
	return []schema.Migration{
		{From: 1001, Note: "methods: the methods each contact accepts (OpenSER 1.1)",
			Steps: []schema.Step{schema.AddColumn(methods1002)}},
		{From: 1002, Note: "path: the Path vector of each contact, RFC 3327 (OpenSER 1.1)",
			Steps: []schema.Step{schema.AddColumn(path1003)}},
		{From: 1003, Note: "cflags: branch flags (OpenSER 1.2); id primary key, (username, domain, contact) index, " +
			"nullable domain and Kamailio 3.0 column sizes (OpenSER 1.3)",
			Steps: []schema.Step{
				schema.BackupTable(),
				schema.AddColumn(cflags1004),
				schema.SQL(idPrimaryKey(t)),
				change(domain1001),
				change(received1001),
				change(path1003),
				change(socket1001),
				schema.CreateIndex(t.Indexes[0]),
			}},
	}
}

// idPrimaryKey is the SQL that replaces the (username, domain, contact)
// primary key by an auto-increment id, per dialect.
//
// MySQL: one ALTER TABLE, atomic with InnoDB. A run cut between it and the
// version update stops the next run at this step (duplicate column id):
// then set the version to 1004 by hand.
//
// PostgreSQL: the key constraint has its default name (<table>_pkey).
//
// SQLite has neither DROP PRIMARY KEY nor ADD COLUMN … PRIMARY KEY: the
// table is rebuilt with its 1004 columns (cflags was added just before),
// rows copied in their order, so ids follow the old row order.
func idPrimaryKey(t *schema.Table) map[string][]string {
	my, pg, lite := db.MySQL, db.Postgres, db.SQLite
	name := t.Name
	tmp := name + "_v1004"
	var cols []string
	for _, c := range t.Columns {
		if !c.Auto {
			cols = append(cols, lite.Quote(c.Name))
		}
	}
	list := ""
	for i, c := range cols {
		if i > 0 {
			list += ", "
		}
		list += c
	}
	rebuild := lite.CreateTable(&schema.Table{Name: tmp, Version: t.Version, Columns: t.Columns})
	rebuild = append(rebuild,
		"INSERT INTO "+lite.Quote(tmp)+" ("+list+") SELECT "+list+" FROM "+lite.Quote(name)+" ORDER BY rowid",
		"DROP TABLE "+lite.Quote(name),
		"ALTER TABLE "+lite.Quote(tmp)+" RENAME TO "+lite.Quote(name))
	return map[string][]string{
		"mysql": {"ALTER TABLE " + my.Quote(name) + " DROP PRIMARY KEY, ADD COLUMN " +
			my.ColumnDef(*t.AutoColumn()) + " FIRST"},
		"postgres": {
			"ALTER TABLE " + pg.Quote(name) + " DROP CONSTRAINT IF EXISTS " + pg.Quote(name+"_pkey"),
			"ALTER TABLE " + pg.Quote(name) + " ADD COLUMN " + pg.ColumnDef(*t.AutoColumn()),
		},
		"sqlite": rebuild,
	}
}
