package cfg

import (
	"fmt"
	"net/netip"
	"strings"
)

// binaryOp returns the operator a token stands for in binary position and
// its precedence, from 1 (||) to 8 (* / mod); 0 when it is none.
func binaryOp(t token) (string, int) {
	switch t.kind {
	case tOp:
		switch t.text {
		case "||":
			return t.text, 1
		case "&&":
			return t.text, 2
		case "|":
			return t.text, 3
		case "&":
			return t.text, 4
		case "==", "!=", "=~", "!~":
			return t.text, 5
		case "<", ">", "<=", ">=":
			return t.text, 6
		case "+", "-":
			return t.text, 7
		case "*", "/":
			return t.text, 8
		}
	case tIdent:
		switch t.text {
		case "or":
			return "||", 1
		case "and":
			return "&&", 2
		case "eq", "ne", "ieq", "ine":
			return t.text, 5
		case "mod":
			return t.text, 8
		}
	}
	return "", 0
}

// isCompare reports whether a binary operator compares (precedence 5 or 6).
func isCompare(t token) bool {
	_, prec := binaryOp(t)
	return prec == 5 || prec == 6
}

// elemKeywords are the left sides of the SER expression elements.
var elemKeywords = map[string]bool{
	"method": true, "uri": true, "status": true, "from_uri": true, "to_uri": true,
	"src_ip": true, "dst_ip": true, "src_port": true, "dst_port": true,
	"snd_ip": true, "snd_port": true, "snd_proto": true, "to_proto": true,
	"snd_af": true, "to_af": true, "to_ip": true, "to_port": true,
	"proto": true, "af": true,
}

// parseExpr parses an expression.
func (p *parser) parseExpr() Expr { return p.parseBinary(1) }

func (p *parser) parseBinary(minPrec int) Expr {
	return p.parseBinaryRest(p.parseUnary(), minPrec)
}

// parseBinaryRest continues an expression whose left operand is x with
// the binary operators of precedence minPrec and higher. All of them are
// left-associative. Each operator deepens the tree by one level, so a
// long chain counts against the nesting limit like nested parentheses.
func (p *parser) parseBinaryRest(x Expr, minPrec int) Expr {
	levels := 0
	defer func() { p.depth -= levels }()
	for {
		op, prec := binaryOp(p.tok)
		if prec == 0 || prec < minPrec {
			return x
		}
		if !p.enter() {
			p.leave()
			return x
		}
		levels++
		opTok := p.tok
		p.next()
		y := p.parseBinary(prec + 1)
		x = &Binary{Pos: x.Position(), OpPos: opTok.pos, Op: op, X: x, Y: y}
	}
}

// parseUnary parses the prefix operators, which bind tighter than every
// binary operator: ! (not) and unary -, then defined, then the casts.
func (p *parser) parseUnary() Expr {
	t := p.tok
	if !p.enter() {
		p.leave()
		return &BadExpr{Pos: t.pos}
	}
	defer p.leave()
	switch {
	case t.is("!") || t.isWord("not"):
		p.next()
		return &Unary{Pos: t.pos, Op: "!", X: p.parseUnary()}
	case t.is("-"):
		p.next()
		x := p.parseUnary()
		if lit, ok := x.(*IntLit); ok {
			return &IntLit{Pos: t.pos, Value: -lit.Value, Text: "-" + lit.Text}
		}
		return &Unary{Pos: t.pos, Op: "-", X: x}
	case t.isWord("defined"):
		p.next()
		return &Unary{Pos: t.pos, Op: "defined", X: p.parseUnary()}
	case t.is("(") && p.glued(1) && (p.peek(1).isWord("int") || p.peek(1).isWord("str")) &&
		p.glued(2) && p.peek(2).is(")"):
		op := "(" + p.peek(1).text + ")"
		p.next()
		p.next()
		p.next()
		return &Unary{Pos: t.pos, Op: op, X: p.parseUnary()}
	}
	return p.parsePrimary()
}

