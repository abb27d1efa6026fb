package avpops

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// pvEnd returns the length of the pseudo-variable at the start of s ("$ru",
// "$avp(s:x)", "$(avp(x)[1])", "$f.did"), or -1 when s does not start with
// one or its parentheses do not close.
func pvEnd(s string) int {
	if len(s) < 2 || s[0] != '$' {
		return -1
	}
	i := 1
	if s[1] == '(' {
		return closeParen(s, 1)
	}
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	if i == 1 {
		return -1
	}
	for i > 2 && s[i-1] == '.' {
		i--
	}
	if i < len(s) && s[i] == '(' {
		return closeParen(s, i)
	}
	if i < len(s) && s[i] == '[' { // SER attribute index: $x[1]
		if j := strings.IndexByte(s[i:], ']'); j >= 0 {
			return i + j + 1
		}
		return -1
	}
	return i
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

// closeParen returns the index after the parenthesis matching the one at
// s[open], or -1.
func closeParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// avpNamer is what the core's compiled $avp(...) and attributes offer.
type avpNamer interface {
	AVP() (sr.AVPName, sr.AVPFlags, bool)
}

// compileAVP compiles text (a whole argument or part of one) as an AVP
// with a constant name.
func compileAVP(fx *module.Fixup, a module.Arg, text string) (*avpRef, error) {
	g, err := fx.Env.Getter(strings.TrimSpace(text), a.Pos)
	if err != nil {
		return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
	}
	n, ok := g.(avpNamer)
	if !ok {
		return nil, fx.Errorf(a, "%s: %q is not an AVP ($avp(name))", fx.Func, text)
	}
	name, flags, ok := n.AVP()
	if !ok {
		t := strings.TrimSpace(text)
		if strings.HasPrefix(t, "$avp(") || strings.HasPrefix(t, "$(avp(") {
			return nil, fx.Errorf(a, "%s: %q: the AVP name must be a constant", fx.Func, text)
		}
		return nil, fx.Errorf(a, "%s: %q is not an AVP ($avp(name))", fx.Func, text)
	}
	return &avpRef{text: text, name: name, flags: flags}, nil
}

// splitPV splits "<pv>[/rest]" after the pseudo-variable.
func splitPV(fx *module.Fixup, a module.Arg, s string) (pv, rest string, err error) {
	s = strings.TrimSpace(s)
	end := pvEnd(s)
	if end < 0 {
		return "", "", fx.Errorf(a, "%s: %q does not start with a pseudo-variable", fx.Func, s)
	}
	pv, rest = s[:end], s[end:]
	if rest != "" && rest[0] != '/' {
		return "", "", fx.Errorf(a, "%s: unexpected %q after %s", fx.Func, rest, pv)
	}
	return pv, strings.TrimPrefix(rest, "/"), nil
}

// flagSet reads single-letter flags, each of which must be in allowed.
func flagSet(fx *module.Fixup, a module.Arg, s, allowed string) (map[byte]bool, error) {
	out := map[byte]bool{}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !strings.ContainsRune(allowed, rune(c)) {
			return nil, fx.Errorf(a, "%s: unknown flag %q (allowed: %s)", fx.Func, s[i], strings.Join(strings.Split(allowed, ""), ", "))
		}
		out[c] = true
	}
	return out, nil
}

// parseKind reads the name-less AVP selector: s (string names), i
// (integer names), a or * (any), followed by avpflags as a number.
func parseKind(s string) (nameKind, error) {
	if s == "" {
		return nameKind{}, errors.New("empty AVP selector")
	}
	var k nameKind
	switch s[0] {
	case 's', 'S':
		k.strNames = true
	case 'i', 'I':
		k.intNames = true
	case 'a', 'A', '*':
		k.strNames, k.intNames = true, true
	default:
		return k, fmt.Errorf("%q: expected $avp(name), or s, i, a or * with optional flags", s)
	}
	if rest := s[1:]; rest != "" {
		n, err := strconv.ParseUint(rest, 10, 8)
		if err != nil {
			return k, fmt.Errorf("%q: bad AVP flags %q", s, rest)
		}
		k.flags = sr.AVPFlags(n) << 8
	}
	return k, nil
}

// operand is a value an operation compares or computes with: a constant,
// a pseudo-variable, or an AVP (all of whose values count).
type operand struct {
	val sr.Value
	get sr.Getter
	avp *avpRef
}

