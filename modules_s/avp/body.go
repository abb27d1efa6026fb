package avp

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
)

// Value types hdr_body2attrs keeps.
const (
	valInt = 1 << iota
	valStr
)

// bodySpec is the header argument of hdr_body2attrs: its name, the value
// types kept ("Name/i", "Name/s"; both by default) and the delimiters.
type bodySpec struct {
	name       string
	types      int
	fieldDelim byte
	arrayDelim byte
}

// maxAttrName is SER's limit on the attribute names hdr_body2attrs makes
// (prefix, name and "#nn").
const maxAttrName = 50

func fixBody2Attrs(field, array byte) func(*avp, *module.Fixup, []module.Arg) ([]any, error) {
	return func(_ *avp, fx *module.Fixup, args []module.Arg) ([]any, error) {
		s, err := fx.Str(args[0])
		if err != nil {
			return nil, err
		}
		name, mods, hasMods := strings.Cut(s, "/")
		if strings.HasPrefix(name, "#") {
			return nil, fx.Errorf(args[0], "%s: header ids (%s) are not supported, give the header name", fx.Func, name)
		}
		if !isToken(name) {
			return nil, fx.Errorf(args[0], "%s: %q is not a header name", fx.Func, name)
		}
		spec := &bodySpec{name: name, types: valInt | valStr, fieldDelim: field, arrayDelim: array}
		if hasMods {
			spec.types = 0
			for _, c := range mods {
				switch c {
				case 'i', 'I':
					spec.types = valInt
				case 's', 'S':
					spec.types = valStr
				case '/':
				default:
					return nil, fx.Errorf(args[0], "%s: bad field modifier %q (i or s)", fx.Func, string(c))
				}
			}
			if spec.types == 0 {
				return nil, fx.Errorf(args[0], "%s: no field modifier after '/' (i or s)", fx.Func)
			}
		}
		prefix, err := fx.Str(args[1])
		if err != nil {
			return nil, err
		}
		return []any{spec, prefix}, nil
	}
}

// hdrBody2Attrs is hdr_body2attrs(header, prefix) and
// hdr_body2attrs2(header, prefix): the name=value pairs of the first
// header of that name become attributes named prefix+name (array items of
// hdr_body2attrs2 get "#0", "#1" … appended). Numbers become integer
// attributes, the rest strings. The result is 1, also when the header is
// missing.
func (m *avp) hdrBody2Attrs(c *sr.Ctx, p []any) int {
	spec, prefix := p[0].(*bodySpec), p[1].(string)
	msg := c.Msg()
	if msg == nil {
		return 1
	}
	h := sipmsg.Header(msg, spec.name)
	if h == nil {
		return 1
	}
	for _, kv := range parseBody(h.Value(), spec) {
		name := prefix + kv.name
		if len(name) > maxAttrName {
			c.Log.Error("hdr_body2attrs: attribute name too long", "name", name)
			continue
		}
		serattr.Add(c, serattr.Name(name), kv.val, 0)
	}
	return 1
}

