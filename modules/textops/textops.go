// Package textops is the textops module of both flavors: it searches and
// rewrites the text of SIP messages, adds and removes headers, tests the
// method, the body and strings, and adds headers to the replies the server
// generates. It has Kamailio 3.0's functions and SER 3.0's header-value
// functions (append_hf_value …), so a SER config needs no other textops.
//
// Text arguments are formats read the way the call site's mode reads them
// (module.Fixup.TextFormat): Kamailio PV formats ("$ru") in #!KAMAILIO
// configs, SER xl formats ("%ru", "%$attr") in SER and max-compat ones.
package textops

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

type textops struct {
	// XLBufSize is SER's limit for an expanded xl text; accepted for
	// compatibility, texts are not limited.
	XLBufSize int `modparam:"xlbuf_size" min:"1"`

	now func() time.Time
}

// Route masks, as Kamailio 3.0 (and SER 3.0 where it allows more).
const (
	rtMsg     = sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure | sr.RouteBranch | sr.RouteLocal
	rtSearch  = rtMsg | sr.RouteOnSend
	rtURI     = sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure | sr.RouteBranch
	rtReqOnly = sr.RouteRequest | sr.RouteFailure | sr.RouteBranch
	rtReply   = sr.RouteRequest | sr.RouteFailure | sr.RouteBranch | sr.RouteError
	rtTime    = sr.RouteRequest | sr.RouteFailure | sr.RouteBranch | sr.RouteLocal
	rtBody    = sr.RouteRequest | sr.RouteFailure | sr.RouteBranch | sr.RouteOnReply
	rtHFValue = sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure | sr.RouteBranch
)

type fn = module.Func[*textops]

func init() {
	module.Register(module.Spec[*textops]{
		Name:    "textops",
		Tree:    "modules",
		Summary: "text operations on SIP messages: search, replace, headers, reply headers",
		New:     func() *textops { return &textops{XLBufSize: 4096, now: time.Now} },
		Funcs: []fn{
			{Name: "search", Args: []int{1}, Routes: rtSearch, Fixup: fixRE, Call: (*textops).search},
			{Name: "search_append", Args: []int{2}, Routes: rtMsg, Fixup: fixREText, Call: (*textops).searchAppend},
			{Name: "replace", Args: []int{2}, Routes: rtMsg, Fixup: fixREText, Call: (*textops).replace},
			{Name: "replace_all", Args: []int{2}, Routes: rtMsg, Fixup: fixREText, Call: (*textops).replaceAll},
			{Name: "subst", Args: []int{1}, Routes: rtMsg, Fixup: fixSubst, Call: (*textops).subst},
			{Name: "subst_uri", Args: []int{1}, Routes: rtURI, Fixup: fixSubst, Call: (*textops).substURI},
			{Name: "subst_user", Args: []int{1}, Routes: rtURI, Fixup: fixSubst, Call: (*textops).substUser},
			{Name: "append_hf", Args: []int{1, 2}, Routes: rtMsg, Fixup: fixAddHF, Call: (*textops).appendHF},
			{Name: "insert_hf", Args: []int{1, 2}, Routes: rtMsg, Fixup: fixAddHF, Call: (*textops).insertHF},
			{Name: "append_urihf", Args: []int{2}, Routes: rtReqOnly, Fixup: fixTexts, Call: (*textops).appendURIHF},
			{Name: "remove_hf", Args: []int{1}, Routes: rtMsg, Fixup: fixName, Call: (*textops).removeHF},
			{Name: "remove_hf_re", Args: []int{1}, Routes: rtMsg, Fixup: fixRE, Call: (*textops).removeHFRE},
			{Name: "is_present_hf", Args: []int{1}, Routes: rtMsg, Fixup: fixName, Call: (*textops).isPresentHF},
			{Name: "is_present_hf_re", Args: []int{1}, Routes: rtMsg, Fixup: fixRE, Call: (*textops).isPresentHFRE},
			{Name: "is_method", Args: []int{1}, Routes: rtMsg, Fixup: fixMethods, Call: (*textops).isMethod},
			{Name: "has_body", Args: []int{0, 1}, Routes: rtMsg, Fixup: fixBodyType, Call: (*textops).hasBody},
			{Name: "append_to_reply", Args: []int{1}, Routes: rtReply, Fixup: fixTexts, Call: (*textops).appendToReply},
			{Name: "append_time", Routes: rtTime, Call: (*textops).appendTime},
			{Name: "set_body", Args: []int{2}, Routes: rtBody, Fixup: fixTexts, Call: (*textops).setBody},
			{Name: "set_reply_body", Args: []int{2}, Routes: rtReqOnly, Fixup: fixTexts, Call: (*textops).setReplyBody},
			{Name: "cmp_str", Args: []int{2}, Routes: rtMsg, Fixup: fixTexts, Call: cmpStr(false)},
			{Name: "cmp_istr", Args: []int{2}, Routes: rtMsg, Fixup: fixTexts, Call: cmpStr(true)},
			{Name: "starts_with", Args: []int{2}, Routes: rtMsg, Fixup: fixTexts, Call: (*textops).startsWith},
			// SER's header-value functions.
			{Name: "append_hf_value", Args: []int{2}, Routes: rtHFValue, Fixup: fixHFValue(hfAppend), Call: (*textops).hfValue},
			{Name: "insert_hf_value", Args: []int{2}, Routes: rtHFValue, Fixup: fixHFValue(hfInsert), Call: (*textops).hfValue},
			{Name: "remove_hf_value", Args: []int{1}, Routes: rtHFValue, Fixup: fixHFValue(hfRemove), Call: (*textops).hfValue},
			{Name: "assign_hf_value", Args: []int{2}, Routes: rtHFValue, Fixup: fixHFValue(hfAssign), Call: (*textops).hfValue},
			{Name: "include_hf_value", Args: []int{2}, Routes: rtHFValue, Fixup: fixHFValue(hfInclude), Call: (*textops).hfValue},
			{Name: "exclude_hf_value", Args: []int{2}, Routes: rtHFValue, Fixup: fixHFValue(hfExclude), Call: (*textops).hfValue},
			{Name: "hf_value_exists", Args: []int{2}, Routes: rtHFValue, Fixup: fixHFValue(hfExists), Call: (*textops).hfValue},
		},
	})
}

