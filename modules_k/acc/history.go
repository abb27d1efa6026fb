package acc

import "sip-router.org/core/db/schema"

// The history of the acc and missed_calls tables, from OpenSER's
// tools/mysqldb.sh (2005, OpenSER 1.0; 2007, OpenSER 1.2) and Kamailio
// 3.0's utils/kamctl/mysql/acc-create.sql:
//
//   - acc 2, missed_calls 2 (OpenSER 1.0 and 1.1): SERWeb's accounting
//     record: sip_from, sip_to, sip_status, sip_method, i_uri, o_uri,
//     from_uri, to_uri, sip_callid, username, domain, fromtag, totag,
//     time, timestamp, src, dst; no primary key; an index on (username,
//     domain) (acc_user, mc_user), and acc an index on sip_callid.
//   - acc 4, missed_calls 3 (OpenSER 1.2, 2007): the accounting rewrite:
//     an id primary key, method, from_tag, to_tag, callid, sip_code,
//     sip_reason, time; an index on callid. The other columns went (the
//     values they held can be logged with acc's extra columns). No
//     release had acc at version 3: its migration 2 → 3 is the rewrite of
//     the columns, 3 → 4 the id and the index, so that missed_calls 2 → 3
//     is the two together.
//
// The migrations keep the rows: the old table is copied to
// acc_bak_v2 (missed_calls_bak_v2) before columns are dropped, and the
// columns 1.2 renamed keep their values (sip_status becomes sip_code,
// which a migrated table keeps as wide as sip_status was: Kamailio 3.0's
// sip_code holds 3 characters, and OpenSER 1.0 wrote the whole reply
// status or the comment of acc_db_request there). Columns narrower in
// Kamailio 3.0 than in OpenSER 1.0 (callid, from_tag, to_tag) keep their
// width too: a table created fresh has 3.0's definitions.

// droppedIn12 are the columns of OpenSER 1.0's accounting tables that the
// rewrite of 1.2 dropped.
var droppedIn12 = []string{"sip_from", "sip_to", "i_uri", "o_uri", "from_uri", "to_uri",
	"username", "domain", "timestamp", "src", "dst"}

// renamedIn12 are the columns the rewrite renamed, old name first.
var renamedIn12 = [][2]string{{"sip_method", "method"}, {"fromtag", "from_tag"}, {"totag", "to_tag"},
	{"sip_callid", "callid"}, {"sip_status", "sip_code"}}

// RenamedIn12 maps the old names of the accounting columns that OpenSER
// 1.2 renamed to their new names.
func RenamedIn12() map[string]string {
	m := map[string]string{}
	for _, r := range renamedIn12 {
		m[r[0]] = r[1]
	}
	return m
}

// TableOpenSER10 is the acc or missed_calls table as OpenSER 1.0 created
// it (version 2), for migration tests and for tools that recognise old
// databases. OpenSER's zero dates ('0000-00-00 00:00:00', which only
// MySQL accepts) are declared as 1900-01-01 00:00:01.
func TableOpenSER10(name string) *schema.Table {
	str := func(n string, size int) schema.Column {
		return schema.Column{Name: n, Type: schema.String, Size: size, Default: "''"}
	}
	t := &schema.Table{
		Name:    name,
		Version: 2,
		Columns: []schema.Column{
			str("sip_from", 128), str("sip_to", 128), str("sip_status", 128), str("sip_method", 16),
			str("i_uri", 128), str("o_uri", 128), str("from_uri", 128), str("to_uri", 128),
			str("sip_callid", 128), str("username", 64), str("domain", 128), str("fromtag", 128), str("totag", 128),
			{Name: "time", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
			{Name: "timestamp", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'", Comment: "MySQL TIMESTAMP(14): time of the last change"},
			{Name: "src", Type: schema.String, Size: 128, Null: true},
			{Name: "dst", Type: schema.String, Size: 128, Null: true},
		},
	}
	if name == "missed_calls" {
		t.Indexes = []schema.Index{{Name: "mc_user", Columns: []string{"username", "domain"}}}
	} else {
		t.Indexes = []schema.Index{
			{Name: "acc_user", Columns: []string{"username", "domain"}},
			{Name: "sip_callid", Columns: []string{"sip_callid"}},
		}
	}
	return t
}

var sipReason = schema.Column{Name: "sip_reason", Type: schema.String, Size: 32, Default: "''"}

// rewriteSteps are the steps of OpenSER 1.2's rewrite of the columns:
// backup, the user index dropped (before its columns), the columns
// dropped and renamed, sip_reason added.
func rewriteSteps(userIndex string) []schema.Step {
	steps := []schema.Step{schema.BackupTable(), schema.DropIndex(userIndex, false)}
	for _, c := range droppedIn12 {
		steps = append(steps, schema.DropColumn(c))
	}
	for _, r := range renamedIn12 {
		steps = append(steps, schema.RenameColumn(r[0], r[1]))
	}
	return append(steps, schema.AddColumn(sipReason))
}

// accMigrations lead acc from version 2 to 4.
func accMigrations(t *schema.Table) []schema.Migration {
	return []schema.Migration{
		{From: 2, Note: "OpenSER 1.2's accounting columns: method, from_tag, to_tag, callid, sip_code (was sip_status), " +
			"sip_reason; the others go (kept in the backup table)",
			Steps: rewriteSteps("acc_user")},
		{From: 3, Note: "id primary key and the index on callid (OpenSER 1.2 gave acc version 4 directly)",
			Steps: []schema.Step{
				schema.AddID(*t.AutoColumn()),
				schema.DropIndex("sip_callid", false),
				schema.CreateIndex(t.Indexes[0]),
			}},
	}
}

// missedCallsMigrations lead missed_calls from version 2 to 3.
func missedCallsMigrations(t *schema.Table) []schema.Migration {
	steps := append(rewriteSteps("mc_user"), schema.AddID(*t.AutoColumn()), schema.CreateIndex(t.Indexes[0]))
	return []schema.Migration{{From: 2,
		Note: "OpenSER 1.2's accounting columns (as acc 2 → 4): id primary key, method, from_tag, to_tag, callid, " +
			"sip_code (was sip_status), sip_reason, an index on callid; the others go (kept in the backup table)",
		Steps: steps}}
}

// Acc is the acc table (version 4) with its history from OpenSER 1.0.
func Acc() *schema.Table {
	t := accTable("acc", 4)
	t.Migrations = accMigrations(t)
	return t
}

// MissedCalls is the missed_calls table (version 3) with its history from
// OpenSER 1.0.
func MissedCalls() *schema.Table {
	t := accTable("missed_calls", 3)
	t.Migrations = missedCallsMigrations(t)
	return t
}
