package pv

import (
	"fmt"
	"strconv"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// Kind says what a compiled Spec reads.
type Kind uint8

// Spec kinds.
const (
	// KindPV is a pseudo-variable: $ru, $avp(x), $(hdr(Via)[1]) …
	KindPV Kind = iota + 1
	// KindAttr is a SER attribute: $account, $f.did, $t.fr_timer[1] …
	KindAttr
	// KindSelect is a SER select: @from.uri.host, @msg.header["X"] …
	KindSelect
)

type (
	getFn func(c *sr.Ctx) sr.Value
	setFn func(c *sr.Ctx, v sr.Value) error
)

// Spec is one compiled pseudo-variable, attribute or select. It is built
// once when the configuration loads and read (Get) or assigned (Set) for
// each message. It implements sr.Getter and sr.Setter; Set on a
// read-only spec returns an error wrapping ErrReadOnly, and ParseSetter
// refuses such a spec up front.
type Spec struct {
	text  string
	kind  Kind
	get   getFn
	set   setFn
	trans []*transform
	avp   *avpIdent
}

var (
	_ sr.Getter = (*Spec)(nil)
	_ sr.Setter = (*Spec)(nil)
)

// Get returns the value for a message. A value that is not there (a
// header the message lacks, an unset AVP, a reply's R-URI) is null.
// Transformations apply left to right; one that cannot apply (a null
// input, an unparsable URI, an offset out of range) makes the result
// null, where Kamailio fails the expression.
func (s *Spec) Get(c *sr.Ctx) sr.Value {
	if c == nil {
		return sr.NullVal
	}
	v := s.get(c)
	for _, t := range s.trans {
		if v.IsNull() {
			return v
		}
		var ok bool
		if v, ok = t.apply(c, v); !ok {
			return sr.NullVal
		}
	}
	return v
}

// Set assigns v. Assigning null ($null) deletes where that means
// something ($avp, SER attributes, $du, $fs) and is an error where it
// does not ($ru, $rd).
func (s *Spec) Set(c *sr.Ctx, v sr.Value) error {
	if s.set == nil {
		return s.readOnlyErr()
	}
	if c == nil {
		return fmt.Errorf("%s: no message context", s.text)
	}
	return s.set(c, v)
}

func (s *Spec) readOnlyErr() error {
	if len(s.trans) > 0 {
		return fmt.Errorf("%w %s: a pseudo-variable with transformations cannot be assigned to", ErrReadOnly, s.text)
	}
	return fmt.Errorf("%w %s", ErrReadOnly, s.text)
}

// Writable reports whether Set can succeed.
func (s *Spec) Writable() bool { return s.set != nil }

// String returns the source text.
func (s *Spec) String() string { return s.text }

// Kind says whether s is a pseudo-variable, an attribute or a select.
func (s *Spec) Kind() Kind { return s.kind }

// AVP returns the AVP s addresses when it is a SER attribute or an
// $avp(...) with a constant name: its name and the track and class bits
// written in it (0 when none were). Modules that work on AVPs directly
// (setavpflag, t_set_fr) use it.
func (s *Spec) AVP() (sr.AVPName, sr.AVPFlags, bool) {
	if s.avp == nil || s.avp.dyn != nil {
		return sr.AVPName{}, 0, false
	}
	return s.avp.name, s.avp.flags, true
}

// Parse compiles the text of one pseudo-variable, attribute or select
// ("$ru", "$(hdr(Via)[-1])", "$avp(s:x)", "$f.did", "@from.uri.host")
// as the configuration writes it, in the given compatibility mode. The
// whole text must be one item.
func (r *Registry) Parse(text string, mode Compat) (*Spec, error) {
	s, n, err := r.ParsePrefix(text, mode)
	if err != nil {
		return nil, err
	}
	if n < len(text) {
		rest := text[n:]
		if rest[0] == '{' && s.kind == KindPV {
			return nil, synErrf("%s%s: transformations need the $(...) form", text[:n], rest)
		}
		if rest[0] == '(' && mode == SER && s.kind == KindAttr {
			return nil, synErrf("%s: $name(...) pseudo-variables do not exist in SER compatibility mode (#!SER), where $ starts an attribute", text)
		}
		return nil, synErrf("%s: unexpected %q after %s", text, rest, text[:n])
	}
	return s, nil
}

// ParseSetter is Parse for the left side of an assignment: the item must
// be writable.
func (r *Registry) ParseSetter(text string, mode Compat) (*Spec, error) {
	s, err := r.Parse(text, mode)
	if err != nil {
		return nil, err
	}
	if s.set == nil {
		return nil, s.readOnlyErr()
	}
	return s, nil
}

// ParsePrefix compiles the pseudo-variable, attribute or select at the
// start of text and returns how many bytes it took. Formats and the
// configuration lexer use it to find where an item ends.
func (r *Registry) ParsePrefix(text string, mode Compat) (*Spec, int, error) {
	if text == "" {
		return nil, 0, synErrf("empty pseudo-variable")
	}
	switch text[0] {
	case '@':
		return r.parseSelectPrefix(text)
	case '$':
	default:
		return nil, 0, synErrf("%q is not a pseudo-variable: it must start with $ or @", clip(text))
	}
	if len(text) == 1 {
		return nil, 0, synErrf(`"$" must be followed by a name (write $$ for a literal $)`)
	}
	switch text[1] {
	case '$':
		return markerSpec(), 2, nil
	case '(':
		if mode == SER {
			return nil, 0, synErrf("%s: $(...) pseudo-variables do not exist in SER compatibility mode (#!SER), where $ starts an attribute", clip(text))
		}
		return r.parseParen(text, mode)
	case '?':
		if len(text) == 2 || !isPVNameChar(text[2]) || mode == SER {
			return r.compileSimple("?", text[:2])
		}
	}
	if mode == SER {
		return r.parseAttrPrefix(text)
	}
	i := 1
	for i < len(text) && isPVNameChar(text[i]) {
		i++
	}
	for i > 2 && text[i-1] == '.' {
		i-- // a name does not end with a dot: "$tt." is $tt and a full stop
	}
	name := text[1:i]
	if name == "" {
		return nil, 0, synErrf("%q: \"$\" must be followed by a name (write $$ for a literal $)", clip(text))
	}
	var next byte
	if i < len(text) {
		next = text[i]
	}
	if mode == MaxCompat {
		if dot := strings.IndexByte(name, '.'); dot > 0 && isAttrPrefix(name[:dot]) {
			return r.parseAttrPrefix(text)
		}
		if next == '[' {
			return r.parseAttrPrefix(text)
		}
	}
	cls := r.classes[name]
	if next == '(' {
		end := matchClose(text, i, '(', ')')
		if end < 0 {
			return nil, 0, synErrf("%s: missing ')'", clip(text))
		}
		if cls == nil {
			return nil, 0, fmt.Errorf("%w $%s", ErrUnknown, name)
		}
		s, err := r.compile(cls, &build{
			r: r, mode: mode, text: text[:end+1], name: name,
			inner: text[i+1 : end], hasInner: true,
		})
		if err != nil {
			return nil, 0, err
		}
		return s, end + 1, nil
	}
	if cls == nil || (mode == MaxCompat && cls.inner == innerNeed) {
		if mode == MaxCompat {
			return r.parseAttrPrefix(text)
		}
		if cls == nil {
			return nil, 0, fmt.Errorf("%w $%s", ErrUnknown, name)
		}
	}
	s, err := r.compile(cls, &build{r: r, mode: mode, text: text[:i], name: name})
	if err != nil {
		return nil, 0, err
	}
	return s, i, nil
}

// compileSimple compiles a class that takes no inner name.
func (r *Registry) compileSimple(name, text string) (*Spec, int, error) {
	s, err := r.compile(r.classes[name], &build{r: r, text: text, name: name})
	if err != nil {
		return nil, 0, err
	}
	return s, len(text), nil
}

// parseParen parses the $(name(inner)[index]{tr}...) form.
func (r *Registry) parseParen(text string, mode Compat) (*Spec, int, error) {
	end := matchClose(text, 1, '(', ')')
	if end < 0 {
		return nil, 0, synErrf("%s: missing ')'", clip(text))
	}
	full := text[:end+1]
	body := text[2:end]
	k := 0
	for k < len(body) && isPVNameChar(body[k]) {
		k++
	}
	name := body[:k]
	if name == "" {
		return nil, 0, synErrf("%s: missing pseudo-variable name after $(", full)
	}
	b := &build{r: r, mode: mode, text: full, name: name}
	rest := body[k:]
	if strings.HasPrefix(rest, "(") {
		e := matchClose(rest, 0, '(', ')')
		if e < 0 {
			return nil, 0, synErrf("%s: missing ')' after the name of $%s", full, name)
		}
		b.inner, b.hasInner = rest[1:e], true
		rest = rest[e+1:]
	}
	if strings.HasPrefix(rest, "[") {
		e := matchClose(rest, 0, '[', ']')
		if e < 0 {
			return nil, 0, synErrf("%s: missing ']'", full)
		}
		ix, err := r.parseIndex(rest[1:e], mode, full)
		if err != nil {
			return nil, 0, err
		}
		b.idx = ix
		rest = rest[e+1:]
	}
	var trText string
	if t := strings.TrimLeft(rest, " \t"); strings.HasPrefix(t, "{") {
		trText, rest = t, ""
	}
	if rest != "" {
		return nil, 0, synErrf("%s: unexpected %q after $%s", full, rest, name)
	}
	cls := r.classes[name]
	if cls == nil {
		return nil, 0, fmt.Errorf("%w $%s", ErrUnknown, name)
	}
	s, err := r.compile(cls, b)
	if err != nil {
		return nil, 0, err
	}
	if trText != "" {
		trs, err := r.parseTransforms(trText, mode, full)
		if err != nil {
			return nil, 0, err
		}
		s.trans = trs
		s.set = nil
	}
	return s, end + 1, nil
}

// index is a compiled [n], [-n], [*] or [$pv].
type index struct {
	kind idxKind
	n    int
	pv   *Spec
}

type idxKind uint8

const (
	idxNone idxKind = iota
	idxInt
	idxAll
	idxPV
)

func (r *Registry) parseIndex(s string, mode Compat, full string) (index, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "*":
		return index{kind: idxAll}, nil
	case strings.HasPrefix(t, "$"):
		sp, err := r.Parse(t, mode)
		if err != nil {
			return index{}, fmt.Errorf("%s: index: %w", full, err)
		}
		return index{kind: idxPV, pv: sp}, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || t == "" || t[0] == '+' {
		return index{}, synErrf("%s: invalid index [%s] (use a number, -1 or *)", full, s)
	}
	return index{kind: idxInt, n: n}, nil
}

// at resolves the index for a message: a position, or all.
func (ix *index) at(c *sr.Ctx) (n int, all, ok bool) {
	switch ix.kind {
	case idxNone:
		return 0, false, true
	case idxAll:
		return 0, true, true
	case idxInt:
		return ix.n, false, true
	}
	n, ok = ix.pv.Get(c).AsInt()
	return n, false, ok
}

// class is a pseudo-variable class: $ru, $hdr(...), a module's $ulc(...).
type class struct {
	name  string
	inner innerMode
	index bool
	// build compiles one use of the class.
	build func(b *build) (getFn, setFn, error)
}

type innerMode uint8

const (
	innerNo innerMode = iota
	innerNeed
)

// build is one use of a class being compiled.
type build struct {
	r        *Registry
	mode     Compat
	text     string
	name     string
	inner    string
	hasInner bool
	idx      index
	avp      *avpIdent
}

func (r *Registry) compile(cls *class, b *build) (*Spec, error) {
	switch {
	case b.hasInner && cls.inner == innerNo:
		return nil, synErrf("%s: $%s does not take a name in parentheses", b.text, cls.name)
	case !b.hasInner && cls.inner == innerNeed:
		return nil, synErrf("%s: $%s needs a name: write $%s(name)", b.text, cls.name, cls.name)
	case b.hasInner && strings.TrimSpace(b.inner) == "":
		return nil, synErrf("%s: empty name in parentheses", b.text)
	case b.idx.kind != idxNone && !cls.index:
		return nil, synErrf("%s: $%s does not take an index", b.text, cls.name)
	}
	get, set, err := cls.build(b)
	if err != nil {
		return nil, err
	}
	return &Spec{text: b.text, kind: KindPV, get: get, set: set, avp: b.avp}, nil
}

// moduleClass wraps a module's pseudo-variable.
func moduleClass(name string, inner bool, impl module.PVImpl) *class {
	c := &class{name: name}
	if inner {
		c.inner = innerNeed
	}
	c.build = func(b *build) (getFn, setFn, error) {
		var param any
		if b.hasInner {
			param = b.inner
			if impl.Parse != nil {
				p, err := impl.Parse(b.inner)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: invalid name %q: %w", b.text, b.inner, err)
				}
				param = p
			}
		}
		get := func(c *sr.Ctx) sr.Value { return impl.Get(c, param) }
		var set setFn
		if impl.Set != nil {
			set = func(c *sr.Ctx, v sr.Value) error { return impl.Set(c, param, v) }
		}
		return get, set, nil
	}
	return c
}

func markerSpec() *Spec {
	return &Spec{text: "$$", kind: KindPV, get: func(*sr.Ctx) sr.Value { return sr.StrVal("$") }}
}

// isPVNameChar is Kamailio's is_pv_valid_char.
func isPVNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '?'
}

// matchClose returns the index of the bracket closing the one at s[at],
// counting nested pairs, or -1.
func matchClose(s string, at int, open, close byte) int {
	depth := 0
	for i := at; i < len(s); i++ {
		switch s[i] {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// clip shortens text for error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
