package cfg

import (
	"fmt"
	"net/netip"
	"strings"

	"sip-router.org/core/sr"
)

// scanner turns the bytes of one file, or of one #!define value, into
// tokens. It handles comments, strings, numbers, addresses,
// pseudo-variables and selects, and the #! directives, which it hands to
// the preprocessor. Skipped #!ifdef regions never become tokens.
type scanner struct {
	pp        *preproc
	file      string
	src       []byte
	off       int
	line      int // line of src[off]
	lineStart int // offset of the first byte of that line

	// define is set for the scanner of a #!define value: every token gets
	// usePos, the position of the name that was replaced, and '#' always
	// starts a comment.
	define bool
	usePos sr.Pos

	ifs []ifFrame // open #!ifdef/#!ifndef blocks of this file

	space, nl bool // what came before the next token
	afterBad  bool // the last token or character was in error
	eofBad    bool // an "unexpected end of file" error was reported
	finished  bool
}

// ifFrame is an open #!ifdef or #!ifndef.
type ifFrame struct {
	pos    sr.Pos
	kw     string // "ifdef" or "ifndef"
	inElse bool
}

func newScanner(pp *preproc, file string, src []byte) *scanner {
	s := &scanner{pp: pp, file: file, src: src, line: 1, space: true, nl: true}
	if len(src) >= 3 && src[0] == 0xef && src[1] == 0xbb && src[2] == 0xbf {
		s.off, s.lineStart = 3, 3 // a UTF-8 byte order mark is not part of the text
	}
	return s
}

func newDefineScanner(pp *preproc, value string, use sr.Pos) *scanner {
	s := newScanner(pp, use.File, []byte(value))
	s.define = true
	s.usePos = use
	return s
}

func (s *scanner) pos() sr.Pos {
	if s.define {
		return s.usePos
	}
	return sr.Pos{File: s.file, Line: s.line, Col: s.off - s.lineStart + 1}
}

func (s *scanner) errorf(pos sr.Pos, format string, args ...any) {
	s.pp.errs.errorf(pos, format, args...)
}

func (s *scanner) peekByte(n int) byte {
	if s.off+n < len(s.src) {
		return s.src[s.off+n]
	}
	return 0
}

// moveTo advances to offset j, counting the newlines passed.
func (s *scanner) moveTo(j int) {
	for ; s.off < j; s.off++ {
		if s.src[s.off] == '\n' {
			s.line++
			s.lineStart = s.off + 1
		}
	}
}

// skipLine advances to the newline that ends the current line (or EOF).
func (s *scanner) skipLine() {
	for s.off < len(s.src) && s.src[s.off] != '\n' {
		s.off++
	}
}

func (s *scanner) skipBlanks() {
	for s.off < len(s.src) && isBlank(s.src[s.off]) {
		s.off++
	}
}

// restIsEmpty reports whether only blanks or a comment follow on the line.
func (s *scanner) restIsEmpty() bool {
	j := s.off
	for j < len(s.src) && isBlank(s.src[j]) {
		j++
	}
	return j == len(s.src) || s.src[j] == '\n' || s.src[j] == '#' ||
		(s.src[j] == '/' && j+1 < len(s.src) && s.src[j+1] == '/')
}

// continuation returns the length of a backslash-newline at offset j, or 0.
func (s *scanner) continuation(j int) int {
	if j+1 < len(s.src) && s.src[j] == '\\' {
		if s.src[j+1] == '\n' {
			return 2
		}
		if s.src[j+1] == '\r' && j+2 < len(s.src) && s.src[j+2] == '\n' {
			return 3
		}
	}
	return 0
}

