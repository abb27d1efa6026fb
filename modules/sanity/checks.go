package sanity

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// run performs the checks of the mask in Kamailio's order and returns the
// first failure, or nil. Checks about the Request-URI, the request method,
// Proxy-Require and credentials apply to requests only.
func (m *sanity) run(c *sr.Ctx, checks, uris int) *failure {
	msg := c.Msg()
	if msg == nil {
		return fail(0, 0, "no message")
	}
	req := c.Req
	isReq := c.IsRequest()
	steps := []struct {
		bit   int
		onReq bool // requests only
		fn    func() *failure
	}{
		{checkRURIVersion, true, func() *failure { return ruriVersion(req) }},
		{checkRURIScheme, true, func() *failure { return ruriScheme(req) }},
		{checkRequired, false, func() *failure { return required(msg, isReq) }},
		{checkVia1, false, func() *failure { return via1(msg) }},
		{checkViaVersion, false, func() *failure { return viaVersion(msg) }},
		{checkViaProtocol, true, func() *failure { return viaProtocol(msg, c.Rcv.Proto) }},
		{checkCSeqMethod, true, func() *failure { return cseqMethod(req) }},
		{checkCSeqValue, false, func() *failure { return cseqValue(msg) }},
		{checkCL, false, func() *failure { return contentLength(msg) }},
		{checkExpires, false, func() *failure { return expires(msg) }},
		{checkProxyRequire, true, func() *failure { return m.proxyRequire(req) }},
		{checkParseURIs, false, func() *failure { return parseURIs(msg, req, isReq, uris) }},
		{checkDigest, true, func() *failure { return credentials(req, checkDigest) }},
		{checkAuth, true, func() *failure { return credentials(req, checkAuth) }},
		{checkDupTags, false, func() *failure { return dupTags(msg) }},
	}
	for _, s := range steps {
		if checks&s.bit == 0 || (s.onReq && !isReq) {
			continue
		}
		if f := s.fn(); f != nil {
			return f
		}
	}
	return nil
}

// 1: the SIP version of the request line is 2.0.
func ruriVersion(req *sip.Request) *failure {
	_, ver, ok := strings.Cut(req.SipVersion, "/")
	if !ok {
		return fail(checkRURIVersion, 0, "no / in the SIP version")
	}
	if ver != "2.0" {
		return fail(checkRURIVersion, 505, "Version Not Supported (R-URI)")
	}
	return nil
}

// 2: the Request-URI scheme is sip, sips, tel or tels.
func ruriScheme(req *sip.Request) *failure {
	u := &req.Recipient
	if u.Wildcard || u.Scheme == "" {
		return fail(checkRURIScheme, 400, "Bad Request URI")
	}
	switch strings.ToLower(u.Scheme) {
	case "sip", "sips", "tel", "tels":
		return nil
	}
	return fail(checkRURIScheme, 416, "Unsupported URI Scheme in Request URI")
}

// 4: Via, From, To, Call-ID and CSeq are present; From, To, Call-ID and
// CSeq are not repeated.
func required(msg sip.Message, isReq bool) *failure {
	what := "Request"
	if !isReq {
		what = "Reply"
	}
	if !sipmsg.Has(msg, "Via") {
		return fail(checkRequired, 400, "Missing Required Header in "+what)
	}
	for _, name := range []string{"From", "To", "Call-ID", "CSeq"} {
		switch n := len(sipmsg.Headers(msg, name)); {
		case n == 0:
			return fail(checkRequired, 400, "Missing Required Header in "+what)
		case n > 1:
			return fail(checkRequired, 400, "Duplicate Required Header in "+what)
		}
	}
	return nil
}

// 16384: the first Via is present and usable (a reply can be routed
// along it). No reply is sent: there is nowhere to send it.
func via1(msg sip.Message) *failure {
	if !sipmsg.ValidVia(msg.Via()) {
		return fail(checkVia1, 0, "no usable first Via")
	}
	return nil
}

// 8: the first Via says SIP/2.0.
func viaVersion(msg sip.Message) *failure {
	v := msg.Via()
	if v == nil {
		return fail(checkViaVersion, 0, "no Via")
	}
	if !strings.EqualFold(v.ProtocolName, "SIP") || v.ProtocolVersion != "2.0" {
		return fail(checkViaVersion, 505, "Version Not Supported (Via)")
	}
	return nil
}

// 16: the transport of the first Via is known and is the one the request
// arrived over.
func viaProtocol(msg sip.Message, rcv string) *failure {
	v := msg.Via()
	if v == nil {
		return fail(checkViaProtocol, 0, "no Via")
	}
	t := strings.ToLower(v.Transport)
	switch t {
	case sr.ProtoUDP, sr.ProtoTCP, sr.ProtoTLS, sr.ProtoSCTP, sr.ProtoWS, sr.ProtoWSS:
	default:
		return fail(checkViaProtocol, 400, "Unsupported Transport in Topmost Via")
	}
	if rcv != "" && !strings.EqualFold(rcv, t) {
		return fail(checkViaProtocol, 400, "Transport Mismatch in Topmost Via")
	}
	return nil
}

// 32: the CSeq method is the request method. sipgo upper-cases the
// request method, so the comparison ignores case.
func cseqMethod(req *sip.Request) *failure {
	if req.CSeq() == nil {
		return fail(checkCSeqMethod, 0, "no CSeq")
	}
	m := sipmsg.CSeqMethod(req)
	if m == "" {
		return fail(checkCSeqMethod, 400, "Missing method in CSeq header")
	}
	if !strings.EqualFold(m, string(req.Method)) {
		return fail(checkCSeqMethod, 400, "CSeq method does not match request method")
	}
	return nil
}

