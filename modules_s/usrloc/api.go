package usrloc

import (
	"time"

	"sip-router.org/core/location"
)

// API is what usrloc offers other modules. The registrar takes the usrloc
// instance with InitEnv.Dep("modules_s/usrloc") and asserts it to API.
type API interface {
	// RegisterDomain returns the usrloc table ("location", "aliases" …) of
	// that name, creating it on first use. With a database (db_mode 1, 2,
	// 3) the first call checks the table's version and loads its rows. It
	// may be called from Init only.
	RegisterDomain(name string) (Domain, error)
}

// Domain is one usrloc table: records keyed by uid. Its methods are safe
// for concurrent use.
type Domain interface {
	// Name is the table name.
	Name() string
	// Get returns a copy of the uid's record: every contact, expired ones
	// included (Contact.Valid tells), in the order lookups serve them.
	// found is false when the uid has no contact at all.
	Get(uid string) (rec Record, found bool, err error)
	// Update changes the uid's record atomically: fn receives a copy of
	// its contacts (nil for a new uid) and returns the contacts the record
	// must hold. Contacts are told apart by their URI: a URI missing from
	// the result is deleted, a new one inserted, a changed one updated.
	// fn runs with the record locked and must not block. memOnly keeps the
	// changes out of the database (save_memory). Update returns the record
	// as it is afterwards. An error of fn is returned as it is and nothing
	// changes.
	Update(uid string, memOnly bool, fn func(cur []Contact) ([]Contact, error)) (Record, error)
	// Delete removes every contact of the uid.
	Delete(uid string, memOnly bool) error
}

// Record is a uid with its contacts.
type Record struct {
	UID      string
	Contacts []Contact
}

// Contact is one binding of a uid, as registrar and the RPCs see it.
type Contact struct {
	// URI is the contact URI as registered; it identifies the contact
	// within its record.
	URI string
	// AOR is the address of record the contact was registered for (the
	// To URI of the REGISTER, or registrar's aor_attr).
	AOR string
	// Received is the source of the REGISTER behind a NAT, as a SIP URI
	// (sip:ip:port;dstip=…;dstport=…) or what a received parameter said.
	Received string
	// Instance is the +sip.instance parameter of the contact (RFC 5626).
	Instance string
	// Expires is when the binding ends. It is ignored for a permanent
	// contact (Flags has FLPermanent).
	Expires time.Time
	// Q is the q value in thousandths, or -1 when not given.
	Q         int
	CallID    string
	CSeq      uint32
	Flags     uint32
	UserAgent string
	// ServerID is the id of the server that holds the registration (SER's
	// server_id, for several servers sharing a location table).
	ServerID int
	// Socket is the local socket the REGISTER came in on, proto:ip:port.
	// It is kept in memory only.
	Socket string
	// LastModified is when the binding last changed (memory only; it
	// orders contacts with desc_time_order).
	LastModified time.Time
}

// Contact flags (Contact.Flags), as SER's usrloc numbers them.
const (
	// FLNAT marks a contact behind a NAT (registrar's save_nat_flag).
	FLNAT uint32 = 1 << 0
	// FLPermanent marks a contact that never expires.
	FLPermanent uint32 = 1 << 7
	// FLMem marks a contact kept in memory only (save_memory).
	FLMem uint32 = 1 << 8
)

// Valid reports whether the contact is not expired at now.
func (c *Contact) Valid(now time.Time) bool {
	return c.Flags&FLPermanent != 0 || c.Expires.After(now)
}

// Permanent reports whether the contact never expires.
func (c *Contact) Permanent() bool { return c.Flags&FLPermanent != 0 }

// QString formats a q value (thousandths) as SER prints it: "1", "0",
// "0.5", "0.05", "0.125"; "" when unset.
func QString(q int) string { return location.QString(q) }

// ParseQ reads a q value ("0.5", "1", "0.125", "1.000") into thousandths.
func ParseQ(s string) (int, bool) { return location.ParseQ(s) }