// --- fixups ----------------------------------------------------------

func regexArg(fx *module.Fixup, a module.Arg) (*regexp.Regexp, error) {
	s, err := fx.Str(a)
	if err != nil {
		return nil, err
	}
	re, err := compileRE(s)
	if err != nil {
		return nil, fx.Errorf(a, "%s: bad regular expression %q: %v", fx.Func, s, err)
	}
	return re, nil
}

func fixRE(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	re, err := regexArg(fx, args[0])
	if err != nil {
		return nil, err
	}
	return []any{re}, nil
}

func fixREText(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	re, err := regexArg(fx, args[0])
	if err != nil {
		return nil, err
	}
	f, err := fx.TextFormat(args[1])
	if err != nil {
		return nil, err
	}
	return []any{re, f}, nil
}

// fixTexts compiles every argument as a text format.
func fixTexts(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	p := make([]any, len(args))
	for i, a := range args {
		f, err := fx.TextFormat(a)
		if err != nil {
			return nil, err
		}
		p[i] = f
	}
	return p, nil
}

func fixSubst(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	se, err := parseSubst(s)
	if err != nil {
		return nil, fx.Errorf(args[0], "%s: bad substitution %q: %v", fx.Func, s, err)
	}
	return []any{se}, nil
}

// hdrName is a header name argument: a constant, or a pseudo-variable,
// attribute or select read per message (SER's remove_hf("$name")).
type hdrName struct {
	static string
	get    sr.Getter
}

func (h hdrName) value(c *sr.Ctx) string {
	if h.get != nil {
		return strings.Trim(h.get.Get(c).Text(), " \t")
	}
	return h.static
}

func nameArg(fx *module.Fixup, a module.Arg) (hdrName, error) {
	if a.Kind == module.ArgPV || strings.HasPrefix(a.S, "$") || strings.HasPrefix(a.S, "@") {
		g, err := fx.Getter(a)
		if err != nil {
			return hdrName{}, err
		}
		return hdrName{get: g}, nil
	}
	s, err := fx.Str(a)
	if err != nil {
		return hdrName{}, err
	}
	s = strings.Trim(s, " \t")
	if !isToken(s) {
		return hdrName{}, fx.Errorf(a, "%s: %q is not a valid header name", fx.Func, a.S)
	}
	return hdrName{static: s}, nil
}

func fixName(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := nameArg(fx, args[0])
	if err != nil {
		return nil, err
	}
	return []any{n}, nil
}

