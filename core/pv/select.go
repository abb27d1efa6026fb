package pv

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// Selects are SER's read-only message accessors: @from.uri.host,
// @msg.header["X"], @via[0].branch, @cfg_get.group.var. Their values are
// strings (configuration variables keep their type); a part the message
// lacks reads as null.
//
// The core tree:
//
//	@ruri[.user|.pwd|.host|.port|.hostport|.params|.transport|.type]
//	@from, @to[.uri[.<uri part>]|.tag|.name]
//	@contact[.uri[.<uri part>]|.name|.q|.expires]
//	@via[n][.host|.port|.transport|.branch|.received|.rport]
//	@cseq[.num|.method], @call_id (or @callid), @method
//	@msg.header["Name"], @msg.body
//	@src.ip, @src.port, @dst.ip, @dst.port
//	@cfg_get.group.var
//
// Modules add more with Registry.AddSelect.

// selSeg is one step of a select path: a name, or a [param].
type selSeg struct {
	name  string
	param bool
	isStr bool
	str   string
	n     int
}

// ParseSelect compiles a select ("@from.uri.host"); the whole text must
// be the select.
func (r *Registry) ParseSelect(text string) (*Spec, error) {
	s, n, err := r.parseSelectPrefix(text)
	if err != nil {
		return nil, err
	}
	if n < len(text) {
		return nil, synErrf("%s: unexpected %q after %s", text, text[n:], text[:n])
	}
	return s, nil
}