// values returns the operand's values for a message.
func (o *operand) values(c *sr.Ctx) []sr.Value {
	switch {
	case o.avp != nil:
		return o.avp.values(c)
	case o.get != nil:
		v := o.get.Get(c)
		if v.IsNull() {
			return nil
		}
		return []sr.Value{v}
	}
	return []sr.Value{o.val}
}

// parseOperand reads a constant ("i:5", "s:abc", "0x1f" with i:, or text)
// or a pseudo-variable.
func parseOperand(fx *module.Fixup, a module.Arg, s string) (*operand, error) {
	if strings.HasPrefix(s, "$") {
		g, err := fx.Env.Getter(s, a.Pos)
		if err != nil {
			return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
		}
		if n, ok := g.(avpNamer); ok {
			if name, flags, ok := n.AVP(); ok {
				return &operand{avp: &avpRef{text: s, name: name, flags: flags}}, nil
			}
		}
		return &operand{get: g}, nil
	}
	v, err := parseValue(s)
	if err != nil {
		return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
	}
	return &operand{val: v}, nil
}

// parseValue reads "i:<int>" (decimal, or hex with 0x), "s:<text>" or
// plain text, which is a string.
func parseValue(s string) (sr.Value, error) {
	if s == "" {
		return sr.NullVal, errors.New("empty value")
	}
	if len(s) > 1 && s[1] == ':' {
		rest := s[2:]
		switch s[0] {
		case 'i', 'I':
			var n int64
			var err error
			if strings.HasPrefix(rest, "0x") || strings.HasPrefix(rest, "0X") {
				n, err = strconv.ParseInt(rest[2:], 16, 64)
			} else {
				n, err = strconv.ParseInt(rest, 10, 64)
			}
			if err != nil || rest == "" {
				return sr.NullVal, fmt.Errorf("%q is not an integer", s)
			}
			return sr.IntVal(int(n)), nil
		case 's', 'S':
			if rest == "" {
				return sr.NullVal, fmt.Errorf("%q: empty string value", s)
			}
			return sr.StrVal(rest), nil
		default:
			return sr.NullVal, fmt.Errorf("unknown value type %q (i: or s:)", s[:1])
		}
	}
	return sr.StrVal(s), nil
}

// splitOpValue splits "op/value[/flags]"; the value may be a
// pseudo-variable holding "/" in its parentheses.
func splitOpValue(fx *module.Fixup, a module.Arg) (op, value, flags string, err error) {
	s := a.S
	op, rest, ok := strings.Cut(s, "/")
	if !ok || rest == "" {
		return "", "", "", fx.Errorf(a, "%s: %q: expected op/value[/flags]", fx.Func, s)
	}
	op = strings.ToLower(op)
	if strings.HasPrefix(rest, "$") {
		end := pvEnd(rest)
		if end < 0 {
			return "", "", "", fx.Errorf(a, "%s: %q: bad pseudo-variable", fx.Func, rest)
		}
		value, rest = rest[:end], rest[end:]
	} else if i := strings.IndexByte(rest, '/'); i >= 0 {
		value, rest = rest[:i], rest[i:]
	} else {
		value, rest = rest, ""
	}
	if rest != "" {
		if rest[0] != '/' || len(rest) == 1 {
			return "", "", "", fx.Errorf(a, "%s: %q: expected op/value[/flags]", fx.Func, s)
		}
		flags = rest[1:]
	}
	return op, value, flags, nil
}

// dbScheme is a db_scheme definition: where avp_db_load finds the value
// of one AVP in a table of another layout.
type dbScheme struct {
	name                                    string
	uuidCol, usernameCol, domainCol, valCol string
	table                                   string
	intValue                                bool
}