// next returns the next token, or a tEOF token at the end.
func (s *scanner) next() token {
	for {
		if s.off >= len(s.src) {
			return s.eof()
		}
		c := s.src[s.off]
		switch {
		case c == '\n':
			s.off++
			s.line++
			s.lineStart = s.off
			s.space, s.nl = true, true
			continue
		case isBlank(c):
			s.off++
			s.space = true
			continue
		case c == '\\' && s.continuation(s.off) > 0:
			s.moveTo(s.off + s.continuation(s.off))
			s.space = true
			continue
		case c == '#':
			if !s.define && s.peekByte(1) == '!' {
				s.directive()
			} else {
				s.skipLine()
			}
			s.space = true
			continue
		case c == '!' && !s.define && s.peekByte(1) == '!' && isPrepKeyword(wordAt(s.src, s.off+2)):
			s.directive()
			s.space = true
			continue
		case c == '/' && s.peekByte(1) == '*':
			s.blockComment()
			s.space = true
			continue
		case c == '/' && s.peekByte(1) == '/':
			s.skipLine()
			s.space = true
			continue
		}
		tok := token{pos: s.pos(), space: s.space, nl: s.nl, mode: s.pp.mode}
		if s.scanToken(&tok) {
			// The token after a malformed one is taken as bad too: what
			// the parser would say about it is most likely a consequence.
			s.afterBad, tok.bad = tok.bad, tok.bad || s.afterBad
			s.space, s.nl = false, false
			return tok
		}
		s.afterBad = true
		s.space = true
	}
}

// eof reports what is still open at the end of the file and returns the
// tEOF token.
func (s *scanner) eof() token {
	if !s.finished {
		s.finished = true
		switch len(s.ifs) {
		case 0:
		case 1:
			s.errorf(s.pos(), "#!%s without #!endif (opened at %s)", s.ifs[0].kw, s.ifs[0].pos)
		default:
			var at []string
			for i, f := range s.ifs {
				if i == 3 {
					at = append(at, fmt.Sprintf("and %d more", len(s.ifs)-3))
					break
				}
				at = append(at, "#!"+f.kw+" at "+f.pos.String())
			}
			s.errorf(s.pos(), "%d #!ifdef/#!ifndef without #!endif (%s)", len(s.ifs), strings.Join(at, ", "))
		}
		s.eofBad = s.eofBad || len(s.ifs) > 0
		s.ifs = nil
	}
	return token{kind: tEOF, pos: s.pos(), space: true, nl: true, mode: s.pp.mode, bad: s.eofBad}
}

// blockComment skips a /* */ comment; they nest.
func (s *scanner) blockComment() {
	start := s.pos()
	depth := 0
	for s.off < len(s.src) {
		switch {
		case s.src[s.off] == '/' && s.peekByte(1) == '*':
			depth++
			s.off += 2
		case s.src[s.off] == '*' && s.peekByte(1) == '/':
			depth--
			s.off += 2
			if depth == 0 {
				return
			}
		default:
			s.moveTo(s.off + 1)
		}
	}
	word := "comments"
	if depth == 1 {
		word = "comment"
	}
	s.errorf(s.pos(), "unexpected end of file: %d %s open (opened at %s)", depth, word, start)
	s.eofBad = true
}

// scanToken reads the token at s.off into tok. It returns false when the
// byte there cannot start a token; the error is reported and the byte
// skipped.
func (s *scanner) scanToken(tok *token) bool {
	c := s.src[s.off]
	switch {
	case c == '"':
		s.scanStrings(tok)
	case c == '\'':
		s.scanRawString(tok)
	case c == '$':
		s.scanPV(tok)
	case c == '@':
		s.scanSelect(tok)
	case isDigit(c):
		if n := ipv6Len(s.src, s.off); n > 0 {
			s.take(tok, tIPv6, n)
		} else if n := ipv4Len(s.src, s.off); n > 0 {
			s.take(tok, tIPv4, n)
		} else {
			s.take(tok, tNum, identEnd(s.src, s.off)-s.off)
		}
	case isIdentStart(c):
		if isHex(c) {
			if n := ipv6Len(s.src, s.off); n > 0 {
				s.take(tok, tIPv6, n)
				return true
			}
		}
		s.take(tok, tIdent, identEnd(s.src, s.off)-s.off)
	case c == ':' && s.peekByte(1) == ':' && ipv6Len(s.src, s.off) > 0:
		s.take(tok, tIPv6, ipv6Len(s.src, s.off))
	default:
		if n := opLen(s.src, s.off); n > 0 {
			s.take(tok, tOp, n)
			return true
		}
		if c < 0x20 || c >= 0x7f {
			s.errorf(tok.pos, "unexpected character %q", rune(c))
		} else {
			s.errorf(tok.pos, "unexpected character '%c'", c)
		}
		s.off++
		return false
	}
	return true
}

