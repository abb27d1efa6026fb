package cfg

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sip-router.org/core/sr"
)

// Limits that keep hostile input bounded.
const (
	defaultMaxIncludeDepth = 10
	maxIncludedFiles       = 1000    // files opened by one parse
	maxDefineDepth         = 64      // defines expanding inside defines
	maxExpansions          = 100000  // define uses in one parse
	maxExpansionBytes      = 1 << 20 // bytes of define values read in one parse
)

// define is a #!define (or -A) name.
type define struct {
	value  string
	origin string // "at file:line:col" or "on the command line"
}

// expansion is a #!define value being read in place of its name.
type expansion struct {
	name      string
	sc        *scanner
	first     bool
	space, nl bool
}

// subst is a #!subst rule, applied to every string token.
type subst struct {
	re     *regexp.Regexp
	repl   string // in regexp.Expand syntax
	global bool
}

// preproc sits between the scanners and the parser. It keeps the include
// stack, the defines, the #!subst rules and the compatibility mode,
// replaces defined names by their values and opens included files.
type preproc struct {
	errs     *errorCollector
	read     func(string) ([]byte, error)
	maxDepth int

	mode    Mode
	modes   []ModeChange
	defines map[string]*define
	substs  []*subst

	files      []*scanner // include stack; files[0] is the main file
	exps       []*expansion
	back       []token // tokens given back by include
	nexp       int     // define uses
	expBytes   int     // bytes of define values read
	expLimited bool    // the expansion limits were reached
	fileNames  []string
}

func newPreproc(name string, src []byte, opts Options, errs *errorCollector) *preproc {
	p := &preproc{
		errs:     errs,
		read:     opts.ReadFile,
		maxDepth: opts.MaxIncludeDepth,
		mode:     opts.Mode,
		defines:  make(map[string]*define),
	}
	if p.read == nil {
		p.read = os.ReadFile
	}
	if p.maxDepth <= 0 {
		p.maxDepth = defaultMaxIncludeDepth
	}
	for name, value := range opts.Defines {
		p.defines[name] = &define{value: value, origin: "on the command line"}
	}
	p.files = []*scanner{newScanner(p, name, src)}
	p.fileNames = []string{name}
	return p
}

// next returns the next token for the parser: defined names are replaced
// by their values, include_file and import_file are carried out, and the
// #!subst rules are applied to strings.
func (p *preproc) next() token {
	for {
		t := p.raw()
		switch t.kind {
		case tIdent:
			if t.text == "include_file" || t.text == "import_file" {
				p.include(t)
				continue
			}
			if d, ok := p.defines[t.text]; ok && !p.expanding(t.text) && p.expand(t, d) {
				continue
			}
		case tString:
			t.text = p.applySubst(t.text)
		}
		return t
	}
}

// raw returns the next token from the innermost source.
func (p *preproc) raw() token {
	if n := len(p.back); n > 0 {
		t := p.back[n-1]
		p.back = p.back[:n-1]
		return t
	}
	for {
		if n := len(p.exps); n > 0 {
			e := p.exps[n-1]
			t := e.sc.next()
			if t.kind == tEOF {
				p.exps = p.exps[:n-1]
				continue
			}
			if e.first {
				t.space, t.nl = e.space, e.nl
				e.first = false
			}
			return t
		}
		n := len(p.files)
		t := p.files[n-1].next()
		if t.kind == tEOF && n > 1 {
			p.files = p.files[:n-1]
			continue
		}
		return t
	}
}

func (p *preproc) expanding(name string) bool {
	for _, e := range p.exps {
		if e.name == name {
			return true
		}
	}
	return false
}

// expand starts reading the value of d in place of the name in use. It
// reports false when the name must stay as it is.
func (p *preproc) expand(use token, d *define) bool {
	if len(p.exps) >= maxDefineDepth {
		p.errs.errorf(use.pos, "#!define %s: expansion nested too deeply (more than %d levels)", use.text, maxDefineDepth)
		return false
	}
	if p.expLimited {
		return false
	}
	p.nexp++
	p.expBytes += len(d.value)
	if p.nexp > maxExpansions || p.expBytes > maxExpansionBytes {
		p.errs.errorf(use.pos, "too many #!define expansions (more than %d, or more than %d bytes)", maxExpansions, maxExpansionBytes)
		p.expLimited = true
		return false
	}
	if d.value != "" {
		p.exps = append(p.exps, &expansion{
			name:  use.text,
			sc:    newDefineScanner(p, d.value, use.pos),
			first: true,
			space: use.space,
			nl:    use.nl,
		})
	}
	return true
}

// include reads the file name after include_file or import_file and
// starts reading that file.
func (p *preproc) include(kw token) {
	t := p.raw()
	if t.kind != tString {
		if !t.bad {
			p.errs.errorf(t.pos, "%s needs a quoted file name, found %s", kw.text, t.describe())
		}
		// Drop the rest of the line: it is most likely the unquoted name.
		for !t.nl && t.kind != tEOF {
			t = p.raw()
		}
		p.back = append(p.back, t)
		return
	}
	if t.bad {
		return
	}
	name := p.applySubst(t.text)
	switch {
	case len(p.exps) > 0:
		p.errs.errorf(kw.pos, "%s cannot be used inside a #!define value", kw.text)
		return
	case name == "":
		p.errs.errorf(t.pos, "%s: empty file name", kw.text)
		return
	case len(p.files) > p.maxDepth:
		p.errs.errorf(kw.pos, "%s %q: too many nested includes (more than %d)", kw.text, name, p.maxDepth)
		return
	case len(p.fileNames) >= maxIncludedFiles:
		p.errs.errorf(kw.pos, "%s %q: too many included files (more than %d)", kw.text, name, maxIncludedFiles)
		return
	}
	src, path, err := p.open(name, kw.pos.File)
	if err != nil {
		if kw.text == "include_file" {
			p.errs.add(kw.pos, err)
		}
		return
	}
	p.fileNames = append(p.fileNames, path)
	p.files = append(p.files, newScanner(p, path, src))
}

