package cfg

import (
	"strings"

	"sip-router.org/core/sr"
)

// The #! directives. They are recognised where a token may start, with
// "#!" or, for everything but the mode lines, "!!". Inside a skipped
// #!ifdef region they are recognised at the start of a line.

var modeDirectives = map[string]Mode{
	"KAMAILIO":  ModeKamailio,
	"OPENSER":   ModeKamailio,
	"SER":       ModeSER,
	"MAXCOMPAT": ModeMaxCompat,
	"ALL":       ModeMaxCompat,
}

// isPrepKeyword reports whether w names a preprocessor directive.
func isPrepKeyword(w string) bool {
	switch w {
	case "define", "def", "trydefine", "trydef", "redefine", "redef",
		"ifdef", "ifndef", "else", "endif", "subst", "substdef", "substdefs":
		return true
	}
	return false
}

// directive handles the directive at s.off ("#!..." or "!!..."). It stops
// at the newline that ends the directive. A "#!" line that is not a known
// directive is a comment.
func (s *scanner) directive() {
	pos := s.pos()
	bang := s.src[s.off] == '!'
	kwEnd := identEnd(s.src, s.off+2)
	kw := string(s.src[s.off+2 : kwEnd])
	if m, ok := modeDirectives[kw]; ok && !bang {
		s.off = kwEnd
		if s.restIsEmpty() {
			s.pp.setMode(m, pos)
		}
		s.skipLine()
		return
	}
	// A directive name must end the word: "#!defined" is a comment.
	if !isPrepKeyword(kw) || (kwEnd < len(s.src) && !isBlank(s.src[kwEnd]) && s.src[kwEnd] != '\n') {
		s.skipLine()
		return
	}
	s.off = kwEnd
	switch kw {
	case "define", "def":
		s.defineDirective(kw, "define", pos)
	case "trydefine", "trydef":
		s.defineDirective(kw, "trydef", pos)
	case "redefine", "redef":
		s.defineDirective(kw, "redef", pos)
	case "ifdef", "ifndef":
		s.ifdefDirective(kw, pos)
	case "else":
		s.elseDirective(pos)
	case "endif":
		s.endifDirective(pos)
	default: // subst, substdef, substdefs
		s.substDirective(kw, pos)
	}
}

// defineDirective reads "NAME [value]". The value is the rest of the line;
// a backslash at the end of a line continues it on the next.
func (s *scanner) defineDirective(kw, kind string, pos sr.Pos) {
	s.skipBlanks()
	start := s.off
	end := identEnd(s.src, start)
	valid := end > start && !isDigit(s.src[start]) &&
		(end == len(s.src) || isBlank(s.src[end]) || s.src[end] == '\n' || s.continuation(end) > 0)
	if !valid {
		if s.restIsEmpty() {
			s.errorf(pos, "#!%s: missing name", kw)
		} else {
			s.errorf(pos, "#!%s: invalid name %q", kw, s.nonBlankRun())
		}
		s.defineValue()
		return
	}
	name := string(s.src[start:end])
	s.off = end
	value := s.defineValue()
	s.pp.define(kw, kind, name, value, pos)
}

// nonBlankRun returns the text from s.off up to the next blank.
func (s *scanner) nonBlankRun() string {
	j := s.off
	for j < len(s.src) && !isBlank(s.src[j]) && s.src[j] != '\n' {
		j++
	}
	return string(s.src[s.off:j])
}

// defineValue reads the rest of the line, joining lines that end with a
// backslash, and returns it without surrounding blanks.
func (s *scanner) defineValue() string {
	var b strings.Builder
	for s.off < len(s.src) && s.src[s.off] != '\n' {
		if n := s.continuation(s.off); n > 0 {
			s.moveTo(s.off + n)
			continue
		}
		b.WriteByte(s.src[s.off])
		s.off++
	}
	return strings.TrimSpace(b.String())
}

