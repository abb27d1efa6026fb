package registrar

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/location"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/usrloc"
)

// uaUnknown is the User-Agent stored for a REGISTER without one (SER's
// UA_DUMMY_STR).
const uaUnknown = "Unknown"

func (m *registrar) save(c *sr.Ctx, p []any) int           { return m.saveReal(c, p, true, false) }
func (m *registrar) saveNoReply(c *sr.Ctx, p []any) int    { return m.saveReal(c, p, false, false) }
func (m *registrar) saveMemory(c *sr.Ctx, p []any) int     { return m.saveReal(c, p, true, true) }
func (m *registrar) saveMemNoReply(c *sr.Ctx, p []any) int { return m.saveReal(c, p, false, true) }

// saveReal is save_contacts and its variants: RFC 3261 §10.3 processing
// of a REGISTER into the record of its uid. With doReply it answers: 200
// OK with every current binding, or the error, and then returns 0 (which
// ends the script, as in SER). Without, it leaves the reply's code, reason
// and Contact header in the reply_code_attr, reply_reason_attr and
// contact_attr attributes, and returns 1, or -2 on an error. memOnly keeps
// the change out of the database (save_memory, save_mem_nr).
func (m *registrar) saveReal(c *sr.Ctx, p []any, doReply, memOnly bool) int {
	t := p[0].(*tableRef)
	filter, filtered := p[1].(*aorArg).value(c)
	now := time.Unix(time.Now().Unix(), 0)
	rec, rerr := m.doSave(c, t, memOnly, now)
	var contact string
	if rec != nil {
		contact = m.contactHeader(rec.Contacts, filter, filtered, now)
	}
	if doReply && (c.Req == nil || c.Resp != nil) {
		doReply = false // a reply (onreply_route) is not answered
	}
	if rerr != nil {
		m.rejected.Inc()
		// A later sl_reply_error() then repeats this reply.
		c.SetReplyError(rerr.code, rerr.reason)
		lvl := slog.LevelDebug // a flood of bad REGISTERs must not flood the log
		if rerr.code >= 500 {
			lvl = slog.LevelError
		}
		if c.Log != nil {
			c.Log.Log(context.Background(), lvl, "registrar: REGISTER rejected", "table", t.name, "code", rerr.code, "error", rerr.info)
		}
		if doReply {
			if err := m.sendReply(c, rerr.code, rerr.reason, contact, "P-Registrar-Error: "+rerr.info); err != nil && c.Log != nil {
				c.Log.Error("registrar: sending the error reply failed", "code", rerr.code, "error", err)
			}
			return 0
		}
		m.setupAttrs(c, rerr.code, rerr.reason, contact)
		return -2
	}
	m.accepted.Inc()
	if doReply {
		if err := m.sendReply(c, 200, "OK", contact); err != nil {
			if c.Log != nil {
				c.Log.Error("registrar: sending the 200 OK failed", "error", err)
			}
			return -1
		}
		return 1
	}
	m.setupAttrs(c, 200, "OK", contact)
	return 1
}

// setupAttrs leaves the outcome of a save without reply in the
// attributes: the code (an integer), the reason, and the Contact header
// line (with its CRLF) when there are bindings.
func (m *registrar) setupAttrs(c *sr.Ctx, code int, reason, contact string) {
	addAttr(c, m.codeAttr, sr.IntVal(code))
	addAttr(c, m.reasonAttr, sr.StrVal(reason))
	if contact != "" {
		addAttr(c, m.contactAttr, sr.StrVal(contact+"\r\n"))
	}
}

// binding is a contact of the REGISTER with its expiry in seconds (0:
// remove it).
type binding struct {
	c   usrloc.Contact
	exp int
}

