package pv

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/sr"
)

// format is a compiled string with items in it.
type format struct {
	parts []fpart
	size  int // bytes of constant text
}

// fpart is constant text followed by an item (or by nothing, at the end).
type fpart struct {
	text string
	get  sr.Getter
}

var _ sr.Format = (*format)(nil)

// Expand builds the string for a message. A null item prints as
// "<null>", as Kamailio's xlog does.
func (f *format) Expand(c *sr.Ctx) string {
	var b strings.Builder
	b.Grow(f.size + 24*len(f.parts))
	for i := range f.parts {
		p := &f.parts[i]
		b.WriteString(p.text)
		if p.get == nil {
			continue
		}
		v := sr.NullVal
		if c != nil {
			v = p.get.Get(c)
		}
		switch v.K {
		case sr.Int:
			var tmp [24]byte
			b.Write(strconv.AppendInt(tmp[:0], int64(v.I), 10))
		case sr.Str:
			b.WriteString(v.S)
		default:
			b.WriteString("<null>")
		}
	}
	return b.String()
}

// Static reports false: a compiled format always holds items (one
// without items is an sr.StaticFormat).
func (f *format) Static() (string, bool) { return "", false }

// fmtBuilder collects constant text and items.
type fmtBuilder struct {
	lit   []byte
	parts []fpart
	size  int
}

func (fb *fmtBuilder) item(g sr.Getter) {
	fb.size += len(fb.lit)
	fb.parts = append(fb.parts, fpart{text: string(fb.lit), get: g})
	fb.lit = fb.lit[:0]
}

func (fb *fmtBuilder) done() sr.Format {
	if len(fb.parts) == 0 {
		return sr.StaticFormat(string(fb.lit))
	}
	if len(fb.lit) > 0 {
		fb.size += len(fb.lit)
		fb.parts = append(fb.parts, fpart{text: string(fb.lit)})
	}
	return &format{parts: fb.parts, size: fb.size}
}

// ParseFormat compiles a Kamailio-style format: text with pseudo-variables
// in it ("From $fu to $(ru{uri.user})\n"), as xlog, append_hf and
// sl_send_reply take it. Every "$" starts an item, read in the given
// compatibility mode; "$$" is a literal "$". An unknown pseudo-variable
// is an error (in MaxCompat mode an unknown bare $name is an attribute),
// and so is a transformation written without the $(...) form
// ("$ru{uri.user}"). Backslash escapes are the configuration lexer's
// business and are not interpreted here. A format without items is an
// sr.StaticFormat.
func (r *Registry) ParseFormat(s string, mode Compat) (sr.Format, error) {
	var fb fmtBuilder
	for i := 0; i < len(s); {
		d := strings.IndexByte(s[i:], '$')
		if d < 0 {
			fb.lit = append(fb.lit, s[i:]...)
			break
		}
		fb.lit = append(fb.lit, s[i:i+d]...)
		i += d
		if i+1 < len(s) && s[i+1] == '$' {
			fb.lit = append(fb.lit, '$')
			i += 2
			continue
		}
		sp, n, err := r.ParsePrefix(s[i:], mode)
		if err != nil {
			return nil, fmt.Errorf("format %q, offset %d: %w", clip(s), i, err)
		}
		if sp.kind == KindPV && looksLikeTransform(s[i+n:]) {
			return nil, synErrf("format %q, offset %d: %s%s: transformations need the $(...) form",
				clip(s), i, s[i:i+n], clip(s[i+n:]))
		}
		i += n
		fb.item(sp)
	}
	return fb.done(), nil
}

// xlCodes are the two-letter specifiers of SER's xl formats.
var xlCodes = map[string]getFn{
	"br": getBranch0, "bR": getBranches, "ds": getBranches,
	"ci": getCallID, "cs": getCSeq, "ct": getContact,
	"fu": fromTo(true, addrURI), "ft": fromTo(true, addrTag),
	"tu": fromTo(false, addrURI), "tt": fromTo(false, addrTag),
	"mb": getMsgBuf, "ml": getMsgLen, "mf": flagsGetter(mflags, false),
	"mi": nullGet, "mx": nullGet, "uq": nullGet,
	"nh": getNextHop,
	"rm": getMethod, "ru": getRURI, "rs": getStatus, "rr": getReason, "rt": bodyURI("Refer-To", tbURI),
	"Ri": getRcvIP, "Rp": getRcvPort,
	"si": getSrcIP, "is": getSrcIP, "sp": getSrcPort,
	"ua": hdrGetter("User-Agent"),
}

