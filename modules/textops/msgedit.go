package textops

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// sipgo keeps no raw buffer of a message: every edit here works on its
// header list, and the text-level operations (search_append, replace,
// subst …) render the message, change the text and parse it again. A
// result that does not parse, or that would carry a header line the
// receiver could read differently (a bare CR or LF, an empty or invalid
// name), is refused and the message is left as it was.

// parser parses rendered messages and header lines; it is read-only and
// safe for concurrent use. Its limit is generous: the transports enforce
// the real message size limits when the message is sent.
var parser = sipmsg.NewParser(1 << 20)

// Errors of the header text checks.
var (
	errEmpty      = errors.New("empty header text")
	errBareLF     = errors.New("a CR or LF that is not part of a CRLF line end")
	errCtl        = errors.New("a control character")
	errNoColon    = errors.New("a line without a header name and colon")
	errBadName    = errors.New("an invalid header name")
	errEmptyLine  = errors.New("an empty line (it would end the header section)")
	errFolded     = errors.New("a continuation line with no header before it")
	errCLen       = errors.New("a Content-Length header cannot be added as text (set_body sets it)")
	errNotMessage = errors.New("the result is not a message of the same kind")
)

// headersOf returns the header list of a message (nil for other types).
func headersOf(msg sip.Message) []sip.Header {
	switch m := msg.(type) {
	case *sip.Request:
		return m.Headers()
	case *sip.Response:
		return m.Headers()
	}
	return nil
}

// setHeaders replaces the whole header list of msg with hs, in order.
func setHeaders(msg sip.Message, hs []sip.Header) {
	list := append([]sip.Header(nil), hs...)
	for {
		cur := headersOf(msg)
		if len(cur) == 0 {
			break
		}
		removeHeader(msg, cur[0].Name())
	}
	for _, h := range list {
		msg.AppendHeader(h)
	}
}

func removeHeader(msg sip.Message, name string) {
	switch m := msg.(type) {
	case *sip.Request:
		m.RemoveHeader(name)
	case *sip.Response:
		m.RemoveHeader(name)
	}
}

// insertHeaders puts hs before position at of msg's header list (at the
// end when at is the length of the list).
func insertHeaders(msg sip.Message, at int, hs []sip.Header) {
	cur := headersOf(msg)
	switch {
	case at >= len(cur):
		for _, h := range hs {
			msg.AppendHeader(h)
		}
	case at <= 0:
		switch m := msg.(type) {
		case *sip.Request:
			m.PrependHeader(hs...)
		case *sip.Response:
			m.PrependHeader(hs...)
		}
	default:
		list := make([]sip.Header, 0, len(cur)+len(hs))
		list = append(list, cur[:at]...)
		list = append(list, hs...)
		list = append(list, cur[at:]...)
		setHeaders(msg, list)
	}
}

// isToken reports whether s is an RFC 3261 token (a valid header name).
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

// checkLineEnds verifies that every CR and LF of s belongs to a CRLF pair
// and that s holds no other control character than HTAB.
func checkLineEnds(s string) error {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r':
			if i+1 >= len(s) || s[i+1] != '\n' {
				return errBareLF
			}
			i++
		case c == '\n':
			return errBareLF
		case c == '\t':
		case c < 0x20 || c == 0x7f:
			return errCtl
		}
	}
	return nil
}

// splitHeaderText checks header text as append_hf takes it — one or more
// "Name: value" lines separated by CRLF, with or without a final CRLF,
// folded lines allowed — and returns the logical lines (folding joined
// with one blank).
func splitHeaderText(text string) ([]string, error) {
	if text == "" {
		return nil, errEmpty
	}
	if err := checkLineEnds(text); err != nil {
		return nil, err
	}
	text = strings.TrimSuffix(text, "\r\n")
	var lines []string
	for _, l := range strings.Split(text, "\r\n") {
		switch {
		case l == "":
			return nil, errEmptyLine
		case l[0] == ' ' || l[0] == '\t':
			if len(lines) == 0 {
				return nil, errFolded
			}
			lines[len(lines)-1] += " " + strings.Trim(l, " \t")
			continue
		}
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			return nil, errNoColon
		}
		if !isToken(strings.TrimRight(name, " \t")) {
			return nil, fmt.Errorf("%w %q", errBadName, clip(name))
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// parseHeaderText turns header text into sipgo headers, typed as the
// message parser types them (a Route line becomes a *sip.RouteHeader, a
// Contact line with two values two headers).
func parseHeaderText(text string) ([]sip.Header, error) {
	lines, err := splitHeaderText(text)
	if err != nil {
		return nil, err
	}
	var out []sip.Header
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		if sipmsg.Same(name, "Content-Length") {
			return nil, errCLen
		}
		m, err := parser.ParseSIP([]byte("OPTIONS sip:textops.invalid SIP/2.0\r\n" + l + "\r\n\r\n"))
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", clip(l), err)
		}
		out = append(out, headersOf(m)...)
	}
	return out, nil
}

