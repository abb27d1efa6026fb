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
	aor, instance string
	serverID      int32
}

func (x extra) Clone(old extra) extra {
	x.aor = location.CloneIfNew(old.aor, x.aor)
	x.instance = location.CloneIfNew(old.instance, x.instance)
	return x
}

// pack is a contact as memory keeps it (times in Unix seconds).
func pack(c *Contact) location.Entry[extra] {
	return location.Entry[extra]{
		URI: c.URI, Received: c.Received, CallID: c.CallID, UserAgent: c.UserAgent, Socket: c.Socket,
		Expires: location.UnixOrZero(c.Expires), LastMod: location.UnixOrZero(c.LastModified),
		Q: int32(c.Q), CSeq: c.CSeq, Flags: c.Flags,
		X: extra{aor: c.AOR, instance: c.Instance, serverID: int32(c.ServerID)},
	}
}

func unpack(e *location.Entry[extra]) Contact {
	return Contact{
		URI: e.URI, AOR: e.X.aor, Received: e.Received, Instance: e.X.instance, CallID: e.CallID,
		UserAgent: e.UserAgent, Socket: e.Socket,
		Expires: location.TimeOrZero(e.Expires), LastModified: location.TimeOrZero(e.LastMod),
		Q: int(e.Q), CSeq: e.CSeq, Flags: e.Flags, ServerID: int(e.X.serverID),
	}
}

// layout is the SQL shape of a usrloc table: the *_column parameters
// (server_id has no parameter in SER), keyed by uid and contact. The
// socket and the last change are kept in memory only.
func (m *usrloc) layout(string) *location.Layout[extra] {
	lay := &location.Layout[extra]{
		Key:        []string{m.UIDColumn},
		ContactKey: []string{m.ContactColumn},
		Values: []string{m.AORColumn, "server_id", m.ReceivedColumn, m.ExpiresColumn, m.QColumn, m.CallIDColumn,
			m.CSeqColumn, m.FlagsColumn, m.UserAgentColumn, m.InstanceColumn},
		KeyArgs:     func(uid string) []any { return []any{uid} },
		ContactArgs: func(e *location.Entry[extra]) []any { return []any{e.URI} },
		ValueArgs: func(e *location.Entry[extra]) []any {
			exp := location.Epoch
			if e.Flags&FLPermanent == 0 && e.Expires != 0 {
				exp = time.Unix(e.Expires, 0)
			}
			return []any{e.X.aor, int64(e.X.serverID), location.NullStr(e.Received), exp, float64(e.Q) / 1000,
				location.NullStr(e.CallID), int64(int32(e.CSeq)), int64(int32(e.Flags &^ FLMem)),
				location.NullStr(e.UserAgent), location.NullStr(e.X.instance)}
		},
		Scan: scan,
	}
	lay.Select = append([]string{m.UIDColumn, m.ContactColumn}, lay.Values...)
	return lay
}

// scan reads a row of the Select columns.
func scan(rows *db.Rows) (string, location.Entry[extra], bool, error) {
	var (
		uid, contact, aor, received, callID, userAgent, instance sql.NullString
		serverID, cseq, flags                                    sql.NullInt64
		expires                                                  sql.NullTime
		q                                                        sql.NullFloat64
	)
	var e location.Entry[extra]
	if err := rows.Scan(&uid, &contact, &aor, &serverID, &received, &expires, &q, &callID, &cseq,
		&flags, &userAgent, &instance); err != nil {
		return "", e, false, err
	}
	if uid.String == "" || contact.String == "" {
		return "", e, false, nil
	}
	e = location.Entry[extra]{
		URI: contact.String, Received: received.String, CallID: callID.String, UserAgent: userAgent.String,
		Q: int32(math.Round(q.Float64 * 1000)), CSeq: uint32(int32(cseq.Int64)),
		Flags: uint32(int32(flags.Int64)) &^ FLMem,
		X:     extra{aor: aor.String, instance: instance.String, serverID: int32(serverID.Int64)},
	}
	if !q.Valid {
		e.Q = 1000
	}
	if e.Q < 0 {
		e.Q = -1
	}
	if expires.Valid && expires.Time.Unix() > 0 {
		e.Expires = expires.Time.Unix()
	}
	return uid.String, e, true, nil
}
