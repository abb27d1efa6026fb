package registrar

import (
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sr"
	"sip-router.org/modules_s/usrloc"
)

// Return codes of lookup_contacts(), as SER's lookup returns them.
const (
	lookupFound    = 1
	lookupNoUID    = -1 // no uid, or the AOR argument has no value
	lookupError    = -2 // usrloc failed
	lookupNotFound = -3 // the uid has no record
	lookupBadURI   = -4 // the contact cannot become the Request-URI
	lookupExpired  = -5 // the record has no valid contact (of the AOR)
)

// maxBranches bounds the branches lookup appends, as SER's MAX_BRANCHES.
const maxBranches = 12

// aorFilter reads the optional AOR argument; ok is false when it was given
// but has no value (an attribute that is not set).
func aorFilter(c *sr.Ctx, p []any) (filter string, filtered, ok bool) {
	a := p[1].(*aorArg)
	if a == nil {
		return "", false, true
	}
	f, has := a.value(c)
	return f, true, has
}

// lookup implements lookup_contacts(table[, aor]) and its alias lookup:
// the uid's first valid contact (of the AOR, when given) becomes the
// Request-URI, with its received address as the next hop ($du), or, with
// received_to_uri, as a received parameter of the URI; the other valid
// contacts become branches when append_branches is on. When one of them
// is behind a NAT, load_nat_flag is set. It returns 1, or -1 … -5 (see
// the constants).
func (m *registrar) lookup(c *sr.Ctx, p []any) int {
	t := p[0].(*tableRef)
	filter, filtered, ok := aorFilter(c, p)
	if !ok || c.Req == nil {
		return lookupNoUID
	}
	uid, ok := toUID(c)
	if !ok {
		return lookupNoUID
	}
	if t.dom == nil {
		return lookupError
	}
	rec, found, err := t.dom.Get(uid)
	if err != nil {
		if c.Log != nil {
			c.Log.Error("registrar: lookup failed", "table", t.name, "uid", uid, "error", err)
		}
		return lookupError
	}
	if !found {
		return lookupNotFound
	}
	now := time.Now()
	usable := func(ct *usrloc.Contact) bool { return ct.Valid(now) && validAOR(ct, filter, filtered) }
	first := -1
	for i := range rec.Contacts {
		if usable(&rec.Contacts[i]) {
			first = i
			break
		}
	}
	if first < 0 {
		return lookupExpired
	}
	main := &rec.Contacts[first]
	target, dst := m.target(main)
	var u sip.Uri
	if err := sip.ParseUri(target, &u); err != nil {
		if c.Log != nil {
			c.Log.Error("registrar: lookup: bad contact URI", "uid", uid, "contact", main.URI, "error", err)
		}
		return lookupBadURI
	}
	c.Req.Recipient = u
	if dst != "" {
		c.DstURI = dst
	}
	if !m.ReceivedToURI || main.Received == "" {
		if s := localSocket(c, main.Socket); s != nil {
			c.ForceSocket = s
		}
	}
	c.Q = main.Q
	nat := main.Flags&usrloc.FLNAT != 0
	if m.AppendBranches {
		for i := first + 1; i < len(rec.Contacts) && len(c.Branches) < maxBranches; i++ {
			ct := &rec.Contacts[i]
			if !usable(ct) {
				continue
			}
			target, dst := m.target(ct)
			var bu sip.Uri
			if sip.ParseUri(target, &bu) != nil {
				continue // an oversized or broken contact: try the others
			}
			br := sr.Branch{URI: target, DstURI: dst, Q: ct.Q}
			if !m.ReceivedToURI || ct.Received == "" {
				br.Socket = localSocket(c, ct.Socket)
			}
			c.Branches = append(c.Branches, br)
			nat = nat || ct.Flags&usrloc.FLNAT != 0
		}
	}
	if nat && m.LoadNATFlag.n >= 0 {
		c.SetFlag(m.LoadNATFlag.n)
	}
	return lookupFound
}

// target is the URI a contact is reached at and the next hop: the contact
// and its received address, or with received_to_uri the contact with the
// received address as a parameter and no next hop.
func (m *registrar) target(ct *usrloc.Contact) (uri, dst string) {
	if ct.Received == "" {
		return ct.URI, ""
	}
	if m.ReceivedToURI {
		return ct.URI + ";received=" + escapeParam(ct.Received), ""
	}
	return ct.URI, ct.Received
}

// escapeParam escapes a URI parameter value: SER quotes the received
// value, which RFC 3261's grammar does not allow in a URI; here the
// characters a pvalue cannot hold are %-escaped instead.
func escapeParam(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()[]/:&+$", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// registered implements registered(table[, aor]): 1 when the uid has a
// valid contact (of the AOR, when given), without changing the request.
func (m *registrar) registered(c *sr.Ctx, p []any) int {
	t := p[0].(*tableRef)
	filter, filtered, ok := aorFilter(c, p)
	if !ok || t.dom == nil {
		return -1
	}
	uid, ok := toUID(c)
	if !ok {
		return -1
	}
	rec, found, err := t.dom.Get(uid)
	if err != nil || !found {
		return -1
	}
	now := time.Now()
	for i := range rec.Contacts {
		if rec.Contacts[i].Valid(now) && validAOR(&rec.Contacts[i], filter, filtered) {
			return 1
		}
	}
	return -1
}
