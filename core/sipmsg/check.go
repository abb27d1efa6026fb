package sipmsg

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Status codes Check returns besides 400.
const (
	codeBadRequest        = 400
	codeUnsupportedScheme = 416
	codeNotImplemented    = 501
	codeVersion           = 505
)

// MaxMaxForwards is the largest Max-Forwards value accepted (RFC 3261
// §20.22 allows 0-255).
const MaxMaxForwards = 255

// Check runs the structural checks a request must pass before the core
// sees it, in the spirit of Kamailio's sanity module (checks 1, 2, 4, 32,
// 64, 128, 1024 and 16384 of sanity_check("17895")) plus the duplicate
// header and range rules of RFC 4475. It returns 0, "" when the request is
// acceptable, else the status code and reason phrase to answer with.
//
// It only reads the parsed message: no allocation, no regexp, no
// re-rendering. Parse-level defects (bad To/From/Contact, CSeq over 2^32-1,
// request-line whitespace, negative or huge Content-Length) are caught by
// the parser NewParser returns and never reach Check.
func Check(req *sip.Request) (code int, reason string) {
	if req == nil {
		return codeBadRequest, "Bad Request"
	}
	// 1: SIP version (RFC 4475 badvers).
	if !isSIP20(req.SipVersion) {
		return codeVersion, "Version Not Supported"
	}
	if !isToken(string(req.Method)) {
		return codeBadRequest, "Bad Request Method"
	}
	// 4: required headers, present once (RFC 4475 insuf, multi01).
	if code, reason := checkSingletons(req.Headers(), true); code != 0 {
		return code, reason
	}
	// 16384: every Via has a usable sent-by.
	for _, h := range req.Headers() {
		if v, ok := h.(*sip.ViaHeader); ok && !viaOK(v) {
			return codeBadRequest, "Bad Via"
		}
	}
	// A tag or branch parameter that is present must not be empty (the
	// grammar wants a token; an empty one is the "present but zero
	// length" state behind several crashes of C implementations).
	if emptyParam(req.From().Params, "tag") || emptyParam(req.To().Params, "tag") || emptyParam(req.Via().Params, "branch") {
		return codeBadRequest, "Empty Tag Or Branch"
	}
	// 32: CSeq method (RFC 4475 mismatch01, mismatch02). sipgo upper-cases
	// the request method, so the comparison cannot be case-sensitive.
	if !strings.EqualFold(CSeqMethod(req), string(req.Method)) {
		if !KnownMethod(string(req.Method)) {
			return codeNotImplemented, "Not Implemented"
		}
		return codeBadRequest, "CSeq Method Mismatch"
	}
	// Max-Forwards range (RFC 4475 scalar02).
	if mf := req.MaxForwards(); mf != nil && uint32(*mf) > MaxMaxForwards {
		return codeBadRequest, "Invalid Max-Forwards"
	}
	// 128: Content-Length against the body.
	if cl := req.ContentLength(); cl != nil && int64(*cl) != int64(len(req.Body())) {
		return codeBadRequest, "Content-Length Mismatch"
	}
	// 2 and 1024: Request-URI.
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips":
		if req.Recipient.Host == "" || req.Recipient.Wildcard {
			return codeBadRequest, "Bad Request-URI"
		}
		// RFC 4475 escruri: headers are not allowed in a Request-URI.
		if len(req.Recipient.Headers) > 0 {
			return codeBadRequest, "Bad Request-URI"
		}
	case "tel", "tels":
	default:
		return codeUnsupportedScheme, "Unsupported URI Scheme"
	}
	return 0, ""
}

// CheckResponse runs the structural checks on a reply. A reply that fails
// them is dropped without an answer (never answer a response). It returns
// ok=false and a short reason for the debug log.
func CheckResponse(res *sip.Response) (ok bool, reason string) {
	if res == nil {
		return false, "nil response"
	}
	// RFC 4475 bigcode: sipgo already refuses codes that do not fit 16 bits.
	if res.StatusCode < 100 || res.StatusCode > 699 {
		return false, "status code out of range"
	}
	if !isSIP20(res.SipVersion) {
		return false, "SIP version"
	}
	if code, reason := checkSingletons(res.Headers(), false); code != 0 {
		return false, reason
	}
	if v := res.Via(); v == nil || !viaOK(v) {
		return false, "bad Via"
	}
	if cl := res.ContentLength(); cl != nil && int64(*cl) != int64(len(res.Body())) {
		return false, "Content-Length mismatch"
	}
	return true, ""
}

// checkSingletons checks, in one pass over the headers, that Via, From,
// To, Call-ID and CSeq are present, and that To, From, Call-ID, CSeq,
// Max-Forwards and Content-Length appear at most once.
func checkSingletons(hs []sip.Header, request bool) (int, string) {
	var via, from, to, callID, cseq, mf, cl int
	for _, h := range hs {
		switch h.(type) {
		case *sip.ViaHeader:
			via++
		case *sip.FromHeader:
			from++
		case *sip.ToHeader:
			to++
		case *sip.CallIDHeader:
			callID++
		case *sip.CSeqHeader:
			cseq++
		case *sip.MaxForwardsHeader:
			mf++
		case *sip.ContentLengthHeader:
			cl++
		}
	}
	switch {
	case via == 0 || from == 0 || to == 0 || callID == 0 || cseq == 0:
		return codeBadRequest, "Missing Required Header"
	case from > 1:
		return codeBadRequest, "Duplicate From Header"
	case to > 1:
		return codeBadRequest, "Duplicate To Header"
	case callID > 1:
		return codeBadRequest, "Duplicate Call-ID Header"
	case cseq > 1:
		return codeBadRequest, "Duplicate CSeq Header"
	case mf > 1 && request:
		return codeBadRequest, "Duplicate Max-Forwards Header"
	case cl > 1:
		return codeBadRequest, "Duplicate Content-Length Header"
	}
	return 0, ""
}

// ValidVia reports whether a Via can be used to route a reply: protocol
// SIP (any version, as Kamailio does not check it), a transport token, a
// sent-by host that is an IP address or a host name, a port in range.
func ValidVia(v *sip.ViaHeader) bool { return v != nil && viaOK(v) }

// viaOK reports whether a Via has a protocol SIP/<token> and a sent-by
// host that is an IP address or a host name (sipgo's Via parser leaves the
// host empty, or swallows a following value, on some malformed inputs).
func viaOK(v *sip.ViaHeader) bool {
	if v.Port < 0 || v.Port > 65535 {
		return false
	}
	return strings.EqualFold(v.ProtocolName, "SIP") && isToken(v.ProtocolVersion) &&
		isToken(v.Transport) && hostOK(v.Host)
}

// hostOK accepts a host name, an IPv4 address or an IPv6 address with or
// without brackets: letters, digits, '-', '.', '_' and, for IPv6, ':'.
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

func isSIP20(v string) bool { return strings.EqualFold(v, "SIP/2.0") }

func emptyParam(p sip.HeaderParams, name string) bool {
	v, ok := p.Get(name)
	return ok && v == ""
}

// KnownMethod reports whether m is one of the methods this server
// implements or forwards knowingly (RFC 3261 and its extensions). The
// comparison is case-insensitive because sipgo upper-cases methods.
func KnownMethod(m string) bool {
	switch strings.ToUpper(m) {
	case "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
		"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE":
		return true
	}
	return false
}
