package pv

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// This file holds the message helpers the pseudo-variables, selects and
// transformations share: raw URI and name-addr splitting (substrings of
// the input, no allocation), and access to the message of a context.

// request returns the request a request-side pseudo-variable reads: nil
// in reply routes, where the message is a reply ($ru of a reply is null,
// as in Kamailio).
func request(c *sr.Ctx) *sip.Request {
	if c.Resp != nil {
		return nil
	}
	return c.Req
}

// message returns the message being processed, or nil.
func message(c *sr.Ctx) sip.Message {
	if c.Resp != nil {
		return c.Resp
	}
	if c.Req != nil {
		return c.Req
	}
	return nil
}

// headerValue returns the value of the first header called name.
func headerValue(c *sr.Ctx, name string) (string, bool) {
	m := message(c)
	if m == nil {
		return "", false
	}
	h := sipmsg.Header(m, name)
	if h == nil {
		return "", false
	}
	return hdrValue(h), true
}

// uriString formats a sipgo URI exactly as sip.Uri.String does, with
// one allocation (sipgo's own writer allocates for the parameters and
// parses the host as an IP on every call).
func uriString(u *sip.Uri) string {
	n := len(u.Scheme) + len(u.User) + len(u.Password) + len(u.Host) + len(u.Raw()) + 16
	for _, kv := range u.UriParams {
		n += len(kv.K) + len(kv.V) + 4
	}
	for _, kv := range u.Headers {
		n += len(kv.K) + len(kv.V) + 4
	}
	var b strings.Builder
	b.Grow(n)
	if u.Scheme == "" {
		b.WriteString("sip")
	} else {
		b.WriteString(u.Scheme)
	}
	b.WriteByte(':')
	if raw := u.Raw(); raw != "" {
		b.WriteString(raw)
		return b.String()
	}
	if u.HierarhicalSlashes {
		b.WriteString("//")
	}
	if u.User != "" {
		b.WriteString(u.User)
		if u.Password != "" {
			b.WriteByte(':')
			b.WriteString(u.Password)
		}
		b.WriteByte('@')
	}
	writeHost(&b, u.Host)
	if u.Port > 0 {
		var tmp [8]byte
		b.WriteByte(':')
		b.Write(strconv.AppendInt(tmp[:0], int64(u.Port), 10))
	}
	if len(u.UriParams) > 0 {
		b.WriteByte(';')
		writeParams(&b, u.UriParams, ';')
	}
	if len(u.Headers) > 0 {
		b.WriteByte('?')
		writeParams(&b, u.Headers, '&')
	}
	return b.String()
}

// writeHost writes a host, putting an IPv6 address in brackets as sipgo
// does.
func writeHost(b *strings.Builder, h string) {
	if strings.IndexByte(h, ':') >= 0 && !strings.HasPrefix(h, "[") {
		if a, err := netip.ParseAddr(h); err == nil && a.Is6() && !a.Is4In6() && a.Zone() == "" {
			b.WriteByte('[')
			b.WriteString(h)
			b.WriteByte(']')
			return
		}
	}
	b.WriteString(h)
}

// writeParams writes parameters as sipgo's HeaderParams.ToString does.
func writeParams(b *strings.Builder, p sip.HeaderParams, sep byte) {
	for i, kv := range p {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(kv.K)
		switch {
		case strings.ContainsAny(kv.V, " \t"):
			b.WriteString(`="`)
			b.WriteString(kv.V)
			b.WriteByte('"')
		case kv.V != "":
			b.WriteByte('=')
			b.WriteString(kv.V)
		}
	}
}

// hdrValue returns a header's value as sipgo renders it, without sipgo's
// allocations for the common Via header.
func hdrValue(h sip.Header) string {
	v, ok := h.(*sip.ViaHeader)
	if !ok {
		return h.Value()
	}
	var b strings.Builder
	n := len(v.ProtocolName) + len(v.ProtocolVersion) + len(v.Transport) + len(v.Host) + 16
	for _, kv := range v.Params {
		n += len(kv.K) + len(kv.V) + 4
	}
	b.Grow(n)
	b.WriteString(v.ProtocolName)
	b.WriteByte('/')
	b.WriteString(v.ProtocolVersion)
	b.WriteByte('/')
	b.WriteString(v.Transport)
	b.WriteByte(' ')
	writeHost(&b, v.Host)
	if v.Port > 0 {
		var tmp [8]byte
		b.WriteByte(':')
		b.Write(strconv.AppendInt(tmp[:0], int64(v.Port), 10))
	}
	if len(v.Params) > 0 {
		b.WriteByte(';')
		writeParams(&b, v.Params, ';')
	}
	return b.String()
}

// defaultPort is the port a SIP URI without one implies.
func defaultPort(scheme string) string {
	if strings.EqualFold(scheme, "sips") {
		return "5061"
	}
	return "5060"
}

// transportOf returns the transport= parameter of a URI, or "udp".
func transportOf(p sip.HeaderParams) string {
	for _, kv := range p {
		if strings.EqualFold(kv.K, "transport") && kv.V != "" {
			return kv.V
		}
	}
	return "udp"
}

func strOrNull(s string) sr.Value {
	if s == "" {
		return sr.NullVal
	}
	return sr.StrVal(s)
}

// rawURI is a URI split into its parts as written.
type rawURI struct {
	scheme, user, passwd, host, port, params, headers string
	portN                                             int
}