func fixAddHF(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	f, err := fx.TextFormat(args[0])
	if err != nil {
		return nil, err
	}
	p := []any{f}
	if len(args) == 2 {
		n, err := nameArg(fx, args[1])
		if err != nil {
			return nil, err
		}
		p = append(p, n)
	}
	return p, nil
}

func fixMethods(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	var methods []string
	for _, m := range strings.Split(s, "|") {
		m = strings.TrimSpace(m)
		if !isToken(m) {
			return nil, fx.Errorf(args[0], "%s: %q is not a list of method names (INVITE|BYE)", fx.Func, s)
		}
		methods = append(methods, m)
	}
	return []any{methods}, nil
}

func fixBodyType(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if len(args) == 0 {
		return []any{""}, nil
	}
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return []any{""}, nil
	}
	typ, sub, ok := strings.Cut(s, "/")
	if !ok || !isToken(typ) || !isToken(sub) {
		return nil, fx.Errorf(args[0], "%s: %q is not one MIME type (type/subtype)", fx.Func, s)
	}
	return []any{s}, nil
}

// --- helpers ---------------------------------------------------------

// target is the message the header and text functions work on: the
// request in failure routes (the transaction's request, as Kamailio
// works on it there), otherwise the message being processed.
func target(c *sr.Ctx) sip.Message {
	if c.RouteType == sr.RouteFailure && c.Req != nil {
		return c.Req
	}
	return c.Msg()
}

// request is the request whose Request-URI the URI functions change, or nil
// when the message is a reply.
func request(c *sr.Ctx) *sip.Request {
	if c.Req == nil || (c.Resp != nil && c.RouteType != sr.RouteFailure) {
		return nil
	}
	return c.Req
}

func logf(c *sr.Ctx, level slog.Level, msg string, args ...any) {
	l := c.Log
	if l == nil {
		l = slog.Default()
	}
	l.Log(context.Background(), level, msg, args...)
}

// bodyStart is the offset of the header section in rendered text: just
// after the start line, where Kamailio's rewriting functions begin.
func bodyStart(text string) int {
	if i := strings.Index(text, "\r\n"); i >= 0 {
		return i + 2
	}
	return len(text)
}

// edit installs the edited text of msg, logging and returning -1 when the
// result is refused.
func edit(c *sr.Ctx, fn string, msg sip.Message, text string) int {
	if err := reparse(msg, text); err != nil {
		logf(c, slog.LevelWarn, fn+": the message is left unchanged", "error", err)
		return -1
	}
	return 1
}

// --- text level ------------------------------------------------------

func (m *textops) search(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	if p[0].(*regexp.Regexp).MatchString(msg.String()) {
		return 1
	}
	return -1
}

func (m *textops) searchAppend(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	text := msg.String()
	start := bodyStart(text)
	loc := p[0].(*regexp.Regexp).FindStringIndex(text[start:])
	if loc == nil {
		return -1
	}
	at := start + loc[1]
	return edit(c, "search_append", msg, text[:at]+p[1].(sr.Format).Expand(c)+text[at:])
}

func (m *textops) replace(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	text := msg.String()
	start := bodyStart(text)
	loc := p[0].(*regexp.Regexp).FindStringIndex(text[start:])
	if loc == nil {
		return -1
	}
	return edit(c, "replace", msg, text[:start+loc[0]]+p[1].(sr.Format).Expand(c)+text[start+loc[1]:])
}

func (m *textops) replaceAll(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	text := msg.String()
	start := bodyStart(text)
	locs := p[0].(*regexp.Regexp).FindAllStringIndex(text[start:], -1)
	if len(locs) == 0 {
		return -1
	}
	with := p[1].(sr.Format).Expand(c)
	var b strings.Builder
	b.WriteString(text[:start])
	last := start
	for _, l := range locs {
		if l[0] == l[1] {
			logf(c, slog.LevelError, "replace_all: the expression matches the empty string")
			return -1
		}
		b.WriteString(text[last : start+l[0]])
		b.WriteString(with)
		last = start + l[1]
	}
	b.WriteString(text[last:])
	return edit(c, "replace_all", msg, b.String())
}

// ruri is what \u inserts: the current Request-URI of a request.
func ruri(c *sr.Ctx) string {
	if req := request(c); req != nil {
		return req.Recipient.String()
	}
	return ""
}

func (m *textops) subst(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	text := msg.String()
	start := bodyStart(text)
	out, ok := p[0].(*substExpr).apply(text[start:], ruri(c))
	if !ok {
		return -1
	}
	return edit(c, "subst", msg, text[:start]+out)
}