// 64: the CSeq number is an unsigned 32-bit integer.
func cseqValue(msg sip.Message) *failure {
	h := sipmsg.Header(msg, "CSeq")
	if h == nil {
		return fail(checkCSeqValue, 0, "no CSeq")
	}
	if _, ok := h.(*sip.CSeqHeader); ok {
		return nil // the parser stores the number as a uint32
	}
	num, _, _ := strings.Cut(strings.TrimSpace(h.Value()), " ")
	if num == "" {
		return fail(checkCSeqValue, 400, "Missing number in CSeq header")
	}
	if !validUint32(num) {
		return fail(checkCSeqValue, 400, "CSeq number is illegal")
	}
	return nil
}

// 128: Content-Length, when present, is the size of the body.
func contentLength(msg sip.Message) *failure {
	h := sipmsg.Header(msg, "Content-Length")
	if h == nil {
		return nil
	}
	n := -1
	if cl, ok := h.(*sip.ContentLengthHeader); ok {
		n = int(*cl)
	} else if v := strings.TrimSpace(h.Value()); validUint32(v) {
		n, _ = strconv.Atoi(v)
	}
	if n != len(msg.Body()) {
		return fail(checkCL, 400, "Content-Length mis-match")
	}
	return nil
}

// 256: every Expires header holds an unsigned 32-bit integer.
func expires(msg sip.Message) *failure {
	for _, h := range sipmsg.Headers(msg, "Expires") {
		v := strings.TrimSpace(h.Value())
		if v == "" {
			return fail(checkExpires, 400, "Missing number in Expires header")
		}
		if !validUint32(v) {
			return fail(checkExpires, 400, "Expires value is illegal")
		}
	}
	return nil
}

// 512: every Proxy-Require option is in the proxy_require list; the reply
// lists the others in an Unsupported header (RFC 3261 §8.2.2.3, §16.3).
func (m *sanity) proxyRequire(req *sip.Request) *failure {
	var unsupported []string
	for _, h := range sipmsg.Headers(req, "Proxy-Require") {
		for _, o := range strings.Split(h.Value(), ",") {
			o = strings.TrimSpace(o)
			if o != "" && !m.supports(o) && !contains(unsupported, o) {
				unsupported = append(unsupported, o)
			}
		}
	}
	if len(unsupported) == 0 {
		return nil
	}
	return fail(checkProxyRequire, 420, "Bad Extension", "Unsupported: "+strings.Join(unsupported, ", "))
}

func (m *sanity) supports(option string) bool {
	for _, s := range m.supported {
		if strings.EqualFold(s, option) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// 1024: the URIs the second mask names parse: Request-URI, From, To and
// each Contact (a Contact is optional, "*" is accepted).
func parseURIs(msg sip.Message, req *sip.Request, isReq bool, uris int) *failure {
	if uris&uriRURI != 0 && isReq && !validURI(&req.Recipient) {
		return fail(checkParseURIs, 400, "Bad Request URI")
	}
	if uris&uriFrom != 0 {
		f := msg.From()
		if f == nil {
			return fail(checkParseURIs, 400, "Missing From Header")
		}
		if !validURI(&f.Address) {
			return fail(checkParseURIs, 400, "Bad From URI")
		}
	}
	if uris&uriTo != 0 {
		t := msg.To()
		if t == nil {
			return fail(checkParseURIs, 400, "Missing To Header")
		}
		if !validURI(&t.Address) {
			return fail(checkParseURIs, 400, "Bad To URI")
		}
	}
	if uris&uriContact != 0 {
		for _, h := range sipmsg.Headers(msg, "Contact") {
			ct, ok := h.(*sip.ContactHeader)
			if !ok {
				return fail(checkParseURIs, 400, "Bad Contact Header")
			}
			if !ct.Address.Wildcard && !validURI(&ct.Address) {
				return fail(checkParseURIs, 400, "Bad Contact URI")
			}
		}
	}
	return nil
}

// validURI reports whether a URI is one the server can parse and use: a
// sip or sips URI with a well-formed host and port, or a tel or tels URI
// with a number.
func validURI(u *sip.Uri) bool {
	if u.Wildcard {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "sip", "sips":
		return hostOK(u.Host) && u.Port >= 0 && u.Port <= 65535
	case "tel", "tels":
		return u.Raw() != "" || u.User != "" || u.Host != ""
	}
	return false
}

// hostOK accepts a host name, an IPv4 address or a bracketed IPv6 address.
func hostOK(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		if len(h) < 3 || h[len(h)-1] != ']' {
			return false
		}
		h = h[1 : len(h)-1]
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == ':':
		default:
			return false
		}
	}
	return true
}

// validUint32 reports whether s is a decimal number of at most 2^32-1.
func validUint32(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n <= 1<<32-1
}

// 4096: From and To carry at most one tag parameter. The parser keeps one
// tag per header, so only headers kept as text can show duplicates.
func dupTags(msg sip.Message) *failure {
	for _, name := range []string{"From", "To"} {
		for _, h := range sipmsg.Headers(msg, name) {
			if countTags(h.Value()) > 1 {
				return fail(checkDupTags, 400, "Duplicate Tag in "+name)
			}
		}
	}
	return nil
}

// countTags counts the tag parameters of a name-addr value, outside <>
// and quoted strings.
func countTags(v string) int {
	n := 0
	inQuote, esc, angle := false, false, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case esc:
			esc = false
		case inQuote:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == ';' && angle == 0:
			name := v[i+1:]
			if j := strings.IndexAny(name, "=;"); j >= 0 {
				name = name[:j]
			}
			if strings.EqualFold(strings.TrimSpace(name), "tag") {
				n++
			}
		}
	}
	return n
}