// doSave processes the message and returns the record afterwards (or as
// it was, for errors found once it was read), or the error to reply.
func (m *registrar) doSave(c *sr.Ctx, t *tableRef, memOnly bool, now time.Time) (*usrloc.Record, *regError) {
	msg := c.Msg()
	if msg == nil {
		return nil, errParse
	}
	to, ok := sipmsg.Header(msg, "To").(*sip.ToHeader)
	if !ok || to == nil {
		return nil, errToMiss
	}
	cidH := sipmsg.Header(msg, "Call-ID")
	if cidH == nil {
		return nil, errCIDMiss
	}
	cseqH, ok := sipmsg.Header(msg, "CSeq").(*sip.CSeqHeader)
	if !ok || cseqH == nil {
		return nil, errCSMiss
	}
	hdrExp, hasExp, rerr := expiresHeader(msg)
	if rerr != nil {
		return nil, rerr
	}
	cts, star, rerr := contacts(msg)
	if rerr != nil {
		return nil, rerr
	}
	if star && (!hasExp || hdrExp != 0) {
		// Without an Expires header the default applies, which is not 0.
		return nil, errStarExp
	}
	for _, ct := range cts {
		if len(ct.Address.String()) > maxContactLen {
			return nil, errContactLen
		}
		if r, ok := location.Param(ct.Params, "received"); ok && len(r) > maxReceivedLen {
			return nil, errContactLen
		}
	}
	uid, ok := toUID(c)
	if !ok {
		return nil, errToUser
	}
	if t.dom == nil {
		return nil, errULGetR
	}
	if star {
		if err := t.dom.Delete(uid, memOnly); err != nil {
			m.logULError(c, t, uid, err)
			return nil, errULDelR
		}
		return &usrloc.Record{UID: uid}, nil
	}
	if len(cts) == 0 {
		rec, _, err := t.dom.Get(uid)
		if err != nil {
			m.logULError(c, t, uid, err)
			return nil, errULGetR
		}
		return &rec, nil
	}
	callID := strings.TrimRight(cidH.Value(), " \t")
	if len(callID) > maxCallIDLen {
		return nil, errCallIDLen
	}
	bs, rerr := m.bindings(c, msg, to, cts, hdrExp, hasExp, callID, cseqH.SeqNo, now)
	if rerr != nil {
		return nil, rerr
	}
	rec, err := t.dom.Update(uid, memOnly, func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
		if len(cur) == 0 {
			return m.insertContacts(bs)
		}
		return m.updateContacts(cur, bs, callID, cseqH.SeqNo, now)
	})
	if err != nil {
		var re *regError
		if errors.As(err, &re) {
			return &rec, re
		}
		m.logULError(c, t, uid, err)
		return &rec, errULInsC
	}
	return &rec, nil
}

func (m *registrar) logULError(c *sr.Ctx, t *tableRef, uid string, err error) {
	if c.Log != nil {
		c.Log.Error("registrar: usrloc failed", "table", t.name, "uid", uid, "error", err)
	}
}

// bindings computes each contact's values as SER's insert and update do.
func (m *registrar) bindings(c *sr.Ctx, msg sip.Message, to *sip.ToHeader, cts []*sip.ContactHeader,
	hdrExp int, hasExp bool, callID string, cseq uint32, now time.Time) ([]binding, *regError) {
	ua := uaUnknown
	if h := sipmsg.Header(msg, "User-Agent"); h != nil {
		if v := strings.TrimSpace(h.Value()); v != "" {
			ua = v
			if len(ua) > maxUALen {
				ua = ua[:maxUALen]
			}
		}
	}
	aor := to.Address.String()
	if v, ok := firstAttr(c, m.aorName, sr.AVPTrackTo, 0); ok && v.Text() != "" {
		aor = v.Text()
	}
	if len(aor) > maxAORLen {
		return nil, errContactLen
	}
	serverID := 0
	if v, ok := firstAttr(c, m.serverIDName, sr.AVPTrackFrom, 0); ok {
		if n, ok := v.AsInt(); ok {
			serverID = n
		}
	}
	var flags uint32
	nat := m.SaveNATFlag.set(c)
	if nat {
		flags = usrloc.FLNAT
	}
	trust := m.TrustReceivedFlag.n == -2 || m.TrustReceivedFlag.set(c)
	socket := ""
	if c.Rcv.Socket != nil {
		socket = c.Rcv.Socket.String()
	}
	out := make([]binding, 0, len(cts))
	for _, ct := range cts {
		exp := m.contactExpires(ct, hdrExp, hasExp)
		q := m.DefaultQ
		if v, ok := location.Param(ct.Params, "q"); ok && v != "" {
			n, ok := usrloc.ParseQ(v)
			if !ok {
				return nil, errInvQ
			}
			q = n
		}
		rcv, sock := "", socket
		if v, ok := location.Param(ct.Params, m.ReceivedParam); ok && trust && location.Unquote(v) != "" {
			rcv = location.Unquote(v)
			if s := receivedSocket(c, rcv); s != nil {
				sock = s.String()
			}
		} else if nat && c.IsRequest() {
			rcv = receivedURI(c)
		}
		inst := ""
		if v, ok := location.Param(ct.Params, "+sip.instance"); ok {
			inst = location.Unquote(v)
			if len(inst) > maxContactLen {
				return nil, errContactLen
			}
		}
		b := binding{exp: exp, c: usrloc.Contact{
			URI: ct.Address.String(), AOR: aor, Received: rcv, Instance: inst, Q: q, CallID: callID, CSeq: cseq,
			Flags: flags, UserAgent: ua, ServerID: serverID, Socket: sock, LastModified: now,
		}}
		if exp != 0 {
			b.c.Expires = now.Add(time.Duration(exp) * time.Second)
		}
		out = append(out, b)
	}
	return out, nil
}

