package usrloc

import (
	"strings"
	"time"
)

// API is what usrloc offers other modules. The registrar takes the usrloc
// instance with InitEnv.Dep("modules_k/usrloc") and asserts it to API.
type API interface {
	// RegisterDomain returns the domain (usrloc table) of that name,
	// creating it on first use. In the database modes the first call
	// checks the table's version and, in modes 1 and 2, loads its rows.
	// It may be called from Init only.
	RegisterDomain(name string) (Domain, error)
	// UseDomain reports whether AORs are user@domain (use_domain).
	UseDomain() bool
	// NATFlag is the branch flag mask of nat_bflag (0 when unset).
	NATFlag() uint32
	// Match finds the contact of a list that a REGISTER's contact URI
	// (and Call-ID, with matching_mode 1) designates, and checks the
	// CSeq ordering as Kamailio's get_ucontact does.
	Match(list []Contact, uri, callID string, cseq uint32, now time.Time) (int, MatchResult)
}

// Domain is one usrloc table ("location", "aliases" …): records by AOR.
// Its methods are safe for concurrent use.
type Domain interface {
	// Name is the table name.
	Name() string
	// Get returns a copy of the AOR's record: every contact, expired ones
	// included (Contact.Valid tells), in the order lookups serve them.
	// found is false when the AOR has no contact at all.
	Get(aor string) (rec Record, found bool, err error)
	// Update changes the AOR's record atomically: fn receives a copy of
	// its contacts (nil for a new AOR) and returns the contacts the record
	// must hold. Contacts are told apart by their key (the URI, or URI and
	// Call-ID with matching_mode 1): a key missing from the result is
	// deleted, a new one inserted, a changed one updated. fn runs with the
	// record locked and must not block. memOnly keeps the changes out of
	// the database (registrar's save flag 0x01). Update returns the record
	// as it is afterwards. An error of fn is returned as it is and nothing
	// changes.
	Update(aor string, memOnly bool, fn func(cur []Contact) ([]Contact, error)) (Record, error)
	// Delete removes every contact of the AOR.
	Delete(aor string, memOnly bool) error
}

// Record is an AOR with its contacts.
type Record struct {
	AOR      string
	Contacts []Contact
}

// Contact is one binding of an AOR, as registrar and the RPCs see it.
type Contact struct {
	// URI is the contact URI as registered.
	URI string
	// Received is the source the REGISTER came from behind a NAT
	// (received_avp, or the received parameter), as a SIP URI.
	Received string
	// Path is the Path vector (RFC 3327), comma separated.
	Path string
	// Expires is when the binding ends; zero is a permanent contact.
	Expires time.Time
	// Q is the q value in thousandths, or -1 when not given.
	Q         int
	CallID    string
	CSeq      uint32
	Flags     uint32
	CFlags    uint32
	Methods   uint32
	UserAgent string
	// Socket is the local socket the REGISTER came in on, proto:ip:port.
	Socket       string
	LastModified time.Time
}

// Valid reports whether the contact is not expired at now.
func (c *Contact) Valid(now time.Time) bool {
	return c.Expires.IsZero() || c.Expires.After(now)
}

// Permanent reports whether the contact never expires.
func (c *Contact) Permanent() bool { return c.Expires.IsZero() }

// Contact flags (Contact.Flags), as Kamailio's usrloc defines them.
const (
	// FLMem marks a contact kept in memory only.
	FLMem uint32 = 1 << 0
)

// MatchResult is the outcome of API.Match.
type MatchResult int

// Match results, as Kamailio's get_ucontact returns them.
const (
	// Found: the contact exists and the request is newer.
	Found MatchResult = 0
	// NotFound: no such contact.
	NotFound MatchResult = 1
	// BadCSeq: same Call-ID with an older (or repeated, after
	// cseq_delay) CSeq: the request is out of order.
	BadCSeq MatchResult = -1
	// Retransmission: same Call-ID and CSeq within cseq_delay seconds of
	// the last change: a retransmitted REGISTER, to skip.
	Retransmission MatchResult = -2
)

// Method bits of Contact.Methods, as Kamailio numbers them (the methods
// column holds this mask).
const (
	MethodInvite    uint32 = 1 << 0
	MethodCancel    uint32 = 1 << 1
	MethodACK       uint32 = 1 << 2
	MethodBye       uint32 = 1 << 3
	MethodInfo      uint32 = 1 << 4
	MethodRegister  uint32 = 1 << 5
	MethodSubscribe uint32 = 1 << 6
	MethodNotify    uint32 = 1 << 7
	MethodMessage   uint32 = 1 << 8
	MethodOptions   uint32 = 1 << 9
	MethodPrack     uint32 = 1 << 10
	MethodUpdate    uint32 = 1 << 11
	MethodRefer     uint32 = 1 << 12
	MethodPublish   uint32 = 1 << 13
	MethodOther     uint32 = 1 << 14
	// AllMethods is the mask of a contact that accepts every method.
	AllMethods uint32 = 0xFFFFFFFF
)

var methodBits = map[string]uint32{
	"INVITE": MethodInvite, "CANCEL": MethodCancel, "ACK": MethodACK, "BYE": MethodBye,
	"INFO": MethodInfo, "REGISTER": MethodRegister, "SUBSCRIBE": MethodSubscribe,
	"NOTIFY": MethodNotify, "MESSAGE": MethodMessage, "OPTIONS": MethodOptions,
	"PRACK": MethodPrack, "UPDATE": MethodUpdate, "REFER": MethodRefer, "PUBLISH": MethodPublish,
}

// MethodBit is the bit of a method name (case-insensitive); unknown
// methods are MethodOther.
func MethodBit(method string) uint32 {
	if b, ok := methodBits[strings.ToUpper(strings.TrimSpace(method))]; ok {
		return b
	}
	return MethodOther
}

// ParseMethods reads a list of methods ("INVITE, BYE,MESSAGE", as in an
// Allow header or a methods contact parameter, quotes allowed) into a
// mask. ok is false when the list holds something that is not a token.
func ParseMethods(list string) (mask uint32, ok bool) {
	list = strings.Trim(strings.TrimSpace(list), `"`)
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		for i := 0; i < len(m); i++ {
			if !isTokenChar(m[i]) {
				return 0, false
			}
		}
		mask |= MethodBit(m)
	}
	return mask, true
}

// MethodNames lists the methods of a mask, for dumps.
func MethodNames(mask uint32) string {
	if mask == AllMethods {
		return "ALL"
	}
	order := []string{"INVITE", "CANCEL", "ACK", "BYE", "INFO", "REGISTER", "SUBSCRIBE", "NOTIFY",
		"MESSAGE", "OPTIONS", "PRACK", "UPDATE", "REFER", "PUBLISH"}
	var out []string
	for _, n := range order {
		if mask&methodBits[n] != 0 {
			out = append(out, n)
		}
	}
	if mask&MethodOther != 0 {
		out = append(out, "OTHER")
	}
	return strings.Join(out, ",")
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

// SplitAOR splits an AOR into user and domain the way the location table
// stores it: with use_domain, at the last '@'.
func SplitAOR(aor string, useDomain bool) (user, domain string) {
	if !useDomain {
		return aor, ""
	}
	if i := strings.LastIndexByte(aor, '@'); i >= 0 {
		return aor[:i], aor[i+1:]
	}
	return aor, ""
}
