package usrloc

import (
	"database/sql"
	"math"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/location"
)

// extra is what memory keeps of a contact besides location.Entry.
type extra struct {
	path    string
	cflags  uint32
	methods uint32
}

func (x extra) Clone(old extra) extra {
	x.path = location.CloneIfNew(old.path, x.path)
	return x
}

// pack is a contact as memory keeps it: compact (times in Unix seconds,
// no pointers besides the strings), about 140 bytes plus its text.
func pack(c *Contact) location.Entry[extra] {
	return location.Entry[extra]{
		URI: c.URI, Received: c.Received, CallID: c.CallID, UserAgent: c.UserAgent, Socket: c.Socket,
		Expires: location.UnixOrZero(c.Expires), LastMod: location.UnixOrZero(c.LastModified),
		Q: int32(c.Q), CSeq: c.CSeq, Flags: c.Flags,
		X: extra{path: c.Path, cflags: c.CFlags, methods: c.Methods},
	}
}

func unpack(e *location.Entry[extra]) Contact {
	return Contact{
		URI: e.URI, Received: e.Received, Path: e.X.path, CallID: e.CallID, UserAgent: e.UserAgent, Socket: e.Socket,
		Expires: location.TimeOrZero(e.Expires), LastModified: location.TimeOrZero(e.LastMod),
		Q: int(e.Q), CSeq: e.CSeq, Flags: e.Flags, CFlags: e.X.cflags, Methods: e.X.methods,
	}
}

// layout is the SQL shape of a usrloc table: the *_column parameters,
// the AOR as username (and domain with use_domain), contacts told apart
// by contact (and callid with matching_mode 1).
func (m *usrloc) layout(string) *location.Layout[extra] {
	useDomain, byCallID := m.UseDomainParam, m.MatchingMode == 1
	lay := &location.Layout[extra]{
		Key:        []string{m.UserColumn},
		ContactKey: []string{m.ContactColumn},
		Select: []string{m.UserColumn, m.DomainColumn, m.ContactColumn, m.ReceivedColumn, m.PathColumn,
			m.ExpiresColumn, m.QColumn, m.CallIDColumn, m.CSeqColumn, m.FlagsColumn, m.CFlagsColumn,
			m.UserAgentColumn, m.SocketColumn, m.MethodsColumn, m.LastModColumn},
		Expires: m.ExpiresColumn,
	}
	if useDomain {
		lay.Key = append(lay.Key, m.DomainColumn)
	}
	if byCallID {
		lay.ContactKey = append(lay.ContactKey, m.CallIDColumn)
	}
	for _, c := range []string{m.ReceivedColumn, m.PathColumn, m.ExpiresColumn, m.QColumn, m.CallIDColumn,
		m.CSeqColumn, m.FlagsColumn, m.CFlagsColumn, m.UserAgentColumn, m.SocketColumn, m.MethodsColumn, m.LastModColumn} {
		if byCallID && c == m.CallIDColumn {
			continue
		}
		lay.Values = append(lay.Values, c)
	}
	lay.KeyArgs = func(aor string) []any {
		user, dom := SplitAOR(aor, useDomain)
		if useDomain {
			return []any{user, dom}
		}
		return []any{user}
	}
	lay.ContactArgs = func(e *location.Entry[extra]) []any {
		if byCallID {
			return []any{e.URI, e.CallID}
		}
		return []any{e.URI}
	}
	lay.ValueArgs = func(e *location.Entry[extra]) []any {
		exp := location.Epoch
		if e.Expires != 0 {
			exp = time.Unix(e.Expires, 0)
		}
		var methods any
		if e.X.methods != AllMethods {
			methods = int64(int32(e.X.methods))
		}
		v := []any{location.NullStr(e.Received), location.NullStr(e.X.path), exp, float64(e.Q) / 1000}
		if !byCallID {
			v = append(v, e.CallID)
		}
		return append(v, int64(int32(e.CSeq)), int64(int32(e.Flags)), int64(int32(e.X.cflags)), e.UserAgent,
			location.NullStr(e.Socket), methods, time.Unix(e.LastMod, 0))
	}
	lay.Scan = func(rows *db.Rows) (string, location.Entry[extra], bool, error) {
		var (
			user, dom, contact, received, path, callID, userAgent, socket sql.NullString
			expires, lastMod                                              sql.NullTime
			q                                                             sql.NullFloat64
			cseq, flags, cflags, methods                                  sql.NullInt64
		)
		var e location.Entry[extra]
		if err := rows.Scan(&user, &dom, &contact, &received, &path, &expires, &q, &callID, &cseq,
			&flags, &cflags, &userAgent, &socket, &methods, &lastMod); err != nil {
			return "", e, false, err
		}
		if contact.String == "" {
			return "", e, false, nil
		}
		aor := user.String
		if useDomain && dom.String != "" {
			aor = user.String + "@" + dom.String
		}
		e = location.Entry[extra]{
			URI: contact.String, Received: received.String, CallID: callID.String,
			UserAgent: userAgent.String, Socket: socket.String,
			Q: int32(math.Round(q.Float64 * 1000)), CSeq: uint32(int32(cseq.Int64)), Flags: uint32(int32(flags.Int64)),
			X: extra{path: path.String, cflags: uint32(int32(cflags.Int64)), methods: AllMethods},
		}
		if !q.Valid {
			e.Q = 1000
		}
		if expires.Valid && expires.Time.Unix() > 0 {
			e.Expires = expires.Time.Unix()
		}
		if lastMod.Valid {
			e.LastMod = lastMod.Time.Unix()
		}
		if methods.Valid {
			e.X.methods = uint32(int32(methods.Int64))
		}
		return aor, e, true, nil
	}
	return lay
}
