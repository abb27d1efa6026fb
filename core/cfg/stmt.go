package cfg

import (
	"strconv"
	"strings"

	"sip-router.org/core/sr"
)

// parseRoute parses a route block: KEYWORD [ '[' NAME ']' ] '{' ... '}'.
func (p *parser) parseRoute() {
	kw := p.tok
	kind := routeKinds[kw.text]
	p.next()
	r := &Route{Pos: kw.pos, Mode: kw.mode, Type: kind.typ, Keyword: kw.text, NamePos: kw.pos}
	if p.tok.is("[") {
		p.next()
		name, pos, ok := p.parseRouteName(kw.text)
		if !ok || !p.expect("]", " after the route name") {
			p.syncTop(false)
			return
		}
		r.Name, r.NamePos = name, pos
		if kind.named == 0 {
			p.errs.errorf(pos, "%s takes no name", kw.text)
		}
		// route[0] and onreply_route[0] are the unnamed blocks.
		if r.Name == "0" && (kw.text == "route" || kw.text == "onreply_route") {
			r.Name = ""
		}
	} else if kind.named == 2 {
		p.errorAt(p.tok, "%s needs a name: %s[NAME] { ... }", kw.text, kw.text)
	}
	if !p.tok.is("{") {
		p.syntaxError(p.tok, "unexpected %s, expected '{' to start the %s block", p.tok.describe(), kw.text)
		p.syncTop(false)
		return
	}
	r.Body = p.parseBlock()
	key := routeKey{r.Type, r.Name}
	if first, dup := p.routes[key]; dup {
		p.errs.errorf(r.NamePos, "duplicate %s (first defined at %s)", describeRoute(r), first.Pos)
		return
	}
	p.routes[key] = r
	p.file.Routes = append(p.file.Routes, r)
}

// describeRoute names a route block for messages.
func describeRoute(r *Route) string {
	if r.Name != "" {
		return r.Keyword + " " + strconv.Quote(r.Name)
	}
	switch r.Type {
	case sr.RouteRequest:
		return "main request route"
	case sr.RouteOnReply:
		return "main reply route"
	}
	return "unnamed " + r.Keyword
}

// parseRouteName parses what is between the brackets of a route header: a
// number, an identifier, a string, or for event_route a group:name made
// of identifiers, '-' and ':'.
func (p *parser) parseRouteName(kw string) (string, sr.Pos, bool) {
	t := p.tok
	switch t.kind {
	case tString:
		p.next()
		if t.text == "" {
			p.errorAt(t, "empty route name")
			return "", t.pos, false
		}
		return t.text, t.pos, true
	case tNum:
		p.next()
		v, ok := p.intValue(t)
		return strconv.Itoa(v), t.pos, ok
	case tIdent:
	default:
		p.syntaxError(t, "unexpected %s, expected a route name", t.describe())
		return "", t.pos, false
	}
	var b strings.Builder
	spaced := false
	for p.tok.kind == tIdent || p.tok.kind == tNum || p.tok.is(":") || p.tok.is("-") || p.tok.is(".") {
		if b.Len() > 0 && p.tok.space {
			b.WriteByte(' ')
			spaced = true
		}
		b.WriteString(p.tok.text)
		p.next()
	}
	name := b.String()
	if spaced {
		p.errs.errorf(t.pos, "invalid route name %q", name)
		return "", t.pos, false
	}
	if kw == "event_route" {
		if i := strings.IndexByte(name, ':'); i <= 0 || i == len(name)-1 || strings.Contains(name, "::") {
			p.errs.errorf(t.pos, "invalid event_route name %q: expected group:name", name)
			return "", t.pos, false
		}
	} else if name != t.text {
		p.errs.errorf(t.pos, "invalid route name %q", name)
		return "", t.pos, false
	}
	return name, t.pos, true
}

// parseBlock parses '{' statements '}'.
func (p *parser) parseBlock() *Block {
	open := p.tok
	b := &Block{Pos: open.pos}
	if !p.enter() {
		p.leave()
		return b
	}
	defer p.leave()
	p.next()
	for !p.tok.is("}") {
		if p.tok.kind == tEOF {
			p.syntaxError(p.tok, "unexpected end of file, missing '}' (block opened at %s)", open.pos)
			return b
		}
		if s := p.parseStmt(); s != nil {
			b.Stmts = append(b.Stmts, s)
		}
	}
	p.next()
	return b
}

