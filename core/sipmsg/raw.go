package sipmsg

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Errors of NewReplyFromRaw.
var (
	// ErrNotRequest: the first line is not a request line (a reply, or
	// garbage); nothing must be sent back.
	ErrNotRequest = errors.New("not a request")
	// ErrNoReplyToACK: an ACK is never answered (RFC 3261 §17.2.1).
	ErrNoReplyToACK = errors.New("ACK is never answered")
	// ErrNoVia: there is no top Via that parses with a usable sent-by, so
	// there is nowhere to send a reply.
	ErrNoVia = errors.New("no usable Via")
)

// Kind is what the first line of raw bytes looks like.
type Kind int

// The kinds of start line.
const (
	KindGarbage Kind = iota
	KindRequest
	KindResponse
)

// maxRawValue bounds one header value copied into a raw reply.
const maxRawValue = 8192

// Classify looks at the first line of raw message bytes, leniently (it is
// used on messages the parser refused): a line starting with "SIP/" is a
// reply; a line of at least three blank-separated fields whose first is a
// token and whose last starts with "SIP/" is a request, whose method is
// returned. Anything else is garbage.
func Classify(raw []byte) (k Kind, method string) {
	line := raw
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, "\r")
	line = bytes.Trim(line, " \t")
	if len(line) >= 4 && strings.EqualFold(string(line[:4]), "SIP/") {
		return KindResponse, ""
	}
	first := line
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		first = line[:i]
	} else {
		return KindGarbage, ""
	}
	last := line
	if i := bytes.LastIndexAny(line, " \t"); i >= 0 {
		last = line[i+1:]
	}
	mid := bytes.Trim(line[len(first):len(line)-len(last)], " \t")
	if len(mid) == 0 || len(last) < 4 || !strings.EqualFold(string(last[:4]), "SIP/") || !isToken(string(first)) {
		return KindGarbage, ""
	}
	return KindRequest, string(first)
}

// NewReplyFromRaw builds a stateless reply (normally 400) to a request the
// parser refused, from its raw bytes: every Via value in order, From, To
// (with a deterministic tag added when it has none), Call-ID and CSeq,
// copied as text when they do not parse. The top Via must parse and have a
// usable sent-by; received/rport are applied to it for src (RFC 3261
// §18.2.1, RFC 3581), so ReplyDest on the reply's top Via gives the
// destination. Control characters in copied values become spaces; values
// longer than 8 KiB are left out. It returns ErrNotRequest, ErrNoReplyToACK
// or ErrNoVia when no reply must be sent.
func NewReplyFromRaw(raw []byte, src netip.AddrPort, code int, reason string) (*sip.Response, error) {
	kind, method := Classify(raw)
	if kind != KindRequest {
		return nil, ErrNotRequest
	}
	if strings.EqualFold(method, "ACK") {
		return nil, ErrNoReplyToACK
	}
	f := scanRaw(raw)
	if len(f.vias) == 0 {
		return nil, ErrNoVia
	}
	vp := sip.DefaultHeadersParser()
	h, err := vp["via"](nil, f.vias[0])
	top, ok := h.(*sip.ViaHeader)
	if err != nil || !ok || top == nil || !viaOK(top) {
		return nil, ErrNoVia
	}
	addReceivedVia(top, src)

	res := sip.NewResponse(code, reason)
	res.AppendHeader(top)
	for _, v := range f.vias[1:] {
		res.AppendHeader(sip.NewHeader("Via", v))
	}
	var fromTag string
	if f.from != "" {
		if h, err := vp["from"](nil, f.from); err == nil {
			fh := h.(*sip.FromHeader)
			fromTag, _ = fh.Params.Get("tag")
			res.AppendHeader(fh)
		} else {
			res.AppendHeader(sip.NewHeader("From", f.from))
		}
	}
	var cseqNum string
	var cseq sip.Header
	if f.cseq != "" {
		if h, err := parseCSeq(nil, f.cseq); err == nil {
			cseq = h
			cseqNum = strconv.FormatUint(uint64(h.(*sip.CSeqHeader).SeqNo), 10)
		} else {
			cseq = sip.NewHeader("CSeq", f.cseq)
		}
	}
	if f.to != "" {
		branch, _ := top.Params.Get("branch")
		tag := toTag(fromTag, f.callID, cseqNum, branch)
		if h, err := vp["to"](nil, f.to); err == nil {
			th := h.(*sip.ToHeader)
			if code > 100 && !th.Params.Has("tag") {
				th.Params.Add("tag", tag)
			}
			res.AppendHeader(th)
		} else {
			v := f.to
			if code > 100 && !rawHasTag(v) {
				v += ";tag=" + tag
			}
			res.AppendHeader(sip.NewHeader("To", v))
		}
	}
	if f.callID != "" {
		cid := sip.CallIDHeader(f.callID)
		res.AppendHeader(&cid)
	}
	if cseq != nil {
		res.AppendHeader(cseq)
	}
	res.SetBody(nil)
	return res, nil
}