// parsePrimary parses an operand.
func (p *parser) parsePrimary() Expr {
	t := p.tok
	switch t.kind {
	case tNum:
		p.next()
		v, _ := p.intValue(t)
		return &IntLit{Pos: t.pos, Value: v, Text: t.text}
	case tString:
		p.next()
		return &StrLit{Pos: t.pos, Value: t.text}
	case tPV:
		p.next()
		return pvNode(t)
	case tSelect:
		p.next()
		return &Select{Pos: t.pos, Text: t.text}
	case tIPv4, tIPv6:
		return p.parseIP()
	case tIdent:
		return p.parseIdentExpr()
	case tOp:
		switch {
		case t.is("("):
			p.next()
			x := p.parseExpr()
			if !p.tok.is(")") {
				p.syntaxError(p.tok, "unexpected %s, expected ')' to close the '(' at %s", p.tok.describe(), t.pos)
				return x
			}
			p.next()
			return x
		case t.is("[") && p.peek(1).kind == tIPv6 && p.peek(2).is("]"):
			return p.parseIP()
		}
	}
	p.syntaxError(t, "unexpected %s, expected an expression", t.describe())
	switch {
	case t.kind == tEOF, t.is(")"), t.is("}"), t.is("{"), t.is(";"), t.is(","):
	default:
		p.next()
	}
	return &BadExpr{Pos: t.pos}
}

// stmtKeywords cannot be used as identifiers in expressions.
var stmtKeywords = map[string]bool{
	"if": true, "else": true, "switch": true, "case": true, "default": true,
	"while": true, "return": true, "exit": true, "drop": true, "break": true,
}

// parseIdentExpr parses an operand that starts with an identifier: a
// yes/no word, myself, an expression element, strlen/strempty, a function
// call or a bare identifier.
func (p *parser) parseIdentExpr() Expr {
	t := p.tok
	if stmtKeywords[t.text] {
		p.syntaxError(t, "unexpected keyword %q, expected an expression", t.text)
		return &BadExpr{Pos: t.pos}
	}
	if v, ok := yesNo(t.text); ok {
		p.next()
		return &IntLit{Pos: t.pos, Value: v, Text: t.text}
	}
	switch {
	case t.text == "myself":
		p.next()
		if isCompare(p.tok) && elemKeywords[p.peek(1).text] && p.peek(1).kind == tIdent {
			op, _ := binaryOp(p.tok)
			p.next()
			name := p.tok.text
			p.next()
			return &Elem{Pos: t.pos, Name: name, Op: op, Value: &Myself{Pos: t.pos}, Reversed: true}
		}
		return &Myself{Pos: t.pos}
	case t.text == "msg" && p.peek(1).is(":") && p.glued(1) && p.peek(2).isWord("len") && p.glued(2):
		p.next()
		p.next()
		p.next()
		return p.parseElem(t, "msg:len")
	case elemKeywords[t.text] && isCompare(p.peek(1)):
		p.next()
		return p.parseElem(t, t.text)
	case (t.text == "strlen" || t.text == "strempty") && p.peek(1).is("("):
		p.next()
		open := p.tok
		p.next()
		x := p.parseExpr()
		if !p.tok.is(")") {
			p.syntaxError(p.tok, "unexpected %s, expected ')' to close the '(' at %s", p.tok.describe(), open.pos)
		} else {
			p.next()
		}
		return &Unary{Pos: t.pos, Op: t.text, X: x}
	case p.peek(1).is("("):
		return p.parseCall()
	case elemKeywords[t.text]:
		p.errorAt(p.peek(1), "%s must be followed by a comparison (%s == ...)", t.text, t.text)
	}
	p.next()
	return &Ident{Pos: t.pos, Name: t.text}
}

// parseElem parses the operator and right side of an expression element
// whose keyword (at t) was consumed.
func (p *parser) parseElem(t token, name string) Expr {
	op, prec := binaryOp(p.tok)
	if !isCompare(p.tok) {
		p.syntaxError(p.tok, "unexpected %s, expected a comparison after %s", p.tok.describe(), name)
		return &BadExpr{Pos: t.pos}
	}
	p.next()
	e := &Elem{Pos: t.pos, Name: name, Op: op}
	if p.tok.isWord("myself") {
		e.Value = &Myself{Pos: p.tok.pos}
		p.next()
		return e
	}
	e.Value = p.parseBinary(prec + 1)
	return e
}