// checkHead verifies a rendered header section (start line and header
// lines, without the empty line): CRLF line ends only, and a token name
// before the colon of every header line.
func checkHead(head string) error {
	if err := checkLineEnds(head); err != nil {
		return err
	}
	lines := strings.Split(head, "\r\n")
	for i, l := range lines[1:] {
		switch {
		case l == "":
			return errEmptyLine
		case l[0] == ' ' || l[0] == '\t':
			if i == 0 {
				return errFolded
			}
			continue
		}
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			return errNoColon
		}
		if !isToken(strings.TrimRight(name, " \t")) {
			return fmt.Errorf("%w %q", errBadName, clip(name))
		}
	}
	return nil
}

// fixContentLength sets the value of every Content-Length line of head
// to n, the size of the body that follows it.
func fixContentLength(head string, n int) string {
	lines := strings.Split(head, "\r\n")
	changed := false
	for i, l := range lines {
		if i == 0 || l == "" || l[0] == ' ' || l[0] == '\t' {
			continue
		}
		name, _, ok := strings.Cut(l, ":")
		if ok && sipmsg.Same(name, "Content-Length") {
			lines[i] = strings.TrimRight(name, " \t") + ": " + strconv.Itoa(n)
			changed = true
		}
	}
	if !changed {
		return head
	}
	return strings.Join(lines, "\r\n")
}

// reparse parses text, a whole message as rendered and then edited, and
// makes msg equal to it in place: header list and body. The start line is
// never edited (every rewrite starts after it), so msg keeps its own. The
// Content-Length is set to the size of the body found after the empty
// line. On any error msg is not changed.
func reparse(msg sip.Message, text string) error {
	head, body, ok := strings.Cut(text, "\r\n\r\n")
	if !ok {
		return errors.New("the result has no end of the header section")
	}
	if err := checkHead(head); err != nil {
		return err
	}
	head = fixContentLength(head, len(body))
	m, err := parser.ParseSIP([]byte(head + "\r\n\r\n" + body))
	if err != nil {
		return fmt.Errorf("the result does not parse: %w", err)
	}
	switch dst := msg.(type) {
	case *sip.Request:
		src, ok := m.(*sip.Request)
		if !ok {
			return errNotMessage
		}
		install(dst, src.Headers(), src.Body())
	case *sip.Response:
		src, ok := m.(*sip.Response)
		if !ok {
			return errNotMessage
		}
		install(dst, src.Headers(), src.Body())
	default:
		return errNotMessage
	}
	return nil
}

func install(msg sip.Message, hs []sip.Header, body []byte) {
	setHeaders(msg, hs)
	if !bytes.Equal(msg.Body(), body) {
		msg.SetBody(body)
	}
}

// headerLine is one header as name and value text, the form the SER
// hf_value functions edit.
type headerLine struct {
	name, value string
}

// rebuild renders msg with its header section replaced by lines and
// installs the result (see reparse).
func rebuild(msg sip.Message, lines []headerLine) error {
	var b strings.Builder
	switch m := msg.(type) {
	case *sip.Request:
		b.WriteString(m.StartLine())
	case *sip.Response:
		b.WriteString(m.StartLine())
	default:
		return errNotMessage
	}
	b.WriteString("\r\n")
	for _, l := range lines {
		b.WriteString(l.name)
		b.WriteString(": ")
		b.WriteString(l.value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(msg.Body())
	return reparse(msg, b.String())
}

// linesOf returns the headers of msg as name/value text.
func linesOf(msg sip.Message) []headerLine {
	hs := headersOf(msg)
	out := make([]headerLine, len(hs))
	for i, h := range hs {
		out[i] = headerLine{h.Name(), h.Value()}
	}
	return out
}

// clip shortens s for error messages.
func clip(s string) string {
	const n = 48
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
