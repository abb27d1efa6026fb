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

var errNoAOR = errors.New("AOR not found")

// QString formats a q value (thousandths) as Kamailio prints it: "1",
// "0", "0.5", "0.05", "0.125"; "" when unset.
func QString(q int) string { return location.QString(q) }

// ParseQ reads a q value ("0.5", "1", "0.125") into thousandths.
func ParseQ(s string) (int, bool) { return location.ParseQ(s) }

func contactInfo(c *Contact, now time.Time) map[string]any {
	return map[string]any{
		"Contact":       c.URI,
		"Q":             QString(c.Q),
		"Expires":       location.ExpiresIn(c.Permanent(), c.Expires, now),
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

// rpcDump implements ul.dump [brief].
func (m *usrloc) rpcDump(req *rpc.Request) (any, error) {
	doms, err := m.svc.Dump(req, contactInfo)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Domains": doms}, nil
}

// tableAOR reads the table and AOR parameters, the AOR fixed as
// Kamailio's MI does: lower case, without the domain unless use_domain
// (which requires one).
func (m *usrloc) tableAOR(req *rpc.Request) (*location.Table[Contact, extra], string, error) {
	t, aor, err := m.svc.TableArg(req)
	if err != nil {
		return nil, "", err
	}
	aor = strings.TrimSpace(aor)
	at := strings.IndexByte(aor, '@')
	if m.UseDomainParam {
		if at < 0 {
			return nil, "", fmt.Errorf("%w: domain missing in AOR %q (use_domain is on)", rpc.ErrParams, aor)
		}
	} else if at >= 0 {
		aor = aor[:at]
	}
	if aor == "" {
		return nil, "", fmt.Errorf("%w: empty AOR", rpc.ErrParams)
	}
	return t, strings.ToLower(aor), nil
}

// rpcLookup implements ul.lookup table aor (MI ul_show_contact).
func (m *usrloc) rpcLookup(req *rpc.Request) (any, error) {
	return location.KeyArgs[Contact, extra](m.tableAOR).Lookup(req, errNoAOR, contactInfo)
}

// rpcRm implements ul.rm table aor.
func (m *usrloc) rpcRm(req *rpc.Request) (any, error) {
	return location.KeyArgs[Contact, extra](m.tableAOR).Rm(req)
}

// rpcRmContact implements ul.rm_contact table aor contact.
func (m *usrloc) rpcRmContact(req *rpc.Request) (any, error) {
	return location.KeyArgs[Contact, extra](m.tableAOR).RmContact(req, nil)
}

// rpcAdd implements ul.add table aor contact expires q [replicate flags
// cflags methods]: it inserts the contact, or updates it when the AOR has
// it already. Expires 0 makes a permanent contact.
func (m *usrloc) rpcAdd(req *rpc.Request) (any, error) {
	t, aor, err := m.tableAOR(req)
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
	return nil, t.Put(aor, c)
}

// rpcFlush implements ul.flush: an expiry and flush pass now.
func (m *usrloc) rpcFlush(*rpc.Request) (any, error) {
	if m.DBMode != 1 && m.DBMode != 2 {
		return map[string]any{"Written": 0}, nil
	}
	return m.svc.FlushRPC()
}