// take makes the next n bytes (on one line) a token of the kind.
func (s *scanner) take(tok *token, kind tokKind, n int) {
	tok.kind = kind
	tok.text = string(s.src[s.off : s.off+n])
	s.off += n
}

var twoCharOps = [...]string{"==", "!=", "=~", "!~", "<=", ">=", "&&", "||"}

// opLen returns the length of the operator at offset i, or 0.
func opLen(src []byte, i int) int {
	if i+1 < len(src) {
		for _, op := range twoCharOps {
			if src[i] == op[0] && src[i+1] == op[1] {
				return 2
			}
		}
	}
	switch src[i] {
	case '=', '<', '>', '!', '&', '|', '+', '-', '*', '/',
		'(', ')', '{', '}', '[', ']', ',', ';', ':', '.':
		return 1
	}
	return 0
}

// scanStrings reads a double-quoted string and joins the double-quoted
// strings that follow it with only blanks and newlines between.
func (s *scanner) scanStrings(tok *token) {
	var b strings.Builder
	for {
		if !s.readQuoted(&b, tok.pos) {
			tok.bad = true
			break
		}
		j := s.off
		for j < len(s.src) && (isBlank(s.src[j]) || s.src[j] == '\n') {
			j++
		}
		if j >= len(s.src) || s.src[j] != '"' {
			break
		}
		s.moveTo(j)
	}
	tok.kind = tString
	tok.text = b.String()
}

// readQuoted reads one "..." string at s.off, applying the escapes \n \r
// \t \a \\ \" \xHH \ooo (two or three octal digits) and dropping
// backslash-newline. Another backslash stays as it is, so regular
// expressions keep their \d and \1. It reports false at an unclosed string.
func (s *scanner) readQuoted(b *strings.Builder, start sr.Pos) bool {
	src := s.src
	s.off++ // opening quote
	for s.off < len(src) {
		c := src[s.off]
		switch c {
		case '"':
			s.off++
			return true
		case '\n':
			b.WriteByte(c)
			s.moveTo(s.off + 1)
			continue
		case '\\':
			if n := s.continuation(s.off); n > 0 {
				s.moveTo(s.off + n)
				continue
			}
			if n, v := escape(src[s.off+1:]); n > 0 {
				b.WriteByte(v)
				s.off += 1 + n
				continue
			}
		}
		b.WriteByte(c)
		s.off++
	}
	s.errorf(s.pos(), "unexpected end of file in unclosed string (opened at %s)", start)
	s.eofBad = true
	return false
}

// escape decodes the escape sequence after a backslash. It returns the
// number of bytes used and the byte, or 0 when the backslash is literal.
func escape(rest []byte) (int, byte) {
	if len(rest) == 0 {
		return 0, 0
	}
	switch rest[0] {
	case 'n':
		return 1, '\n'
	case 'r':
		return 1, '\r'
	case 't':
		return 1, '\t'
	case 'a':
		return 1, '\a'
	case '\\':
		return 1, '\\'
	case '"':
		return 1, '"'
	case 'x':
		v, n := 0, 0
		for n < 2 && 1+n < len(rest) && isHex(rest[1+n]) {
			v = v*16 + hexVal(rest[1+n])
			n++
		}
		if n == 0 {
			return 0, 0
		}
		return 1 + n, byte(v)
	}
	v, n := 0, 0
	for n < 3 && n < len(rest) && rest[n] >= '0' && rest[n] <= '7' {
		v = v*8 + int(rest[n]-'0')
		n++
	}
	if n < 2 {
		return 0, 0 // \1 stays: it is a back-reference in subst expressions
	}
	return n, byte(v)
}

// scanRawString reads a '...' string: no escapes, may span lines.
func (s *scanner) scanRawString(tok *token) {
	tok.kind = tString
	end := -1
	for j := s.off + 1; j < len(s.src); j++ {
		if s.src[j] == '\'' {
			end = j
			break
		}
	}
	if end < 0 {
		tok.text = string(s.src[s.off+1:])
		s.moveTo(len(s.src))
		s.errorf(s.pos(), "unexpected end of file in unclosed string (opened at %s)", tok.pos)
		s.eofBad = true
		tok.bad = true
		return
	}
	tok.text = string(s.src[s.off+1 : end])
	s.moveTo(end + 1)
}

