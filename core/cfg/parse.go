package cfg

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"sip-router.org/core/sr"
)

// Options control a parse.
type Options struct {
	// Defines are names defined before parsing, as -A NAME (value "") or
	// -A NAME=VALUE on the command line.
	Defines map[string]string
	// ReadFile reads the files named by include_file and import_file, and
	// the main file in ParseFile. A relative name is first given as it is
	// (relative to the current directory), then joined to the directory
	// of the including file. Nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// MaxIncludeDepth bounds the nesting of included files; 0 means 10.
	MaxIncludeDepth int
	// Mode is the compatibility mode before the first #! mode line. The
	// zero value, max compat, is what both 3.0 flavours use.
	Mode Mode
}

// maxNesting bounds nested blocks and expressions.
const maxNesting = 200

// ParseFile reads and parses the configuration file at path. See Parse.
func ParseFile(path string, opts Options) (*File, error) {
	read := opts.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	src, err := read(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file %q: %w", path, err)
	}
	return Parse(path, src, opts)
}

// Parse parses a configuration whose main file is named name and holds
// src. When the configuration has errors, the error is an ErrorList and
// the File holds what could be parsed.
func Parse(name string, src []byte, opts Options) (*File, error) {
	errs := &errorCollector{}
	errs.fileRank(name)
	p := &parser{
		pp:     newPreproc(name, src, opts, errs),
		errs:   errs,
		file:   &File{Pos: sr.Pos{File: name, Line: 1, Col: 1}, Name: name},
		routes: make(map[routeKey]*Route),
	}
	p.next()
	for p.tok.kind != tEOF {
		p.topLevel()
	}
	p.file.Modes = p.pp.modes
	p.file.Files = p.pp.fileNames
	return p.file, errs.result()
}

type routeKey struct {
	typ  sr.RouteType
	name string
}

// parser is a recursive-descent parser over the preprocessor's tokens,
// with precedence climbing for expressions.
type parser struct {
	pp     *preproc
	errs   *errorCollector
	tok    token   // the current token
	ahead  []token // tokens after tok, read by peek
	depth  int     // nesting of blocks and expressions
	abort  bool
	file   *File
	routes map[routeKey]*Route
}

// next moves to the next token.
func (p *parser) next() {
	if len(p.ahead) > 0 {
		p.tok = p.ahead[0]
		// Shift in place: the lookahead is a few tokens, and the array is
		// reused instead of reallocated.
		p.ahead = p.ahead[:copy(p.ahead, p.ahead[1:])]
		return
	}
	p.tok = p.fetch()
}

func (p *parser) fetch() token {
	if p.abort || p.errs.full {
		return token{kind: tEOF, pos: p.tok.pos, space: true, nl: true, bad: true}
	}
	return p.pp.next()
}

// peek returns the n-th token after the current one.
func (p *parser) peek(n int) token {
	for len(p.ahead) < n {
		p.ahead = append(p.ahead, p.fetch())
	}
	return p.ahead[n-1]
}

// glued reports whether the n-th token after the current one is written
// right after the one before it.
func (p *parser) glued(n int) bool {
	t := p.peek(n)
	return t.kind != tEOF && !t.space
}

// enter counts one level of nesting; past maxNesting it reports an error
// and stops the parse.
func (p *parser) enter() bool {
	p.depth++
	if p.depth > maxNesting {
		if !p.abort {
			p.errs.errorf(p.tok.pos, "nesting too deep (more than %d levels)", maxNesting)
			p.abort = true
		}
		// Every loop of the parser ends at the end of the file.
		p.tok = token{kind: tEOF, pos: p.tok.pos, space: true, nl: true, bad: true}
		p.ahead = nil
		return false
	}
	return true
}

func (p *parser) leave() { p.depth-- }

// errorAt reports an error at the token, unless one was reported for it.
func (p *parser) errorAt(t token, format string, args ...any) {
	if t.bad {
		return
	}
	p.errs.errorf(t.pos, format, args...)
}

func (p *parser) syntaxError(t token, format string, args ...any) {
	p.errorAt(t, "syntax error: "+format, args...)
}

// expect consumes the operator op or reports what was found instead.
func (p *parser) expect(op, context string) bool {
	if p.tok.is(op) {
		p.next()
		return true
	}
	p.syntaxError(p.tok, "unexpected %s, expected '%s'%s", p.tok.describe(), op, context)
	return false
}

