package pv

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"sip-router.org/core/sr"
)

// transform is one compiled transformation: {s.substr,1,$var(n)}.
type transform struct {
	name string
	def  *trDef
	args []trArg
}

// trArg is a transformation argument: a constant or a pseudo-variable.
type trArg struct {
	text string
	n    int
	pv   *Spec
}

func (a *trArg) intVal(c *sr.Ctx) (int, bool) {
	if a.pv != nil {
		return a.pv.Get(c).AsInt()
	}
	return a.n, true
}

func (a *trArg) strVal(c *sr.Ctx) (string, bool) {
	if a.pv != nil {
		v := a.pv.Get(c)
		if v.IsNull() || v.Text() == "" {
			return "", false
		}
		return v.Text(), true
	}
	return a.text, true
}

// sepAny stands for "any blank" in {s.select,n,\s}.
const sepAny = -1

// Argument kinds.
const (
	argNum  = 'n' // a number or a pseudo-variable
	argStr  = 's' // a string or a pseudo-variable
	argChar = 'c' // one separator character (constant)
)

type trDef struct {
	// kinds lists the argument kinds; min of them are required.
	kinds string
	min   int
	// apply runs the transformation on a non-null value.
	apply func(c *sr.Ctx, t *transform, v sr.Value) (sr.Value, bool)
}

// apply runs one transformation.
func (t *transform) apply(c *sr.Ctx, v sr.Value) (sr.Value, bool) {
	return t.def.apply(c, t, v)
}

var transforms map[string]*trDef

func init() {
	transforms = map[string]*trDef{
		"s.len":             {apply: trLen},
		"s.int":             {apply: trInt},
		"s.md5":             {apply: trMD5},
		"s.substr":          {kinds: "nn", min: 2, apply: trSubstr},
		"s.select":          {kinds: "nc", min: 2, apply: trSelect},
		"s.tolower":         {apply: trCase(false)},
		"s.toupper":         {apply: trCase(true)},
		"s.encode.hexa":     {apply: trEncodeHex},
		"s.decode.hexa":     {apply: trDecodeHex},
		"s.escape.common":   {apply: trText(escapeCommon)},
		"s.unescape.common": {apply: trText(unescapeCommon)},
		"s.escape.user":     {apply: trText(func(s string) (string, bool) { return escapeURIPart(s, userSafe), true })},
		"s.unescape.user":   {apply: trText(unescapePercent)},
		"s.escape.param":    {apply: trText(func(s string) (string, bool) { return escapeURIPart(s, paramSafe), true })},
		"s.unescape.param":  {apply: trText(unescapePercent)},

		"uri.user":      {apply: trURI(func(u *rawURI) string { return u.user })},
		"uri.host":      {apply: trURI(func(u *rawURI) string { return u.host })},
		"uri.domain":    {apply: trURI(func(u *rawURI) string { return u.host })},
		"uri.passwd":    {apply: trURI(func(u *rawURI) string { return u.passwd })},
		"uri.params":    {apply: trURI(func(u *rawURI) string { return u.params })},
		"uri.headers":   {apply: trURI(func(u *rawURI) string { return u.headers })},
		"uri.transport": {apply: trURIParam("transport")},
		"uri.ttl":       {apply: trURIParam("ttl")},
		"uri.uparam":    {apply: trURIParam("user")},
		"uri.maddr":     {apply: trURIParam("maddr")},
		"uri.method":    {apply: trURIParam("method")},
		"uri.lr":        {apply: trURIParam("lr")},
		"uri.r2":        {apply: trURIParam("r2")},
		"uri.port":      {apply: trURIPort},
		"uri.param":     {kinds: "s", min: 1, apply: trURIParamArg},

		"param.value":   {kinds: "sc", min: 1, apply: trParamValue},
		"param.valueat": {kinds: "nc", min: 1, apply: trParamAt(false)},
		"param.name":    {kinds: "nc", min: 1, apply: trParamAt(true)},
		"param.count":   {kinds: "c", min: 0, apply: trParamCount},

		"nameaddr.name": {apply: trNameAddr(0)},
		"nameaddr.uri":  {apply: trNameAddr(1)},
		"nameaddr.len":  {apply: trNameAddr(2)},

		"tobody.uri":     {apply: trToBody(func(t *toBody, u *rawURI) string { return t.uri })},
		"tobody.display": {apply: trToBody(func(t *toBody, u *rawURI) string { return t.display })},
		"tobody.tag":     {apply: trToBody(func(t *toBody, u *rawURI) string { return t.tag })},
		"tobody.user":    {apply: trToBody(func(t *toBody, u *rawURI) string { return u.user })},
		"tobody.host":    {apply: trToBody(func(t *toBody, u *rawURI) string { return u.host })},
		"tobody.params":  {apply: trToBody(func(t *toBody, u *rawURI) string { return t.params })},
	}
}