// contactExpires is a contact's expiry in seconds, as SER's
// calc_contact_expires: its expires parameter (3600 when not a number),
// else the Expires header, else default_expires; a value other than 0 is
// raised to min_expires and lowered to max_expires.
func (m *registrar) contactExpires(ct *sip.ContactHeader, hdrExp int, hasExp bool) int {
	exp := m.DefaultExpires
	if v, ok := location.Param(ct.Params, "expires"); ok && location.Unquote(v) != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(location.Unquote(v)), 10, 32)
		if err != nil {
			exp = 3600
		} else {
			exp = int(min(n, 1<<31-1))
		}
	} else if hasExp {
		exp = hdrExp
	}
	if exp != 0 && exp < m.MinExpires {
		exp = m.MinExpires
	}
	if exp != 0 && m.MaxExpires > 0 && exp > m.MaxExpires {
		exp = m.MaxExpires
	}
	return exp
}

// insertContacts makes a new record of the REGISTER's contacts (SER's
// insert): contacts with expiry 0 are skipped; max_contacts bounds the
// rest.
func (m *registrar) insertContacts(bs []binding) ([]usrloc.Contact, error) {
	var next []usrloc.Contact
	for _, b := range bs {
		if b.exp == 0 {
			continue
		}
		if i := indexOf(next, b.c.URI, b.c.Instance); i >= 0 {
			next[i] = b.c // the same contact twice in one REGISTER: the later wins
			continue
		}
		if m.MaxContacts > 0 && len(next) >= m.MaxContacts {
			return nil, errTooMany
		}
		next = append(next, b.c)
	}
	return next, nil
}

// indexOf finds a contact of a list as SER's get_ucontact_by_instance:
// by +sip.instance when the new one has it, else (or when no contact has
// that instance) by URI.
func indexOf(list []usrloc.Contact, uri, instance string) int {
	if instance != "" {
		for i := range list {
			if list[i].Instance == instance {
				return i
			}
		}
	}
	for i := range list {
		if list[i].URI == uri {
			return i
		}
	}
	return -1
}

// updateContacts applies the REGISTER to an existing record (SER's
// update): a known contact is refreshed, or removed with expiry 0; an
// unknown one is added. As RFC 3261 §10.3 step 7 requires, a contact
// registered with the same Call-ID and a higher CSeq than the request's
// makes the request fail (400); the same CSeq is a retransmission and
// leaves that contact alone.
func (m *registrar) updateContacts(cur []usrloc.Contact, bs []binding, callID string, cseq uint32, now time.Time) ([]usrloc.Contact, error) {
	if m.MaxContacts > 0 {
		n := 0
		for i := range cur {
			if cur[i].Valid(now) {
				n++
			}
		}
		for _, b := range bs {
			found := indexOf(cur, b.c.URI, "") >= 0
			switch {
			case !found && b.exp != 0:
				n++
			case found && b.exp == 0:
				n--
			}
		}
		if n > m.MaxContacts {
			return nil, errTooMany
		}
	}
	next := append([]usrloc.Contact(nil), cur...)
	for _, b := range bs {
		i := indexOf(next, b.c.URI, b.c.Instance)
		if i < 0 {
			if b.exp != 0 {
				next = append(next, b.c)
			}
			continue
		}
		old := next[i]
		if old.CallID == callID {
			if cseq < old.CSeq {
				return nil, errInvCSeq
			}
			if cseq == old.CSeq && old.Valid(now) {
				continue // a retransmission
			}
		}
		if b.exp == 0 {
			next = append(next[:i], next[i+1:]...)
			continue
		}
		nc := b.c
		// A contact keeps its flags but NAT, which this REGISTER decides
		// (the memory-only flag is usrloc's).
		nc.Flags = old.Flags&^(usrloc.FLNAT|usrloc.FLMem) | nc.Flags&usrloc.FLNAT
		next[i] = nc
	}
	return next, nil
}