type rawFields struct {
	vias                   []string
	from, to, callID, cseq string
}

// scanRaw collects the Via values and the first From, To, Call-ID and
// CSeq values of the header section of raw (lines end in CRLF or LF;
// folded lines are joined with a blank).
func scanRaw(raw []byte) rawFields {
	var f rawFields
	// Skip the start line.
	i := bytes.IndexByte(raw, '\n')
	if i < 0 {
		return f
	}
	rest := raw[i+1:]
	var cur string // canonical name of the header being collected
	var val []byte // its value so far
	flush := func() {
		if cur == "" {
			return
		}
		v := sanitize(val)
		switch {
		case v == "" || len(v) > maxRawValue:
		case cur == "via":
			f.vias = append(f.vias, splitTopLevel(v)...)
		case cur == "from" && f.from == "":
			f.from = v
		case cur == "to" && f.to == "":
			f.to = v
		case cur == "call-id" && f.callID == "":
			f.callID = v
		case cur == "cseq" && f.cseq == "":
			f.cseq = v
		}
		cur, val = "", val[:0]
	}
	for len(rest) > 0 {
		var line []byte
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			line, rest = rest[:j], rest[j+1:]
		} else {
			line, rest = rest, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of the header section
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur != "" && len(val) <= maxRawValue {
				val = append(val, ' ')
				val = append(val, bytes.Trim(line, " \t")...)
			}
			continue
		}
		flush()
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue
		}
		switch name := Canonical(string(line[:c])); name {
		case "via", "from", "to", "call-id", "cseq":
			cur = name
			val = append(val[:0], bytes.Trim(line[c+1:], " \t")...)
		}
	}
	flush()
	return f
}

// sanitize turns control characters (other than HTAB) into blanks and
// trims the value.
func sanitize(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			c = ' '
		}
		out[i] = c
	}
	return strings.Trim(string(out), " \t")
}

// splitTopLevel splits a header value on commas outside quoted strings
// and angle brackets, trimming each part and leaving out empty ones.
func splitTopLevel(s string) []string {
	var out []string
	inQuote, esc, angle := false, false, 0
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
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
		case c == ',' && angle == 0:
			if p := strings.Trim(s[start:i], " \t"); p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	if p := strings.Trim(s[start:], " \t"); p != "" {
		out = append(out, p)
	}
	return out
}

// rawHasTag reports whether a To/From value has a tag header parameter:
// after the closing '>' in name-addr form, else after the first ';'.
func rawHasTag(v string) bool {
	params := ""
	if i := strings.LastIndexByte(v, '>'); i >= 0 && strings.IndexByte(v, '<') >= 0 {
		params = v[i+1:]
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		params = v[i:]
	}
	for _, p := range strings.Split(params, ";") {
		name, _, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.Trim(name, " \t"), "tag") {
			return true
		}
	}
	return false
}
