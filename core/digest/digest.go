// Package digest parses SIP digest credentials (the Authorization and
// Proxy-Authorization headers of RFC 3261 §22.4 and RFC 2617 §3.2.2) and
// computes digest responses with MD5.
//
// It lives in core because both auth modules use it (modules_k/auth and
// modules_s/auth) and because modules and pseudo-variables that never link
// an auth module read from it which credentials a request was authorized
// with (Authorized): uri_db's check_to/check_from and the $au/$ar family,
// as Kamailio reads the "authorized" mark auth leaves on the parsed
// header.
package digest

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"

	"sip-router.org/core/sr"
)

// MaxLen bounds the header value Parse accepts. Real credentials are a
// few hundred bytes; a longer value is refused before any work.
const MaxLen = 8192

// maxParams bounds the number of parameters.
const maxParams = 64

// Errors of Parse. Every one of them wraps ErrMalformed.
var (
	ErrMalformed = errors.New("malformed digest credentials")
	errTooLong   = wrap("header value longer than 8192 bytes")
	errScheme    = wrap("scheme is not Digest")
	errSyntax    = wrap("syntax error in a parameter")
	errQuote     = wrap("unterminated quoted string")
	errDup       = wrap("parameter given twice")
	errMissing   = wrap("username, realm, nonce, uri or response missing")
	errResponse  = wrap("response is not 32 hex digits")
	errQOP       = wrap("qop is neither auth nor auth-int")
	errNC        = wrap("qop without a valid nc (8 hex digits) or cnonce")
	errTooMany   = wrap("too many parameters")
)

type parseError struct{ msg string }

func (e *parseError) Error() string { return ErrMalformed.Error() + ": " + e.msg }
func (e *parseError) Unwrap() error { return ErrMalformed }

func wrap(msg string) error { return &parseError{msg} }

// Credentials are the parameters of one digest credentials header.
type Credentials struct {
	// Username is the username parameter as given ("alice" or
	// "alice@example.com"); User and Domain are its parts around the
	// first '@' (Domain is empty without one).
	Username, User, Domain string
	Realm                  string
	Nonce                  string
	URI                    string
	// Response is lower-case hex.
	Response  string
	Algorithm string
	CNonce    string
	Opaque    string
	// QOP is "", "auth" or "auth-int" (lower case).
	QOP string
	// NC is the nonce count as written (8 hex digits, only with QOP);
	// NCValue is its value.
	NC      string
	NCValue uint32
}

// Parse parses a credentials header value ("Digest username=...,
// realm=..."). It refuses values over MaxLen, another scheme, a
// parameter without '=', an unterminated quoted string, a known parameter
// given twice, more than 64 parameters, missing username, realm, nonce,
// uri or response, a response that is not 32 hex digits, and with qop a
// missing cnonce or an nc that is not 8 hex digits. Unknown parameters
// are skipped. Parsing is linear in the input and never panics.
func Parse(value string) (*Credentials, error) {
	cr, err := ParseFields(value)
	if err != nil {
		return nil, err
	}
	if err := cr.check(); err != nil {
		return nil, err
	}
	return cr, nil
}

// ParseFields parses credentials with the syntax checks of Parse, and
// requires the realm, but not the other fields a response check needs:
// for readers of whatever credentials a request carries (accounting), not
// for authentication.
func ParseFields(value string) (*Credentials, error) {
	if len(value) > MaxLen {
		return nil, errTooLong
	}
	s := strings.TrimLeft(value, " \t\r\n")
	sp := strings.IndexAny(s, " \t\r\n")
	if sp < 0 || !strings.EqualFold(s[:sp], "digest") {
		return nil, errScheme
	}
	s = s[sp:]
	cr := &Credentials{}
	var seen uint16
	n := 0
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			break
		}
		n++
		if n > maxParams {
			return nil, errTooMany
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, errSyntax
		}
		name := strings.TrimRight(s[:eq], " \t\r\n")
		if name == "" || strings.ContainsAny(name, " \t\r\n,\"") {
			return nil, errSyntax
		}
		s = strings.TrimLeft(s[eq+1:], " \t\r\n")
		var val string
		if strings.HasPrefix(s, `"`) {
			v, rest, ok := quoted(s)
			if !ok {
				return nil, errQuote
			}
			val, s = v, rest
		} else {
			end := strings.IndexAny(s, ", \t\r\n")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
			if strings.Contains(val, `"`) {
				return nil, errSyntax
			}
		}
		// After a value only blanks and a comma may come.
		rest := strings.TrimLeft(s, " \t\r\n")
		if rest != "" && rest[0] != ',' {
			return nil, errSyntax
		}
		bit, dst := cr.field(name)
		if dst == nil {
			continue
		}
		if seen&bit != 0 {
			return nil, errDup
		}
		seen |= bit
		*dst = val
	}
	if seen&(1<<1) == 0 {
		return nil, errMissing
	}
	cr.User, cr.Domain, _ = strings.Cut(cr.Username, "@")
	return cr, nil
}