// splitURI splits a SIP, SIPS, TEL or TELS URI the way Kamailio's
// parse_uri sees it. A trailing ';' is ignored. It fails on a missing
// scheme, an unknown scheme, a SIP URI without a host, an unterminated
// IPv6 reference or a bad port.
func splitURI(s string) (rawURI, bool) {
	var u rawURI
	if len(s) > 4 && s[len(s)-1] == ';' {
		s = s[:len(s)-1]
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return u, false
	}
	u.scheme = s[:colon]
	rest := s[colon+1:]
	switch strings.ToLower(u.scheme) {
	case "sip", "sips":
	case "tel", "tels":
		if semi := strings.IndexByte(rest, ';'); semi >= 0 {
			u.user, u.params = rest[:semi], rest[semi+1:]
		} else {
			u.user = rest
		}
		return u, u.user != ""
	default:
		return u, false
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest, u.headers = rest[:q], rest[q+1:]
	}
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		ui := rest[:at]
		rest = rest[at+1:]
		if pc := strings.IndexByte(ui, ':'); pc >= 0 {
			u.user, u.passwd = ui[:pc], ui[pc+1:]
		} else {
			u.user = ui
		}
	}
	var after string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return u, false
		}
		u.host, after = rest[:end+1], rest[end+1:]
	} else {
		k := strings.IndexAny(rest, ":;")
		if k < 0 {
			k = len(rest)
		}
		u.host, after = rest[:k], rest[k:]
	}
	if u.host == "" {
		return u, false
	}
	if strings.HasPrefix(after, ":") {
		after = after[1:]
		k := strings.IndexByte(after, ';')
		if k < 0 {
			k = len(after)
		}
		u.port, after = after[:k], after[k:]
		n, err := strconv.Atoi(u.port)
		if err != nil || n < 0 || n > 65535 || u.port[0] == '+' || u.port[0] == '-' {
			return u, false
		}
		u.portN = n
	}
	if strings.HasPrefix(after, ";") {
		u.params = after[1:]
	} else if after != "" {
		return u, false
	}
	return u, true
}

// paramValue finds name (case-insensitively) in a list of parameters
// separated by sep ("a=1;b;c=2") and returns its value as written, "" for
// a parameter without one.
func paramValue(list, name string, sep byte) (string, bool) {
	for list != "" {
		var item string
		if i := indexUnquoted(list, sep); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, ""
		}
		n, v, _ := strings.Cut(item, "=")
		if strings.EqualFold(strings.TrimSpace(n), name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// indexUnquoted is strings.IndexByte skipping double-quoted sections.
func indexUnquoted(s string, c byte) int {
	inq := false
	for i := 0; i < len(s); i++ {
		switch {
		case inq && s[i] == '\\':
			i++
		case s[i] == '"':
			inq = !inq
		case !inq && s[i] == c:
			return i
		}
	}
	return -1
}

// splitNameAddr is Kamailio's parse_nameaddr: the display part before
// '<' (as written, quotes included), the URI between '<' and '>', and the
// length up to '>'. Without '<' the whole text is the URI.
func splitNameAddr(s string) (name, uri string, n int, ok bool) {
	lt := indexUnquoted(s, '<')
	if lt < 0 {
		return "", s, len(s), true
	}
	gt := strings.IndexByte(s[lt+1:], '>')
	if gt < 0 {
		return "", "", 0, false
	}
	gt += lt + 1
	return strings.TrimSpace(s[:lt]), s[lt+1 : gt], gt + 1, true
}

// toBody is a From/To-style header body split into parts.
type toBody struct {
	display, uri, params, tag string
}

// parseToBody splits `"Name" <uri>;tag=x;p=y` (or `uri;tag=x`). The
// display name is unquoted. The URI must be a valid SIP or TEL URI.
func parseToBody(s string) (toBody, bool) {
	var t toBody
	s = strings.TrimSpace(s)
	var rest string
	if lt := indexUnquoted(s, '<'); lt >= 0 {
		gt := strings.IndexByte(s[lt+1:], '>')
		if gt < 0 {
			return t, false
		}
		gt += lt + 1
		d, ok := unquote(strings.TrimSpace(s[:lt]))
		if !ok {
			return t, false
		}
		t.display, t.uri, rest = d, s[lt+1:gt], s[gt+1:]
	} else {
		if strings.IndexByte(s, '"') >= 0 {
			return t, false
		}
		if semi := strings.IndexByte(s, ';'); semi >= 0 {
			t.uri, rest = s[:semi], s[semi:]
		} else {
			t.uri = s
		}
	}
	t.uri = strings.TrimSpace(t.uri)
	if _, ok := splitURI(t.uri); !ok {
		return t, false
	}
	rest = strings.TrimSpace(rest)
	if rest != "" {
		if rest[0] != ';' {
			return t, false
		}
		t.params = strings.TrimSpace(rest[1:])
		t.tag, _ = paramValue(t.params, "tag", ';')
	}
	return t, true
}

// unquote removes the quotes and backslash escapes of a quoted string;
// other text is returned as it is.
func unquote(s string) (string, bool) {
	if len(s) == 0 || s[0] != '"' {
		return s, strings.IndexByte(s, '"') < 0
	}
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "", false
	}
	in := s[1 : len(s)-1]
	if strings.IndexByte(in, '\\') < 0 {
		if strings.IndexByte(in, '"') >= 0 {
			return "", false
		}
		return in, true
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\\':
			i++
			if i == len(in) {
				return "", false
			}
		case '"':
			return "", false
		}
		b.WriteByte(in[i])
	}
	return b.String(), true
}