type bodyItem struct {
	name string
	val  sr.Value
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func skipBlanks(s string) string { return strings.TrimLeft(s, " \t\r\n") }

// parseBody reads "name=value, name2="text", name3=1;2" bodies as SER's
// attr_hdr_body2attrs does.
func parseBody(s string, spec *bodySpec) []bodyItem {
	var out []bodyItem
	for {
		s = skipBlanks(s)
		i := 0
		for i < len(s) && isNameChar(s[i]) {
			i++
		}
		if i == 0 {
			return out
		}
		name := s[:i]
		s = skipBlanks(s[i:])
		if s == "" {
			return out
		}
		if s[0] == '=' {
			s = s[1:]
			arr := -1
			for {
				s = skipBlanks(s)
				if s == "" {
					break
				}
				var raw string
				isStr := false
				if s[0] == '"' {
					end := strings.IndexByte(s[1:], '"')
					if end < 0 {
						return out
					}
					raw, isStr = s[1:1+end], true
					s = s[end+2:]
				} else {
					j := 0
					for j < len(s) && s[j] != spec.fieldDelim && (spec.arrayDelim == 0 || s[j] != spec.arrayDelim) &&
						s[j] != ' ' && s[j] != '\t' && s[j] != '\r' && s[j] != '\n' {
						j++
					}
					raw = s[:j]
					s = s[j:]
				}
				s = skipBlanks(s)
				if arr >= 0 || (s != "" && spec.arrayDelim != 0 && s[0] == spec.arrayDelim) {
					arr++
				}
				if raw != "" && arr < 100 {
					n := name
					if arr >= 0 {
						n += "#" + strconv.Itoa(arr)
					}
					v, isInt := numValue(raw, isStr)
					if (isInt && spec.types&valInt != 0) || (!isInt && spec.types&valStr != 0) {
						out = append(out, bodyItem{n, v})
					}
				}
				if s != "" && spec.arrayDelim != 0 && s[0] == spec.arrayDelim {
					s = s[1:]
					continue
				}
				break
			}
		}
		if s != "" && s[0] == spec.fieldDelim {
			s = s[1:]
			continue
		}
		return out
	}
}

// numValue reads a token: an optionally signed run of digits is an
// integer, anything else (and any quoted text) a string.
func numValue(raw string, quoted bool) (sr.Value, bool) {
	if !quoted {
		digits := strings.TrimLeft(raw, "+-")
		if len(raw)-len(digits) <= 1 && digits != "" && strings.Trim(digits, "0123456789") == "" {
			if n, err := strconv.Atoi(raw); err == nil {
				return sr.IntVal(n), true
			}
		}
	}
	return sr.StrVal(raw), false
}

// subst is a sed-like substitution "/re/replacement/flags": flags i
// (ignore case) and g (every match); \0 … \9 in the replacement are the
// groups of the match.
type subst struct {
	re     *regexp.Regexp
	repl   string
	global bool
}

// parseSubst parses a substitution; the first character is the delimiter.
func parseSubst(s string) (*subst, error) {
	if len(s) < 4 {
		return nil, fmt.Errorf("invalid substitution %q", s)
	}
	d := s[0]
	var fields []string
	var cur strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == d:
			cur.WriteByte(d)
			i++
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte('\\')
			cur.WriteByte(s[i+1])
			i++
		case s[i] == d:
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if len(fields) != 2 {
		return nil, fmt.Errorf("invalid substitution %q: /re/replacement/flags expected", s)
	}
	flags := cur.String()
	expr := fields[0]
	sub := &subst{repl: fields[1]}
	for _, f := range flags {
		switch f {
		case 'i':
			expr = "(?i)" + expr
		case 'g':
			sub.global = true
		case 's':
		default:
			return nil, fmt.Errorf("invalid substitution flag %q in %q", string(f), s)
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression in %q: %w", s, err)
	}
	sub.re = re
	for i := 0; i < len(sub.repl); i++ {
		if sub.repl[i] == '\\' && i+1 < len(sub.repl) && sub.repl[i+1] >= '0' && sub.repl[i+1] <= '9' {
			if n := int(sub.repl[i+1] - '0'); n > re.NumSubexp() {
				return nil, fmt.Errorf("\\%d in %q: the expression has %d groups", n, s, re.NumSubexp())
			}
			i++
		}
	}
	return sub, nil
}

// apply runs the substitution; ok is false when nothing matched.
func (x *subst) apply(s string) (string, bool) {
	matches := x.re.FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return "", false
	}
	if !x.global {
		matches = matches[:1]
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		for i := 0; i < len(x.repl); i++ {
			c := x.repl[i]
			if c == '\\' && i+1 < len(x.repl) {
				n := x.repl[i+1]
				i++
				if n >= '0' && n <= '9' {
					g := int(n - '0')
					if m[2*g] >= 0 {
						b.WriteString(s[m[2*g]:m[2*g+1]])
					}
					continue
				}
				switch n {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(n)
				}
				continue
			}
			b.WriteByte(c)
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), true
}
