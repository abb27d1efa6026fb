package textops

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// SER's header-value functions see a header as a list of comma-separated
// values (commas inside double quotes do not separate), counted across
// every header of the name in order: "Supported: a, b" and "Supported: c"
// are values 1, 2 and 3, or -3, -2 and -1 from the bottom. A value may
// have ";name=value" parameters after its URI or token.

type hfOp int

const (
	hfAppend hfOp = iota
	hfInsert
	hfRemove
	hfAssign
	hfInclude
	hfExclude
	hfExists
)

// maxFromBottom is how far from the bottom an index may count, as SER.
const maxFromBottom = 10

// hfSpec is the first argument: NAME, NAME[n], NAME[*] or NAME[], and
// optionally .PARAM.
type hfSpec struct {
	op     hfOp
	name   string
	idx    int
	hasIdx bool
	all    bool
	param  string
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

var errHFSpec = errors.New("not NAME, NAME[index] or NAME[*], optionally followed by .param")

func parseHFSpec(s string) (*hfSpec, error) {
	h := &hfSpec{}
	p := 0
	skip := func() {
		for p < len(s) && (s[p] == ' ' || s[p] == '\t') {
			p++
		}
	}
	word := func() string {
		st := p
		for p < len(s) && isNameChar(s[p]) {
			p++
		}
		return s[st:p]
	}
	skip()
	h.name = word()
	if h.name == "" {
		return nil, errHFSpec
	}
	skip()
	if p < len(s) && s[p] == '[' {
		p++
		skip()
		h.hasIdx = true
		switch {
		case p < len(s) && s[p] == '*':
			h.all = true
			p++
		case p < len(s) && s[p] != ']':
			st := p
			if s[p] == '-' || s[p] == '+' {
				p++
			}
			for p < len(s) && s[p] >= '0' && s[p] <= '9' {
				p++
			}
			n, err := strconv.Atoi(s[st:p])
			if err != nil {
				return nil, errHFSpec
			}
			h.idx = n
		}
		skip()
		if p >= len(s) || s[p] != ']' {
			return nil, errHFSpec
		}
		p++
	}
	skip()
	if p < len(s) && s[p] == '.' {
		p++
		skip()
		h.param = word()
		if h.param == "" {
			return nil, errHFSpec
		}
	}
	skip()
	if p != len(s) {
		return nil, errHFSpec
	}
	return h, nil
}

func fixHFValue(op hfOp) func(*textops, *module.Fixup, []module.Arg) ([]any, error) {
	return func(_ *textops, fx *module.Fixup, args []module.Arg) ([]any, error) {
		s, err := fx.Str(args[0])
		if err != nil {
			return nil, err
		}
		h, err := parseHFSpec(s)
		if err != nil {
			return nil, fx.Errorf(args[0], "%s: %q: %v", fx.Func, s, err)
		}
		h.op = op
		bad := func(format string, a ...any) error {
			return fx.Errorf(args[0], "%s: %q: %s", fx.Func, s, fmt.Sprintf(format, a...))
		}
		switch op {
		case hfAppend, hfInsert:
			if h.all {
				return nil, bad("[*] is not allowed")
			}
			if h.param != "" {
				return nil, bad("a parameter is not allowed")
			}
			if h.idx == 0 {
				h.idx = 1
				if op == hfAppend {
					h.idx = -1
				}
			}
		case hfRemove, hfAssign:
			if !h.hasIdx || h.idx == 0 {
				h.idx, h.hasIdx = 1, true
			}
		default:
			if h.hasIdx || h.param != "" {
				return nil, bad("neither an index nor a parameter may be given")
			}
		}
		if h.idx < -maxFromBottom {
			return nil, bad("an index cannot be below %d", -maxFromBottom)
		}
		p := []any{h}
		if len(args) == 2 {
			f, err := fx.TextFormat(args[1])
			if err != nil {
				return nil, err
			}
			p = append(p, f)
		}
		return p, nil
	}
}

// valSpan locates one value in a header value text: [s, e) is the value
// without blanks, [ls, le) the value with the blanks before it and the
// comma after it.
type valSpan struct{ s, e, ls, le int }

// splitValues finds the comma-separated values of v.
func splitValues(v string) []valSpan {
	var out []valSpan
	p := 0
	for {
		sp := valSpan{ls: p}
		for p < len(v) && (v[p] == ' ' || v[p] == '\t') {
			p++
		}
		sp.s = p
		quoted := false
		for p < len(v) && (v[p] != ',' || quoted) {
			if v[p] == '"' && (!quoted || v[p-1] != '\\') {
				quoted = !quoted
			}
			p++
		}
		sp.e = p
		for sp.e > sp.s && (v[sp.e-1] == ' ' || v[sp.e-1] == '\t') {
			sp.e--
		}
		more := p < len(v)
		if more {
			p++ // the comma
		}
		sp.le = p
		out = append(out, sp)
		if !more {
			return out
		}
	}
}

// valRef points at one value: line i of the header list, value k.
type valRef struct{ line, k int }

// findValue returns value idx (1-based, negative from the bottom) of the
// headers named name.
func findValue(lines []headerLine, name string, idx int) (valRef, bool) {
	var all []valRef
	for i, l := range lines {
		if !sipmsg.Same(l.name, name) {
			continue
		}
		for k := range splitValues(l.value) {
			all = append(all, valRef{i, k})
		}
	}
	switch {
	case idx > 0 && idx <= len(all):
		return all[idx-1], true
	case idx < 0 && -idx <= len(all) && -idx <= maxFromBottom:
		return all[len(all)+idx], true
	}
	return valRef{}, false
}

// removeValue deletes value k of lines[i]; the header goes when it was its
// only value. It returns the new list.
func removeValue(lines []headerLine, i, k int) []headerLine {
	v := lines[i].value
	vals := splitValues(v)
	if len(vals) == 1 {
		return append(lines[:i:i], lines[i+1:]...)
	}
	sp := vals[k]
	if k == len(vals)-1 {
		// The last value takes the comma before it.
		lines[i].value = strings.TrimRight(v[:vals[k-1].le-1], " \t")
		return lines
	}
	lines[i].value = v[:sp.ls] + v[sp.le:]
	return lines
}

// paramArea returns where the parameters of a value start: the first ';'
// outside quotes and <>.
func paramArea(v string) int {
	quoted, angle := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted:
			if c == '"' && v[i-1] != '\\' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == ';' && !angle:
			return i
		}
	}
	return len(v)
}