func nullGet(*sr.Ctx) sr.Value { return sr.NullVal }

// getNextHop is the destination URI if set, else the R-URI.
func getNextHop(c *sr.Ctx) sr.Value {
	if c.DstURI != "" {
		return sr.StrVal(c.DstURI)
	}
	return getRURI(c)
}

// ParseXLFormat compiles a SER xl format, as SER's xlog, xlset_attr and
// append_to_reply take it: "%ru", "%fu", "%tu", "%rm", "%ci", "%si" (or
// "%is"), "%$attr", "%$t.attr[1]", "%@select", "%{Header[n]}", "%Cxy"
// colours, "%%" for a percent sign, and "% " or "%|" to end an item
// without output. Backslash escapes \n, \r, \t and \\ are interpreted.
// An unknown specifier is an error. A missing value prints "<null>".
// Ranges (%[a-b]) are not supported.
func (r *Registry) ParseXLFormat(s string) (sr.Format, error) {
	var fb fmtBuilder
	errf := func(i int, format string, args ...any) error {
		return synErrf("xl format %q, offset %d: %s", clip(s), i, fmt.Sprintf(format, args...))
	}
	for i := 0; i < len(s); {
		d := strings.IndexAny(s[i:], `%\`)
		if d < 0 {
			fb.lit = append(fb.lit, s[i:]...)
			break
		}
		fb.lit = append(fb.lit, s[i:i+d]...)
		i += d
		if s[i] == '\\' {
			if i+1 == len(s) {
				fb.lit = append(fb.lit, '\\')
				break
			}
			switch c := s[i+1]; c {
			case 'n':
				fb.lit = append(fb.lit, '\n')
			case 'r':
				fb.lit = append(fb.lit, '\r')
			case 't':
				fb.lit = append(fb.lit, '\t')
			default:
				fb.lit = append(fb.lit, c)
			}
			i += 2
			continue
		}
		// '%'
		if i+1 == len(s) {
			return nil, errf(i, "a lone %% ends the format (write %%%% for a percent sign)")
		}
		switch c := s[i+1]; c {
		case '%':
			fb.lit = append(fb.lit, '%')
			i += 2
		case ' ', '|':
			i += 2
		case '$':
			j := i + 2
			for j < len(s) && isXLAttrChar(s[j]) {
				j++
			}
			for j > i+3 && s[j-1] == '.' {
				j-- // "%$x." is the attribute x and a full stop
			}
			sp, n, err := r.parseAttrPrefix("$" + s[i+2:j])
			if err != nil || n != j-i-1 {
				if err == nil {
					err = fmt.Errorf("invalid attribute %q", s[i+1:j])
				}
				return nil, fmt.Errorf("xl format %q, offset %d: %w", clip(s), i, err)
			}
			fb.item(sp)
			i = j
		case '@':
			sp, n, err := r.parseSelectPrefix(s[i+1:])
			if err != nil {
				return nil, fmt.Errorf("xl format %q, offset %d: %w", clip(s), i, err)
			}
			fb.item(sp)
			i += 1 + n
		case '{', '<':
			closer := byte('}')
			if c == '<' {
				closer = '>'
			}
			end := strings.IndexByte(s[i+2:], closer)
			if end < 0 {
				return nil, errf(i, "missing %q", closer)
			}
			g, err := r.xlNamed(c, s[i+2:i+2+end])
			if err != nil {
				return nil, errf(i, "%v", err)
			}
			fb.item(g)
			i += 2 + end + 1
		case 'C':
			if i+4 > len(s) {
				return nil, errf(i, "%%C needs two colour letters")
			}
			code, ok := xlColor(s[i+2 : i+4])
			if !ok {
				return nil, errf(i, "invalid colour %q", s[i:i+4])
			}
			fb.lit = append(fb.lit, code...)
			i += 4
		default:
			if i+3 > len(s) {
				return nil, errf(i, "unknown specifier %q", s[i:])
			}
			code := s[i+1 : i+3]
			g := xlCodes[code]
			switch code {
			case "pp":
				pid := sr.IntVal(r.cfg.Pid)
				g = func(*sr.Ctx) sr.Value { return pid }
			case "px":
				pid := sr.StrVal(strconv.FormatInt(int64(r.cfg.Pid), 16))
				g = func(*sr.Ctx) sr.Value { return pid }
			case "Ts":
				g = func(*sr.Ctx) sr.Value { return sr.IntVal(int(r.now().Unix())) }
			case "Tx":
				g = func(*sr.Ctx) sr.Value { return sr.StrVal(strconv.FormatInt(r.now().Unix(), 16)) }
			case "Tf":
				g = func(*sr.Ctx) sr.Value { return sr.StrVal(r.now().Format(time.ANSIC)) }
			case "Hn", "Hd", "Hf", "Hi":
				g = r.xlHost(code[1])
			}
			if g == nil {
				return nil, errf(i, "unknown specifier %%%s", code)
			}
			fb.item(getter(g))
			i += 3
		}
	}
	return fb.done(), nil
}

// getter adapts a getFn to sr.Getter.
type getter getFn

func (g getter) Get(c *sr.Ctx) sr.Value { return g(c) }

func isXLAttrChar(c byte) bool {
	return isAttrChar(c) || c == '[' || c == ']' || c == '-' || c == '*'
}

// xlNamed compiles %{Header[idx]} and %<avp[idx]>.
func (r *Registry) xlNamed(kind byte, in string) (sr.Getter, error) {
	name, idx := in, ""
	if k := strings.IndexByte(in, '['); k >= 0 {
		if !strings.HasSuffix(in, "]") {
			return nil, fmt.Errorf("missing ']' in %q", in)
		}
		name, idx = in[:k], in[k+1:len(in)-1]
	}
	if name == "" || !isIdentStart(name[0]) {
		return nil, fmt.Errorf("invalid name %q", in)
	}
	if kind == '<' {
		if idx != "" {
			if idx == "*" {
				idx = ""
			}
			name += "[" + idx + "]"
		}
		sp, n, err := r.parseAttrPrefix("$" + name)
		if err != nil {
			return nil, err
		}
		if n != len(name)+1 {
			return nil, fmt.Errorf("invalid attribute %q", in)
		}
		return sp, nil
	}
	text := "$hdr(" + name + ")"
	if idx != "" {
		text = "$(hdr(" + name + ")[" + idx + "])"
	}
	return r.Parse(text, Kamailio)
}

func (r *Registry) xlHost(kind byte) getFn {
	h := r.hostname()
	var v sr.Value
	switch kind {
	case 'n':
		name, _, _ := strings.Cut(h, ".")
		v = strOrNull(name)
	case 'd':
		_, dom, _ := strings.Cut(h, ".")
		v = strOrNull(dom)
	case 'f':
		v = strOrNull(h)
	default:
		v = sr.NullVal
	}
	return func(*sr.Ctx) sr.Value { return v }
}

// xlColor returns the terminal escape for %Cfb: a foreground and a
// background letter (x default, s black, r red, g green, y yellow, b
// blue, p purple, c cyan, w white; upper-case foregrounds are bold).
func xlColor(fb string) (string, bool) {
	if len(fb) != 2 {
		return "", false
	}
	const letters = "srgybpcw"
	var b strings.Builder
	b.WriteString("\x1b[")
	f, g := fb[0], fb[1]
	switch {
	case f == 'x':
		b.WriteString("0")
	case strings.IndexByte(letters, f) >= 0:
		b.WriteString("3" + strconv.Itoa(strings.IndexByte(letters, f)))
	case strings.IndexByte(strings.ToUpper(letters), f) >= 0:
		b.WriteString("1;3" + strconv.Itoa(strings.IndexByte(strings.ToUpper(letters), f)))
	default:
		return "", false
	}
	switch {
	case g == 'x':
	case strings.IndexByte(letters, g) >= 0:
		b.WriteString(";4" + strconv.Itoa(strings.IndexByte(letters, g)))
	default:
		return "", false
	}
	b.WriteString("m")
	return b.String(), true
}
