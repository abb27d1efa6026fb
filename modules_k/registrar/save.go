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
	"sip-router.org/modules_k/usrloc"
)

// Return codes of save().
const (
	saveInserted = 1 // bindings added (or nothing to change)
	saveUpdated  = 2 // bindings refreshed or changed
	saveDeleted  = 3 // bindings removed only
	saveReturned = 4 // no Contact: the bindings were returned
)

// save implements save(table[, flags]): RFC 3261 §10.3 processing of a
// REGISTER (or, in onreply_route, of the reply of a registrar upstream).
// In request_route it replies itself, unless flag 0x02 says not to. It
// returns 1..4 (see the constants); on error 0 when it has sent the error
// reply (which ends the script, as in Kamailio, so that a config's
// "if (!save(…)) sl_reply_error();" does not answer twice), and -1 when it
// has not.
func (m *registrar) save(c *sr.Ctx, p []any) int {
	t := p[0].(*tableRef)
	flags := p[1].(int)
	reply := c.RouteType == sr.RouteRequest && c.Resp == nil && flags&saveNoReply == 0
	ret, hdrs, rerr := m.doSave(c, t, flags)
	if rerr != nil {
		m.rejected.Inc()
		// With no reply sent (flag 0x02), a later sl_reply_error() sends
		// this error rather than a 500.
		c.SetReplyError(rerr.code, rerr.reason)
		if c.Log != nil {
			// Client errors are logged at debug level: a flood of bad
			// REGISTERs must not flood the log.
			lvl := slog.LevelDebug
			if rerr.code >= 500 {
				lvl = slog.LevelError
			}
			c.Log.Log(context.Background(), lvl, "registrar: REGISTER rejected", "table", t.name, "code", rerr.code, "error", rerr.info)
		}
		if reply {
			if err := m.sendError(c, rerr); err != nil {
				if c.Log != nil {
					c.Log.Error("registrar: sending the error reply failed", "code", rerr.code, "error", err)
				}
				return -1
			}
			return 0
		}
		return -1
	}
	m.accepted.Inc()
	if reply {
		if err := m.sendReply(c, 200, "OK", hdrs); err != nil {
			if c.Log != nil {
				c.Log.Error("registrar: sending the 200 OK failed", "error", err)
			}
			return -1
		}
	}
	return ret
}

// binding is a contact of the REGISTER with its expiry in seconds (0:
// remove it).
type binding struct {
	c   usrloc.Contact
	exp int
}