// findParam locates parameter name in value v: [start, end) is the whole
// ";name=value" with the blanks before the ';', nameEnd the end of the name.
func findParam(v, name string) (start, nameEnd, end int, ok bool) {
	i := paramArea(v)
	for i < len(v) {
		start = i
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i >= len(v) || v[i] != ';' {
			return 0, 0, 0, false
		}
		i++
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		ns := i
		for i < len(v) && v[i] != ' ' && v[i] != '\t' && v[i] != '=' && v[i] != ';' {
			i++
		}
		nameEnd = i
		found := strings.EqualFold(v[ns:i], name)
		j := i
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		if j < len(v) && v[j] == '=' {
			j++
			for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
				j++
			}
			if j < len(v) && v[j] == '"' {
				j++
				for j < len(v) && v[j] != '"' {
					j++
				}
				if j < len(v) {
					j++
				}
			} else {
				for j < len(v) && v[j] != ' ' && v[j] != '\t' && v[j] != ';' {
					j++
				}
			}
			i = j
		}
		if found {
			return start, nameEnd, i, true
		}
	}
	return 0, 0, 0, false
}

// setParam gives value v parameter name=val (just ;name when val is
// empty), replacing its value when it is there.
func setParam(v, name, val string) string {
	eq := ""
	if val != "" {
		eq = "=" + val
	}
	if _, ne, end, ok := findParam(v, name); ok {
		return v[:ne] + eq + v[end:]
	}
	return v + ";" + name + eq
}

// dropParam removes every parameter name from value v.
func dropParam(v, name string) (string, bool) {
	removed := false
	for {
		st, _, end, ok := findParam(v, name)
		if !ok {
			return v, removed
		}
		v, removed = v[:st]+v[end:], true
	}
}

// valueIndex returns the position of the first value of v equal to val
// (ignoring case), or -1.
func valueIndex(v, val string) int {
	for k, sp := range splitValues(v) {
		if sp.e > sp.s && strings.EqualFold(v[sp.s:sp.e], val) {
			return k
		}
	}
	return -1
}

// editValue applies fn to value k of lines[i].
func editValue(lines []headerLine, i, k int, fn func(string) string) {
	v := lines[i].value
	sp := splitValues(v)[k]
	lines[i].value = v[:sp.s] + fn(v[sp.s:sp.e]) + v[sp.e:]
}

func (m *textops) hfValue(c *sr.Ctx, p []any) int {
	msg := target(c)
	if msg == nil {
		return -1
	}
	h := p[0].(*hfSpec)
	val := ""
	if len(p) == 2 {
		val = p[1].(sr.Format).Expand(c)
		if strings.ContainsAny(val, "\r\n") || checkLineEnds(val) != nil {
			logf(c, slog.LevelWarn, "header value refused: it holds a line end or a control character",
				"header", h.name)
			return -1
		}
	}
	lines := linesOf(msg)
	ret, changed := h.run(lines, val)
	if ret > 0 && changed != nil {
		if err := rebuild(msg, changed); err != nil {
			logf(c, slog.LevelWarn, "header value change refused; the message is left unchanged",
				"header", h.name, "error", err)
			return -1
		}
	}
	return ret
}

