package avp

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
)

// hfArgs are the arguments of the header functions: the header name and
// the attribute whose values become the header bodies (by default the
// attribute named like the header).
type hfArgs struct {
	name sr.Getter
	attr *serattr.Ident
}

func (m *avp) fixHF(fx *module.Fixup, args []module.Arg) ([]any, error) {
	name, err := serattr.CompileValue(fx, args[0])
	if err != nil {
		return nil, err
	}
	if k, ok := name.(serattr.Const); ok && !isToken(sr.Value(k).Text()) {
		return nil, fx.Errorf(args[0], "%s: %q is not a header name", fx.Func, args[0].S)
	}
	h := hfArgs{name: name}
	if len(args) == 2 {
		_, id, err := serattr.CompileAttr(m.reg, fx, args[1])
		if err != nil {
			return nil, err
		}
		h.attr = &id
	}
	return []any{h}, nil
}

// lines returns the header name and the header lines the attribute's
// values make, in search order. ok is false on error or when the
// attribute has no value.
func (h hfArgs) lines(c *sr.Ctx, who string) (string, []string, bool) {
	name := strings.TrimSpace(h.name.Get(c).Text())
	if !isToken(name) {
		c.Log.Error(who+": invalid header name", "name", name)
		return "", nil, false
	}
	if sipmsg.Same(name, "Content-Length") {
		c.Log.Error(who + ": Content-Length cannot be set from an attribute")
		return "", nil, false
	}
	id := serattr.Ident{Name: serattr.Name(name), Text: name}
	if h.attr != nil {
		id = *h.attr
	}
	vals := serattr.Values(c.AVPs, id.Name, id.Flags)
	if len(vals) == 0 {
		return name, nil, false
	}
	out := make([]string, 0, len(vals))
	for _, a := range vals {
		v := a.Val.Text()
		if err := checkValue(v); err != nil {
			logf(c, slog.LevelWarn, who+": refused header value", "attr", id.Text, "error", err)
			return "", nil, false
		}
		out = append(out, name+": "+v)
	}
	return name, out, true
}

var errCtl = errors.New("a header value cannot hold CR, LF or other control characters")

// checkValue refuses values that would break the header line.
func checkValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return errCtl
		}
	}
	return nil
}

// isToken reports whether s is an RFC 3261 token (a header name).
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

var parser = sipmsg.NewParser(1 << 16)

// parseLines turns header lines into headers, as a message parser reads
// them.
func parseLines(lines []string) ([]sip.Header, error) {
	var out []sip.Header
	for _, l := range lines {
		msg, err := parser.ParseSIP([]byte("OPTIONS sip:avp.invalid SIP/2.0\r\n" + l + "\r\n\r\n"))
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", l, err)
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return nil, fmt.Errorf("header %q: not a header", l)
		}
		out = append(out, req.Headers()...)
	}
	return out, nil
}

// insertHeaders puts hs before position at of req's headers.
func insertHeaders(req *sip.Request, at int, hs []sip.Header) {
	cur := req.Headers()
	if at >= len(cur) {
		for _, h := range hs {
			req.AppendHeader(h)
		}
		return
	}
	if at <= 0 {
		req.PrependHeader(hs...)
		return
	}
	list := make([]sip.Header, 0, len(cur)+len(hs))
	list = append(list, cur[:at]...)
	list = append(list, hs...)
	list = append(list, cur[at:]...)
	for {
		c := req.Headers()
		if len(c) == 0 {
			break
		}
		req.RemoveHeader(c[0].Name())
	}
	for _, h := range list {
		req.AppendHeader(h)
	}
}

// addHF adds the header lines of the attribute to the request: before the
// first header of that name (front), or after the last one; at the end of
// the headers when there is none.
func (m *avp) addHF(c *sr.Ctx, p []any, who string, front, replace bool) int {
	req := c.Req
	if req == nil {
		return -1
	}
	name, lines, ok := p[0].(hfArgs).lines(c, who)
	if !ok {
		return -1
	}
	hs, err := parseLines(lines)
	if err != nil {
		logf(c, slog.LevelWarn, who+": refused header", "error", err)
		return -1
	}
	if replace {
		sipmsg.Remove(req, name)
	}
	at := len(req.Headers())
	first, last := -1, -1
	for i, h := range req.Headers() {
		if sipmsg.Same(h.Name(), name) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	switch {
	case front && first >= 0:
		at = first
	case !front && last >= 0:
		at = last + 1
	}
	insertHeaders(req, at, hs)
	return 1
}

// insertAttrHF is insert_attr_hf(name[, attr]).
func (m *avp) insertAttrHF(c *sr.Ctx, p []any) int {
	return m.addHF(c, p, "insert_attr_hf", true, false)
}

// appendAttrHF is append_attr_hf(name[, attr]).
func (m *avp) appendAttrHF(c *sr.Ctx, p []any) int {
	return m.addHF(c, p, "append_attr_hf", false, false)
}

// replaceAttrHF is replace_attr_hf(name[, attr]): the headers of that name
// are removed, then the attribute's values appended.
func (m *avp) replaceAttrHF(c *sr.Ctx, p []any) int {
	return m.addHF(c, p, "replace_attr_hf", false, true)
}

// attrToReply is attr_to_reply(name[, attr]): the values become headers of
// the next reply this server sends, last value first as in SER.
func (m *avp) attrToReply(c *sr.Ctx, p []any) int {
	_, lines, ok := p[0].(hfArgs).lines(c, "attr_to_reply")
	if !ok {
		return -1
	}
	for i := len(lines) - 1; i >= 0; i-- {
		c.ReplyHeaders = append(c.ReplyHeaders, lines[i]+"\r\n")
	}
	return 1
}