// parseStmt parses one statement. It returns nil for an empty statement
// and after an error. It always consumes at least one token, except at
// '}' or the end of the file.
func (p *parser) parseStmt() Stmt {
	if !p.enter() {
		p.leave()
		return nil
	}
	defer p.leave()
	t := p.tok
	switch t.kind {
	case tOp:
		switch t.text {
		case ";":
			p.next()
			return nil
		case "{":
			return p.parseBlock()
		}
	case tPV:
		return p.parseAssign()
	case tIdent:
		switch t.text {
		case "if":
			return p.parseIf()
		case "else":
			p.syntaxError(t, "else without if")
			p.next()
			return nil
		case "switch":
			return p.parseSwitch()
		case "while":
			return p.parseWhile()
		case "case", "default":
			p.syntaxError(t, "%s label outside a switch", t.text)
			p.syncStmt()
			return nil
		case "return", "exit", "drop":
			return p.parseJump()
		case "break":
			p.next()
			p.endStmt()
			return &Break{Pos: t.pos}
		}
		return p.parseCallStmt()
	}
	if t.kind != tEOF && !t.is("}") {
		p.syntaxError(t, "unexpected %s, expected a statement", t.describe())
		p.syncStmt()
	}
	return nil
}

// syncStmt skips what follows a statement error: past the next ';', or up
// to a '}' that closes the enclosing block.
func (p *parser) syncStmt() {
	depth := 0
	for p.tok.kind != tEOF {
		t := p.tok
		switch {
		case t.is("{"), t.is("("), t.is("["):
			depth++
		case t.is(")"), t.is("]"):
			if depth > 0 {
				depth--
			}
		case t.is("}"):
			if depth == 0 {
				return
			}
			depth--
			if depth == 0 {
				p.next()
				return
			}
		case t.is(";") && depth == 0:
			p.next()
			return
		}
		p.next()
	}
}

// endStmt consumes the ';' that ends a simple statement. A missing ';' is
// reported at the token found instead.
func (p *parser) endStmt() {
	switch {
	case p.tok.is(";"):
		p.next()
	case p.tok.kind == tEOF:
		// The enclosing block reports the end of the file.
	default:
		p.syntaxError(p.tok, "missing ';' after statement")
		if !p.tok.nl && !p.tok.is("}") {
			p.syncStmt()
		}
	}
}

// parseBody parses the statement after if, else or while.
func (p *parser) parseBody(after token) Stmt {
	if p.tok.is("}") || p.tok.kind == tEOF {
		p.syntaxError(p.tok, "unexpected %s, expected a statement after %s", p.tok.describe(), after.text)
		return &Block{Pos: p.tok.pos}
	}
	pos := p.tok.pos
	if s := p.parseStmt(); s != nil {
		return s
	}
	return &Block{Pos: pos}
}

// parseCond parses the condition of if, while or switch. After an error
// in it, the rest up to the body is skipped.
func (p *parser) parseCond() Expr {
	n := len(p.errs.list)
	x := p.parseExpr()
	if len(p.errs.list) > n {
		depth := 0
		for p.tok.kind != tEOF && !(depth == 0 && (p.tok.is("{") || p.tok.is(";") || p.tok.is("}"))) {
			switch {
			case p.tok.is("("):
				depth++
			case p.tok.is(")") && depth > 0:
				depth--
			}
			p.next()
		}
	}
	return x
}

func (p *parser) parseIf() Stmt {
	t := p.tok
	p.next()
	s := &If{Pos: t.pos, Cond: p.parseCond()}
	s.Then = p.parseBody(t)
	if p.tok.isWord("else") {
		e := p.tok
		p.next()
		s.Else = p.parseBody(e)
	}
	return s
}

func (p *parser) parseWhile() Stmt {
	t := p.tok
	p.next()
	s := &While{Pos: t.pos, Cond: p.parseCond()}
	s.Body = p.parseBody(t)
	return s
}