// scanPV reads a pseudo-variable or attribute. What "$..." means depends
// on the compatibility mode; only the extent and the kind are decided
// here, the name is resolved later.
func (s *scanner) scanPV(tok *token) {
	end, kind, msg := pvExtent(s.src, s.off, tok.mode)
	if end <= s.off {
		end = s.off + 1
	}
	tok.kind = tPV
	tok.pvKind = kind
	tok.text = string(s.src[s.off:end])
	if msg != "" {
		s.errorf(tok.pos, "%s", msg)
		tok.bad = true
	}
	s.off = end
}

// pvExtent returns the end of the "$..." at offset start, its kind, and an
// error message when it is malformed.
func pvExtent(src []byte, start int, mode Mode) (int, PVKind, string) {
	i := start + 1
	if i < len(src) && src[i] == '?' {
		return i + 1, PVVar, ""
	}
	nameEnd := identEnd(src, i)
	if name := string(src[i:nameEnd]); name == "rc" || name == "retcode" {
		return nameEnd, PVVar, ""
	}
	paren := i < len(src) && src[i] == '('
	if mode == ModeSER {
		if paren {
			return parenEnd(src, i), PVAttr, "$(...) pseudo-variables are not available in #!SER mode"
		}
		return attrExtent(src, i)
	}
	if paren {
		e := balanced(src, i, '(', ')')
		if e < 0 {
			return parenEnd(src, i), PVVar, "unclosed '(' in pseudo-variable"
		}
		return indexEnd(src, e), PVVar, ""
	}
	if nameEnd == i {
		return i, PVVar, "invalid pseudo-variable: '$' must be followed by a name"
	}
	if mode == ModeMaxCompat && nameEnd < len(src) {
		if src[nameEnd] == '[' || (src[nameEnd] == '.' && isAttrClass(string(src[i:nameEnd]))) {
			return attrExtent(src, i)
		}
	}
	if nameEnd < len(src) && src[nameEnd] == '(' {
		e := balanced(src, nameEnd, '(', ')')
		if e < 0 {
			return parenEnd(src, nameEnd), PVVar, "unclosed '(' in pseudo-variable"
		}
		return indexEnd(src, e), PVVar, ""
	}
	if mode == ModeMaxCompat {
		return nameEnd, PVVarOrAttr, ""
	}
	return indexEnd(src, nameEnd), PVVar, ""
}

// attrExtent reads a SER attribute after the '$': [class.]name[index].
func attrExtent(src []byte, i int) (int, PVKind, string) {
	j := identEnd(src, i)
	if j == i {
		return i, PVAttr, "invalid attribute: '$' must be followed by a name"
	}
	if j < len(src) && src[j] == '.' && isAttrClass(string(src[i:j])) {
		k := identEnd(src, j+1)
		if k == j+1 {
			return j + 1, PVAttr, "invalid attribute: missing name after '" + string(src[i:j+1]) + "'"
		}
		j = k
	}
	if j < len(src) && src[j] == '[' {
		k := j + 1
		switch {
		case k < len(src) && src[k] == '*':
			k++
		case k < len(src) && src[k] == '-':
			k++
			fallthrough
		default:
			for k < len(src) && isDigit(src[k]) {
				k++
			}
		}
		if k >= len(src) || src[k] != ']' {
			return k, PVAttr, "invalid attribute index: expected [n], [-n], [*] or []"
		}
		j = k + 1
	}
	return j, PVAttr, ""
}

// isAttrClass reports whether name is a SER attribute class prefix.
func isAttrClass(name string) bool {
	switch name {
	case "f", "t", "fr", "fu", "fd", "tr", "tu", "td", "g":
		return true
	}
	return false
}

