package transport

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// outcome is what the receive path decided for one message.
type outcome uint8

const (
	outIgnore   outcome = iota // keep-alive or empty: nothing to do
	outDispatch                // passes: hand it to a worker
	outReply                   // answer it here with verdict.reply
	outDrop                    // drop it silently (counted, debug log)
)

func (o outcome) String() string {
	switch o {
	case outIgnore:
		return "ignore"
	case outDispatch:
		return "dispatch"
	case outReply:
		return "reply"
	case outDrop:
		return "drop"
	}
	return "?"
}

// verdict is the result of the receive path for one message.
type verdict struct {
	out   outcome
	msg   sip.Message   // outDispatch (and outReply when it parsed)
	reply *sip.Response // outReply
	code  int           // outReply: reply.StatusCode
	why   string        // outDrop / outReply: short reason, for logs
	// unparsable reports a parse failure (counted as such).
	unparsable bool
	oversize   bool
}

// unsupportedURI stands in for a Request-URI whose scheme sipgo's parser
// refuses, to recover the headers and answer 416.
const unsupportedURI = "sip:unsupported-uri-scheme.invalid"

// examine runs the datagram receive path over raw (one UDP datagram):
// size limit, keep-alives, parse, structural checks, and the local reply
// when the message is refused. It only reads raw; the message returned
// does not alias it. src is the sender, for received/rport in replies.
//
// p must belong to the caller alone: its MaxMessageLength is set to the
// size of the datagram before each parse, so that sipgo never sizes a
// body buffer from a Content-Length larger than the bytes that arrived.
func examine(p *sip.Parser, raw []byte, src netip.AddrPort, max int) verdict {
	if len(raw) > max {
		return verdict{out: outDrop, why: "datagram too large", oversize: true}
	}
	if isKeepAlive(raw) {
		return verdict{out: outIgnore, why: "keep-alive"}
	}
	// Be lenient with blank lines before the start line (RFC 3261 §7.5
	// demands it for streams only).
	data := bytes.TrimLeft(raw, "\r\n")
	if bareLF(data) {
		return examineBroken(p, data, errBareLF, src)
	}
	p.MaxMessageLength = len(data)
	msg, err := p.ParseSIP(data)
	if err != nil {
		return examineBroken(p, data, err, src)
	}
	return examineParsed(msg, src)
}

// bareLF reports whether the header section of data (up to the first
// empty line) holds a LF not preceded by CR. sipgo ends lines at CR LF
// only and keeps a bare LF inside a header value, which would be
// rendered again when the message is forwarded or answered: a receiver
// that ends lines at LF would see an extra header (header injection).
// (A bare CR is already a parse error.)
func bareLF(data []byte) bool {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(data)
	}
	h := data[:end]
	for {
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			return false
		}
		if i == 0 || h[i-1] != '\r' {
			return true
		}
		h = h[i+1:]
	}
}

// examineParsed runs the structural checks on a parsed message.
func examineParsed(msg sip.Message, src netip.AddrPort) verdict {
	switch m := msg.(type) {
	case *sip.Request:
		code, reason := sipmsg.Check(m)
		if code == 0 {
			return verdict{out: outDispatch, msg: m}
		}
		return refuse(m, code, reason, src)
	case *sip.Response:
		if ok, why := sipmsg.CheckResponse(m); !ok {
			return verdict{out: outDrop, why: "bad reply: " + why}
		}
		return verdict{out: outDispatch, msg: m}
	}
	return verdict{out: outDrop, why: "unknown message type"}
}

// refuse builds the local reply to a parsed request (never to an ACK, nor
// without a Via to send it along).
func refuse(req *sip.Request, code int, reason string, src netip.AddrPort) verdict {
	if req.Method == sip.ACK {
		return verdict{out: outDrop, why: "refused ACK: " + reason}
	}
	if !sipmsg.ValidVia(req.Via()) {
		return verdict{out: outDrop, why: "refused, no usable Via: " + reason}
	}
	sipmsg.AddReceived(req, src)
	return verdict{out: outReply, msg: req, reply: sipmsg.NewReply(req, code, reason, ""), code: code, why: reason}
}

// examineBroken handles a datagram the parser refused: a reply or garbage
// is dropped; a request whose only fault is a Request-URI scheme sipgo does
// not know gets 416 (RFC 4475 novelsc); any other request gets a 400 built
// from the raw bytes when it has a usable Via.
func examineBroken(p *sip.Parser, data []byte, perr error, src netip.AddrPort) verdict {
	kind, _ := sipmsg.Classify(data)
	switch kind {
	case sipmsg.KindResponse:
		return verdict{out: outDrop, why: "unparsable reply: " + errText(perr), unparsable: true}
	case sipmsg.KindGarbage:
		return verdict{out: outDrop, why: "not SIP", unparsable: true}
	}
	if errors.Is(perr, sip.ErrMessageTooLarge) {
		// The declared body is larger than the datagram (e.g.
		// Content-Length: 1000000000): a framing error.
		perr = errBodyTooLarge
	}
	if fixed, ok := replaceRURI(data); ok && perr != errBareLF {
		p.MaxMessageLength = len(fixed)
		if msg, err := p.ParseSIP(fixed); err == nil {
			if req, ok := msg.(*sip.Request); ok {
				if code, reason := sipmsg.Check(req); code != 0 {
					return refuse(req, code, reason, src)
				}
				return refuse(req, 416, "Unsupported URI Scheme", src)
			}
		}
	}
	res, err := sipmsg.NewReplyFromRaw(data, src, 400, "Bad Request")
	if err != nil {
		return verdict{out: outDrop, why: "unparsable request (" + errText(perr) + "), no reply: " + err.Error(), unparsable: true}
	}
	return verdict{out: outReply, reply: res, code: 400, why: "unparsable request: " + errText(perr), unparsable: true}
}

var errBodyTooLarge = errors.New("declared body length beyond the end of the datagram")

// errText shortens a parse error for a log line: sipgo quotes the whole
// start line in some errors, and peer bytes have no place in logs above
// debug level.
func errText(err error) string {
	s := err.Error()
	if strings.HasPrefix(s, "transmission beginning") {
		return "bad start line"
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// replaceRURI returns data with the Request-URI replaced by a placeholder
// sip: URI when the request line is "method SP URI SP version" and the
// URI's scheme is a valid RFC 3261 scheme other than sip/sips (which
// sipgo's parser refuses when it has digits, '+', '-' or '.').
func replaceRURI(data []byte) ([]byte, bool) {
	end := bytes.IndexByte(data, '\r')
	if end < 0 {
		return nil, false
	}
	line := data[:end]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, false
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return nil, false
	}
	sp2 += sp1 + 1
	uri := line[sp1+1 : sp2]
	colon := bytes.IndexByte(uri, ':')
	if colon <= 0 || !validScheme(uri[:colon]) {
		return nil, false
	}
	switch strings.ToLower(string(uri[:colon])) {
	case "sip", "sips":
		return nil, false
	}
	out := make([]byte, 0, len(data)-len(uri)+len(unsupportedURI))
	out = append(out, data[:sp1+1]...)
	out = append(out, unsupportedURI...)
	out = append(out, data[sp2:]...)
	return out, true
}

// validScheme: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s []byte) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return len(s) > 0
}

// isKeepAlive reports whether b holds only CR, LF, blanks and NULs: a
// keep-alive (RFC 5626 §3.5.1 over UDP, or padding).
func isKeepAlive(b []byte) bool {
	for _, c := range b {
		switch c {
		case '\r', '\n', ' ', '\t', 0:
		default:
			return false
		}
	}
	return true
}
