package usrloc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/location"
	"sip-router.org/core/rpc"
)

// Values ul.add gives what a REGISTER would carry (Kamailio's MI server
// uses the same ones).
const (
	rpcCallID    = "dfl_call_ID"
	rpcUserAgent = "SIP Router MI Server"
)

var (
	errNoAOR     = errors.New("AOR not found")
	errNoContact = errors.New("contact not found")
	// errNoDomain is returned by RPCs naming an unknown table.
	errNoDomain = errors.New("table not found")
)

// QString formats a q value (thousandths) as Kamailio prints it: "1",
// "0", "0.5", "0.05", "0.125"; "" when unset.
func QString(q int) string { return location.QString(q) }

// ParseQ reads a q value ("0.5", "1", "0.125") into thousandths.
func ParseQ(s string) (int, bool) { return location.ParseQ(s) }

func contactInfo(c *Contact, now time.Time) map[string]any {
	exp := "permanent"
	if !c.Permanent() {
		exp = strconv.FormatInt(c.Expires.Unix()-now.Unix(), 10)
	}
	return map[string]any{
		"Contact":       c.URI,
		"Q":             QString(c.Q),
		"Expires":       exp,
		"Call-ID":       c.CallID,
		"CSeq":          int64(c.CSeq),
		"User-Agent":    c.UserAgent,
		"Received":      c.Received,
		"Path":          c.Path,
		"Flags":         int64(c.Flags),
		"Cflags":        int64(c.CFlags),
		"Socket":        c.Socket,
		"Methods":       MethodNames(c.Methods),
		"Last-Modified": c.LastModified.Unix(),
	}
}

func recordInfo(aor string, contacts []Contact, now time.Time) map[string]any {
	cs := make([]any, 0, len(contacts))
	for i := range contacts {
		cs = append(cs, contactInfo(&contacts[i], now))
	}
	return map[string]any{"AoR": aor, "Contacts": cs}
}

