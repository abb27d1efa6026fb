package siputils

import (
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sr"
)

// parseURIArg parses a URI argument; a name-addr ("<sip:…>") is taken
// for its URI.
func parseURIArg(s string) (*sip.Uri, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return nil, false
		}
		s = s[i+1 : i+j]
	}
	var u sip.Uri
	if s == "" || sip.ParseUri(s, &u) != nil {
		return nil, false
	}
	return &u, true
}

// cmpURI implements cmp_uri(a, b): 1 when the URIs are equal by the rules
// of RFC 3261 §19.1.4, -1 when not, -2 when one does not parse.
func (m *siputils) cmpURI(c *sr.Ctx, p []any) int {
	a, okA := parseURIArg(expand(p[0], c))
	b, okB := parseURIArg(expand(p[1], c))
	if !okA || !okB {
		return -2
	}
	return truth(uriEqual(a, b))
}

// cmpAOR implements cmp_aor(a, b): 1 when the URIs name the same address
// of record (user, host and port, a missing port being the default one),
// -1 when not, -2 when one does not parse.
func (m *siputils) cmpAOR(c *sr.Ctx, p []any) int {
	a, okA := parseURIArg(expand(p[0], c))
	b, okB := parseURIArg(expand(p[1], c))
	if !okA || !okB {
		return -2
	}
	return truth(aorEqual(a, b))
}

func isSIP(u *sip.Uri) bool { return u.Scheme == "sip" || u.Scheme == "sips" }

// unescape decodes %XX escapes; text with a broken escape is kept as is.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// uriEqual compares two URIs as RFC 3261 §19.1.4 says: same scheme;
// userinfo equal (case-sensitive, after unescaping); host equal ignoring
// case; port equal (an explicit default port differs from none); the
// user, ttl, method, maddr and transport parameters equal when either URI
// has them, any other parameter equal when both have it (ignoring case);
// the same headers. Other schemes compare as text, ignoring case.
func uriEqual(a, b *sip.Uri) bool {
	if a.Scheme != b.Scheme {
		return false
	}
	if !isSIP(a) {
		return strings.EqualFold(unescape(a.String()), unescape(b.String()))
	}
	if unescape(a.User) != unescape(b.User) || unescape(a.Password) != unescape(b.Password) {
		return false
	}
	if !strings.EqualFold(a.Host, b.Host) || a.Port != b.Port {
		return false
	}
	if !paramsEqual(a.UriParams, b.UriParams) {
		return false
	}
	return headersEqual(a.Headers, b.Headers)
}

// strongParams must match when either URI has them.
var strongParams = []string{"user", "ttl", "method", "maddr", "transport"}

func paramsEqual(a, b sip.HeaderParams) bool {
	names := map[string]bool{}
	for _, kv := range a {
		names[strings.ToLower(kv.K)] = true
	}
	for _, kv := range b {
		names[strings.ToLower(kv.K)] = true
	}
	for n := range names {
		va, inA := lookup(a, n)
		vb, inB := lookup(b, n)
		switch {
		case inA && inB:
			if !strings.EqualFold(unescape(va), unescape(vb)) {
				return false
			}
		case inA || inB:
			for _, s := range strongParams {
				if n == s {
					return false
				}
			}
		}
	}
	return true
}

func headersEqual(a, b sip.HeaderParams) bool {
	if len(a) != len(b) {
		return false
	}
	for _, kv := range a {
		v, ok := lookup(b, kv.K)
		if !ok || unescape(v) != unescape(kv.V) {
			return false
		}
	}
	return true
}

func lookup(p sip.HeaderParams, name string) (string, bool) {
	for _, kv := range p {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

// aorEqual compares the address-of-record parts: user (case-sensitive,
// after unescaping), host (ignoring case) and port (none means 5060, 5061
// for sips). sip and sips name the same AOR. Other schemes compare as
// text without parameters, ignoring case.
func aorEqual(a, b *sip.Uri) bool {
	if !isSIP(a) || !isSIP(b) {
		if isSIP(a) != isSIP(b) || a.Scheme != b.Scheme {
			return false
		}
		ra, _, _ := strings.Cut(a.Raw(), ";")
		rb, _, _ := strings.Cut(b.Raw(), ";")
		return strings.EqualFold(unescape(ra), unescape(rb))
	}
	return unescape(a.User) == unescape(b.User) && strings.EqualFold(a.Host, b.Host) && port(a) == port(b)
}

func port(u *sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if u.Scheme == "sips" {
		return 5061
	}
	return 5060
}