func (m *textops) substURI(c *sr.Ctx, p []any) int {
	req := request(c)
	if req == nil {
		return -1
	}
	cur := req.Recipient.String()
	out, ok := p[0].(*substExpr).apply(cur, cur)
	if !ok {
		return -1
	}
	var u sip.Uri
	if err := sip.ParseUri(out, &u); err != nil || strings.ContainsAny(out, "\r\n") {
		logf(c, slog.LevelWarn, "subst_uri: the result is not a URI; the Request-URI is left unchanged", "result", clip(out))
		return -1
	}
	req.Recipient = u
	return 1
}

func (m *textops) substUser(c *sr.Ctx, p []any) int {
	req := request(c)
	if req == nil {
		return -1
	}
	out, ok := p[0].(*substExpr).apply(req.Recipient.User, req.Recipient.String())
	if !ok {
		return -1
	}
	if strings.ContainsAny(out, "\r\n@ \t<>\"") {
		logf(c, slog.LevelWarn, "subst_user: the result is not a URI user; the Request-URI is left unchanged", "result", clip(out))
		return -1
	}
	req.Recipient.User = out
	return 1
}

// --- headers ---------------------------------------------------------

// indexOf returns the position of the first header of msg named name, or -1.
func indexOf(msg sip.Message, name string) int {
	for i, h := range headersOf(msg) {
		if sipmsg.Same(h.Name(), name) {
			return i
		}
	}
	return -1
}

func (m *textops) addHF(c *sr.Ctx, p []any, fn string, after bool) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	hs, err := parseHeaderText(p[0].(sr.Format).Expand(c))
	if err != nil {
		logf(c, slog.LevelWarn, fn+": refused header text", "error", err)
		return -1
	}
	at := 0
	if after {
		at = len(headersOf(msg))
	}
	if len(p) == 2 {
		if i := indexOf(msg, p[1].(hdrName).value(c)); i >= 0 {
			at = i
			if after {
				at = i + 1
			}
		}
	}
	insertHeaders(msg, at, hs)
	return 1
}

func (m *textops) appendHF(c *sr.Ctx, p []any) int { return m.addHF(c, p, "append_hf", true) }

func (m *textops) insertHF(c *sr.Ctx, p []any) int { return m.addHF(c, p, "insert_hf", false) }

func (m *textops) appendURIHF(c *sr.Ctx, p []any) int {
	req := request(c)
	if req == nil {
		return -1
	}
	uri := c.OrigRURI
	if uri == "" {
		uri = req.Recipient.String()
	}
	text := p[0].(sr.Format).Expand(c) + uri + p[1].(sr.Format).Expand(c)
	hs, err := parseHeaderText(text)
	if err != nil {
		logf(c, slog.LevelWarn, "append_urihf: refused header text", "error", err)
		return -1
	}
	insertHeaders(req, len(headersOf(req)), hs)
	return 1
}

func (m *textops) removeHF(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	name := p[0].(hdrName).value(c)
	if name == "" {
		return -1
	}
	if sipmsg.Remove(msg, name) > 0 {
		return 1
	}
	return -1
}

// nameMatches matches a regular expression against a header name as
// written (without blanks) and against its canonical form, so that a
// compact or oddly spaced name cannot slip past remove_hf_re.
func nameMatches(re *regexp.Regexp, name string) bool {
	n := strings.Trim(name, " \t\r\n")
	return re.MatchString(n) || re.MatchString(sipmsg.Canonical(n))
}

func (m *textops) removeHFRE(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	re := p[0].(*regexp.Regexp)
	hs := headersOf(msg)
	keep := make([]sip.Header, 0, len(hs))
	for _, h := range hs {
		if !nameMatches(re, h.Name()) {
			keep = append(keep, h)
		}
	}
	if len(keep) == len(hs) {
		return -1
	}
	setHeaders(msg, keep)
	return 1
}

func (m *textops) isPresentHF(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	if name := p[0].(hdrName).value(c); name != "" && sipmsg.Has(msg, name) {
		return 1
	}
	return -1
}

func (m *textops) isPresentHFRE(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	re := p[0].(*regexp.Regexp)
	for _, h := range headersOf(msg) {
		if nameMatches(re, h.Name()) {
			return 1
		}
	}
	return -1
}

// --- tests -----------------------------------------------------------