// transformClasses are the classes a format may mistake for text after a
// pseudo-variable: "$ru{uri.user}" is flagged, "$ru{x}" is not.
var transformClasses = []string{"s.", "uri.", "param.", "nameaddr.", "tobody."}

func looksLikeTransform(s string) bool {
	if !strings.HasPrefix(s, "{") {
		return false
	}
	for _, p := range transformClasses {
		if strings.HasPrefix(s[1:], p) {
			return true
		}
	}
	return false
}

// parseTransforms compiles "{tr1}{tr2,args}..." (blanks allowed between).
func (r *Registry) parseTransforms(s string, mode Compat, full string) ([]*transform, error) {
	var out []*transform
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			return out, nil
		}
		if s[0] != '{' {
			return nil, synErrf("%s: unexpected %q after the transformations", full, clip(s))
		}
		end := matchClose(s, 0, '{', '}')
		if end < 0 {
			return nil, synErrf("%s: missing '}' in %q", full, clip(s))
		}
		t, err := r.parseTransform(s[:end+1], mode, full)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		s = s[end+1:]
	}
}

// parseTransform compiles one "{class.name,arg,...}".
func (r *Registry) parseTransform(tr string, mode Compat, full string) (*transform, error) {
	name, rest, hasArgs := strings.Cut(tr[1:len(tr)-1], ",")
	name = strings.TrimSpace(name)
	def := transforms[name]
	if def == nil {
		return nil, fmt.Errorf("%s: %w {%s}", full, ErrUnknownTransformation, name)
	}
	var args []string
	if hasArgs {
		args = splitArgs(rest, len(def.kinds))
	}
	if len(args) < def.min || len(args) > len(def.kinds) {
		return nil, synErrf("%s: transformation %s takes %s", full, tr, argCount(def))
	}
	t := &transform{name: name, def: def, args: make([]trArg, len(args))}
	for i, a := range args {
		kind := def.kinds[i]
		ta := &t.args[i]
		ta.text = a
		if s := strings.TrimSpace(a); s != "" {
			ta.text = s
		}
		if kind != argChar && strings.HasPrefix(ta.text, "$") {
			sp, err := r.Parse(ta.text, mode)
			if err != nil {
				return nil, fmt.Errorf("%s: transformation %s: argument %d: %w", full, tr, i+1, err)
			}
			ta.pv = sp
			continue
		}
		switch kind {
		case argNum:
			n, err := strconv.Atoi(ta.text)
			if err != nil {
				return nil, synErrf("%s: transformation %s: argument %d (%q) is not a number", full, tr, i+1, a)
			}
			ta.n = n
		case argChar:
			n, ok := sepChar(ta.text)
			if !ok {
				return nil, synErrf("%s: transformation %s: argument %d (%q) must be one character (or \\s, \\t, \\n, \\r, \\w, \\\\)", full, tr, i+1, a)
			}
			ta.n = n
		}
	}
	return t, nil
}

func argCount(d *trDef) string {
	switch {
	case len(d.kinds) == 0:
		return "no arguments"
	case d.min == len(d.kinds):
		return strconv.Itoa(d.min) + " argument(s)"
	}
	return strconv.Itoa(d.min) + " to " + strconv.Itoa(len(d.kinds)) + " arguments"
}