// quoted reads the quoted string at the start of s (which starts with a
// quote): its unescaped value and the text after the closing quote.
func quoted(s string) (val, rest string, ok bool) {
	var b strings.Builder
	plain := true
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			if plain {
				b.WriteString(s[1:i])
				plain = false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			if plain {
				return s[1:i], s[i+1:], true
			}
			return b.String(), s[i+1:], true
		default:
			if !plain {
				b.WriteByte(s[i])
			}
		}
	}
	return "", "", false
}

func (cr *Credentials) field(name string) (uint16, *string) {
	switch strings.ToLower(name) {
	case "username":
		return 1 << 0, &cr.Username
	case "realm":
		return 1 << 1, &cr.Realm
	case "nonce":
		return 1 << 2, &cr.Nonce
	case "uri":
		return 1 << 3, &cr.URI
	case "response":
		return 1 << 4, &cr.Response
	case "algorithm":
		return 1 << 5, &cr.Algorithm
	case "cnonce":
		return 1 << 6, &cr.CNonce
	case "opaque":
		return 1 << 7, &cr.Opaque
	case "qop":
		return 1 << 8, &cr.QOP
	case "nc":
		return 1 << 9, &cr.NC
	}
	return 0, nil
}

func (cr *Credentials) check() error {
	if cr.Username == "" || cr.Nonce == "" || cr.URI == "" || cr.Response == "" {
		return errMissing
	}
	if len(cr.Response) != 32 || !isHex(cr.Response) {
		return errResponse
	}
	cr.Response = strings.ToLower(cr.Response)
	if cr.QOP == "" {
		cr.NC, cr.CNonce = "", ""
		return nil
	}
	cr.QOP = strings.ToLower(cr.QOP)
	if cr.QOP != "auth" && cr.QOP != "auth-int" {
		return errQOP
	}
	if cr.CNonce == "" || len(cr.NC) != 8 || !isHex(cr.NC) {
		return errNC
	}
	var v uint32
	for i := 0; i < 8; i++ {
		v = v<<4 | uint32(unhex(cr.NC[i]))
	}
	cr.NCValue = v
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) > 15 {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// MD5Hex returns the lower-case hex MD5 of the parts joined by ':'.
func MD5Hex(parts ...string) string {
	h := md5.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{':'})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HA1 computes MD5(username:realm:password), as kamctl stores it in the
// ha1 column (and, with username "user@domain", in ha1b).
func HA1(username, realm, password string) string {
	return MD5Hex(username, realm, password)
}

// Response computes the digest response the client should have sent for
// a request of method with body, given the HA1 (RFC 2617 §3.2.2.1):
// MD5(HA1:nonce:nc:cnonce:qop:HA2) with qop, MD5(HA1:nonce:HA2) without;
// HA2 is MD5(method:uri), with auth-int MD5(method:uri:MD5(body)).
func (cr *Credentials) ExpectedResponse(method string, body []byte, ha1 string) string {
	var ha2 string
	if cr.QOP == "auth-int" {
		sum := md5.Sum(body)
		ha2 = MD5Hex(method, cr.URI, hex.EncodeToString(sum[:]))
	} else {
		ha2 = MD5Hex(method, cr.URI)
	}
	ha1 = strings.ToLower(ha1)
	if cr.QOP != "" {
		return MD5Hex(ha1, cr.Nonce, cr.NC, cr.CNonce, cr.QOP, ha2)
	}
	return MD5Hex(ha1, cr.Nonce, ha2)
}

// Check reports whether the credentials' response is right for the HA1,
// comparing in constant time.
func (cr *Credentials) Check(method string, body []byte, ha1 string) bool {
	want := cr.ExpectedResponse(method, body, ha1)
	return subtle.ConstantTimeCompare([]byte(want), []byte(cr.Response)) == 1
}

// Authorized describes the credentials a request was authorized with:
// www_authorize, proxy_authorize or auth_check succeeded with them.
type Authorized struct {
	// Header is the name of the header they came in: Authorization or
	// Proxy-Authorization.
	Header string
	// Value is that header's value, to find it again (consume_credentials).
	Value string
	// Username, User, Domain, Realm and URI are the credentials' fields.
	Username, User, Domain, Realm, URI string
}

type authorizedKey struct{}

// SetAuthorized records on the message the credentials it was authorized
// with. The auth module calls it; a later success replaces the record.
func SetAuthorized(c *sr.Ctx, a *Authorized) { c.SetValue(authorizedKey{}, a) }

// GetAuthorized returns the credentials the message was authorized with,
// or nil when no authorization succeeded on it.
func GetAuthorized(c *sr.Ctx) *Authorized {
	a, _ := c.Value(authorizedKey{}).(*Authorized)
	return a
}
