package rr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"

	"sip-router.org/core/sr"
)

// SER's AVP cookies: the user and URI class attributes of the from and to
// tracks that carry an avpflag (setavpflag($account, "dialog_cookie"))
// travel in the Record-Route URI as the "avp" parameter, and loose_route
// restores them on the in-dialog requests that come back through us, with
// the tracks swapped for requests that flow upstream.
//
// The value is base64url (no padding) of: payload, then the first
// cookieMACLen bytes of HMAC-SHA256(cookie_secret, payload). The payload is
// a version byte, then per AVP (oldest first): flags (uint16 big endian),
// the name (0, length, bytes | 1, varint id) and the value (0 null | 1,
// varint | 2, length, bytes). Decoding checks every length against the
// input; a cookie that does not verify is ignored.

const (
	cookieParam   = "avp"
	cookieVersion = 1
	cookieMACLen  = 12
	// maxCookie bounds the payload (SER's AVP_COOKIE_BUFFER); attributes
	// that do not fit are left out.
	maxCookie = 1024
)

// cookieFlagName is the avpflag that marks attributes for the cookie.
const cookieFlagName = "dialog_cookie"

// cookieAVP reports whether an AVP goes into the cookie: it carries the
// dialog_cookie avpflag (declared with "avpflags dialog_cookie;").
func (m *rr) cookieAVP(a *sr.AVP) bool {
	if m.cookieFlag == 0 || a.Flags&m.cookieFlag == 0 {
		return false
	}
	switch a.Flags & sr.AVPClassMask {
	case 0, sr.AVPClassURI, sr.AVPClassUser:
	default:
		return false
	}
	return m.filter == nil || m.filter.MatchString(a.Name.String())
}

// cookie encodes the flagged AVPs of c, or returns "" when there are none.
func (m *rr) cookie(c *sr.Ctx) string {
	if c.AVPs.Len() == 0 || len(m.key) == 0 {
		return ""
	}
	var picked []*sr.AVP
	c.AVPs.Each(func(a *sr.AVP) bool {
		if m.cookieAVP(a) {
			picked = append(picked, a)
		}
		return true
	})
	if len(picked) == 0 {
		return ""
	}
	buf := []byte{cookieVersion}
	for i := len(picked) - 1; i >= 0; i-- {
		a := picked[i]
		item := binary.BigEndian.AppendUint16(nil, uint16(a.Flags))
		if a.Name.IsID {
			item = append(item, 1)
			item = binary.AppendVarint(item, int64(a.Name.ID))
		} else {
			item = append(item, 0)
			item = appendBytes(item, a.Name.S)
		}
		switch a.Val.K {
		case sr.Int:
			item = append(item, 1)
			item = binary.AppendVarint(item, int64(a.Val.I))
		case sr.Str:
			item = append(item, 2)
			item = appendBytes(item, a.Val.S)
		default:
			item = append(item, 0)
		}
		if len(buf)+len(item) > maxCookie {
			break
		}
		buf = append(buf, item...)
	}
	if len(buf) == 1 {
		return ""
	}
	buf = append(buf, m.mac(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (m *rr) mac(payload []byte) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write(payload)
	return h.Sum(nil)[:cookieMACLen]
}

// restoreCookie adds the AVPs of a cookie to c. Upstream requests get the
// from and to tracks swapped: what was the caller's is now the callee's.
func (m *rr) restoreCookie(c *sr.Ctx, enc string, upstream bool) {
	if len(enc) > 2*maxCookie || len(m.key) == 0 || c.AVPs == nil {
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) <= 1+cookieMACLen {
		c.Log.Debug("rr: AVP cookie ignored: not base64url or too short")
		return
	}
	payload, sum := raw[:len(raw)-cookieMACLen], raw[len(raw)-cookieMACLen:]
	if !hmac.Equal(sum, m.mac(payload)) {
		c.Log.Warn("rr: AVP cookie ignored: integrity check failed")
		return
	}
	avps, ok := decodeCookie(payload)
	if !ok {
		c.Log.Warn("rr: AVP cookie ignored: malformed")
		return
	}
	for _, a := range avps {
		if !m.cookieAVP(&a) {
			continue
		}
		if t := a.Flags & sr.AVPTrackMask; upstream && (t == sr.AVPTrackFrom || t == sr.AVPTrackTo) {
			a.Flags ^= sr.AVPTrackMask
		}
		c.AVPs.Add(a.Name, a.Val, a.Flags)
	}
}

// decodeCookie parses a verified payload, checking every length.
func decodeCookie(b []byte) ([]sr.AVP, bool) {
	if len(b) == 0 || b[0] != cookieVersion {
		return nil, false
	}
	b = b[1:]
	var out []sr.AVP
	for len(b) > 0 {
		var a sr.AVP
		if len(b) < 3 {
			return nil, false
		}
		a.Flags = sr.AVPFlags(binary.BigEndian.Uint16(b))
		kind := b[2]
		b = b[3:]
		switch kind {
		case 0:
			s, rest, ok := readBytes(b)
			if !ok {
				return nil, false
			}
			a.Name, b = sr.AVPName{S: s}, rest
		case 1:
			id, n := binary.Varint(b)
			if n <= 0 {
				return nil, false
			}
			a.Name, b = sr.AVPName{ID: int(id), IsID: true}, b[n:]
		default:
			return nil, false
		}
		if len(b) == 0 {
			return nil, false
		}
		kind, b = b[0], b[1:]
		switch kind {
		case 0:
		case 1:
			v, n := binary.Varint(b)
			if n <= 0 {
				return nil, false
			}
			a.Val, b = sr.IntVal(int(v)), b[n:]
		case 2:
			s, rest, ok := readBytes(b)
			if !ok {
				return nil, false
			}
			a.Val, b = sr.StrVal(s), rest
		default:
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}

func readBytes(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	end := k + int(n)
	return string(b[k:end]), b[end:], true
}