// doSave processes the message and returns save's code and the header
// lines of the 200 OK, or the error to reply.
func (m *registrar) doSave(c *sr.Ctx, t *tableRef, flags int) (int, []string, *regError) {
	if t.dom == nil || m.ul == nil {
		return 0, nil, errULGetR
	}
	msg := c.Msg()
	if msg == nil {
		return 0, nil, errParse
	}
	to, ok := sipmsg.Header(msg, "To").(*sip.ToHeader)
	if !ok || to == nil {
		return 0, nil, errToMiss
	}
	cidH := sipmsg.Header(msg, "Call-ID")
	if cidH == nil {
		return 0, nil, errCIDMiss
	}
	cseqH, ok := sipmsg.Header(msg, "CSeq").(*sip.CSeqHeader)
	if !ok || cseqH == nil {
		return 0, nil, errCSMiss
	}
	hdrExp, hasExp, rerr := expiresHeader(msg)
	if rerr != nil {
		return 0, nil, rerr
	}
	cts, star, rerr := contacts(msg)
	if rerr != nil {
		return 0, nil, rerr
	}
	if star {
		exp := m.DefaultExpires
		if hasExp {
			exp = hdrExp
		}
		if exp != 0 {
			return 0, nil, errStarExp
		}
	}
	for _, ct := range cts {
		if len(ct.Address.String()) > maxContactLen {
			return 0, nil, errContactLen
		}
		if r, ok := location.Param(ct.Params, "received"); ok && len(r) > maxReceivedLen {
			return 0, nil, errContactLen
		}
	}
	aor, rerr := m.saveAOR(c, to)
	if rerr != nil {
		return 0, nil, rerr
	}
	now := time.Unix(time.Now().Unix(), 0)
	memOnly := flags&saveMemOnly != 0

	if star || len(cts) == 0 {
		if star {
			if err := t.dom.Delete(aor, memOnly); err != nil {
				return 0, nil, errULDelR
			}
			return saveDeleted, m.okHeaders(msg, nil, "", now), nil
		}
		rec, _, err := t.dom.Get(aor)
		if err != nil {
			return 0, nil, errULGetR
		}
		return saveReturned, m.okHeaders(msg, rec.Contacts, "", now), nil
	}

	callID := strings.TrimRight(cidH.Value(), " \t")
	if len(callID) > maxCallIDLen {
		return 0, nil, errCallIDLen
	}
	var path, pathRcv string
	if m.UsePath {
		if path, pathRcv, rerr = m.pathVector(msg); rerr != nil {
			return 0, nil, rerr
		}
		if path != "" && m.PathMode == pathStrict && !listHas(msg, "Supported", "path") {
			e := *errPathUnsup
			e.extra = append(append([]string(nil), e.extra...), "Path: "+path)
			return 0, nil, &e
		}
	}
	bs, rerr := m.bindings(c, msg, cts, hdrExp, hasExp, callID, cseqH.SeqNo, path, pathRcv, now)
	if rerr != nil {
		return 0, nil, rerr
	}

	var ins, upd, del int
	rec, err := t.dom.Update(aor, memOnly, func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
		ins, upd, del = 0, 0, 0
		if len(cur) == 0 {
			return m.insertContacts(bs, callID, cseqH.SeqNo, now, &ins)
		}
		return m.updateContacts(cur, bs, callID, cseqH.SeqNo, now, flags&saveSingle != 0, &ins, &upd, &del)
	})
	if err != nil {
		var re *regError
		if errors.As(err, &re) {
			return 0, nil, re
		}
		if c.Log != nil {
			c.Log.Error("registrar: usrloc update failed", "table", t.name, "aor", aor, "error", err)
		}
		return 0, nil, errULUpdC
	}
	ret := saveInserted
	switch {
	case ins > 0:
	case upd > 0:
		ret = saveUpdated
	case del > 0:
		ret = saveDeleted
	}
	return ret, m.okHeaders(msg, rec.Contacts, path, now), nil
}

// saveAOR is the AOR of a REGISTER: from aor_avp when it is set and
// holds a value, else from the To URI.
func (m *registrar) saveAOR(c *sr.Ctx, to *sip.ToHeader) (string, *regError) {
	if m.aorAVP != nil {
		if v := m.aorAVP.Get(c); !v.IsNull() && strings.TrimSpace(v.Text()) != "" {
			return m.aorOfString(v.Text())
		}
	}
	return m.aorOf(&to.Address)
}

// bindings computes each contact's values as Kamailio's pack_ci and
// calc_contact_expires do.
func (m *registrar) bindings(c *sr.Ctx, msg sip.Message, cts []*sip.ContactHeader, hdrExp int, hasExp bool,
	callID string, cseq uint32, path, pathRcv string, now time.Time) ([]binding, *regError) {
	ua := "n/a"
	if h := sipmsg.Header(msg, "User-Agent"); h != nil {
		if v := strings.TrimSpace(h.Value()); v != "" && len(v) <= maxUALen {
			ua = v
		}
	}
	cflags := c.BranchFlags
	if pathRcv != "" {
		cflags |= m.ul.NATFlag()
	}
	avpRcv := ""
	if m.rcvAVP != nil {
		if v := m.rcvAVP.Get(c); !v.IsNull() {
			avpRcv = v.Text()
			if len(avpRcv) > maxReceivedLen {
				return nil, errContactLen
			}
		}
	}
	socket := m.socketOf(c, msg)
	var allow uint32
	allowDone := false
	out := make([]binding, 0, len(cts))
	for _, ct := range cts {
		exp := m.contactExpires(ct, hdrExp, hasExp)
		if exp != 0 && m.MinExpires > 0 && exp < m.MinExpires {
			return nil, errLowExpires(m.MinExpires)
		}
		if exp != 0 && m.MaxExpires > 0 && exp > m.MaxExpires {
			exp = m.MaxExpires
		}
		q := m.DefaultQ
		if v, ok := location.Param(ct.Params, "q"); ok && v != "" {
			n, ok := usrloc.ParseQ(v)
			if !ok {
				return nil, errInvQ
			}
			q = n
		}
		var methods uint32
		if v, ok := location.Param(ct.Params, "methods"); ok {
			mask, ok := usrloc.ParseMethods(location.Unquote(v))
			if !ok {
				return nil, errParse
			}
			methods = mask
		} else {
			if !allowDone {
				allow, allowDone = allowedMethods(msg), true
			}
			methods = allow
		}
		rcv := pathRcv
		if rcv == "" {
			if v, ok := location.Param(ct.Params, "received"); ok {
				rcv = location.Unquote(v)
			} else {
				rcv = avpRcv
			}
		}
		b := binding{exp: exp, c: usrloc.Contact{
			URI: ct.Address.String(), Received: rcv, Path: path, Q: q, CallID: callID, CSeq: cseq,
			CFlags: cflags, Methods: methods, UserAgent: ua, Socket: socket, LastModified: now,
		}}
		if exp != 0 {
			b.c.Expires = now.Add(time.Duration(exp) * time.Second)
		}
		out = append(out, b)
	}
	return out, nil
}

