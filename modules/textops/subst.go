package textops

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// compileRE compiles a regular expression as Kamailio's textops and SER's
// fixups compile theirs: POSIX extended, case-insensitive, newline
// sensitive ('.' does not match a line end, '^' and '$' match at every
// line), leftmost-longest.
func compileRE(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?im)" + expr)
	if err != nil {
		return nil, err
	}
	re.Longest()
	return re, nil
}

// substExpr is a compiled sed-like substitution: /re/replacement/flags.
type substExpr struct {
	re     *regexp.Regexp
	global bool
	repl   []replPart
}

// replPart is a piece of the replacement: literal text, a group of the
// match (\0 to \9), or the Request-URI (\u).
type replPart struct {
	lit   string
	group int // -1 for literal text
	uri   bool
}

var (
	errSubstShort = errors.New("expression too short")
	errSubstSep   = errors.New("a backslash cannot be the separator")
	errSubstNoSep = errors.New("missing separator")
)

// parseSubst reads "/re/repl/flags" with any separator character. In the
// replacement \0 … \9 insert groups of the match, \u the Request-URI, \n
// \r \t \\ those characters, and a backslash before any other character
// that character. The flags are i (ignore case), g (replace every match)
// and s (let '.' match a line end and '^'/'$' only the whole text).
func parseSubst(s string) (*substExpr, error) {
	if len(s) < 3 {
		return nil, errSubstShort
	}
	sep := s[0]
	if sep == '\\' {
		return nil, errSubstSep
	}
	i := 1
	for ; i < len(s); i++ {
		if s[i] == sep && s[i-1] != '\\' {
			break
		}
	}
	if i >= len(s) {
		return nil, errSubstNoSep
	}
	reText := s[1:i]
	i++
	se := &substExpr{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			se.repl = append(se.repl, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	closed := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == sep {
			closed = true
			i++
			break
		}
		if c != '\\' || i+1 == len(s) {
			lit.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; {
		case e == 'n':
			lit.WriteByte('\n')
		case e == 'r':
			lit.WriteByte('\r')
		case e == 't':
			lit.WriteByte('\t')
		case e == 'u':
			flush()
			se.repl = append(se.repl, replPart{group: -1, uri: true})
		case e >= '0' && e <= '9':
			flush()
			se.repl = append(se.repl, replPart{group: int(e - '0')})
		default:
			lit.WriteByte(e)
		}
	}
	if !closed {
		return nil, errSubstNoSep
	}
	flush()
	icase, newline := false, true
	for ; i < len(s); i++ {
		switch s[i] {
		case 'i':
			icase = true
		case 's':
			newline = false
		case 'g':
			se.global = true
		default:
			return nil, fmt.Errorf("unknown flag %q", s[i])
		}
	}
	prefix := "(?"
	if icase {
		prefix += "i"
	}
	if newline {
		prefix += "m"
	} else {
		prefix += "s"
	}
	re, err := regexp.Compile(prefix + ")" + reText)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression %q: %w", reText, err)
	}
	re.Longest()
	se.re = re
	return se, nil
}

// apply runs the substitution over input; uri is what \u inserts. It
// returns the result and whether anything matched.
func (se *substExpr) apply(input, uri string) (string, bool) {
	n := 1
	if se.global {
		n = -1
	}
	matches := se.re.FindAllStringSubmatchIndex(input, n)
	if len(matches) == 0 {
		return input, false
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(input[last:m[0]])
		for _, p := range se.repl {
			switch {
			case p.uri:
				b.WriteString(uri)
			case p.group >= 0:
				if 2*p.group+1 < len(m) && m[2*p.group] >= 0 {
					b.WriteString(input[m[2*p.group]:m[2*p.group+1]])
				}
			default:
				b.WriteString(p.lit)
			}
		}
		last = m[1]
	}
	b.WriteString(input[last:])
	return b.String(), true
}