// splitArgs splits on commas outside (), [] and {}, into at most max
// parts (at least one): the last part keeps its commas, so a separator
// argument may be a comma ({s.select,1,,}).
func splitArgs(s string, max int) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s) && len(out) < max-1; i++ {
		switch s[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// sepChar reads a separator: one character, or an escape as in
// Kamailio's {s.select}: \s (any blank), \w (space), \t, \n, \r, \\.
func sepChar(a string) (int, bool) {
	switch {
	case len(a) == 1:
		return int(a[0]), true
	case len(a) == 2 && a[0] == '\\':
		switch a[1] {
		case 's':
			return sepAny, true
		case 'w':
			return ' ', true
		case 't':
			return '\t', true
		case 'n':
			return '\n', true
		case 'r':
			return '\r', true
		case '\\':
			return '\\', true
		}
	}
	return 0, false
}

func isSep(b byte, sep int) bool {
	if sep == sepAny {
		return b == ' ' || b == '\t' || b == '\n' || b == '\r'
	}
	return int(b) == sep
}

// --- s.* ----------------------------------------------------------------

func trLen(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
	if v.K == sr.Int {
		return sr.IntVal(len(strconv.Itoa(v.I))), true
	}
	return sr.IntVal(len(v.S)), true
}

func trInt(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
	if v.K == sr.Int {
		return v, true
	}
	n, err := strconv.Atoi(v.S)
	if err != nil {
		return sr.NullVal, false
	}
	return sr.IntVal(n), true
}

func trMD5(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
	sum := md5.Sum([]byte(v.Text()))
	return sr.StrVal(hex.EncodeToString(sum[:])), true
}

// trSubstr is {s.substr,offset,length}: a negative offset counts from
// the end; length 0, or one reaching past the end, means "to the end";
// an offset outside the string or a negative length fails.
func trSubstr(c *sr.Ctx, t *transform, v sr.Value) (sr.Value, bool) {
	s := v.Text()
	i, ok1 := t.args[0].intVal(c)
	j, ok2 := t.args[1].intVal(c)
	if !ok1 || !ok2 || j < 0 {
		return sr.NullVal, false
	}
	if i >= 0 {
		if i >= len(s) {
			return sr.NullVal, false
		}
		if j == 0 || i+j >= len(s) {
			return sr.StrVal(s[i:]), true
		}
		return sr.StrVal(s[i : i+j]), true
	}
	i = -i
	if i > len(s) {
		return sr.NullVal, false
	}
	if i < j || j == 0 {
		return sr.StrVal(s[len(s)-i:]), true
	}
	return sr.StrVal(s[len(s)-i : len(s)-i+j]), true
}

// trSelect is {s.select,index,separator}: the index-th field (from 0;
// negative counts from the end, -1 the last); out of range gives "".
func trSelect(c *sr.Ctx, t *transform, v sr.Value) (sr.Value, bool) {
	s := v.Text()
	n, ok := t.args[0].intVal(c)
	if !ok {
		return sr.NullVal, false
	}
	sep := t.args[1].n
	if n >= 0 {
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || isSep(s[i], sep) {
				if n == 0 {
					return sr.StrVal(s[start:i]), true
				}
				n--
				start = i + 1
			}
		}
		return sr.StrVal(""), true
	}
	n = -n - 1
	end := len(s)
	for i := len(s) - 1; i >= -1; i-- {
		if i == -1 || isSep(s[i], sep) {
			if n == 0 {
				return sr.StrVal(s[i+1 : end]), true
			}
			n--
			end = i
		}
	}
	return sr.StrVal(""), true
}

// trCase maps ASCII letters only, as Kamailio does.
func trCase(upper bool) func(*sr.Ctx, *transform, sr.Value) (sr.Value, bool) {
	return func(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
		s := v.Text()
		lo, hi := byte('A'), byte('Z')
		if upper {
			lo, hi = 'a', 'z'
		}
		for i := 0; i < len(s); i++ {
			if s[i] >= lo && s[i] <= hi {
				b := []byte(s)
				for j := i; j < len(b); j++ {
					if b[j] >= lo && b[j] <= hi {
						b[j] ^= 0x20
					}
				}
				return sr.StrVal(string(b)), true
			}
		}
		return sr.StrVal(s), true
	}
}

func trEncodeHex(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
	return sr.StrVal(hex.EncodeToString([]byte(v.Text()))), true
}

// trDecodeHex decodes pairs of hex digits; a trailing odd digit is
// ignored (as in Kamailio), a non-hex digit fails.
func trDecodeHex(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
	s := v.Text()
	b := make([]byte, len(s)/2)
	if _, err := hex.Decode(b, []byte(s[:len(s)/2*2])); err != nil {
		return sr.NullVal, false
	}
	return sr.StrVal(string(b)), true
}

func trText(f func(string) (string, bool)) func(*sr.Ctx, *transform, sr.Value) (sr.Value, bool) {
	return func(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
		s, ok := f(v.Text())
		if !ok {
			return sr.NullVal, false
		}
		return sr.StrVal(s), true
	}
}

// escapeCommon backslash-escapes ', ", \ and NUL (as \0).
func escapeCommon(s string) (string, bool) {
	if !strings.ContainsAny(s, "'\"\\\x00") {
		return s, true
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"', '\\':
			b = append(b, '\\', c)
		case 0:
			b = append(b, '\\', '0')
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

// unescapeCommon undoes escapeCommon; other backslashes stay.
func unescapeCommon(s string) (string, bool) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\'', '"', '\\':
				b = append(b, s[i+1])
				i++
				continue
			case '0':
				b = append(b, 0)
				i++
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b), true
}

// Characters left as they are by {s.escape.user} (RFC 3261 unreserved
// and user-unreserved, as Kamailio's escape_user lists them) and
// {s.escape.param} (unreserved and param-unreserved).
const (
	userSafe  = "-_.!~*'()&=+$,;?"
	paramSafe = "-_.!~*'()[]/:&+$"
)

// escapeURIPart %-escapes (lower-case hex, as Kamailio) every byte that
// is not alphanumeric or in safe. Unlike Kamailio, which refuses them,
// non-ASCII (UTF-8) and control bytes are escaped too.
func escapeURIPart(s, safe string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !uriSafe(s[i], safe) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const digits = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriSafe(c, safe) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', digits[c>>4], digits[c&0xf])
	}
	return string(b)
}