// expectString consumes a string token and returns its value.
func (p *parser) expectString(what string) (string, bool) {
	if p.tok.kind == tString {
		s := p.tok.text
		p.next()
		return s, true
	}
	p.syntaxError(p.tok, "unexpected %s, expected %s", p.tok.describe(), what)
	return "", false
}

// syncTop skips what follows a top-level error: up to the next line that
// starts outside brackets, or past a ';'. With skipCurrent, the current
// token is skipped even when it starts a line: it is the one in error.
func (p *parser) syncTop(skipCurrent bool) {
	depth := 0
	for first := true; p.tok.kind != tEOF; first = false {
		t := p.tok
		if depth == 0 && t.nl && !(first && skipCurrent) {
			return
		}
		switch {
		case t.is("{"), t.is("("), t.is("["):
			depth++
		case t.is("}"), t.is(")"), t.is("]"):
			if depth > 0 {
				depth--
			}
		case t.is(";") && depth == 0:
			p.next()
			return
		}
		p.next()
	}
}

var routeKinds = map[string]struct {
	typ   sr.RouteType
	named int // 0: no name, 1: name optional, 2: name required
}{
	"route":         {sr.RouteRequest, 1},
	"request_route": {sr.RouteRequest, 0},
	"failure_route": {sr.RouteFailure, 2},
	"onreply_route": {sr.RouteOnReply, 1},
	"reply_route":   {sr.RouteOnReply, 0},
	"branch_route":  {sr.RouteBranch, 1},
	"onsend_route":  {sr.RouteOnSend, 1},
	"event_route":   {sr.RouteEvent, 2},
}

// topLevel parses one top-level element.
func (p *parser) topLevel() {
	t := p.tok
	switch {
	case t.is(";"):
		p.next() // empty statement
		return
	case t.kind == tIdent:
		if _, ok := routeKinds[t.text]; ok {
			p.parseRoute()
			return
		}
		switch t.text {
		case "local_route", "error_route", "startup_route":
			p.errorAt(t, "unknown route block %q", t.text)
			p.next()
			p.skipRouteBlock()
			return
		case "loadmodule":
			p.parseLoadModule()
			return
		case "loadpath", "mpath":
			p.parseLoadPath()
			return
		case "modparam":
			p.parseModParam()
			return
		case "flags", "bool", "avpflags":
			p.parseFlags()
			return
		}
		switch nt := p.peek(1); {
		case nt.is("="):
			p.parseGlobal()
			return
		case nt.is("."):
			p.parseCustomVar()
			return
		}
	}
	p.syntaxError(t, "unexpected %s, expected a global parameter, loadmodule, modparam or a route block", t.describe())
	p.syncTop(true)
}

// skipRouteBlock skips an optional [name] and a {...} block after an
// unknown route keyword.
func (p *parser) skipRouteBlock() {
	if p.tok.is("[") {
		for p.tok.kind != tEOF && !p.tok.is("]") && !p.tok.is("{") {
			p.next()
		}
		if p.tok.is("]") {
			p.next()
		}
	}
	if !p.tok.is("{") {
		return
	}
	depth := 0
	for p.tok.kind != tEOF {
		switch {
		case p.tok.is("{"):
			depth++
		case p.tok.is("}"):
			depth--
			if depth == 0 {
				p.next()
				return
			}
		}
		p.next()
	}
}

func (p *parser) parseGlobal() {
	name := p.tok
	p.next() // name
	p.next() // '='
	v := p.parseValue(ctxGlobal)
	if v == nil {
		p.syncTop(false)
		return
	}
	g := &Global{Pos: name.pos, Mode: name.mode, Name: name.text, Value: v}
	if p.tok.isWord("advertise") && !p.peek(1).is("=") {
		p.next()
		if g.Advertise = p.parseValue(ctxGlobal); g.Advertise == nil {
			p.syncTop(false)
		}
	}
	p.file.Items = append(p.file.Items, g)
}

func (p *parser) parseCustomVar() {
	group := p.tok
	p.next() // group
	p.next() // '.'
	if p.tok.kind != tIdent {
		p.syntaxError(p.tok, "unexpected %s, expected a variable name after %q", p.tok.describe(), group.text+".")
		p.syncTop(false)
		return
	}
	name := p.tok.text
	p.next()
	if !p.expect("=", " after "+group.text+"."+name) {
		p.syncTop(false)
		return
	}
	v := p.parseValue(ctxParam)
	if v == nil {
		p.syncTop(false)
		return
	}
	cv := &CustomVar{Pos: group.pos, Mode: group.mode, Group: group.text, Name: name, Value: v}
	switch p.tok.text {
	case "desc", "descr", "description":
		if p.tok.kind == tIdent {
			p.next()
			desc, ok := p.expectString("a description string")
			if !ok {
				p.syncTop(false)
				return
			}
			cv.Desc = desc
		}
	}
	p.file.Items = append(p.file.Items, cv)
}