// rpcDump implements ul.dump [brief].
func (m *usrloc) rpcDump(req *rpc.Request) (any, error) {
	doms, err := m.svc.Dump(req, func(r *location.Record[Contact], now time.Time) map[string]any {
		return recordInfo(r.Key, r.Contacts, now)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Domains": doms}, nil
}

// tableAOR reads the table and AOR parameters, the AOR fixed as
// Kamailio's MI does: lower case, without the domain unless use_domain
// (which requires one).
func (m *usrloc) tableAOR(req *rpc.Request) (domain, string, error) {
	var d domain
	table, err := req.Str(0)
	if err != nil {
		return d, "", err
	}
	aor, err := req.Str(1)
	if err != nil {
		return d, "", err
	}
	t, ok := m.svc.Table(table)
	if !ok {
		return d, "", fmt.Errorf("%w: %s", errNoDomain, table)
	}
	d.t = t
	aor = strings.TrimSpace(aor)
	at := strings.IndexByte(aor, '@')
	if m.UseDomainParam {
		if at < 0 {
			return d, "", fmt.Errorf("%w: domain missing in AOR %q (use_domain is on)", rpc.ErrParams, aor)
		}
	} else if at >= 0 {
		aor = aor[:at]
	}
	if aor == "" {
		return d, "", fmt.Errorf("%w: empty AOR", rpc.ErrParams)
	}
	return d, strings.ToLower(aor), nil
}

// rpcLookup implements ul.lookup table aor (MI ul_show_contact).
func (m *usrloc) rpcLookup(req *rpc.Request) (any, error) {
	d, aor, err := m.tableAOR(req)
	if err != nil {
		return nil, err
	}
	rec, found, err := d.Get(aor)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", errNoAOR, aor)
	}
	return recordInfo(rec.AOR, rec.Contacts, time.Now()), nil
}

// rpcRm implements ul.rm table aor.
func (m *usrloc) rpcRm(req *rpc.Request) (any, error) {
	d, aor, err := m.tableAOR(req)
	if err != nil {
		return nil, err
	}
	if err := d.Delete(aor, false); err != nil {
		return nil, err
	}
	return nil, nil
}

// rpcRmContact implements ul.rm_contact table aor contact.
func (m *usrloc) rpcRmContact(req *rpc.Request) (any, error) {
	d, aor, err := m.tableAOR(req)
	if err != nil {
		return nil, err
	}
	uri, err := req.Str(2)
	if err != nil {
		return nil, err
	}
	uri = strings.TrimSpace(uri)
	_, err = d.Update(aor, false, func(cur []Contact) ([]Contact, error) {
		var out []Contact
		for _, c := range cur {
			if c.URI != uri {
				out = append(out, c)
			}
		}
		if len(out) == len(cur) {
			return nil, fmt.Errorf("%w: %s of %s", errNoContact, uri, aor)
		}
		return out, nil
	})
	return nil, err
}

// rpcAdd implements ul.add table aor contact expires q [replicate flags
// cflags methods]: it inserts the contact, or updates it when the AOR has
// it already. Expires 0 makes a permanent contact.
func (m *usrloc) rpcAdd(req *rpc.Request) (any, error) {
	d, aor, err := m.tableAOR(req)
	if err != nil {
		return nil, err
	}
	uri, err := req.Str(2)
	if err != nil {
		return nil, err
	}
	uri = strings.TrimSpace(uri)
	if uri == "" || len(uri) > 255 {
		return nil, fmt.Errorf("%w: bad contact %q", rpc.ErrParams, uri)
	}
	expires, err := req.Int(3)
	if err != nil || expires < 0 {
		return nil, fmt.Errorf("%w: expires must be a number of seconds (0: permanent)", rpc.ErrParams)
	}
	qs, err := req.Str(4)
	if err != nil {
		return nil, err
	}
	q, ok := ParseQ(qs)
	if !ok {
		return nil, fmt.Errorf("%w: q %q is not a number between 0 and 1", rpc.ErrParams, qs)
	}
	var flags, cflags uint32
	methods := AllMethods
	optInt := func(i int, dst *uint32) error {
		if i >= len(req.Params) || strings.TrimSpace(req.Params[i]) == "" {
			return nil
		}
		n, err := strconv.ParseUint(strings.TrimSpace(req.Params[i]), 0, 32)
		if err != nil {
			return fmt.Errorf("%w: parameter %d: %q is not a number", rpc.ErrParams, i+1, req.Params[i])
		}
		*dst = uint32(n)
		return nil
	}
	// Parameter 6 (replicate) is accepted and ignored, as in Kamailio 3.0.
	for _, p := range []struct {
		i   int
		dst *uint32
	}{{6, &flags}, {7, &cflags}, {8, &methods}} {
		if err := optInt(p.i, p.dst); err != nil {
			return nil, err
		}
	}
	now := time.Unix(time.Now().Unix(), 0)
	c := Contact{URI: uri, Q: q, CallID: rpcCallID, CSeq: 1, Flags: flags &^ FLMem, CFlags: cflags,
		Methods: methods, UserAgent: rpcUserAgent, LastModified: now}
	if expires > 0 {
		c.Expires = now.Add(time.Duration(expires) * time.Second)
	}
	_, err = d.Update(aor, false, func(cur []Contact) ([]Contact, error) {
		for i := range cur {
			if cur[i].URI == uri && (m.MatchingMode == 0 || cur[i].CallID == c.CallID) {
				cur[i] = c
				return cur, nil
			}
		}
		return append(cur, c), nil
	})
	return nil, err
}

// rpcFlush implements ul.flush: an expiry and flush pass now.
func (m *usrloc) rpcFlush(*rpc.Request) (any, error) {
	if m.DBMode != 1 && m.DBMode != 2 {
		return map[string]any{"Written": 0}, nil
	}
	return m.svc.FlushRPC()
}
