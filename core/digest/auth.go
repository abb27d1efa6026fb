package digest

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// This file holds what both auth modules do with credentials around the
// nonce checks (core/digest/nonce): finding them in a request, checking
// their response, marking them authorized, and the parts of a challenge.

// Kind says which credentials and challenge headers are meant: WWW
// (Authorization, 401 WWW-Authenticate) or Proxy (Proxy-Authorization,
// 407 Proxy-Authenticate).
type Kind uint8

// The two kinds.
const (
	WWW Kind = iota
	Proxy
)

// Credentials is the name of the credentials header.
func (k Kind) Credentials() string {
	if k == Proxy {
		return "Proxy-Authorization"
	}
	return "Authorization"
}

// Challenge is the name of the challenge header.
func (k Kind) Challenge() string {
	if k == Proxy {
		return "Proxy-Authenticate"
	}
	return "WWW-Authenticate"
}

// Reply is the code and reason of the challenge reply.
func (k Kind) Reply() (int, string) {
	if k == Proxy {
		return 407, "Proxy Authentication Required"
	}
	return 401, "Unauthorized"
}

// KindFor is auth_check's choice: WWW for REGISTER, Proxy otherwise.
func KindFor(req *sip.Request) Kind {
	if req != nil && req.Method == sip.REGISTER {
		return WWW
	}
	return Proxy
}

// RequestRealm is the realm of a request whose script gives none: the To
// host of a REGISTER checked with Authorization credentials, the From
// host otherwise ("" without them).
func RequestRealm(req *sip.Request, k Kind) string {
	if req == nil {
		return ""
	}
	if req.Method == sip.REGISTER && k == WWW {
		if to := req.To(); to != nil {
			return to.Address.Host
		}
		return ""
	}
	if from := req.From(); from != nil {
		return from.Address.Host
	}
	return ""
}

// TrimRealmPrefix removes prefix (realm_prefix) from the front of realm,
// unless that would leave nothing.
func TrimRealmPrefix(realm, prefix string) string {
	if prefix != "" && len(realm) > len(prefix) && strings.HasPrefix(realm, prefix) {
		return realm[len(prefix):]
	}
	return realm
}

// Quote escapes a realm for a quoted string; control characters, which
// would break the header, are dropped.
func Quote(s string) string {
	if !strings.ContainsAny(s, "\"\\\r\n\x00") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch < 0x20 && ch != '\t':
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// Creds are credentials found in a request for a realm.
type Creds struct {
	*Credentials
	// Kind is the kind of header they came in.
	Kind Kind
	// Value is that header's value as written, to find it again.
	Value string
}

// Find returns the first credentials of kind k in the request of c that
// parse and name realm (case-insensitively), or nil. Headers that do not
// parse are skipped, unless strict: then the first of them met before
// the realm's makes malformed true (SER refuses such a request). Found
// credentials that name an algorithm other than MD5 count as none.
func Find(c *sr.Ctx, k Kind, realm string, strict bool) (cr *Creds, malformed bool) {
	if c.Req == nil {
		return nil, false
	}
	for _, h := range sipmsg.Headers(c.Req, k.Credentials()) {
		v := h.Value()
		d, err := Parse(v)
		if err != nil {
			if strict {
				c.Log.Debug("auth: malformed credentials", "header", k.Credentials(), "error", err)
				return nil, true
			}
			c.Log.Debug("auth: credentials skipped", "header", k.Credentials(), "error", err)
			continue
		}
		if !strings.EqualFold(d.Realm, realm) {
			continue
		}
		cr = &Creds{Credentials: d, Kind: k, Value: v}
		break
	}
	if cr == nil {
		return nil, false
	}
	if cr.Algorithm != "" && !strings.EqualFold(cr.Algorithm, "MD5") {
		c.Log.Debug("auth: unsupported digest algorithm", "algorithm", cr.Algorithm)
		return nil, false
	}
	return cr, false
}

// Verify reports whether the response of cr is right for the request of
// c and ha1 (the hex MD5 of username:realm:password), comparing in
// constant time.
func Verify(c *sr.Ctx, cr *Creds, ha1 string) bool {
	if c.Req == nil || cr == nil {
		return false
	}
	return cr.Check(string(c.Req.Method), c.Req.Body(), ha1)
}

// Authorize marks cr as the credentials the request of c was authorized
// with (SetAuthorized: consume_credentials, uri_db's check_to/check_from,
// $au …), and moves their header in front of the other headers of its
// name: $au, $ar and $ad read the first one, and another realm's
// credentials placed first must not speak for the user.
func Authorize(c *sr.Ctx, cr *Creds) {
	if c.Req != nil {
		promote(c.Req, cr.Kind.Credentials(), cr.Value)
	}
	SetAuthorized(c, &Authorized{
		Header: cr.Kind.Credentials(), Value: cr.Value,
		Username: cr.Username, User: cr.User, Domain: cr.Domain, Realm: cr.Realm, URI: cr.URI,
	})
}

// RemoveHeader removes the first header called name with that value,
// keeping the other headers of that name in their order
// (consume_credentials).
func RemoveHeader(req *sip.Request, name, value string) bool {
	hs := sipmsg.Headers(req, name)
	idx := -1
	for i, h := range hs {
		if h.Value() == value {
			idx = i
			break
		}
	}
	if idx < 0 {
		return false
	}
	sipmsg.Remove(req, name)
	for i, h := range hs {
		if i != idx {
			req.AppendHeader(h)
		}
	}
	return true
}

// promote moves the first header called name with that value in front
// of the other headers of that name.
func promote(req *sip.Request, name, value string) {
	hs := sipmsg.Headers(req, name)
	if len(hs) < 2 || hs[0].Value() == value {
		return
	}
	idx := -1
	for i, h := range hs {
		if h.Value() == value {
			idx = i
			break
		}
	}
	if idx < 0 {
		return
	}
	sipmsg.Remove(req, name)
	req.AppendHeader(hs[idx])
	for i, h := range hs {
		if i != idx {
			req.AppendHeader(h)
		}
	}
}
