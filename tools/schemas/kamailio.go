package schemas

import (
	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// Kamailio 3.0 tables of modules this tree does not ship yet, with their
// history from OpenSER 1.0. Sources: OpenSER's tools/mysqldb.sh (July
// 2005 for 1.0, 2007 for 1.2) and Kamailio 3.0's
// utils/kamctl/mysql/*-create.sql, in the kamailio/kamailio history; the
// versions and the commits that changed them are in the project's
// reference (sip-router-3.0-facts.md §3.4, §3.6).
//
// Two rules where the history is ambiguous:
//
//   - OpenSER 1.2 and 1.3 changed tables without changing their versions
//     (an id primary key, new columns, other sizes). The migrations
//     accept every shape a version had: a column or key already there is
//     not added again.
//   - A migration never narrows a column (a shorter VARCHAR, NOT NULL,
//     signed to unsigned) where Kamailio 3.0 is narrower than the legacy
//     table: the migrated table keeps the wider definition, which 3.0's
//     code reads the same, and no row can fail to fit. A table created
//     fresh has 3.0's definitions.

// Kamailio returns the groups of the legacy Kamailio tables: permissions
// (trusted, address), msilo (silo), lcr (gw, lcr), group (grp, re_grp)
// and siptrace (sip_trace).
func Kamailio() []db.Group {
	return []db.Group{
		{Name: "permissions", Tables: []*schema.Table{Trusted(), Address()}},
		{Name: "msilo", Tables: []*schema.Table{Silo()}},
		{Name: "lcr", Tables: []*schema.Table{Gw(), Lcr()}},
		{Name: "group", Tables: []*schema.Table{Grp(), ReGrp()}},
		{Name: "siptrace", Tables: []*schema.Table{SipTrace()}},
	}
}

// Extra returns the tables a flavor's database has besides those of its
// modules (the DB tool adds those among them that the flavor's manifest
// names in [db] tables).
func Extra(flavor string) []db.Group {
	if flavor == "kamailio" {
		return Kamailio()
	}
	return nil
}

// Oldest returns a table as the oldest version its migrations start from
// (OpenSER 1.0's, or the first one for tables OpenSER 1.0 did not have),
// for tests and for tools that recognise old databases; nil for a table
// this package does not declare.
func Oldest(name string) *schema.Table {
	switch name {
	case "trusted":
		return trustedV1()
	case "silo":
		return siloV3()
	case "gw":
		return gwV3()
	case "lcr":
		return lcrV1()
	case "sip_trace":
		return sipTraceV1()
	case "address":
		return Address()
	case "grp":
		return grpOpenSER10()
	case "re_grp":
		return ReGrp()
	}
	return nil
}

// Common column shapes.
func str(name string, size int) schema.Column {
	return schema.Column{Name: name, Type: schema.String, Size: size, Default: "''"}
}

func strNull(name string, size int) schema.Column {
	return schema.Column{Name: name, Type: schema.String, Size: size, Null: true}
}

func strReq(name string, size int) schema.Column { // NOT NULL, no default
	return schema.Column{Name: name, Type: schema.String, Size: size}
}

func intCol(name, def string) schema.Column {
	return schema.Column{Name: name, Type: schema.Int, Default: def}
}

func uintCol(name, def string) schema.Column {
	return schema.Column{Name: name, Type: schema.Int, Unsigned: true, Default: def}
}

func uintNull(name string) schema.Column {
	return schema.Column{Name: name, Type: schema.Int, Unsigned: true, Null: true}
}

// ---- permissions: trusted (5), address (3) ----

// Trusted is the trusted table of Kamailio 3.0's permissions module
// (version 5), with its migrations from OpenSER 1.0's version 1.
//
//   - 1 (OpenSER 1.0): src_ip, proto, from_pattern, all NOT NULL, primary
//     key on the three.
//   - 2 (2006-02, e10ce3a5b8): from_pattern may be empty (NULL); the
//     primary key goes, an index on src_ip takes its place.
//   - 3 (2006-03, 62d2b28bc2, OpenSER 1.1): tag.
//   - 4 (OpenSER 1.2/1.3): id primary key; src_ip VARCHAR(50) (IPv6).
//   - 5 (Kamailio 3.0): tag VARCHAR(64).
func Trusted() *schema.Table {
	t := &schema.Table{
		Name:    "trusted",
		Version: 5,
		Comment: "Peers trusted by allow_trusted (permissions module)",
		Columns: []schema.Column{
			idColumn,
			{Name: "src_ip", Type: schema.String, Size: 50, Comment: "source address of the request"},
			{Name: "proto", Type: schema.String, Size: 4, Comment: "any, udp, tcp, tls or sctp"},
			{Name: "from_pattern", Type: schema.String, Size: 64, Null: true, Comment: "regular expression on the From URI"},
			{Name: "tag", Type: schema.String, Size: 64, Null: true},
		},
		Indexes: []schema.Index{{Name: "peer_idx", Columns: []string{"src_ip"}}},
	}
	v1 := trustedV1()
	fromPattern1 := *v1.Col("from_pattern")
	fromPattern2 := strNull("from_pattern", 64)
	tag3 := strNull("tag", 32)
	v2 := &schema.Table{Name: "trusted", Version: 2, Columns: []schema.Column{
		strReq("src_ip", 39), strReq("proto", 4), fromPattern2}, Indexes: t.Indexes}
	v4 := &schema.Table{Name: "trusted", Version: 4, Columns: []schema.Column{
		idColumn, strReq("src_ip", 50), strReq("proto", 4), fromPattern2, tag3}, Indexes: t.Indexes}
	t.Migrations = []schema.Migration{
		{From: 1, Note: "from_pattern may be NULL: the primary key on (src_ip, proto, from_pattern) becomes an index on src_ip",
			Steps: []schema.Step{
				schema.SQL(dropPrimary("trusted", sqliteRebuild(v2, names(v1.Columns), nil))),
				onSQLite(schema.ChangeType(fromPattern1, fromPattern2)),
				schema.CreateIndex(t.Indexes[0]),
			}},
		{From: 2, Note: "tag, an AVP value for the trusted peer (OpenSER 1.1)",
			Steps: []schema.Step{schema.AddColumn(tag3)}},
		{From: 3, Note: "id primary key; src_ip wide enough for IPv6 (OpenSER 1.2)",
			Steps: []schema.Step{
				schema.SQL(addID("trusted", false, sqliteRebuild(v4, []string{"src_ip", "proto", "from_pattern", "tag"}, nil))),
				schema.ChangeType(strReq("src_ip", 39), strReq("src_ip", 50)),
			}},
		{From: 4, Note: "tag VARCHAR(64) (Kamailio 3.0)",
			Steps: []schema.Step{schema.ChangeType(tag3, *t.Col("tag"))}},
	}
	return t
}

func trustedV1() *schema.Table {
	return &schema.Table{
		Name:    "trusted",
		Version: 1,
		Columns: []schema.Column{strReq("src_ip", 39), strReq("proto", 4), strReq("from_pattern", 64)},
		Primary: []string{"src_ip", "proto", "from_pattern"},
	}
}

// Address is the address table of Kamailio 3.0's permissions module
// (version 3; OpenSER 1.2 added the table).
func Address() *schema.Table {
	return &schema.Table{
		Name:    "address",
		Version: 3,
		Comment: "Addresses and subnets of allow_address and allow_source_address (permissions module)",
		Columns: []schema.Column{
			idColumn,
			uintCol("grp", "0"),
			strReq("ip_addr", 15),
			intCol("mask", "32"),
			uintCol("port", "0"),
		},
	}
}

// ---- msilo: silo (5) ----

// Silo is the silo table of Kamailio 3.0's msilo module (version 5), with
// its migrations from OpenSER 1.0's version 3.
//
//   - 3 (OpenSER 1.0): mid primary key, src_addr, dst_addr, r_uri,
//     username, domain, inc_time, exp_time, ctype, body.
//   - 4 (2006-01, 69357c6f28, OpenSER 1.1): snd_time, for reminders.
//   - 5 (OpenSER 1.2): mid renamed id, r_uri gone, an index on (username,
//     domain). Kamailio 3.0 has shorter src_addr, dst_addr and domain,
//     which a migrated table keeps at their old sizes.
func Silo() *schema.Table {
	t := &schema.Table{
		Name:    "silo",
		Version: 5,
		Comment: "Messages stored for offline users (msilo module)",
		Columns: []schema.Column{
			idColumn,
			str("src_addr", 128),
			str("dst_addr", 128),
			str("username", 64),
			str("domain", 64),
			intCol("inc_time", "0"),
			intCol("exp_time", "0"),
			intCol("snd_time", "0"),
			{Name: "ctype", Type: schema.String, Size: 32, Default: "'text/plain'"},
			{Name: "body", Type: schema.Blob},
		},
		Indexes: []schema.Index{{Name: "account_idx", Columns: []string{"username", "domain"}}},
	}
	t.Migrations = []schema.Migration{
		{From: 3, Note: "snd_time, when a reminder is due (OpenSER 1.1)",
			Steps: []schema.Step{schema.AddColumn(intCol("snd_time", "0"))}},
		{From: 4, Note: "mid becomes id, r_uri goes (kept in the backup table), index on (username, domain) (OpenSER 1.2)",
			Steps: []schema.Step{
				schema.BackupTable(),
				schema.RenameColumn("mid", "id"),
				schema.DropColumn("r_uri"),
				schema.CreateIndex(t.Indexes[0]),
			}},
	}
	return t
}

func siloV3() *schema.Table {
	return &schema.Table{
		Name:    "silo",
		Version: 3,
		Columns: []schema.Column{
			{Name: "mid", Type: schema.Int, Auto: true},
			str("src_addr", 255),
			str("dst_addr", 255),
			str("r_uri", 255),
			str("username", 64),
			str("domain", 128),
			intCol("inc_time", "0"),
			intCol("exp_time", "0"),
			{Name: "ctype", Type: schema.String, Size: 32, Default: "'text/plain'"},
			{Name: "body", Type: schema.Blob},
		},
	}
}

// ---- lcr: gw (10), lcr (3) ----

// Gw is the gw table of Kamailio 3.0's lcr module (version 10), with its
// migrations from OpenSER 1.0's version 3.
//
//   - 3 (OpenSER 1.0): gw_name primary key, ip_addr as an integer (the
//     address in network byte order, read on a little-endian host), port,
//     uri_scheme, transport, grp_id. strip came in 2005-11 (ae59fe6368),
//     id and prefix with OpenSER 1.2, all without a version change.
//   - 4 (OpenSER 1.2/1.3): ip_addr becomes the dotted text form; the
//     migration converts it (the integer column is in the backup table).
//   - 5: dm. 6: prefix renamed tag. 7: flags instead of dm.
//   - 8: hostname, weight. 9: ping.
//   - 10 (Kamailio 3.0): lcr_id (the LCR instance, 1 for the rows there),
//     defunct, ping gone, unique keys per instance and group.
func Gw() *schema.Table {
	t := &schema.Table{
		Name:    "gw",
		Version: 10,
		Comment: "Gateways of least cost routing (lcr module)",
		Columns: []schema.Column{
			idColumn,
			uintCol("lcr_id", "1"),
			strReq("gw_name", 128),
			{Name: "grp_id", Type: schema.Int, Unsigned: true},
			strReq("ip_addr", 15),
			strNull("hostname", 64),
			uintNull("port"),
			uintNull("uri_scheme"),
			uintNull("transport"),
			uintNull("strip"),
			strNull("tag", 16),
			uintNull("weight"),
			uintCol("flags", "0"),
			uintNull("defunct"),
		},
		Keys: []schema.Index{
			{Name: "lcr_id_grp_id_gw_name_idx", Columns: []string{"lcr_id", "grp_id", "gw_name"}},
			{Name: "lcr_id_grp_id_ip_addr_idx", Columns: []string{"lcr_id", "grp_id", "ip_addr"}},
		},
	}
	v3 := gwV3()
	nameKey := schema.Index{Name: "gw_name_idx", Columns: []string{"gw_name"}}
	ipText := schema.Column{Name: "ip_addr", Type: schema.String, Size: 15, Default: "''"}
	v4 := &schema.Table{Name: "gw", Version: 4, Columns: []schema.Column{
		idColumn, strReq("gw_name", 128), *v3.Col("grp_id"), ipText,
		uintNull("port"), uintNull("uri_scheme"), uintNull("transport"), uintNull("strip"), strNull("prefix", 16)},
		Keys: []schema.Index{nameKey}, Indexes: v3.Indexes}
	dm := uintCol("dm", "1")
	t.Migrations = []schema.Migration{
		{From: 3, Note: "ip_addr as text (converted from the integer), id primary key, strip, prefix, unique gw_name (OpenSER 1.2/1.3)",
			Steps: []schema.Step{
				schema.BackupTable(),
				schema.AddColumn(uintNull("strip")),
				schema.AddColumn(strNull("prefix", 16)),
				schema.SQL(gwIPToText()),
				schema.SQL(addID("gw", true, sqliteRebuild(v4, names(v4.Columns[1:]), nil))),
				schema.CreateUniqueIndex(nameKey),
			}},
		{From: 4, Note: "dm", Steps: []schema.Step{schema.AddColumn(dm)}},
		{From: 5, Note: "prefix becomes tag", Steps: []schema.Step{schema.RenameColumn("prefix", "tag")}},
		{From: 6, Note: "flags instead of dm (dm is kept in the backup table)",
			Steps: []schema.Step{schema.BackupTable(), schema.AddColumn(uintCol("flags", "0")), schema.DropColumn("dm")}},
		{From: 7, Note: "hostname and weight",
			Steps: []schema.Step{schema.AddColumn(strNull("hostname", 64)), schema.AddColumn(uintNull("weight"))}},
		{From: 8, Note: "ping", Steps: []schema.Step{schema.AddColumn(intCol("ping", "0"))}},
		{From: 9, Note: "lcr_id (instance 1 for the gateways there), defunct; ping goes (kept in the backup table); " +
			"unique keys per instance and group (Kamailio 3.0)",
			Steps: []schema.Step{
				schema.BackupTable(),
				schema.AddColumn(uintCol("lcr_id", "1")),
				schema.AddColumn(uintNull("defunct")),
				schema.DropColumn("ping"),
				schema.DropIndex(nameKey.Name, true),
				schema.DropIndex("grp_id_idx", false),
				schema.CreateUniqueIndex(t.Keys[0]),
				schema.CreateUniqueIndex(t.Keys[1]),
			}},
	}
	return t
}

func gwV3() *schema.Table {
	return &schema.Table{
		Name:    "gw",
		Version: 3,
		Columns: []schema.Column{
			strReq("gw_name", 128),
			{Name: "ip_addr", Type: schema.Int, Unsigned: true, Comment: "IPv4 address in network byte order"},
			uintNull("port"),
			uintNull("uri_scheme"),
			uintNull("transport"),
			{Name: "grp_id", Type: schema.Int},
		},
		Primary: []string{"gw_name"},
		Indexes: []schema.Index{{Name: "grp_id_idx", Columns: []string{"grp_id"}}},
	}
}

// ipTextExpr is the SQL that turns gw's integer ip_addr (network byte
// order read as a little-endian integer: the first octet in the low
// byte) into a dotted quad, as OpenSER 1.2's migration did.
func ipTextExpr(dialect string) string {
	octet := func(shift string) string {
		switch dialect {
		case "postgres":
			return "(((\"ip_addr\"::bigint & 4294967295) >> " + shift + ") & 255)::text"
		case "mysql":
			return "((`ip_addr` >> " + shift + ") & 255)"
		}
		return "(((\"ip_addr\" & 4294967295) >> " + shift + ") & 255)"
	}
	if dialect == "mysql" {
		return "CONCAT(" + octet("0") + ", '.', " + octet("8") + ", '.', " + octet("16") + ", '.', " + octet("24") + ")"
	}
	return octet("0") + " || '.' || " + octet("8") + " || '.' || " + octet("16") + " || '.' || " + octet("24")
}

// gwIPToText converts gw.ip_addr from integer to text, if it is still an
// integer.
func gwIPToText() map[string][]string {
	my, pg, lite := db.MySQL, db.Postgres, db.SQLite
	text := schema.Column{Name: "ip_addr", Type: schema.String, Size: 15, Default: "''"}
	tmp := text
	tmp.Name = "ip_addr_text"
	return map[string][]string{
		"mysql": mysqlWhen("sr_migrate_gw_ip", mysqlIntColumn("gw", "ip_addr"),
			"IF NOT "+mysqlHasColumn("gw", "ip_addr_text")+" THEN ALTER TABLE `gw` ADD COLUMN "+my.ColumnDef(tmp)+"; END IF",
			"UPDATE `gw` SET `ip_addr_text` = "+ipTextExpr("mysql"),
			"ALTER TABLE `gw` DROP COLUMN `ip_addr`, CHANGE COLUMN `ip_addr_text` "+my.ColumnDef(text)),
		"postgres": pgWhen("EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "+
			"AND table_name = 'gw' AND column_name = 'ip_addr' AND data_type IN ('smallint', 'integer', 'bigint'))",
			"ALTER TABLE \"gw\" ADD COLUMN "+pg.ColumnDef(tmp),
			"UPDATE \"gw\" SET \"ip_addr_text\" = "+ipTextExpr("postgres"),
			"ALTER TABLE \"gw\" DROP COLUMN \"ip_addr\"",
			"ALTER TABLE \"gw\" RENAME COLUMN \"ip_addr_text\" TO \"ip_addr\""),
		"sqlite": {
			"ALTER TABLE \"gw\" ADD COLUMN " + lite.ColumnDef(tmp),
			"UPDATE \"gw\" SET \"ip_addr_text\" = " + ipTextExpr("sqlite"),
			"ALTER TABLE \"gw\" DROP COLUMN \"ip_addr\"",
			"ALTER TABLE \"gw\" RENAME COLUMN \"ip_addr_text\" TO \"ip_addr\"",
		},
	}
}

// Lcr is the lcr table of Kamailio 3.0's lcr module (version 3), with its
// migrations from OpenSER 1.0's version 1.
//
//   - 1 (OpenSER 1.0): prefix, from_uri (NOT NULL, '%'), grp_id, priority,
//     indexes on the first three.
//   - 2 (2006-03, 3289e76748, OpenSER 1.1): from_uri may be NULL. OpenSER
//     1.2 added id without a version change.
//   - 3 (Kamailio 3.0): lcr_id (the LCR instance, 1 for the rows there),
//     prefix may be NULL, one index on lcr_id.
func Lcr() *schema.Table {
	t := &schema.Table{
		Name:    "lcr",
		Version: 3,
		Comment: "Routes of least cost routing: prefix and From pattern to gateway group (lcr module)",
		Columns: []schema.Column{
			idColumn,
			uintCol("lcr_id", "1"),
			strNull("prefix", 16),
			strNull("from_uri", 64),
			{Name: "grp_id", Type: schema.Int, Unsigned: true},
			{Name: "priority", Type: schema.Int, Unsigned: true},
		},
		Indexes: []schema.Index{{Name: "lcr_id_idx", Columns: []string{"lcr_id"}}},
	}
	v1 := lcrV1()
	from1 := *v1.Col("from_uri")
	from2 := strNull("from_uri", 128)
	v2 := &schema.Table{Name: "lcr", Version: 2, Columns: []schema.Column{
		*v1.Col("prefix"), from2, *v1.Col("grp_id"), *v1.Col("priority")}, Indexes: v1.Indexes}
	v3 := &schema.Table{Name: "lcr", Version: 3, Columns: []schema.Column{
		idColumn, uintCol("lcr_id", "1"), strNull("prefix", 16), from2, *v1.Col("grp_id"), *v1.Col("priority")},
		Indexes: t.Indexes}
	change := schema.ChangeType(from1, from2)
	change.SQL = map[string][]string{"sqlite": sqliteRebuild(v2, names(v1.Columns), nil)}
	t.Migrations = []schema.Migration{
		{From: 1, Note: "from_uri may be NULL (OpenSER 1.1)", Steps: []schema.Step{change}},
		{From: 2, Note: "id primary key, lcr_id (instance 1 for the routes there), prefix may be NULL, one index on lcr_id (Kamailio 3.0)",
			Steps: []schema.Step{
				schema.SQL(addID("lcr", false, sqliteRebuild(v3, names(v2.Columns), nil))),
				schema.AddColumn(uintCol("lcr_id", "1")),
				onSQLite(schema.ChangeType(*v1.Col("prefix"), strNull("prefix", 16))),
				schema.DropIndex("prefix_idx", false),
				schema.DropIndex("from_uri_idx", false),
				schema.DropIndex("grp_id_idx", false),
				schema.CreateIndex(t.Indexes[0]),
			}},
	}
	return t
}

func lcrV1() *schema.Table {
	return &schema.Table{
		Name:    "lcr",
		Version: 1,
		Columns: []schema.Column{
			strReq("prefix", 16),
			{Name: "from_uri", Type: schema.String, Size: 128, Default: "'%'"},
			uintNull("grp_id"),
			{Name: "priority", Type: schema.Int, Unsigned: true},
		},
		Indexes: []schema.Index{
			{Name: "prefix_idx", Columns: []string{"prefix"}},
			{Name: "from_uri_idx", Columns: []string{"from_uri"}},
			{Name: "grp_id_idx", Columns: []string{"grp_id"}},
		},
	}
}

// ---- group: grp (2), re_grp (1) ----

// Grp is the grp table of Kamailio 3.0's group module (version 2), with
// its shape fix.
//
// The version has been 2 since before OpenSER 1.0, in three shapes:
//
//   - OpenSER 1.0 and 1.1: username, domain VARCHAR(128), grp
//     VARCHAR(50), last_modified; primary key (username, domain, grp).
//   - OpenSER 1.2: an id primary key, the three columns a unique key
//     (udg_grp).
//   - Kamailio 3.0: the unique key is account_group_idx, domain and grp
//     VARCHAR(64).
//
// The fix brings either older shape to 3.0's at version 2, the rows kept
// (domain keeps its width where it was wider).
func Grp() *schema.Table {
	t := &schema.Table{
		Name:    "grp",
		Version: 2,
		Comment: "Group membership of users, for ACLs (group module)",
		Columns: []schema.Column{
			idColumn,
			str("username", 64),
			str("domain", 64),
			str("grp", 64),
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		},
		Keys: []schema.Index{{Name: "account_group_idx", Columns: []string{"username", "domain", "grp"}}},
	}
	key := t.Keys[0]
	t.Fixes = []schema.Fix{{
		Version: 2,
		Note:    "id primary key, grp VARCHAR(64), the unique key " + key.Name + " (OpenSER 1.2 and Kamailio 3.0, version unchanged)",
		Done:    []schema.Cond{schema.HasColumn(idColumn.Name), schema.HasIndex(key.Name), schema.LacksIndex("udg_grp")},
		Steps: []schema.Step{
			schema.DropIndex("udg_grp", true),
			schema.ChangeType(str("grp", 50), *t.Col("grp")),
			schema.AddID(idColumn),
			schema.CreateUniqueIndex(key),
		},
	}}
	return t
}

// grpOpenSER10 is the grp table as OpenSER 1.0 created it (version 2,
// without id).
func grpOpenSER10() *schema.Table {
	return &schema.Table{
		Name:    "grp",
		Version: 2,
		Columns: []schema.Column{
			str("username", 64),
			str("domain", 128),
			str("grp", 50),
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		},
		Primary: []string{"username", "domain", "grp"},
	}
}

// ReGrp is the re_grp table of Kamailio 3.0's group module (version 1; it
// came after OpenSER 1.0, in 2005-11).
func ReGrp() *schema.Table {
	return &schema.Table{
		Name:    "re_grp",
		Version: 1,
		Comment: "Group membership by regular expression (group module)",
		Columns: []schema.Column{
			idColumn,
			str("reg_exp", 128),
			intCol("group_id", "0"),
		},
		Indexes: []schema.Index{{Name: "group_idx", Columns: []string{"group_id"}}},
	}
}

// ---- siptrace: sip_trace (2) ----

// SipTrace is the sip_trace table of Kamailio 3.0's siptrace module
// (version 2), with its migration from version 1 (OpenSER 1.1, 2006-04,
// 8c9d6987e2; OpenSER 1.0 had no siptrace).
//
//   - 2 (Kamailio 3.0): date renamed time_stamp, callid VARCHAR(255),
//     indexes renamed. 3.0's status is shorter; a migrated table keeps
//     its size.
func SipTrace() *schema.Table {
	t := &schema.Table{
		Name:    "sip_trace",
		Version: 2,
		Comment: "Traced SIP messages (siptrace module)",
		Columns: []schema.Column{
			idColumn,
			{Name: "time_stamp", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
			str("callid", 255),
			str("traced_user", 128),
			{Name: "msg", Type: schema.Text},
			str("method", 50),
			str("status", 128),
			str("fromip", 50),
			str("toip", 50),
			str("fromtag", 64),
			str("direction", 4),
		},
		Indexes: []schema.Index{
			{Name: "traced_user_idx", Columns: []string{"traced_user"}},
			{Name: "date_idx", Columns: []string{"time_stamp"}},
			{Name: "fromip_idx", Columns: []string{"fromip"}},
			{Name: "callid_idx", Columns: []string{"callid"}},
		},
	}
	t.Migrations = []schema.Migration{
		{From: 1, Note: "date becomes time_stamp, callid VARCHAR(255), Kamailio 3.0's index names",
			Steps: []schema.Step{
				schema.RenameColumn("date", "time_stamp"),
				schema.ChangeType(str("callid", 254), str("callid", 255)),
				schema.DropIndex("user_idx", false),
				schema.DropIndex("date_id", false),
				schema.DropIndex("ip_idx", false),
				schema.DropIndex("call_id", false),
				schema.CreateIndex(t.Indexes[0]),
				schema.CreateIndex(t.Indexes[1]),
				schema.CreateIndex(t.Indexes[2]),
				schema.CreateIndex(t.Indexes[3]),
			}},
	}
	return t
}

func sipTraceV1() *schema.Table {
	return &schema.Table{
		Name:    "sip_trace",
		Version: 1,
		Columns: []schema.Column{
			idColumn,
			{Name: "date", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
			str("callid", 254),
			str("traced_user", 128),
			{Name: "msg", Type: schema.Text},
			str("method", 50),
			str("status", 254),
			str("fromip", 50),
			str("toip", 50),
			str("fromtag", 64),
			str("direction", 4),
		},
		Indexes: []schema.Index{
			{Name: "user_idx", Columns: []string{"traced_user"}},
			{Name: "date_id", Columns: []string{"date"}},
			{Name: "ip_idx", Columns: []string{"fromip"}},
			{Name: "call_id", Columns: []string{"callid"}},
		},
	}
}
