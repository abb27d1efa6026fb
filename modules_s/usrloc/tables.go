package usrloc

import "sip-router.org/core/db/schema"

// TableVersion is the version of the location table this module reads
// and writes: the <version> of SER 3.0's lib/srdb2/schema/location.xml.
// SER itself never checked it (its modules have no version table); this
// port does, as every other module of the tree, so that a table of
// another shape (Kamailio's location table, keyed by username) is
// refused at start instead of failing on the first REGISTER.
const TableVersion = 9

// Table declares a SER usrloc table named name: the contacts of each
// uid, with the unique key (uid, contact) as SER's my_create.sql has it.
func Table(name, comment string) *schema.Table {
	return &schema.Table{
		Name:    name,
		Version: TableVersion,
		Comment: comment,
		Columns: []schema.Column{
			{Name: "uid", Type: schema.String, Size: 64, Comment: "user id the contact belongs to"},
			{Name: "aor", Type: schema.String, Size: 255, Comment: "address of record the contact was registered for"},
			{Name: "contact", Type: schema.String, Size: 255, Comment: "contact URI"},
			{Name: "server_id", Type: schema.Int, Default: "0", Comment: "server holding the registration"},
			{Name: "received", Type: schema.String, Size: 255, Null: true, Comment: "source of the REGISTER behind a NAT"},
			{Name: "expires", Type: schema.DateTime, Default: "'1970-01-01 00:00:00'", Comment: "end of the binding"},
			{Name: "q", Type: schema.Float, Default: "1.0"},
			{Name: "callid", Type: schema.String, Size: 255, Null: true},
			{Name: "cseq", Type: schema.Int, Null: true},
			{Name: "flags", Type: schema.Int, Default: "0", Comment: "1 behind NAT, 128 permanent"},
			{Name: "user_agent", Type: schema.String, Size: 64, Null: true},
			{Name: "instance", Type: schema.String, Size: 255, Null: true, Comment: "+sip.instance of the contact (RFC 5626)"},
		},
		Keys: []schema.Index{{Name: "location_key", Columns: []string{"uid", "contact"}}},
		Indexes: []schema.Index{
			{Name: "location_contact", Columns: []string{"contact"}},
			{Name: "location_expires", Columns: []string{"expires"}},
		},
	}
}

// Location is the location table (owned by usrloc).
func Location() *schema.Table {
	return Table("location", "User location: the contacts registered for each uid")
}