// parseIP parses an unquoted IP address or network: ADDR, [IPv6],
// ADDR/bits, ADDR/netmask.
func (p *parser) parseIP() Expr {
	t := p.tok
	text, addrText := t.text, t.text
	if t.is("[") {
		p.next()
		addrText = p.tok.text
		text = "[" + addrText + "]"
		p.next()
	}
	p.next()
	ip := &IP{Pos: t.pos, Text: text, Bits: -1}
	a, err := netip.ParseAddr(addrText)
	if err != nil {
		if !t.bad {
			p.errs.add(t.pos, fmt.Errorf("invalid IP address %q: %w", addrText, err))
		}
		return ip
	}
	ip.Addr = a
	if !p.tok.is("/") {
		return ip
	}
	p.next()
	m := p.tok
	switch m.kind {
	case tNum:
		p.next()
		n, ok := p.intValue(m)
		if ok && (n < 0 || n > a.BitLen()) {
			p.errorAt(m, "invalid netmask /%s for %s", m.text, addrText)
		}
		ip.Bits = n
	case tIPv4, tIPv6:
		p.next()
		n, ok := maskBits(m.text, a.BitLen())
		if !ok {
			p.errorAt(m, "invalid netmask %s for %s", m.text, addrText)
		}
		ip.Bits = n
	default:
		p.syntaxError(m, "unexpected %s, expected a netmask (8 or 255.0.0.0) after '/'", m.describe())
		return ip
	}
	ip.Text += "/" + m.text
	return ip
}

// maskBits returns the prefix length of a netmask such as 255.255.0.0.
func maskBits(mask string, bitLen int) (int, bool) {
	a, err := netip.ParseAddr(mask)
	if err != nil || a.BitLen() != bitLen {
		return 0, false
	}
	bits, zero := 0, false
	for _, b := range a.AsSlice() {
		for i := 7; i >= 0; i-- {
			switch set := b&(1<<i) != 0; {
			case set && zero:
				return 0, false
			case set:
				bits++
			default:
				zero = true
			}
		}
	}
	return bits, true
}

// parseCall parses name(args); the current token is the name and the next
// one '('.
func (p *parser) parseCall() *Call {
	name := p.tok
	p.next()
	open := p.tok
	p.next()
	c := &Call{Pos: name.pos, Name: name.text, Parens: true}
	if p.tok.is(")") {
		p.next()
		return c
	}
	for {
		c.Args = append(c.Args, p.parseArg())
		switch {
		case p.tok.is(","):
			p.next()
			continue
		case p.tok.is(")"):
			p.next()
			return c
		}
		p.syntaxError(p.tok, "unexpected %s in the arguments of %s, expected ',' or ')' (the '(' is at %s)",
			p.tok.describe(), name.text, open.pos)
		p.skipArgs()
		return c
	}
}

// skipArgs skips the rest of a broken argument list: past the ')' that
// closes it, or up to a ';', '{' or '}'.
func (p *parser) skipArgs() {
	depth := 0
	for p.tok.kind != tEOF {
		switch {
		case p.tok.is("("):
			depth++
		case p.tok.is(")"):
			if depth == 0 {
				p.next()
				return
			}
			depth--
		case p.tok.is(";"), p.tok.is("{"), p.tok.is("}"):
			return
		}
		p.next()
	}
}