// run applies the operation to lines and returns the result code and the
// new header list (nil when nothing changed).
func (h *hfSpec) run(lines []headerLine, val string) (int, []headerLine) {
	newHeader := headerLine{h.name, val}
	appendHeader := func() (int, []headerLine) { return 1, append(lines, newHeader) }
	switch h.op {
	case hfAppend:
		if !h.hasIdx {
			return appendHeader()
		}
		r, ok := findValue(lines, h.name, h.idx)
		if !ok {
			return appendHeader()
		}
		v := lines[r.line].value
		sp := splitValues(v)[r.k]
		if sp.le == len(v) {
			lines[r.line].value = v + "," + val
		} else {
			lines[r.line].value = v[:sp.le] + val + "," + v[sp.le:]
		}
		return 1, lines
	case hfInsert:
		r, ok := findValue(lines, h.name, h.idx)
		switch {
		case ok && !h.hasIdx:
			return 1, append(lines[:r.line:r.line], append([]headerLine{newHeader}, lines[r.line:]...)...)
		case !ok && h.idx == 1:
			return appendHeader()
		case ok:
			v := lines[r.line].value
			sp := splitValues(v)[r.k]
			lines[r.line].value = v[:sp.ls] + val + "," + v[sp.ls:]
			return 1, lines
		}
		return -1, nil
	case hfRemove, hfAssign:
		if h.all {
			return h.runAll(lines, val)
		}
		r, ok := findValue(lines, h.name, h.idx)
		if !ok {
			return -1, nil
		}
		switch {
		case h.param == "" && h.op == hfRemove:
			return 1, removeValue(lines, r.line, r.k)
		case h.param == "":
			editValue(lines, r.line, r.k, func(string) string { return val })
			return 1, lines
		case h.op == hfRemove:
			removed := false
			editValue(lines, r.line, r.k, func(v string) string {
				v, removed = dropParam(v, h.param)
				return v
			})
			if !removed {
				return -1, nil
			}
			return 1, lines
		}
		editValue(lines, r.line, r.k, func(v string) string { return setParam(v, h.param, val) })
		return 1, lines
	case hfInclude, hfExists:
		if val == "" {
			return -1, nil
		}
		first := -1
		for i, l := range lines {
			if !sipmsg.Same(l.name, h.name) {
				continue
			}
			if first < 0 {
				first = i
			}
			for _, sp := range splitValues(l.value) {
				if strings.EqualFold(l.value[sp.s:sp.e], val) {
					return 1, nil
				}
			}
		}
		switch {
		case h.op == hfExists:
			return -1, nil
		case first >= 0:
			lines[first].value += "," + val
			return 1, lines
		}
		return appendHeader()
	case hfExclude:
		if val == "" {
			return -1, nil
		}
		changed := false
		for i := 0; i < len(lines); {
			k := -1
			if sipmsg.Same(lines[i].name, h.name) {
				k = valueIndex(lines[i].value, val)
			}
			if k < 0 {
				i++
				continue
			}
			// Remove the value and look at the same line again (or at
			// the next one, now at i, when the header went).
			lines = removeValue(lines, i, k)
			changed = true
		}
		if !changed {
			return 1, nil
		}
		return 1, lines
	}
	return -1, nil
}

// runAll is remove_hf_value/assign_hf_value with [*]: without a parameter
// every header of the name goes (as SER does for both); with one, the
// parameter is removed from, or set in, every value.
func (h *hfSpec) runAll(lines []headerLine, val string) (int, []headerLine) {
	ret := -1
	out := lines[:0:0]
	for _, l := range lines {
		if !sipmsg.Same(l.name, h.name) {
			out = append(out, l)
			continue
		}
		if h.param == "" {
			ret = 1
			continue
		}
		for k := len(splitValues(l.value)) - 1; k >= 0; k-- {
			one := []headerLine{l}
			if h.op == hfAssign {
				editValue(one, 0, k, func(v string) string { return setParam(v, h.param, val) })
				ret = 1
			} else {
				editValue(one, 0, k, func(v string) string {
					v2, removed := dropParam(v, h.param)
					if removed {
						ret = 1
					}
					return v2
				})
			}
			l = one[0]
		}
		out = append(out, l)
	}
	if ret < 0 {
		return -1, nil
	}
	return 1, out
}