// balanced returns the offset after the bracket that closes the one at
// offset i, or -1 when the line or the file ends first.
func balanced(src []byte, i int, open, close byte) int {
	depth := 0
	for j := i; j < len(src); j++ {
		switch src[j] {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j + 1
			}
		case '\n':
			return -1
		}
	}
	return -1
}

// parenEnd returns where an unclosed pseudo-variable is taken to end: at
// the end of the line.
func parenEnd(src []byte, i int) int {
	for i < len(src) && src[i] != '\n' {
		i++
	}
	return i
}

// indexEnd extends a pseudo-variable over an index written right after it
// ($hdr(Via)[0]).
func indexEnd(src []byte, i int) int {
	if i < len(src) && src[i] == '[' {
		if e := balanced(src, i, '[', ']'); e > 0 {
			return e
		}
	}
	return i
}

// scanSelect reads a select: @name(.name|[n]|["str"])*.
func (s *scanner) scanSelect(tok *token) {
	src := s.src
	j := identEnd(src, s.off+1)
	tok.kind = tSelect
	if j == s.off+1 {
		s.errorf(tok.pos, "invalid select: '@' must be followed by a name")
		tok.bad = true
	}
loop:
	for j < len(src) && !tok.bad {
		switch {
		case src[j] == '.' && j+1 < len(src) && isIdentStart(src[j+1]):
			j = identEnd(src, j+1)
		case src[j] == '[':
			k := j + 1
			if k < len(src) && src[k] == '"' {
				k++
				for k < len(src) && src[k] != '"' && src[k] != '\n' {
					if src[k] == '\\' && k+1 < len(src) && src[k+1] != '\n' {
						k++
					}
					k++
				}
				if k < len(src) && src[k] == '"' {
					k++
				}
			} else {
				if k < len(src) && src[k] == '-' {
					k++
				}
				for k < len(src) && isDigit(src[k]) {
					k++
				}
			}
			if k >= len(src) || src[k] != ']' || k == j+1 {
				s.errorf(tok.pos, "invalid select index: expected [number] or [\"string\"]")
				tok.bad = true
				j = k
				break loop
			}
			j = k + 1
		default:
			break loop
		}
	}
	tok.text = string(src[s.off:j])
	s.off = j
}

// ipv4Len returns the length of a dotted IPv4 address at offset i, or 0.
func ipv4Len(src []byte, i int) int {
	j := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if j >= len(src) || src[j] != '.' {
				return 0
			}
			j++
		}
		k := j
		for k < len(src) && isDigit(src[k]) {
			k++
		}
		if k == j || k-j > 3 {
			return 0
		}
		j = k
	}
	if j < len(src) && isIdentChar(src[j]) {
		return 0
	}
	return j - i
}

// maxIPv6Len is the length of the longest IPv6 address text,
// ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.
const maxIPv6Len = 45

// ipv6Len returns the length of an IPv6 address at offset i, or 0. To keep
// clear of "udp:host:port" and "case 1:", the text must hold "::" or all
// eight groups.
func ipv6Len(src []byte, i int) int {
	j, colons := i, 0
	for j < len(src) && (isHex(src[j]) || src[j] == ':' || src[j] == '.') {
		if src[j] == ':' {
			colons++
		}
		j++
		if j-i > maxIPv6Len {
			return 0 // and the scan stays linear on long runs like a:a:a:...
		}
	}
	if colons < 2 || (j < len(src) && isIdentChar(src[j])) {
		return 0
	}
	text := string(src[i:j])
	if colons != 7 && !strings.Contains(text, "::") {
		return 0
	}
	if a, err := netip.ParseAddr(text); err != nil || !a.Is6() || a.Zone() != "" {
		return 0
	}
	return j - i
}

// Character classes.

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\b'
}
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isLetter(c byte) bool     { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentStart(c byte) bool { return isLetter(c) || c == '_' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }
func isHex(c byte) bool        { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// identEnd returns the end of the run of identifier characters at i.
func identEnd(src []byte, i int) int {
	for i < len(src) && isIdentChar(src[i]) {
		i++
	}
	return i
}

// wordAt returns the run of identifier characters at i.
func wordAt(src []byte, i int) string {
	if i > len(src) {
		return ""
	}
	return string(src[i:identEnd(src, i)])
}