// parseArg parses a function argument. The simple forms keep their kind;
// anything else is parsed as an expression.
func (p *parser) parseArg() *Value {
	t := p.tok
	var v *Value
	switch {
	case t.kind == tString:
		p.next()
		v = &Value{Pos: t.pos, Kind: ValString, Text: t.text}
	case t.kind == tPV:
		p.next()
		v = &Value{Pos: t.pos, Kind: ValPV, Text: t.text, PV: pvNode(t)}
	case t.kind == tSelect:
		p.next()
		v = &Value{Pos: t.pos, Kind: ValSelect, Text: t.text}
	case t.isWord("uri") && p.peek(1).is(":") && p.glued(1) && p.glued(2) &&
		(p.peek(2).isWord("host") || p.peek(2).isWord("port")):
		kind := ValURIHost
		if p.peek(2).text == "port" {
			kind = ValURIPort
		}
		p.next()
		p.next()
		p.next()
		v = &Value{Pos: t.pos, Kind: kind, Text: kind.String()}
	case t.kind == tIdent && (p.peek(1).is("(") || t.text == "not" || t.text == "defined" ||
		t.text == "myself" || (elemKeywords[t.text] && isCompare(p.peek(1)))):
		return exprValue(p.parseExpr())
	case t.kind == tIdent, t.kind == tNum, t.kind == tIPv4, t.kind == tIPv6, t.is("*"),
		t.is("[") && p.peek(1).kind == tIPv6:
		v = p.parseValue(ctxArg)
	default:
		return exprValue(p.parseExpr())
	}
	if v == nil {
		return &Value{Pos: t.pos, Kind: ValExpr, Expr: &BadExpr{Pos: t.pos}}
	}
	if _, prec := binaryOp(p.tok); prec > 0 {
		if x := v.asExpr(); x != nil {
			return exprValue(p.parseBinaryRest(x, 1))
		}
	}
	return v
}

// exprValue wraps an expression argument, keeping the simple forms as
// their own kinds.
func exprValue(x Expr) *Value {
	switch e := x.(type) {
	case *IntLit:
		return &Value{Pos: e.Pos, Kind: ValInt, Text: e.Text, Int: e.Value}
	case *StrLit:
		return &Value{Pos: e.Pos, Kind: ValString, Text: e.Value}
	case *PV:
		return &Value{Pos: e.Pos, Kind: ValPV, Text: e.Text, PV: e}
	case *Select:
		return &Value{Pos: e.Pos, Kind: ValSelect, Text: e.Text}
	case *Ident:
		return &Value{Pos: e.Pos, Kind: ValIdent, Text: e.Name}
	}
	return &Value{Pos: x.Position(), Kind: ValExpr, Expr: x}
}

// asExpr returns the value as an expression operand, or nil.
func (v *Value) asExpr() Expr {
	switch v.Kind {
	case ValString:
		return &StrLit{Pos: v.Pos, Value: v.Text}
	case ValInt:
		return &IntLit{Pos: v.Pos, Value: v.Int, Text: v.Text}
	case ValPV:
		return v.PV
	case ValSelect:
		return &Select{Pos: v.Pos, Text: v.Text}
	case ValIdent:
		return &Ident{Pos: v.Pos, Name: v.Text}
	}
	return nil
}

// valueCtx says where a value is written.
type valueCtx uint8

const (
	ctxGlobal valueCtx = iota // a global parameter: string, number, identifier or address
	ctxParam                  // a modparam or custom variable: string or number
	ctxArg                    // a function argument (see parseArg)
)

// parseValue parses the value of a global parameter, a modparam or a
// custom variable, or an unquoted argument. It returns nil after an
// error.
func (p *parser) parseValue(ctx valueCtx) *Value {
	t := p.tok
	switch {
	case t.kind == tString:
		p.next()
		return &Value{Pos: t.pos, Kind: ValString, Text: t.text}
	case t.is("-") && p.peek(1).kind == tNum && p.glued(1):
		p.next()
		n := p.tok
		p.next()
		v, _ := p.intValue(n)
		return &Value{Pos: t.pos, Kind: ValInt, Text: "-" + n.text, Int: -v}
	case ctx == ctxParam && t.kind == tNum:
		p.next()
		v, _ := p.intValue(t)
		return &Value{Pos: t.pos, Kind: ValInt, Text: t.text, Int: v}
	case ctx == ctxParam && t.kind == tIdent:
		if v, ok := yesNo(t.text); ok {
			p.next()
			return &Value{Pos: t.pos, Kind: ValInt, Text: t.text, Int: v}
		}
		p.errorAt(t, "expected a string or a number, found identifier %q (a name used as a value must be #!define'd)", t.text)
		return nil
	case ctx == ctxParam:
		p.syntaxError(t, "unexpected %s, expected a string or a number", t.describe())
		return nil
	case t.kind == tIdent, t.kind == tNum, t.kind == tIPv4, t.kind == tIPv6, t.is("["), t.is("*"):
		return p.valueFromTokens(p.gatherAddr())
	}
	p.syntaxError(t, "unexpected %s, expected a value", t.describe())
	return nil
}