func (m *textops) isMethod(c *sr.Ctx, p []any) int {
	var method string
	switch msg := target(c).(type) {
	case *sip.Request:
		method = string(msg.Method)
	case *sip.Response:
		method = sipmsg.CSeqMethod(msg)
	}
	if method == "" {
		return -1
	}
	for _, want := range p[0].([]string) {
		if strings.EqualFold(method, want) {
			return 1
		}
	}
	return -1
}

func (m *textops) hasBody(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil || len(msg.Body()) == 0 {
		return -1
	}
	want := p[0].(string)
	if want == "" {
		return 1
	}
	got := "application/sdp" // RFC 3261: a body without a type is SDP
	if h := sipmsg.Header(msg, "Content-Type"); h != nil {
		v, _, _ := strings.Cut(h.Value(), ";")
		got = strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), "\t", ""))
	}
	if got == want {
		return 1
	}
	return -1
}

func cmpStr(icase bool) func(*textops, *sr.Ctx, []any) int {
	return func(_ *textops, c *sr.Ctx, p []any) int {
		a, b := p[0].(sr.Format).Expand(c), p[1].(sr.Format).Expand(c)
		if icase {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		switch strings.Compare(a, b) {
		case 0:
			return 1
		case 1:
			return -1
		}
		return -2
	}
}

func (m *textops) startsWith(c *sr.Ctx, p []any) int {
	s, prefix := p[0].(sr.Format).Expand(c), p[1].(sr.Format).Expand(c)
	if len(s) < len(prefix) {
		return -1
	}
	switch strings.Compare(s[:len(prefix)], prefix) {
	case 0:
		return 1
	case 1:
		return -1
	}
	return -2
}

// --- replies and bodies ----------------------------------------------

// addReplyHeaders checks header text and queues its lines for the next
// local reply.
func addReplyHeaders(c *sr.Ctx, fn, text string) int {
	lines, err := splitHeaderText(text)
	if err == nil {
		for _, l := range lines {
			name, _, _ := strings.Cut(l, ":")
			if sipmsg.Same(name, "Content-Length") {
				err = errCLen
			}
		}
	}
	if err != nil {
		logf(c, slog.LevelWarn, fn+": refused header text", "error", err)
		return -1
	}
	for _, l := range lines {
		c.ReplyHeaders = append(c.ReplyHeaders, l+"\r\n")
	}
	return 1
}

func (m *textops) appendToReply(c *sr.Ctx, p []any) int {
	return addReplyHeaders(c, "append_to_reply", p[0].(sr.Format).Expand(c))
}

// dateFormat is RFC 1123 time in GMT, as the Date header writes it.
const dateFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func (m *textops) appendTime(c *sr.Ctx, _ []any) int {
	return addReplyHeaders(c, "append_time", "Date: "+m.now().UTC().Format(dateFormat))
}

// validContentType checks a Content-Type value given by the script.
func validContentType(s string) bool {
	return s != "" && checkLineEnds(s) == nil && !strings.ContainsAny(s, "\r\n")
}

func (m *textops) setBody(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	body, ctype := p[0].(sr.Format).Expand(c), strings.TrimSpace(p[1].(sr.Format).Expand(c))
	if body == "" || !validContentType(ctype) {
		logf(c, slog.LevelWarn, "set_body: empty body or invalid content type", "content_type", clip(ctype))
		return -1
	}
	same := false
	for _, h := range sipmsg.Headers(msg, "Content-Type") {
		if h.Value() == ctype {
			same = true
		}
	}
	if !same {
		sipmsg.Remove(msg, "Content-Type")
		ct := sip.ContentTypeHeader(ctype)
		msg.AppendHeader(&ct)
	}
	msg.SetBody([]byte(body))
	return 1
}

// setReplyBody gives the next local reply (sl_send_reply, t_reply) a body
// and its Content-Type; a second call replaces both.
func (m *textops) setReplyBody(c *sr.Ctx, p []any) int {
	body, ctype := p[0].(sr.Format).Expand(c), strings.TrimSpace(p[1].(sr.Format).Expand(c))
	if body == "" || !validContentType(ctype) {
		logf(c, slog.LevelWarn, "set_reply_body: empty body or invalid content type", "content_type", clip(ctype))
		return -1
	}
	kept := c.ReplyHeaders[:0]
	for _, h := range c.ReplyHeaders {
		name, _, _ := strings.Cut(h, ":")
		if !sipmsg.Same(name, "Content-Type") {
			kept = append(kept, h)
		}
	}
	c.ReplyHeaders = append(kept, "Content-Type: "+ctype+"\r\n")
	c.ReplyBody = []byte(body)
	return 1
}
