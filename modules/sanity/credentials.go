package sanity

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// credentials checks the Authorization and Proxy-Authorization headers.
// With check 2048 every one must be well-formed digest credentials (another
// scheme fails); with 8192 only the digest ones are checked. Digest
// credentials need a username, realm, nonce, uri and response (cnonce and
// nc too with qop=auth or auth-int), with a non-empty username, nonce and
// response, as Kamailio's check_dig_cred asks.
func credentials(req *sip.Request, check int) *failure {
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, h := range sipmsg.Headers(req, name) {
			scheme, params, ok := parseAuth(h.Value())
			if !ok {
				return fail(check, 400, "Bad "+name+" Header")
			}
			if !strings.EqualFold(scheme, "Digest") {
				if check == checkAuth {
					continue
				}
				return fail(check, 400, "Bad "+name+" Header")
			}
			if !digestOK(params) {
				return fail(check, 400, "Bad "+name+" Header")
			}
		}
	}
	return nil
}

func digestOK(p map[string]string) bool {
	for _, k := range []string{"username", "realm", "nonce", "uri", "response"} {
		if _, ok := p[k]; !ok {
			return false
		}
	}
	if p["username"] == "" || p["nonce"] == "" || p["response"] == "" {
		return false
	}
	switch strings.ToLower(p["qop"]) {
	case "auth", "auth-int":
		if _, ok := p["cnonce"]; !ok {
			return false
		}
		if _, ok := p["nc"]; !ok {
			return false
		}
	}
	return true
}

// parseAuth parses `scheme name=value, name="quoted value", …`. It fails on
// a parameter without '=', a bad name, an unterminated quoted string,
// garbage after a value, or a parameter given twice. Names are returned
// lower-cased, quoted values unescaped.
func parseAuth(v string) (string, map[string]string, bool) {
	v = strings.TrimLeft(v, " \t")
	sp := strings.IndexAny(v, " \t")
	if sp < 0 {
		return v, map[string]string{}, v != "" && isToken(v)
	}
	scheme := v[:sp]
	if !isToken(scheme) {
		return "", nil, false
	}
	params := map[string]string{}
	s := v[sp:]
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return scheme, params, true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", nil, false
		}
		name := strings.ToLower(strings.TrimRight(s[:eq], " \t"))
		if !isToken(name) {
			return "", nil, false
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i, closed := 1, false
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return "", nil, false
			}
			val, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexAny(s, ", \t")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		if _, dup := params[name]; dup {
			return "", nil, false
		}
		params[name] = val
		s = strings.TrimLeft(s, " \t")
		if s != "" && s[0] != ',' {
			return "", nil, false
		}
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