// gatherAddr collects the tokens of an unquoted value: the current token
// and those written right after it that can be part of an address
// (udp:10.0.0.1:5060, [::1]:5060, sip-1.example.com).
func (p *parser) gatherAddr() []token {
	toks := []token{p.tok}
	p.next()
	for !p.tok.space && p.tok.kind != tEOF {
		t, prev := p.tok, toks[len(toks)-1]
		switch {
		case t.kind == tIdent, t.kind == tNum, t.kind == tIPv4, t.kind == tIPv6,
			t.is(":"), t.is("."), t.is("-"), t.is("["), t.is("]"):
		case t.is("*") && prev.is(":"):
		default:
			return toks
		}
		toks = append(toks, t)
		p.next()
	}
	return toks
}

// valueFromTokens makes a value of gathered tokens: a number, a yes/no
// word, an identifier, or an address.
func (p *parser) valueFromTokens(toks []token) *Value {
	first := toks[0]
	if len(toks) == 1 {
		switch first.kind {
		case tNum:
			v, _ := p.intValue(first)
			return &Value{Pos: first.pos, Kind: ValInt, Text: first.text, Int: v}
		case tIdent:
			if v, ok := yesNo(first.text); ok {
				return &Value{Pos: first.pos, Kind: ValInt, Text: first.text, Int: v}
			}
			return &Value{Pos: first.pos, Kind: ValIdent, Text: first.text}
		}
	}
	text := joinTokens(toks)
	a, why := parseAddr(toks)
	if why != "" {
		p.errorAt(first, "invalid address %q: %s", text, why)
		return nil
	}
	return &Value{Pos: first.pos, Kind: ValAddr, Text: text, Addr: a}
}

// parseAddr reads [proto:]host[:port] from gathered tokens. It returns a
// reason when they do not form an address.
func parseAddr(toks []token) (*Addr, string) {
	a := &Addr{Pos: toks[0].pos}
	i := 0
	if len(toks) >= 3 && toks[0].kind == tIdent && toks[1].is(":") {
		switch proto := strings.ToLower(toks[0].text); proto {
		case "udp", "tcp", "tls", "sctp", "ws", "wss":
			a.Proto = proto
			i = 2
		}
	}
	if i >= len(toks) {
		return nil, "missing host"
	}
	switch t := toks[i]; {
	case t.is("["):
		if i+2 >= len(toks) || toks[i+1].kind != tIPv6 || !toks[i+2].is("]") {
			return nil, "expected an IPv6 address in brackets"
		}
		a.Host = "[" + toks[i+1].text + "]"
		i += 3
	case t.is("*"):
		a.Host = "*"
		i++
	case t.kind == tIPv6:
		a.Host = t.text
		i++
	default:
		start := i
		for i < len(toks) && (isHostPart(toks[i]) || toks[i].is(".") || toks[i].is("-")) {
			i++
		}
		host := joinTokens(toks[start:i])
		if i == start || !isHostPart(toks[start]) || !isHostPart(toks[i-1]) ||
			strings.Contains(host, "..") || strings.Contains(host, ".-") || strings.Contains(host, "-.") {
			return nil, "invalid host name"
		}
		a.Host = host
	}
	if i < len(toks) && toks[i].is(":") {
		if i+1 >= len(toks) || toks[i+1].kind != tNum {
			return nil, "expected a port number after ':'"
		}
		port, why := parseInt(toks[i+1].text)
		if why != "" || port < 0 || port > 65535 {
			return nil, "invalid port " + toks[i+1].text
		}
		a.Port = port
		i += 2
	}
	if i < len(toks) {
		return nil, "unexpected '" + toks[i].text + "'"
	}
	return a, ""
}

func pvNode(t token) *PV {
	return &PV{Pos: t.pos, Text: t.text, Kind: t.pvKind, Mode: t.mode}
}

func isHostPart(t token) bool { return t.kind == tIdent || t.kind == tNum || t.kind == tIPv4 }

func joinTokens(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.text)
	}
	return b.String()
}