// open reads an included file. A relative name is tried as it is (from
// the current directory), then in the directory of the including file.
func (p *preproc) open(name, includer string) ([]byte, string, error) {
	shown := name
	if !filepath.IsAbs(name) && !strings.HasPrefix(name, "./") && !strings.HasPrefix(name, "../") {
		shown = "./" + name
	}
	tried := []string{shown}
	src, err := p.read(name)
	if err == nil {
		return src, name, nil
	}
	if !filepath.IsAbs(name) {
		if dir := filepath.Dir(includer); dir != "." {
			alt := filepath.Join(dir, name)
			tried = append(tried, alt)
			if src, err2 := p.read(alt); err2 == nil {
				return src, alt, nil
			} else {
				err = err2
			}
		}
	}
	return nil, "", &IncludeError{Name: name, Tried: tried, Err: err}
}

func (p *preproc) setMode(m Mode, pos sr.Pos) {
	p.mode = m
	p.modes = append(p.modes, ModeChange{Pos: pos, Mode: m})
}

func (p *preproc) isDefined(name string) bool {
	_, ok := p.defines[name]
	return ok
}

// define handles #!define (kind "define"), #!trydef and #!redefine; kw is
// the directive as written.
func (p *preproc) define(kw, kind, name, value string, pos sr.Pos) {
	if old, ok := p.defines[name]; ok {
		switch kind {
		case "define":
			p.errs.errorf(pos, "#!%s: %s is already defined (%s)", kw, name, old.origin)
			return
		case "trydef":
			return
		}
	}
	p.defines[name] = &define{value: value, origin: "at " + pos.String()}
}

// addSubst handles #!subst, #!substdef and #!substdefs.
func (p *preproc) addSubst(kw, expr string, pos sr.Pos) {
	re, repl, flags, ok := splitSubst(expr)
	if !ok {
		p.errs.errorf(pos, "#!%s: invalid expression %q: expected /regex/replacement/flags", kw, expr)
		return
	}
	global, prefix := false, ""
	for _, f := range flags {
		switch f {
		case 'g':
			global = true
		case 'i':
			prefix = "(?i)"
		default:
			p.errs.errorf(pos, "#!%s: unknown flag %q in %q", kw, f, expr)
			return
		}
	}
	rx, err := regexp.Compile(prefix + re)
	if err != nil {
		p.errs.add(pos, fmt.Errorf("#!%s: bad regular expression %q: %w", kw, re, err))
		return
	}
	p.substs = append(p.substs, &subst{re: rx, repl: expandSyntax(repl), global: global})
	if kw == "subst" {
		return
	}
	if end := identEnd([]byte(re), 0); re == "" || end != len(re) || isDigit(re[0]) {
		p.errs.errorf(pos, "#!%s: %q is not a valid name to define", kw, re)
		return
	}
	if kw == "substdefs" {
		repl = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(repl) + `"`
	}
	p.define(kw, "define", re, repl, pos)
}

// splitSubst splits "/re/repl/flags"; the first character is the
// delimiter, which a backslash escapes.
func splitSubst(expr string) (re, repl, flags string, ok bool) {
	if len(expr) < 3 {
		return "", "", "", false
	}
	delim := expr[0]
	var parts []string
	var cur strings.Builder
	for i := 1; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\' && i+1 < len(expr) && expr[i+1] == delim:
			cur.WriteByte(delim)
			i++
		case c == '\\' && i+1 < len(expr):
			cur.WriteByte(c)
			cur.WriteByte(expr[i+1])
			i++
		case c == delim:
			parts = append(parts, cur.String())
			cur.Reset()
			if len(parts) == 2 {
				return parts[0], parts[1], expr[i+1:], true
			}
		default:
			cur.WriteByte(c)
		}
	}
	return "", "", "", false
}

// expandSyntax turns a sed-style replacement (\1 for a group, \\ for a
// backslash) into regexp.Expand syntax.
func expandSyntax(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl) && isDigit(repl[i+1]):
			b.WriteString("${" + repl[i+1:i+2] + "}")
			i++
		case c == '\\' && i+1 < len(repl):
			b.WriteByte(repl[i+1])
			i++
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// applySubst runs the #!subst rules over a string, in the order given.
func (p *preproc) applySubst(s string) string {
	for _, r := range p.substs {
		if r.global {
			s = r.re.ReplaceAllString(s, r.repl)
			continue
		}
		loc := r.re.FindStringSubmatchIndex(s)
		if loc == nil {
			continue
		}
		dst := r.re.ExpandString(nil, r.repl, s, loc)
		s = s[:loc[0]] + string(dst) + s[loc[1]:]
	}
	return s
}