// contactExpires is a contact's expiry in seconds: its expires parameter,
// else the Expires header, else default_expires.
func (m *registrar) contactExpires(ct *sip.ContactHeader, hdrExp int, hasExp bool) int {
	if v, ok := location.Param(ct.Params, "expires"); ok && v != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(location.Unquote(v)), 10, 32)
		if err != nil {
			return m.DefaultExpires
		}
		return int(min(n, 1<<31-1))
	}
	if hasExp {
		return hdrExp
	}
	return m.DefaultExpires
}

// insertContacts makes a new record of the REGISTER's contacts (Kamailio's
// insert_contacts): contacts with expiry 0 are skipped; max_contacts
// bounds the rest.
func (m *registrar) insertContacts(bs []binding, callID string, cseq uint32, now time.Time, ins *int) ([]usrloc.Contact, error) {
	var next []usrloc.Contact
	for _, b := range bs {
		if b.exp == 0 {
			continue
		}
		if m.MaxContacts > 0 && len(next) >= m.MaxContacts {
			return nil, errTooMany
		}
		// The same contact twice in one REGISTER: the later one wins.
		if i, res := m.ul.Match(next, b.c.URI, callID, cseq+1, now); res == usrloc.Found {
			next[i] = b.c
			continue
		}
		next = append(next, b.c)
		*ins++
	}
	return next, nil
}

// updateContacts applies the REGISTER to an existing record (Kamailio's
// update_contacts): a known contact is refreshed, or removed with expiry
// 0; an unknown one is added. single (flag 0x04) keeps only the
// registered contact.
func (m *registrar) updateContacts(cur []usrloc.Contact, bs []binding, callID string, cseq uint32, now time.Time,
	single bool, ins, upd, del *int) ([]usrloc.Contact, error) {
	if m.MaxContacts > 0 {
		n := 0
		for i := range cur {
			if cur[i].Valid(now) {
				n++
			}
		}
		for _, b := range bs {
			_, res := m.ul.Match(cur, b.c.URI, callID, cseq, now)
			switch res {
			case usrloc.BadCSeq:
				return nil, errInvCSeq
			case usrloc.Retransmission:
				continue
			case usrloc.NotFound:
				if b.exp != 0 {
					n++
				}
			case usrloc.Found:
				if b.exp == 0 {
					n--
				}
			}
		}
		if n > m.MaxContacts {
			return nil, errTooMany
		}
	}
	next := append([]usrloc.Contact(nil), cur...)
	for _, b := range bs {
		i, res := m.ul.Match(next, b.c.URI, callID, cseq, now)
		switch res {
		case usrloc.BadCSeq:
			return nil, errInvCSeq
		case usrloc.Retransmission:
			if b.exp != 0 && single {
				return next, nil
			}
			continue
		case usrloc.NotFound:
			if b.exp == 0 {
				continue
			}
			if single {
				*del += len(next)
				next = next[:0]
			}
			next = append(next, b.c)
			*ins++
		case usrloc.Found:
			if b.exp == 0 {
				next = append(next[:i], next[i+1:]...)
				*del++
				continue
			}
			nc := b.c
			// A contact keeps its memory-only flag unless this save
			// changes it (usrloc decides); its other flags stay.
			nc.Flags = next[i].Flags
			next[i] = nc
			*upd++
			if single {
				*del += len(next) - 1
				next = []usrloc.Contact{nc}
			}
		}
		if single {
			return next, nil
		}
	}
	return next, nil
}