// parseSwitch parses switch (x) { case ...: ... default: ... }.
func (p *parser) parseSwitch() Stmt {
	t := p.tok
	p.next()
	s := &Switch{Pos: t.pos, X: p.parseCond()}
	if !p.tok.is("{") {
		p.syntaxError(p.tok, "unexpected %s, expected '{' after the switch expression", p.tok.describe())
		p.syncStmt()
		return s
	}
	open := p.tok
	p.next()
	var cur *Case
	var deflt *Case
	labels := make(map[string]*Case)
	var kind *Case // the first labelled case, whose type the others must share
	for !p.tok.is("}") {
		if p.tok.kind == tEOF {
			p.syntaxError(p.tok, "unexpected end of file, missing '}' (switch opened at %s)", open.pos)
			return s
		}
		if p.tok.isWord("case") || p.tok.isWord("default") {
			c := p.parseCaseLabel()
			switch {
			case c.Default && deflt != nil:
				p.errs.errorf(c.Pos, "duplicate default in switch (first at %s)", deflt.Pos)
			case c.Default:
				deflt = c
			case c.Label != nil:
				key := labelKey(c)
				if first, dup := labels[key]; dup {
					p.errs.errorf(c.Pos, "duplicate case label %s (first at %s)", key[2:], first.Pos)
				}
				labels[key] = c
				if kind == nil {
					kind = c
				} else if key[0] != labelKey(kind)[0] {
					p.errs.errorf(c.Pos, "switch mixes integer and string case labels (first label at %s)", kind.Pos)
				}
			}
			s.Cases = append(s.Cases, c)
			cur = c
			continue
		}
		st := p.parseStmt()
		if st == nil {
			continue
		}
		if cur == nil {
			p.errs.errorf(st.Position(), "statement before the first case label of the switch")
			continue
		}
		cur.Body = append(cur.Body, st)
	}
	p.next()
	return s
}

// labelKey identifies a case label: "i:5", "s:\"x\"", "s:/\"re\"".
func labelKey(c *Case) string {
	switch l := c.Label.(type) {
	case *IntLit:
		return "i:" + strconv.Itoa(l.Value)
	case *StrLit:
		if c.Regex {
			return "s:/" + strconv.Quote(l.Value)
		}
		return "s:" + strconv.Quote(l.Value)
	}
	return "?:"
}

// parseCaseLabel parses "case LABEL:", "case /REGEX:" or "default:".
func (p *parser) parseCaseLabel() *Case {
	t := p.tok
	p.next()
	c := &Case{Pos: t.pos, Default: t.text == "default"}
	if !c.Default {
		if p.tok.is("/") {
			c.Regex = true
			p.next()
		}
		lt := p.tok
		x := p.parseExpr()
		switch x.(type) {
		case *IntLit:
			if c.Regex {
				p.errorAt(lt, "a regular expression case label must be a string")
			} else {
				c.Label = x
			}
		case *StrLit:
			c.Label = x
		case *BadExpr:
		default:
			p.errorAt(lt, "case label must be a constant number or string")
		}
	}
	if !p.tok.is(":") {
		p.syntaxError(p.tok, "unexpected %s, expected ':' after the %s label", p.tok.describe(), t.text)
		if !p.tok.nl {
			p.syncStmt()
		}
		return c
	}
	p.next()
	return c
}

// parseJump parses return, exit and drop, each with an optional value.
func (p *parser) parseJump() Stmt {
	t := p.tok
	p.next()
	var x Expr
	if startsExpr(p.tok) {
		x = p.parseExpr()
	}
	p.endStmt()
	switch t.text {
	case "exit":
		return &Exit{Pos: t.pos, X: x}
	case "drop":
		return &Drop{Pos: t.pos, X: x}
	}
	return &Return{Pos: t.pos, X: x}
}

// startsExpr reports whether t can start an expression.
func startsExpr(t token) bool {
	switch t.kind {
	case tIdent, tNum, tString, tIPv4, tIPv6, tPV, tSelect:
		return true
	case tOp:
		return t.is("(") || t.is("!") || t.is("-") || t.is("[")
	}
	return false
}

// parseAssign parses PV = expr;.
func (p *parser) parseAssign() Stmt {
	t := p.tok
	p.next()
	if !p.tok.is("=") {
		p.syntaxError(p.tok, "unexpected %s, expected '=' after %s", p.tok.describe(), t.text)
		p.syncStmt()
		return nil
	}
	p.next()
	s := &Assign{Pos: t.pos, LHS: pvNode(t), Op: "=", RHS: p.parseExpr()}
	p.endStmt()
	return s
}

// parseCallStmt parses a function call used as a statement: name(args);
// or, as a few core functions allow, name;.
func (p *parser) parseCallStmt() Stmt {
	t := p.tok
	switch nt := p.peek(1); {
	case nt.is("("):
		c := p.parseCall()
		p.endStmt()
		return c
	case nt.is("="):
		p.errorAt(nt, "cannot assign to %s: the left side must be a pseudo-variable or an attribute ($name)", t.text)
		p.syncStmt()
		return nil
	}
	p.next()
	c := &Call{Pos: t.pos, Name: t.text}
	p.endStmt()
	return c
}