func uriSafe(c byte, safe string) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(safe, c) >= 0
}

// unescapePercent decodes %XX escapes. It fails on a malformed escape and
// on one that decodes to a control character (%00 … %1f, %7f), which
// Kamailio refuses as well; UTF-8 bytes (%c3%a9) are accepted.
func unescapePercent(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		c := hi<<4 | lo
		if c < 0x20 || c == 0x7f {
			return "", false
		}
		b = append(b, c)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// --- uri.* ----------------------------------------------------------------

// uriOf is the value a uri.*, param.*, nameaddr.* or tobody.*
// transformation works on: a non-empty string (an integer fails, as in
// Kamailio).
func uriOf(v sr.Value) (string, bool) {
	if v.K != sr.Str || v.S == "" {
		return "", false
	}
	return v.S, true
}

func trURI(part func(u *rawURI) string) func(*sr.Ctx, *transform, sr.Value) (sr.Value, bool) {
	return func(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
		s, ok := uriOf(v)
		if !ok {
			return sr.NullVal, false
		}
		u, ok := splitURI(s)
		if !ok {
			return sr.NullVal, false
		}
		return sr.StrVal(part(&u)), true
	}
}

func trURIParam(name string) func(*sr.Ctx, *transform, sr.Value) (sr.Value, bool) {
	return trURI(func(u *rawURI) string {
		v, _ := paramValue(u.params, name, ';')
		return v
	})
}

// trURIPort gives the port as an integer, or "" when the URI has none.
func trURIPort(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
	s, ok := uriOf(v)
	if !ok {
		return sr.NullVal, false
	}
	u, ok := splitURI(s)
	if !ok {
		return sr.NullVal, false
	}
	if u.port == "" {
		return sr.StrVal(""), true
	}
	return sr.IntVal(u.portN), true
}

func trURIParamArg(c *sr.Ctx, t *transform, v sr.Value) (sr.Value, bool) {
	s, ok := uriOf(v)
	if !ok {
		return sr.NullVal, false
	}
	u, ok := splitURI(s)
	if !ok {
		return sr.NullVal, false
	}
	name, ok := t.args[0].strVal(c)
	if !ok {
		return sr.NullVal, false
	}
	p, _ := paramValue(u.params, name, ';')
	return sr.StrVal(p), true
}

// --- param.* --------------------------------------------------------------

// paramList splits "a=1;b;c=2" into trimmed name/value pairs; a trailing
// separator and empty items are ignored, quoted values are unquoted.
func paramList(s string, sep byte) ([][2]string, bool) {
	var out [][2]string
	for s != "" {
		var item string
		if i := indexUnquoted(s, sep); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			item, s = s, ""
		}
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		n, v, _ := strings.Cut(item, "=")
		n, v = strings.TrimSpace(n), strings.TrimSpace(v)
		if n == "" {
			return nil, false
		}
		if strings.HasPrefix(v, `"`) {
			u, ok := unquote(v)
			if !ok {
				return nil, false
			}
			v = u
		}
		out = append(out, [2]string{n, v})
	}
	return out, len(out) > 0
}

