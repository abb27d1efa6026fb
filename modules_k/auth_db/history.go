package authdb

import "sip-router.org/core/db/schema"

// The history of the subscriber table, from OpenSER's tools/mysqldb.sh
// (2005 for OpenSER 1.0, 2007 for 1.2) and Kamailio 3.0's
// utils/kamctl/mysql/auth_db-create.sql:
//
//   - 5 (OpenSER 1.0 and 1.1): the account columns (username, domain,
//     password, ha1, ha1b, email_address, rpid) and SERWeb's (phplib_id,
//     first_name, last_name, phone, datetime_created, datetime_modified,
//     confirmation, flag, sendnotification, greeting, allow_find,
//     timezone, domn, uuid); primary key (username, domain), a
//     unique key on phplib_id, an index on username (user_2).
//   - 6 (OpenSER 1.2, 2006-10, 2a679bc082): SERWeb's columns leave the
//     table, an id primary key, (username, domain) a unique key. 1.2 kept
//     first_name, last_name, datetime_created and timezone, which Kamailio
//     1.5 dropped without a version change: such a table works as it is
//     (the extra columns are not read) and is left alone.
//
// The migration copies the table to subscriber_bak_v5 first: SERWeb's
// columns, and the rows as they were, stay there. Columns that Kamailio
// 3.0 has narrower than OpenSER 1.0 (domain, ha1, ha1b, rpid) keep their
// width; password and email_address widen to this module's sizes.

// serwebColumns are the columns of OpenSER 1.0's subscriber that version
// 6 no longer has.
var serwebColumns = []string{"phplib_id", "first_name", "last_name", "phone", "datetime_created", "datetime_modified",
	"confirmation", "flag", "sendnotification", "greeting", "allow_find", "timezone", "domn", "uuid"}

// SERWebColumns are the columns of OpenSER 1.0's subscriber that version 6
// dropped (their values stay in subscriber_bak_v5).
func SERWebColumns() []string { return append([]string(nil), serwebColumns...) }

// SubscriberOpenSER10 is the subscriber table as OpenSER 1.0 created it
// (version 5), for migration tests and for tools that recognise old
// databases. OpenSER's zero dates ('0000-00-00 00:00:00', which only
// MySQL accepts) are declared as 1900-01-01 00:00:01.
func SubscriberOpenSER10() *schema.Table {
	str := func(n string, size int) schema.Column {
		return schema.Column{Name: n, Type: schema.String, Size: size, Default: "''"}
	}
	null := func(n string, size int) schema.Column {
		return schema.Column{Name: n, Type: schema.String, Size: size, Null: true}
	}
	date := func(n string) schema.Column {
		return schema.Column{Name: n, Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"}
	}
	return &schema.Table{
		Name:    "subscriber",
		Version: 5,
		Columns: []schema.Column{
			str("phplib_id", 32), str("username", 64), str("domain", 128), str("password", 25),
			str("first_name", 25), str("last_name", 45), str("phone", 15), str("email_address", 50),
			date("datetime_created"), date("datetime_modified"), str("confirmation", 64),
			{Name: "flag", Type: schema.String, Size: 1, Default: "'o'"},
			str("sendnotification", 50), str("greeting", 50), str("ha1", 128), str("ha1b", 128),
			{Name: "allow_find", Type: schema.String, Size: 1, Default: "'0'"},
			null("timezone", 128), null("rpid", 128),
			{Name: "domn", Type: schema.Int, Null: true},
			null("uuid", 64),
		},
		Primary: []string{"username", "domain"},
		Keys:    []schema.Index{{Name: "phplib_id", Columns: []string{"phplib_id"}}},
		Indexes: []schema.Index{{Name: "user_2", Columns: []string{"username"}}},
	}
}

// SubscriberMigrations lead the subscriber table t (as Subscriber declares
// it, version 6) from OpenSER 1.0's version 5.
func SubscriberMigrations(t *schema.Table) []schema.Migration {
	old := SubscriberOpenSER10()
	steps := []schema.Step{
		schema.BackupTable(),
		schema.DropIndex("phplib_id", true),
		schema.DropIndex("user_2", false),
	}
	for _, c := range serwebColumns {
		steps = append(steps, schema.DropColumn(c))
	}
	for _, c := range []string{"password", "email_address"} {
		if from, to := *old.Col(c), *t.Col(c); from.Size < to.Size {
			steps = append(steps, schema.ChangeType(from, schema.Column{Name: c, Type: schema.String, Size: to.Size, Default: from.Default}))
		}
	}
	steps = append(steps, schema.AddID(*t.AutoColumn()))
	for _, k := range t.Keys {
		steps = append(steps, schema.CreateUniqueIndex(k))
	}
	for _, ix := range t.Indexes {
		steps = append(steps, schema.CreateIndex(ix))
	}
	return []schema.Migration{{From: 5,
		Note:  "SERWeb's columns go (kept in the backup table), id primary key, unique key on (username, domain) (OpenSER 1.2)",
		Steps: steps}}
}
