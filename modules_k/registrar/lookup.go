package registrar

import (
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/location"
	"sip-router.org/core/sr"
	"sip-router.org/modules_k/usrloc"
)

// Return codes of lookup().
const (
	lookupFound      = 1
	lookupNotFound   = -1
	lookupNotAllowed = -2
	lookupError      = -3
)

// targetAOR is the AOR a call looks up: from its URI argument, or the
// Request-URI.
func (m *registrar) targetAOR(c *sr.Ctx, p []any) (string, bool) {
	if f, ok := p[1].(sr.Format); ok && f != nil {
		aor, err := m.aorOfString(f.Expand(c))
		return aor, err == nil
	}
	if c.Req == nil {
		return "", false
	}
	aor, err := m.aorOf(&c.Req.Recipient)
	return aor, err == nil
}

// lookup implements lookup(table[, uri]): the first valid contact (whose
// methods allow the request's, with method_filtering) becomes the
// Request-URI, with its received address or Path as next hop, its q, its
// branch flags and its socket; the other valid contacts become branches
// when append_branches is on. It returns 1, -1 (no valid contact), -2
// (valid contacts, none accepting the method) or -3 (error).
func (m *registrar) lookup(c *sr.Ctx, p []any) int {
	t := p[0].(*tableRef)
	if t.dom == nil || c.Req == nil {
		return lookupError
	}
	aor, ok := m.targetAOR(c, p)
	if !ok {
		return lookupError
	}
	rec, found, err := t.dom.Get(aor)
	if err != nil {
		if c.Log != nil {
			c.Log.Error("registrar: lookup failed", "table", t.name, "aor", aor, "error", err)
		}
		return lookupError
	}
	if !found {
		return lookupNotFound
	}
	now := time.Now()
	bit := usrloc.MethodBit(string(c.Req.Method))
	allowed := func(ct *usrloc.Contact) bool { return !m.MethodFiltering || ct.Methods&bit != 0 }
	ret, first := lookupNotFound, -1
	for i := range rec.Contacts {
		ct := &rec.Contacts[i]
		if !ct.Valid(now) {
			continue
		}
		ret = lookupNotAllowed
		if allowed(ct) {
			first = i
			break
		}
	}
	if first < 0 {
		return ret
	}
	main := &rec.Contacts[first]
	var u sip.Uri
	if err := sip.ParseUri(main.URI, &u); err != nil {
		if c.Log != nil {
			c.Log.Error("registrar: lookup: bad contact URI", "aor", aor, "contact", main.URI, "error", err)
		}
		return lookupError
	}
	dst, ok := m.nextHop(main)
	if !ok {
		return lookupError
	}
	c.Req.Recipient = u
	if main.Path != "" {
		c.Path = main.Path
	}
	if dst != "" {
		c.DstURI = dst
	}
	c.Q = main.Q
	c.BranchFlags = main.CFlags
	if s := localSocket(c, main.Socket); s != nil {
		c.ForceSocket = s
	}
	if !m.AppendBranches {
		return lookupFound
	}
	for i := first + 1; i < len(rec.Contacts); i++ {
		ct := &rec.Contacts[i]
		if !ct.Valid(now) || !allowed(ct) {
			continue
		}
		var bu sip.Uri
		if sip.ParseUri(ct.URI, &bu) != nil {
			continue
		}
		dst, ok := m.nextHop(ct)
		if !ok {
			continue
		}
		c.Branches = append(c.Branches, sr.Branch{URI: ct.URI, DstURI: dst, Q: ct.Q, Path: ct.Path,
			Flags: ct.CFlags, Socket: localSocket(c, ct.Socket)})
	}
	return lookupFound
}

// nextHop is where requests to a contact go: the first Path hop (its
// received parameter with path_use_received), else the received address,
// else the contact itself ("").
func (m *registrar) nextHop(ct *usrloc.Contact) (string, bool) {
	if ct.Path != "" {
		u, ok := firstPathURI(ct.Path)
		if !ok {
			return "", false
		}
		if m.PathUseReceived {
			if r, ok := location.Param(u.UriParams, "received"); ok && location.Unquote(r) != "" {
				return location.Unquote(r), true
			}
		}
		return u.String(), true
	}
	return ct.Received, true
}

// registered implements registered(table[, uri]): 1 when the AOR has a
// valid contact.
func (m *registrar) registered(c *sr.Ctx, p []any) int {
	t := p[0].(*tableRef)
	if t.dom == nil {
		return -1
	}
	aor, ok := m.targetAOR(c, p)
	if !ok {
		return -1
	}
	rec, found, err := t.dom.Get(aor)
	if err != nil || !found {
		return -1
	}
	now := time.Now()
	for i := range rec.Contacts {
		if rec.Contacts[i].Valid(now) {
			return 1
		}
	}
	return -1
}

// unregister implements unregister(table, uri): every contact of the AOR
// goes.
func (m *registrar) unregister(c *sr.Ctx, p []any) int {
	t := p[0].(*tableRef)
	if t.dom == nil {
		return -1
	}
	aor, ok := m.targetAOR(c, p)
	if !ok {
		return -1
	}
	if err := t.dom.Delete(aor, false); err != nil {
		if c.Log != nil {
			c.Log.Error("registrar: unregister failed", "table", t.name, "aor", aor, "error", err)
		}
		return -1
	}
	return 1
}

// addSockHdr implements add_sock_hdr(name): a header naming the socket
// the request came in on, for the registrar behind this proxy (its
// sock_hdr_name and sock_flag).
func (m *registrar) addSockHdr(c *sr.Ctx, p []any) int {
	if c.Req == nil || c.Rcv.Socket == nil {
		return -1
	}
	c.Req.AppendHeader(sip.NewHeader(p[0].(string), c.Rcv.Socket.String()))
	return 1
}