func (p *parser) parseLoadModule() {
	kw := p.tok
	p.next()
	path, ok := p.expectString("the quoted module name after loadmodule")
	if !ok {
		p.syncTop(false)
		return
	}
	p.file.Items = append(p.file.Items, &LoadModule{Pos: kw.pos, Mode: kw.mode, Path: path})
}

func (p *parser) parseLoadPath() {
	kw := p.tok
	p.next()
	if p.tok.is("=") {
		p.next()
	}
	path, ok := p.expectString("the quoted module path after " + kw.text)
	if !ok {
		p.syncTop(false)
		return
	}
	p.file.Items = append(p.file.Items, &LoadPath{Pos: kw.pos, Mode: kw.mode, Keyword: kw.text, Path: path})
}

func (p *parser) parseModParam() {
	kw := p.tok
	p.next()
	if !p.expect("(", " after modparam") {
		p.syncTop(false)
		return
	}
	mod, ok := p.expectString("the quoted module name")
	if !ok || !p.expect(",", " after the module name") {
		p.syncTop(false)
		return
	}
	param, ok := p.expectString("the quoted parameter name")
	if !ok || !p.expect(",", " after the parameter name") {
		p.syncTop(false)
		return
	}
	v := p.parseValue(ctxParam)
	if v == nil || !p.expect(")", " to close modparam") {
		p.syncTop(false)
		return
	}
	p.file.Items = append(p.file.Items, &ModParam{Pos: kw.pos, Mode: kw.mode, Module: mod, Param: param, Value: v})
}

// parseFlags parses "flags NAME[:N], ..." or "avpflags NAME, ...".
func (p *parser) parseFlags() {
	kw := p.tok
	p.next()
	d := &FlagDecl{Pos: kw.pos, Mode: kw.mode, Keyword: kw.text}
	for {
		t := p.tok
		if t.kind != tIdent && t.kind != tString {
			p.syntaxError(t, "unexpected %s, expected a flag name", t.describe())
			p.syncTop(false)
			return
		}
		p.next()
		f := &Flag{Pos: t.pos, Name: t.text, Bit: -1}
		if p.tok.is(":") && kw.text != "avpflags" {
			p.next()
			n := p.tok
			if n.kind != tNum {
				p.syntaxError(n, "unexpected %s, expected a flag number after ':'", n.describe())
				p.syncTop(false)
				return
			}
			p.next()
			f.Bit, _ = p.intValue(n)
		}
		d.Flags = append(d.Flags, f)
		if !p.tok.is(",") {
			break
		}
		p.next()
	}
	p.file.Items = append(p.file.Items, d)
}

// intValue decodes a number token, reporting an invalid one.
func (p *parser) intValue(t token) (int, bool) {
	v, err := parseInt(t.text)
	if err != "" {
		p.errorAt(t, "invalid number %q: %s", t.text, err)
		return 0, false
	}
	return v, true
}

// parseInt decodes decimal, 0x hex, leading-0 octal and b-suffixed binary
// numbers. It returns a reason when the text is not a number.
func parseInt(text string) (int, string) {
	digits, base := text, 10
	switch {
	case len(text) > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'):
		digits, base = text[2:], 16
	case len(text) > 1 && text[len(text)-1] == 'b' && strings.Trim(text[:len(text)-1], "01") == "":
		digits, base = text[:len(text)-1], 2
	case len(text) > 1 && text[0] == '0':
		digits, base = text[1:], 8
	}
	v, err := strconv.ParseInt(digits, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, "out of range"
		}
		switch base {
		case 16:
			return 0, "not a hexadecimal number"
		case 8:
			return 0, "not an octal number (a leading 0 means octal)"
		}
		return 0, "not a number"
	}
	return int(v), ""
}

// yesNo returns the value of the words that stand for 1 and 0.
func yesNo(w string) (int, bool) {
	switch w {
	case "yes", "true", "on", "enable":
		return 1, true
	case "no", "false", "off", "disable":
		return 0, true
	}
	return 0, false
}