func (s *scanner) ifdefDirective(kw string, pos sr.Pos) {
	s.skipBlanks()
	start := s.off
	end := identEnd(s.src, start)
	if end == start {
		s.errorf(pos, "#!%s: missing name", kw)
		s.skipLine()
		// Keep the nesting balanced: the block counts as taken.
		s.ifs = append(s.ifs, ifFrame{pos: pos, kw: kw})
		return
	}
	name := string(s.src[start:end])
	s.off = end
	if !s.restIsEmpty() {
		s.errorf(pos, "#!%s %s: unexpected text after the name", kw, name)
	}
	s.skipLine()
	s.ifs = append(s.ifs, ifFrame{pos: pos, kw: kw})
	if s.pp.isDefined(name) != (kw == "ifdef") {
		s.skipInactive()
	}
}

func (s *scanner) elseDirective(pos sr.Pos) {
	if !s.restIsEmpty() {
		s.errorf(pos, "unexpected text after #!else")
	}
	s.skipLine()
	if len(s.ifs) == 0 {
		s.errorf(pos, "#!else without #!ifdef")
		return
	}
	f := &s.ifs[len(s.ifs)-1]
	if f.inElse {
		s.errorf(pos, "duplicate #!else for the #!%s at %s", f.kw, f.pos)
	}
	f.inElse = true
	// The text before this #!else was taken, so the text after it is not.
	s.skipInactive()
}

func (s *scanner) endifDirective(pos sr.Pos) {
	if !s.restIsEmpty() {
		s.errorf(pos, "unexpected text after #!endif")
	}
	s.skipLine()
	if len(s.ifs) == 0 {
		s.errorf(pos, "#!endif without #!ifdef")
		return
	}
	s.ifs = s.ifs[:len(s.ifs)-1]
}

// skipInactive drops the text of a branch not taken, up to the #!else or
// #!endif that ends it. Only the conditional directives at the start of a
// line are looked at, so the skipped text may hold anything. At the end
// of the file the open block is reported by eof.
func (s *scanner) skipInactive() {
	src := s.src
	depth := 0
	for {
		s.skipLine()
		if s.off >= len(src) {
			return
		}
		s.moveTo(s.off + 1)
		j := s.off
		for j < len(src) && isBlank(src[j]) {
			j++
		}
		if j+1 >= len(src) || src[j+1] != '!' || (src[j] != '#' && src[j] != '!') {
			continue
		}
		switch wordAt(src, j+2) {
		case "ifdef", "ifndef":
			depth++
		case "endif":
			if depth > 0 {
				depth--
				continue
			}
			s.off = j
			s.ifs = s.ifs[:len(s.ifs)-1]
			s.skipLine()
			return
		case "else":
			if depth > 0 {
				continue
			}
			s.off = j
			f := &s.ifs[len(s.ifs)-1]
			if f.inElse {
				s.errorf(s.pos(), "duplicate #!else for the #!%s at %s", f.kw, f.pos)
				continue
			}
			f.inElse = true
			s.skipLine()
			return
		}
	}
}

// substDirective reads the quoted expression of #!subst, #!substdef or
// #!substdefs.
func (s *scanner) substDirective(kw string, pos sr.Pos) {
	s.skipBlanks()
	var text string
	switch s.peekByte(0) {
	case '"':
		var b strings.Builder
		if !s.readQuoted(&b, s.pos()) {
			return
		}
		text = b.String()
	case '\'':
		var tok token
		tok.pos = s.pos()
		s.scanRawString(&tok)
		if tok.bad {
			return
		}
		text = tok.text
	default:
		s.errorf(pos, "#!%s: expected a quoted expression such as \"/regex/replacement/flags\"", kw)
		s.skipLine()
		return
	}
	if !s.restIsEmpty() {
		s.errorf(pos, "unexpected text after the #!%s expression", kw)
	}
	s.skipLine()
	s.pp.addSubst(kw, text, pos)
}