func (r *Registry) parseSelectPrefix(text string) (*Spec, int, error) {
	segs, n, err := scanSelect(text)
	if err != nil {
		return nil, 0, err
	}
	src := text[:n]
	get, err := r.resolveSelect(segs, src)
	if err != nil {
		return nil, 0, err
	}
	return &Spec{text: src, kind: KindSelect, get: get}, n, nil
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' }

// scanSelect reads '@' ident ('.' ident | '[' int | "str" ']')*.
func scanSelect(text string) ([]selSeg, int, error) {
	if len(text) < 2 || text[0] != '@' || !isIdentStart(text[1]) {
		return nil, 0, synErrf("%q: \"@\" must be followed by a select name", clip(text))
	}
	var segs []selSeg
	i := 1
	ident := func() string {
		j := i
		for i < len(text) && isIdentChar(text[i]) {
			i++
		}
		return text[j:i]
	}
	segs = append(segs, selSeg{name: ident()})
	for i < len(text) {
		switch {
		case text[i] == '.' && i+1 < len(text) && isIdentStart(text[i+1]):
			i++
			segs = append(segs, selSeg{name: ident()})
		case text[i] == '[':
			end := -1
			if i+1 < len(text) && (text[i+1] == '"' || text[i+1] == '\'') {
				q := text[i+1]
				if k := strings.IndexByte(text[i+2:], q); k >= 0 && i+2+k+1 < len(text) && text[i+2+k+1] == ']' {
					segs = append(segs, selSeg{param: true, isStr: true, str: text[i+2 : i+2+k]})
					i = i + 2 + k + 2
					continue
				}
				return nil, 0, synErrf("%s: unterminated string parameter", clip(text))
			}
			if k := strings.IndexByte(text[i:], ']'); k >= 0 {
				end = i + k
			}
			if end < 0 {
				return nil, 0, synErrf("%s: missing ']'", clip(text))
			}
			in := strings.TrimSpace(text[i+1 : end])
			n, err := strconv.Atoi(in)
			if err != nil {
				return nil, 0, synErrf("%s: select parameter [%s] must be a number or a quoted string", text[:end+1], in)
			}
			segs = append(segs, selSeg{param: true, n: n})
			i = end + 1
		default:
			return segs, i, nil
		}
	}
	return segs, i, nil
}

// selCursor walks the segments while the tree is resolved.
type selCursor struct {
	segs []selSeg
	i    int
	text string
}

func (s *selCursor) done() bool { return s.i >= len(s.segs) }

// name takes the next segment if it is a name.
func (s *selCursor) name() (string, bool) {
	if s.done() || s.segs[s.i].param {
		return "", false
	}
	s.i++
	return s.segs[s.i-1].name, true
}

// param takes the next segment if it is a [param].
func (s *selCursor) param() (selSeg, bool) {
	if s.done() || !s.segs[s.i].param {
		return selSeg{}, false
	}
	s.i++
	return s.segs[s.i-1], true
}

func (s *selCursor) unknown() error {
	return synErrf("unknown select %s", s.text)
}

func (r *Registry) resolveSelect(segs []selSeg, text string) (getFn, error) {
	path := make([]string, 0, len(segs))
	for _, sg := range segs {
		if sg.param {
			path = nil
			break
		}
		path = append(path, sg.name)
	}
	if path != nil {
		if g := r.selects[strings.Join(path, ".")]; g != nil {
			return g, nil
		}
	}
	cur := &selCursor{segs: segs, text: text}
	root, _ := cur.name()
	var get getFn
	switch root {
	case "ruri":
		get = cur.uriSel(func(c *sr.Ctx) (string, bool) {
			req := request(c)
			if req == nil {
				return "", false
			}
			return uriString(&req.Recipient), true
		})
	case "from", "to":
		get = cur.addrSel(root == "from")
	case "contact":
		get = cur.contactSel()
	case "via":
		get = cur.viaSel()
	case "cseq":
		switch sub, _ := cur.name(); sub {
		case "":
			get = hdrGetter("CSeq")
		case "num":
			get = getCSeq
		case "method":
			get = func(c *sr.Ctx) sr.Value {
				if m := message(c); m != nil {
					if h := m.CSeq(); h != nil {
						return strOrNull(strings.TrimSpace(string(h.MethodName)))
					}
				}
				return sr.NullVal
			}
		}
	case "call_id", "callid":
		get = getCallID
	case "method":
		get = getMethod
	case "msg":
		switch sub, _ := cur.name(); sub {
		case "header":
			p, ok := cur.param()
			if ok && p.isStr && strings.TrimSpace(p.str) != "" {
				get = hdrGetter(strings.TrimSpace(p.str))
			}
		case "body":
			get = getBody
		}
	case "src", "dst":
		sub, _ := cur.name()
		switch {
		case root == "src" && sub == "ip":
			get = getSrcIP
		case root == "src" && sub == "port":
			get = asString(getSrcPort)
		case root == "dst" && sub == "ip":
			get = getRcvIP
		case root == "dst" && sub == "port":
			get = asString(getRcvPort)
		}
	case "cfg_get":
		g, ok1 := cur.name()
		v, ok2 := cur.name()
		if ok1 && ok2 {
			cell := r.cfgCell(g + "." + v)
			get = func(*sr.Ctx) sr.Value { return *cell.v.Load() }
		}
	}
	if get == nil || !cur.done() {
		return nil, cur.unknown()
	}
	return get, nil
}

func asString(g getFn) getFn {
	return func(c *sr.Ctx) sr.Value {
		v := g(c)
		if v.K == sr.Int {
			return sr.StrVal(strconv.Itoa(v.I))
		}
		return v
	}
}

// uriSel resolves the parts of a URI select.
func (s *selCursor) uriSel(src func(c *sr.Ctx) (string, bool)) getFn {
	sub, ok := s.name()
	if !ok {
		return func(c *sr.Ctx) sr.Value {
			u, ok := src(c)
			if !ok {
				return sr.NullVal
			}
			return strOrNull(u)
		}
	}
	var part func(u *rawURI) string
	switch sub {
	case "user":
		part = func(u *rawURI) string { return u.user }
	case "pwd":
		part = func(u *rawURI) string { return u.passwd }
	case "host":
		part = func(u *rawURI) string { return u.host }
	case "port":
		part = func(u *rawURI) string { return u.port }
	case "hostport":
		part = func(u *rawURI) string {
			if u.port == "" {
				return u.host
			}
			return u.host + ":" + u.port
		}
	case "params":
		part = func(u *rawURI) string { return u.params }
	case "transport":
		part = func(u *rawURI) string { v, _ := paramValue(u.params, "transport", ';'); return v }
	case "type":
		part = func(u *rawURI) string { return strings.ToLower(u.scheme) }
	default:
		return nil
	}
	return func(c *sr.Ctx) sr.Value {
		str, ok := src(c)
		if !ok {
			return sr.NullVal
		}
		u, ok := splitURI(str)
		if !ok {
			return sr.NullVal
		}
		return strOrNull(part(&u))
	}
}

func (s *selCursor) addrSel(from bool) getFn {
	hdr := func(c *sr.Ctx) (name string, addr *sip.Uri, params sip.HeaderParams, ok bool) {
		m := message(c)
		if m == nil {
			return
		}
		if from {
			if h := m.From(); h != nil {
				return h.DisplayName, &h.Address, h.Params, true
			}
			return
		}
		if h := m.To(); h != nil {
			return h.DisplayName, &h.Address, h.Params, true
		}
		return
	}
	sub, ok := s.name()
	if !ok {
		if from {
			return hdrGetter("From")
		}
		return hdrGetter("To")
	}
	switch sub {
	case "uri":
		return s.uriSel(func(c *sr.Ctx) (string, bool) {
			_, a, _, ok := hdr(c)
			if !ok || (a.Host == "" && a.Raw() == "") {
				return "", false
			}
			return uriString(a), true
		})
	case "tag":
		return func(c *sr.Ctx) sr.Value {
			_, _, p, ok := hdr(c)
			if !ok {
				return sr.NullVal
			}
			t, _ := headerParam(p, "tag")
			return strOrNull(t)
		}
	case "name":
		return func(c *sr.Ctx) sr.Value {
			n, _, _, ok := hdr(c)
			if !ok {
				return sr.NullVal
			}
			return strOrNull(n)
		}
	}
	return nil
}

func (s *selCursor) contactSel() getFn {
	first := func(c *sr.Ctx) *sip.ContactHeader {
		m := message(c)
		if m == nil {
			return nil
		}
		h, _ := sipmsg.Header(m, "Contact").(*sip.ContactHeader)
		return h
	}
	sub, ok := s.name()
	if !ok {
		return hdrGetter("Contact")
	}
	switch sub {
	case "uri":
		return s.uriSel(func(c *sr.Ctx) (string, bool) {
			h := first(c)
			if h == nil || h.Address.Wildcard {
				return "", false
			}
			return uriString(&h.Address), true
		})
	case "name":
		return func(c *sr.Ctx) sr.Value {
			if h := first(c); h != nil {
				return strOrNull(h.DisplayName)
			}
			return sr.NullVal
		}
	case "q", "expires":
		return func(c *sr.Ctx) sr.Value {
			if h := first(c); h != nil {
				v, _ := headerParam(h.Params, sub)
				return strOrNull(v)
			}
			return sr.NullVal
		}
	}
	return nil
}

func (s *selCursor) viaSel() getFn {
	idx := 0
	if p, ok := s.param(); ok {
		if p.isStr || p.n < 0 {
			return nil
		}
		idx = p.n
	}
	via := func(c *sr.Ctx) *sip.ViaHeader {
		m := message(c)
		if m == nil {
			return nil
		}
		hs := sipmsg.Headers(m, "Via")
		if idx >= len(hs) {
			return nil
		}
		v, _ := hs[idx].(*sip.ViaHeader)
		return v
	}
	sub, ok := s.name()
	if !ok {
		return func(c *sr.Ctx) sr.Value {
			if v := via(c); v != nil {
				return sr.StrVal(hdrValue(v))
			}
			return sr.NullVal
		}
	}
	var part func(v *sip.ViaHeader) string
	switch sub {
	case "host":
		part = func(v *sip.ViaHeader) string { return v.Host }
	case "port":
		part = func(v *sip.ViaHeader) string {
			if v.Port > 0 {
				return strconv.Itoa(v.Port)
			}
			return ""
		}
	case "transport", "proto":
		part = func(v *sip.ViaHeader) string { return v.Transport }
	case "branch", "received", "rport", "maddr", "ttl":
		part = func(v *sip.ViaHeader) string { p, _ := headerParam(v.Params, sub); return p }
	default:
		return nil
	}
	return func(c *sr.Ctx) sr.Value {
		if v := via(c); v != nil {
			return strOrNull(part(v))
		}
		return sr.NullVal
	}
}