func sepArg(t *transform, i int) byte {
	if i < len(t.args) && t.args[i].n != sepAny {
		return byte(t.args[i].n)
	}
	return ';'
}

func trParamValue(c *sr.Ctx, t *transform, v sr.Value) (sr.Value, bool) {
	s, ok := uriOf(v)
	if !ok {
		return sr.NullVal, false
	}
	list, ok := paramList(s, sepArg(t, 1))
	if !ok {
		return sr.NullVal, false
	}
	name, ok := t.args[0].strVal(c)
	if !ok {
		return sr.NullVal, false
	}
	for _, p := range list {
		if strings.EqualFold(p[0], name) {
			return sr.StrVal(p[1]), true
		}
	}
	return sr.StrVal(""), true
}

func trParamAt(wantName bool) func(*sr.Ctx, *transform, sr.Value) (sr.Value, bool) {
	return func(c *sr.Ctx, t *transform, v sr.Value) (sr.Value, bool) {
		s, ok := uriOf(v)
		if !ok {
			return sr.NullVal, false
		}
		list, ok := paramList(s, sepArg(t, 1))
		if !ok {
			return sr.NullVal, false
		}
		n, ok := t.args[0].intVal(c)
		if !ok {
			return sr.NullVal, false
		}
		if n < 0 {
			n += len(list)
		}
		if n < 0 || n >= len(list) {
			return sr.StrVal(""), true
		}
		if wantName {
			return sr.StrVal(list[n][0]), true
		}
		return sr.StrVal(list[n][1]), true
	}
}

func trParamCount(_ *sr.Ctx, t *transform, v sr.Value) (sr.Value, bool) {
	s, ok := uriOf(v)
	if !ok {
		return sr.NullVal, false
	}
	list, ok := paramList(s, sepArg(t, 0))
	if !ok {
		return sr.NullVal, false
	}
	return sr.IntVal(len(list)), true
}

// --- nameaddr.* and tobody.* ----------------------------------------------

func trNameAddr(part int) func(*sr.Ctx, *transform, sr.Value) (sr.Value, bool) {
	return func(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
		s, ok := uriOf(v)
		if !ok {
			return sr.NullVal, false
		}
		name, uri, n, ok := splitNameAddr(s)
		if !ok {
			return sr.NullVal, false
		}
		switch part {
		case 0:
			return sr.StrVal(name), true
		case 1:
			return sr.StrVal(uri), true
		}
		return sr.IntVal(n), true
	}
}

func trToBody(part func(t *toBody, u *rawURI) string) func(*sr.Ctx, *transform, sr.Value) (sr.Value, bool) {
	return func(_ *sr.Ctx, _ *transform, v sr.Value) (sr.Value, bool) {
		s, ok := uriOf(v)
		if !ok {
			return sr.NullVal, false
		}
		tb, ok := parseToBody(s)
		if !ok {
			return sr.NullVal, false
		}
		u, _ := splitURI(tb.uri)
		return sr.StrVal(part(&tb, &u)), true
	}
}