// parseScheme reads "name:attr=value;attr=value…" with the attributes
// uuid_col, username_col, domain_col, value_col, table and value_type
// (integer or string).
func parseScheme(s string) (*dbScheme, error) {
	name, rest, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return nil, errors.New("expected name:attribute=value;…")
	}
	sc := &dbScheme{name: name}
	seen := map[string]bool{}
	for _, item := range strings.Split(rest, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || v == "" {
			return nil, fmt.Errorf("%q: expected attribute=value", item)
		}
		if seen[k] {
			return nil, fmt.Errorf("%s given twice", k)
		}
		seen[k] = true
		var dst *string
		switch k {
		case "uuid_col":
			dst = &sc.uuidCol
		case "username_col":
			dst = &sc.usernameCol
		case "domain_col":
			dst = &sc.domainCol
		case "value_col":
			dst = &sc.valCol
		case "table":
			dst = &sc.table
		case "value_type":
			switch strings.ToLower(v) {
			case "integer":
				sc.intValue = true
			case "string":
			default:
				return nil, fmt.Errorf("value_type %q: integer or string", v)
			}
			continue
		default:
			return nil, fmt.Errorf("unknown attribute %q", k)
		}
		if !identRE.MatchString(v) {
			return nil, fmt.Errorf("%s %q is not a column or table name", k, v)
		}
		*dst = v
	}
	return sc, nil
}

// subst is a compiled "/re/replacement/flags" expression.
type subst struct {
	re     *regexp.Regexp
	repl   []replPart
	global bool
}

// replPart is a piece of a replacement: text, a group (\0 … \9) or a
// pseudo-variable.
type replPart struct {
	text  string
	group int // -1 when not a group
	get   sr.Getter
}

// parseSubst compiles a subst expression: the first character is the
// separator; flags i (ignore case), g (every match), s (newlines end
// lines: "." does not match them and ^ $ match at them).
func parseSubst(fx *module.Fixup, a module.Arg) (*subst, error) {
	s := a.S
	if len(s) < 4 {
		return nil, fx.Errorf(a, "%s: %q is not a subst expression (/re/repl/flags)", fx.Func, s)
	}
	sep := s[0]
	var fields []string
	var cur strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == sep:
			cur.WriteByte(sep)
			i++
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte('\\')
			cur.WriteByte(s[i+1])
			i++
		case s[i] == sep:
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	fields = append(fields, cur.String())
	if len(fields) != 3 {
		return nil, fx.Errorf(a, "%s: %q is not a subst expression (/re/repl/flags)", fx.Func, s)
	}
	sub := &subst{}
	prefix := "(?s)"
	for _, f := range fields[2] {
		switch f {
		case 'i':
			prefix += "(?i)"
		case 'g':
			sub.global = true
		case 's':
			prefix = strings.Replace(prefix, "(?s)", "(?m)", 1)
		default:
			return nil, fx.Errorf(a, "%s: unknown subst flag %q (i, g, s)", fx.Func, f)
		}
	}
	re, err := regexp.Compile(prefix + fields[0])
	if err != nil {
		return nil, fx.Errorf(a, "%s: bad regular expression %q: %v", fx.Func, fields[0], err)
	}
	sub.re = re
	repl := fields[1]
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			sub.repl = append(sub.repl, replPart{text: text.String(), group: -1})
			text.Reset()
		}
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			switch d := repl[i]; {
			case d >= '0' && d <= '9':
				g := int(d - '0')
				if g > re.NumSubexp() {
					return nil, fx.Errorf(a, "%s: \\%d: the expression has %d groups", fx.Func, g, re.NumSubexp())
				}
				flush()
				sub.repl = append(sub.repl, replPart{group: g})
			case d == 'n':
				text.WriteByte('\n')
			case d == 'r':
				text.WriteByte('\r')
			case d == 't':
				text.WriteByte('\t')
			default:
				text.WriteByte(d)
			}
		case c == '$' && pvEnd(repl[i:]) > 0:
			end := pvEnd(repl[i:])
			g, err := fx.Env.Getter(repl[i:i+end], a.Pos)
			if err != nil {
				return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
			}
			flush()
			sub.repl = append(sub.repl, replPart{group: -1, get: g})
			i += end - 1
		default:
			text.WriteByte(c)
		}
	}
	flush()
	return sub, nil
}

// apply substitutes in s; ok is false when the expression does not match.
func (x *subst) apply(c *sr.Ctx, s string) (string, bool) {
	n := 1
	if x.global {
		n = -1
	}
	matches := x.re.FindAllStringSubmatchIndex(s, n)
	if len(matches) == 0 {
		return s, false
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		for _, p := range x.repl {
			switch {
			case p.get != nil:
				b.WriteString(p.get.Get(c).Text())
			case p.group >= 0:
				if st, en := m[2*p.group], m[2*p.group+1]; st >= 0 {
					b.WriteString(s[st:en])
				}
			default:
				b.WriteString(p.text)
			}
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), true
}
