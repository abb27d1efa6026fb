package script

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"sip-router.org/core/cfg"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// PVResolver compiles pseudo-variables, attributes, selects and formats
// (the pv package, behind the server's loader).
type PVResolver interface {
	Getter(text string, kind cfg.PVKind, mode cfg.Mode) (sr.Getter, error)
	Setter(text string, kind cfg.PVKind, mode cfg.Mode) (sr.Setter, error)
	Select(text string) (sr.Getter, error)
	Format(text string, mode cfg.Mode) (sr.Format, error)
	// XLFormat compiles a SER xl format (%ru, %$attr, %@select).
	XLFormat(text string) (sr.Format, error)
}

// Options configure a compilation.
type Options struct {
	// Modules are the modules the configuration loaded.
	Modules *module.Set
	// PVs compiles pseudo-variables.
	PVs PVResolver
	// Flags are the SER flag names declared with "flags" (name → bit).
	Flags map[string]int
	// AVPFlags are the avpflags names (name → flag bit).
	AVPFlags map[string]sr.AVPFlags
	// MaxWhileLoops bounds while loops (max_while_loops); 0 means 100.
	MaxWhileLoops int
	// Log receives run-time script errors.
	Log *slog.Logger
	// Resolve looks up a host name used in src_ip==host at load time;
	// nil leaves such names unresolved (an error).
	Resolve func(host string) ([]string, error)
}

// Errors is every error found while compiling, sorted by position.
type Errors []*sr.PosError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Warning is a problem that does not stop the load.
type Warning struct {
	Pos sr.Pos
	Msg string
}

type compiler struct {
	opts   Options
	file   *cfg.File
	s      *Script
	errs   Errors
	warns  []Warning
	reach  map[routeKey]sr.RouteType            // route types each route runs in
	caller map[routeKey]map[sr.RouteType]string // which block calls a sub-route in each route type
	cur    *cfg.Route
	curKey routeKey
	loops  int // nesting of while/switch, for break
}

// Compile turns the route blocks of a parsed configuration into a Script.
// It returns the warnings too (t_on_failure to an undefined route …).
func Compile(file *cfg.File, opts Options) (*Script, []Warning, error) {
	if opts.MaxWhileLoops <= 0 {
		opts.MaxWhileLoops = 100
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Flags == nil {
		opts.Flags = map[string]int{}
	}
	if opts.AVPFlags == nil {
		opts.AVPFlags = map[string]sr.AVPFlags{}
	}
	c := &compiler{
		opts: opts, file: file,
		s: &Script{
			routes:   map[routeKey]*route{},
			maxWhile: opts.MaxWhileLoops,
			maxDepth: 100,
			log:      opts.Log,
		},
		reach:  map[routeKey]sr.RouteType{},
		caller: map[routeKey]map[sr.RouteType]string{},
	}
	for _, r := range file.Routes {
		k := keyOf(r)
		if old, dup := c.s.routes[k]; dup {
			c.errorf(r.Pos, "duplicate route %s (first defined at %s)", describeRoute(r.Type, k.name), old.pos)
			continue
		}
		c.s.routes[k] = &route{typ: k.typ, name: k.name, pos: r.Pos, defined: true}
	}
	c.computeReach()
	for _, r := range file.Routes {
		c.cur, c.curKey = r, keyOf(r)
		rt := c.s.routes[c.curKey]
		if rt == nil || rt.pos != r.Pos {
			continue
		}
		rt.body = c.block(r.Body.Stmts)
	}
	if len(c.errs) > 0 {
		sort.SliceStable(c.errs, func(i, j int) bool { return posLess(c.errs[i].Pos, c.errs[j].Pos) })
		return nil, c.warns, c.errs
	}
	return c.s, c.warns, nil
}

func posLess(a, b sr.Pos) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}

// keyOf names a route block. The main request route is (RouteRequest, "").
func keyOf(r *cfg.Route) routeKey {
	if r.Type == sr.RouteRequest && r.Keyword != "route" && r.Keyword != "request_route" {
		return routeKey{sr.RouteRequest, r.Name}
	}
	return routeKey{r.Type, r.Name}
}

func describeRoute(t sr.RouteType, name string) string {
	kw := t.String()
	if t == sr.RouteRequest {
		if name == "" {
			return "request_route"
		}
		return "route[" + name + "]"
	}
	if name == "" {
		return kw
	}
	return kw + "[" + name + "]"
}

func (c *compiler) errorf(pos sr.Pos, format string, args ...any) {
	c.errs = append(c.errs, &sr.PosError{Pos: pos, Err: fmt.Errorf(format, args...)})
}

func (c *compiler) addErr(pos sr.Pos, err error) {
	var pe *sr.PosError
	if errors.As(err, &pe) {
		c.errs = append(c.errs, pe)
		return
	}
	c.errs = append(c.errs, &sr.PosError{Pos: pos, Err: err})
}

// computeReach finds, for every route block, the route types it runs in:
// its own for the top-level blocks, and for route[X] the types of every
// block that calls it (transitively). A route[X] nobody calls is checked as
// a request route, as Kamailio checks every route[X].
func (c *compiler) computeReach() {
	calls := map[routeKey][]routeKey{}
	for _, r := range c.file.Routes {
		k := keyOf(r)
		walkCalls(r.Body, func(call *cfg.Call) {
			if call.Name == "route" && len(call.Args) == 1 {
				calls[k] = append(calls[k], routeKey{sr.RouteRequest, call.Args[0].Text})
			}
		})
		if !(k.typ == sr.RouteRequest && k.name != "") {
			c.reach[k] |= k.typ
		}
	}
	// Propagate to a fixed point (the graph is small).
	for changed := true; changed; {
		changed = false
		for from, tos := range calls {
			for _, to := range tos {
				if added := c.reach[from] &^ c.reach[to]; added != 0 {
					c.reach[to] |= added
					if c.caller[to] == nil {
						c.caller[to] = map[sr.RouteType]string{}
					}
					for t := sr.RouteType(1); t != 0 && t <= sr.RouteEvent; t <<= 1 {
						if added&t != 0 {
							c.caller[to][t] = describeRoute(from.typ, from.name)
						}
					}
					changed = true
				}
			}
		}
	}
	for k := range c.s.routes {
		if c.reach[k] == 0 {
			c.reach[k] = sr.RouteRequest
		}
	}
}

func walkCalls(n cfg.Node, fn func(*cfg.Call)) {
	switch x := n.(type) {
	case *cfg.Block:
		for _, s := range x.Stmts {
			walkCalls(s, fn)
		}
	case *cfg.If:
		walkCalls(x.Cond, fn)
		walkCalls(x.Then, fn)
		if x.Else != nil {
			walkCalls(x.Else, fn)
		}
	case *cfg.Switch:
		walkCalls(x.X, fn)
		for _, cs := range x.Cases {
			for _, s := range cs.Body {
				walkCalls(s, fn)
			}
		}
	case *cfg.While:
		walkCalls(x.Cond, fn)
		walkCalls(x.Body, fn)
	case *cfg.Return:
		if x.X != nil {
			walkCalls(x.X, fn)
		}
	case *cfg.Assign:
		walkCalls(x.RHS, fn)
	case *cfg.Call:
		fn(x)
		for _, a := range x.Args {
			if a.Expr != nil {
				walkCalls(a.Expr, fn)
			}
		}
	case *cfg.Unary:
		walkCalls(x.X, fn)
	case *cfg.Binary:
		walkCalls(x.X, fn)
		walkCalls(x.Y, fn)
	case *cfg.Elem:
		if x.Value != nil {
			walkCalls(x.Value, fn)
		}
	}
}

// routeTypes are the types the route being compiled runs in.
func (c *compiler) routeTypes() sr.RouteType { return c.reach[c.curKey] }

// mode is the compatibility mode of the route being compiled.
func (c *compiler) mode() cfg.Mode { return c.cur.Mode }

// ---- statements ----

func (c *compiler) block(stmts []cfg.Stmt) []stmtFn {
	out := make([]stmtFn, 0, len(stmts))
	for _, st := range stmts {
		if fn := c.stmt(st); fn != nil {
			out = append(out, fn)
		}
	}
	return out
}

func runBlock(x *exec, body []stmtFn) flow {
	for _, st := range body {
		if f := st(x); f != flowNext {
			return f
		}
	}
	return flowNext
}

func (c *compiler) stmt(st cfg.Stmt) stmtFn {
	switch n := st.(type) {
	case *cfg.Block:
		body := c.block(n.Stmts)
		return func(x *exec) flow { return runBlock(x, body) }
	case *cfg.If:
		return c.ifStmt(n)
	case *cfg.Switch:
		return c.switchStmt(n)
	case *cfg.While:
		return c.whileStmt(n)
	case *cfg.Return:
		if n.X == nil {
			return func(x *exec) flow { x.ret = 1; return flowReturn }
		}
		val := c.expr(n.X)
		return func(x *exec) flow {
			v := val(x)
			if x.exit {
				return flowExit
			}
			x.ret = retCode(v)
			return flowReturn
		}
	case *cfg.Exit:
		return func(x *exec) flow { x.exit = true; return flowExit }
	case *cfg.Drop:
		return func(x *exec) flow { x.c.Dropped = true; x.exit = true; return flowExit }
	case *cfg.Break:
		return func(x *exec) flow { return flowBreak }
	case *cfg.Assign:
		return c.assign(n)
	case *cfg.Call:
		call := c.call(n)
		if call == nil {
			return nil
		}
		return func(x *exec) flow {
			call(x)
			if x.exit {
				return flowExit
			}
			return flowNext
		}
	}
	c.errorf(st.Position(), "unsupported statement %T", st)
	return nil
}

// retCode turns a returned value into a code: an int as is, a numeric
// string as its number, anything else 1.
func retCode(v sr.Value) int {
	if n, ok := v.AsInt(); ok {
		return n
	}
	return 1
}

func (c *compiler) ifStmt(n *cfg.If) stmtFn {
	cond := c.cond(n.Cond)
	then := c.stmt(n.Then)
	var els stmtFn
	if n.Else != nil {
		els = c.stmt(n.Else)
	}
	return func(x *exec) flow {
		ok := cond(x)
		if x.exit {
			return flowExit
		}
		if ok {
			if then != nil {
				return then(x)
			}
		} else if els != nil {
			return els(x)
		}
		return flowNext
	}
}

func (c *compiler) whileStmt(n *cfg.While) stmtFn {
	cond := c.cond(n.Cond)
	c.loops++
	body := c.stmt(n.Body)
	c.loops--
	pos := n.Pos
	return func(x *exec) flow {
		for i := 0; ; i++ {
			if i >= x.s.maxWhile {
				x.c.Log.Error("while loop reached max_while_loops; loop stopped", "at", pos.String(), "max", x.s.maxWhile)
				return flowNext
			}
			ok := cond(x)
			if x.exit {
				return flowExit
			}
			if !ok {
				return flowNext
			}
			if body == nil {
				continue
			}
			switch body(x) {
			case flowBreak:
				return flowNext
			case flowReturn:
				return flowReturn
			case flowExit:
				return flowExit
			}
		}
	}
}

type caseFn struct {
	isDefault bool
	match     func(x *exec, v sr.Value) bool
	body      []stmtFn
}

func (c *compiler) switchStmt(n *cfg.Switch) stmtFn {
	val := c.expr(n.X)
	c.loops++
	defer func() { c.loops-- }()
	cases := make([]caseFn, 0, len(n.Cases))
	seenDefault := false
	for _, cs := range n.Cases {
		cf := caseFn{body: c.block(cs.Body)}
		switch {
		case cs.Default:
			if seenDefault {
				c.errorf(cs.Pos, "switch: more than one default")
			}
			seenDefault = true
			cf.isDefault = true
		case cs.Regex:
			lit, ok := cs.Label.(*cfg.StrLit)
			if !ok {
				c.errorf(cs.Pos, "case /: the regular expression must be a string")
				continue
			}
			re, err := compileRegex(lit.Value)
			if err != nil {
				c.errorf(cs.Pos, "case /%q: bad regular expression: %v", lit.Value, err)
				continue
			}
			cf.match = func(_ *exec, v sr.Value) bool { return v.K != sr.Null && re.MatchString(v.Text()) }
		default:
			switch l := cs.Label.(type) {
			case *cfg.IntLit:
				want := l.Value
				cf.match = func(_ *exec, v sr.Value) bool { n, ok := v.AsInt(); return ok && v.K != sr.Null && n == want }
			case *cfg.StrLit:
				want := l.Value
				cf.match = func(_ *exec, v sr.Value) bool { return v.K != sr.Null && v.Text() == want }
			default:
				c.errorf(cs.Pos, "case label must be a number or a string")
				continue
			}
		}
		cases = append(cases, cf)
	}
	return func(x *exec) flow {
		v := val(x)
		if x.exit {
			return flowExit
		}
		start := -1
		for i := range cases {
			if !cases[i].isDefault && cases[i].match(x, v) {
				start = i
				break
			}
		}
		if start < 0 {
			for i := range cases {
				if cases[i].isDefault {
					start = i
					break
				}
			}
		}
		if start < 0 {
			return flowNext
		}
		for i := start; i < len(cases); i++ {
			switch f := runBlock(x, cases[i].body); f {
			case flowBreak:
				return flowNext
			case flowReturn, flowExit:
				return f
			}
		}
		return flowNext
	}
}

func (c *compiler) assign(n *cfg.Assign) stmtFn {
	if n.Op != "=" {
		c.errorf(n.Pos, "assignment operator %q is not supported (use =)", n.Op)
		return nil
	}
	set, err := c.opts.PVs.Setter(n.LHS.Text, n.LHS.Kind, n.LHS.Mode)
	if err != nil {
		c.addErr(n.LHS.Pos, err)
		return nil
	}
	val := c.expr(n.RHS)
	pos := n.Pos
	return func(x *exec) flow {
		v := val(x)
		if x.exit {
			return flowExit
		}
		if err := set.Set(x.c, v); err != nil {
			x.c.Log.Error("assignment failed", "at", pos.String(), "error", err)
		}
		return flowNext
	}
}

// ---- expressions ----

// cond compiles an expression used as a condition: a function or route
// call is true when its code is > 0; other values by truth().
func (c *compiler) cond(e cfg.Expr) condFn {
	switch n := e.(type) {
	case *cfg.Call:
		call := c.call(n)
		if call == nil {
			return func(*exec) bool { return false }
		}
		return func(x *exec) bool { return call(x) > 0 }
	case *cfg.Unary:
		if n.Op == "!" {
			inner := c.cond(n.X)
			return func(x *exec) bool { return !inner(x) }
		}
	case *cfg.Binary:
		switch n.Op {
		case "&&":
			a, b := c.cond(n.X), c.cond(n.Y)
			return func(x *exec) bool { return a(x) && !x.exit && b(x) }
		case "||":
			a, b := c.cond(n.X), c.cond(n.Y)
			return func(x *exec) bool { return (a(x) || (!x.exit && b(x))) && !x.exit }
		}
		if b := c.compareOp(n); b != nil {
			return b
		}
	case *cfg.Elem:
		return c.elem(n)
	}
	val := c.expr(e)
	return func(x *exec) bool { return truth(val(x)) }
}

func boolVal(b bool) sr.Value {
	if b {
		return sr.IntVal(1)
	}
	return sr.IntVal(0)
}

func (c *compiler) expr(e cfg.Expr) exprFn {
	switch n := e.(type) {
	case *cfg.IntLit:
		v := sr.IntVal(n.Value)
		return func(*exec) sr.Value { return v }
	case *cfg.StrLit:
		v := sr.StrVal(n.Value)
		return func(*exec) sr.Value { return v }
	case *cfg.Ident:
		v := sr.StrVal(n.Name)
		return func(*exec) sr.Value { return v }
	case *cfg.IP:
		v := sr.StrVal(n.Text)
		return func(*exec) sr.Value { return v }
	case *cfg.PV:
		g, err := c.opts.PVs.Getter(n.Text, n.Kind, n.Mode)
		if err != nil {
			c.addErr(n.Pos, err)
			return func(*exec) sr.Value { return sr.NullVal }
		}
		return func(x *exec) sr.Value { return g.Get(x.c) }
	case *cfg.Select:
		g, err := c.opts.PVs.Select(n.Text)
		if err != nil {
			c.addErr(n.Pos, err)
			return func(*exec) sr.Value { return sr.NullVal }
		}
		return func(x *exec) sr.Value { return g.Get(x.c) }
	case *cfg.Call:
		call := c.call(n)
		if call == nil {
			return func(*exec) sr.Value { return sr.NullVal }
		}
		return func(x *exec) sr.Value { return sr.IntVal(call(x)) }
	case *cfg.Unary:
		return c.unary(n)
	case *cfg.Binary:
		return c.binary(n)
	case *cfg.Elem:
		cond := c.elem(n)
		return func(x *exec) sr.Value { return boolVal(cond(x)) }
	case *cfg.Myself:
		c.errorf(n.Pos, "myself can only be compared (uri==myself, $var(h)==myself)")
		return func(*exec) sr.Value { return sr.NullVal }
	case *cfg.BadExpr:
		return func(*exec) sr.Value { return sr.NullVal }
	}
	c.errorf(e.Position(), "unsupported expression %T", e)
	return func(*exec) sr.Value { return sr.NullVal }
}

func (c *compiler) unary(n *cfg.Unary) exprFn {
	switch n.Op {
	case "!":
		cond := c.cond(n.X)
		return func(x *exec) sr.Value { return boolVal(!cond(x)) }
	}
	val := c.expr(n.X)
	pos := n.Pos
	switch n.Op {
	case "-":
		return func(x *exec) sr.Value {
			v := val(x)
			i, ok := v.AsInt()
			if !ok {
				x.c.Log.Debug("unary minus on a non-number", "at", pos.String())
				return sr.NullVal
			}
			return sr.IntVal(-i)
		}
	case "defined":
		return func(x *exec) sr.Value { return boolVal(val(x).K != sr.Null) }
	case "(int)":
		return func(x *exec) sr.Value { i, _ := val(x).AsInt(); return sr.IntVal(i) }
	case "(str)":
		return func(x *exec) sr.Value { return sr.StrVal(val(x).Text()) }
	case "strlen":
		return func(x *exec) sr.Value { return sr.IntVal(len(val(x).Text())) }
	case "strempty":
		return func(x *exec) sr.Value { return boolVal(val(x).Text() == "") }
	}
	c.errorf(n.Pos, "unknown operator %q", n.Op)
	return func(*exec) sr.Value { return sr.NullVal }
}

func (c *compiler) binary(n *cfg.Binary) exprFn {
	switch n.Op {
	case "&&", "||":
		cond := c.cond(n)
		return func(x *exec) sr.Value { return boolVal(cond(x)) }
	case "+", "-", "*", "/", "mod", "|", "&":
		a, b := c.expr(n.X), c.expr(n.Y)
		op, pos := n.Op, n.OpPos
		return func(x *exec) sr.Value {
			va := a(x)
			vb := b(x)
			v, err := arith(op, va, vb)
			if err != nil {
				x.c.Log.Debug("expression evaluation failed", "at", pos.String(), "error", err)
			}
			return v
		}
	}
	if cond := c.compareOp(n); cond != nil {
		return func(x *exec) sr.Value { return boolVal(cond(x)) }
	}
	c.errorf(n.OpPos, "unknown operator %q", n.Op)
	return func(*exec) sr.Value { return sr.NullVal }
}

// compareOp compiles == != =~ !~ eq ne ieq ine < > <= >=, or returns nil.
func (c *compiler) compareOp(n *cfg.Binary) condFn {
	switch n.Op {
	case "==", "!=", "=~", "!~", "eq", "ne", "ieq", "ine", "<", ">", "<=", ">=":
	default:
		return nil
	}
	// $x == myself / myself == $x
	if m, ok := n.Y.(*cfg.Myself); ok {
		return c.myselfCmp(n.Op, c.expr(n.X), m.Pos)
	}
	if m, ok := n.X.(*cfg.Myself); ok {
		return c.myselfCmp(n.Op, c.expr(n.Y), m.Pos)
	}
	a := c.expr(n.X)
	neg := n.Op == "!=" || n.Op == "!~" || n.Op == "ne" || n.Op == "ine"
	switch n.Op {
	case "=~", "!~":
		if lit, ok := n.Y.(*cfg.StrLit); ok {
			re, err := compileRegex(lit.Value)
			if err != nil {
				c.errorf(n.Y.Position(), "bad regular expression %q: %v", lit.Value, err)
				return func(*exec) bool { return false }
			}
			return func(x *exec) bool {
				v := a(x)
				return (v.K != sr.Null && re.MatchString(v.Text())) != neg
			}
		}
		b := c.expr(n.Y)
		pos := n.OpPos
		return func(x *exec) bool {
			v, pat := a(x), b(x)
			re, err := x.s.regexes.get(pat.Text())
			if err != nil {
				x.c.Log.Error("bad regular expression", "at", pos.String(), "regex", pat.Text(), "error", err)
				return false
			}
			return (v.K != sr.Null && re.MatchString(v.Text())) != neg
		}
	case "eq", "ne":
		b := c.expr(n.Y)
		return func(x *exec) bool {
			va, vb := a(x), b(x)
			return (va.K == vb.K && va.K == sr.Null || va.K != sr.Null && vb.K != sr.Null && va.Text() == vb.Text()) != neg
		}
	case "ieq", "ine":
		b := c.expr(n.Y)
		return func(x *exec) bool {
			ia, oka := a(x).AsInt()
			ib, okb := b(x).AsInt()
			return (oka && okb && ia == ib) != neg
		}
	case "==", "!=":
		b := c.expr(n.Y)
		return func(x *exec) bool { return equal(a(x), b(x)) != neg }
	}
	b := c.expr(n.Y)
	op := n.Op
	return func(x *exec) bool {
		r, ok := compare(a(x), b(x))
		if !ok {
			return false
		}
		switch op {
		case "<":
			return r < 0
		case ">":
			return r > 0
		case "<=":
			return r <= 0
		}
		return r >= 0
	}
}

// ---- calls ----

// call compiles a function call (core, route(), or module) into a closure
// returning its code. It records $rc and stops the script on a module
// function's 0.
func (c *compiler) call(n *cfg.Call) func(x *exec) int {
	if n.Name == "route" {
		return c.routeCall(n)
	}
	if cf := coreFuncs[n.Name]; cf != nil {
		return c.coreCall(cf, n)
	}
	return c.moduleCall(n)
}

func (c *compiler) routeCall(n *cfg.Call) func(x *exec) int {
	if len(n.Args) != 1 {
		c.errorf(n.Pos, "route: wrong number of arguments: got %d, want 1", len(n.Args))
		return nil
	}
	name := n.Args[0].Text
	r, ok := c.s.routes[routeKey{sr.RouteRequest, name}]
	if !ok || name == "" {
		c.errorf(n.Args[0].Pos, "route(%s): route[%s] is not defined", name, name)
		return nil
	}
	pos := n.Pos
	return func(x *exec) int {
		ret := x.callRoute(r, pos)
		x.c.RC = ret
		return ret
	}
}

// checkRoutes checks that a function allowed in the route types of mask
// may be called where the current block runs. In a top-level block a
// disallowed type is an error. A route[X] runs in every type that calls
// it; configs often guard a call with is_request() or a method check, so
// there the call is an error only when no calling type allows it, and a
// warning otherwise: the call then returns -1 when it runs in a type that
// does not allow it (guard is true).
func (c *compiler) checkRoutes(name string, allowed sr.RouteType, pos sr.Pos) (ok, guard bool) {
	types := c.routeTypes()
	var good, bad []sr.RouteType
	for _, t := range []sr.RouteType{sr.RouteRequest, sr.RouteFailure, sr.RouteOnReply, sr.RouteBranch, sr.RouteOnSend, sr.RouteError, sr.RouteLocal, sr.RouteEvent} {
		if types&t == 0 {
			continue
		}
		if allowed.Allows(t) {
			good = append(good, t)
		} else {
			bad = append(bad, t)
		}
	}
	if len(bad) == 0 {
		return true, false
	}
	sub := c.curKey.typ == sr.RouteRequest && c.curKey.name != ""
	where := bad[0].String()
	if sub && (len(bad) > 1 || bad[0] != sr.RouteRequest) {
		via := c.caller[c.curKey][bad[0]]
		if via == "" {
			via = "a " + bad[0].String()
		}
		where = fmt.Sprintf("%s (route[%s] is called from %s)", bad[0], c.curKey.name, via)
	}
	if !sub || len(good) == 0 {
		c.errorf(pos, "%s: not allowed in %s", name, where)
		return false, false
	}
	c.warns = append(c.warns, Warning{Pos: pos, Msg: fmt.Sprintf("%s: not allowed in %s; there it returns -1 without running", name, where)})
	return true, true
}

func (c *compiler) moduleCall(n *cfg.Call) func(x *exec) int {
	type cand struct {
		inst *module.Instance
		def  *module.FuncDef
	}
	var byName []cand
	insts := c.opts.Modules.Instances()
	// Most recently loaded first, as Kamailio searches.
	for i := len(insts) - 1; i >= 0; i-- {
		for _, f := range insts[i].Mod.Funcs {
			if f.Name == n.Name {
				byName = append(byName, cand{insts[i], f})
			}
		}
	}
	if len(byName) == 0 {
		for _, m := range module.All() {
			for _, f := range m.Funcs {
				if f.Name == n.Name {
					c.errorf(n.Pos, "unknown function %q (module %s is not loaded)", n.Name, m.Name)
					return nil
				}
			}
		}
		if m, _, ok := module.UnshippedFunc(n.Name); ok {
			c.errorf(n.Pos, "unknown function %q (module %s, which this tree does not ship)", n.Name, m)
			return nil
		}
		c.errorf(n.Pos, "unknown function %q", n.Name)
		return nil
	}
	var pick *cand
	for i := range byName {
		if byName[i].def.AcceptsArgs(len(n.Args)) {
			pick = &byName[i]
			break
		}
	}
	if pick == nil {
		var want []string
		for _, b := range byName {
			want = append(want, b.def.ArgsString())
		}
		c.errorf(n.Pos, "%s: wrong number of arguments: got %d, want %s", n.Name, len(n.Args), strings.Join(want, " or "))
		return nil
	}
	ok, guard := c.checkRoutes(n.Name, pick.def.Routes, n.Pos)
	if !ok {
		return nil
	}
	args, ok := c.moduleArgs(n)
	if !ok {
		return nil
	}
	fixup, fn := pick.def.Bind(pick.inst.Value)
	fx := &module.Fixup{Env: &fixupEnv{c: c}, Func: n.Name, Route: c.routeTypes(), Mode: modCompat(c.mode())}
	params, err := fixup(fx, args)
	if err != nil {
		c.addErr(n.Pos, err)
		return nil
	}
	mask := pick.def.Routes
	return func(x *exec) int {
		if guard && !mask.Allows(x.c.RouteType) {
			x.c.RC = -1
			return -1
		}
		ret := fn(x.c, params)
		x.c.RC = ret
		if ret == 0 {
			x.exit = true
		}
		return ret
	}
}

func (c *compiler) moduleArgs(n *cfg.Call) ([]module.Arg, bool) {
	args := make([]module.Arg, len(n.Args))
	for i, v := range n.Args {
		a := module.Arg{Pos: v.Pos, S: v.Text}
		switch v.Kind {
		case cfg.ValInt:
			a.Kind, a.I = module.ArgInt, v.Int
		case cfg.ValPV, cfg.ValSelect:
			a.Kind = module.ArgPV
		case cfg.ValExpr:
			c.errorf(v.Pos, "%s: an expression is not allowed as a function argument; assign it to a $var first", n.Name)
			return nil, false
		default:
			a.Kind = module.ArgStr
		}
		args[i] = a
	}
	return args, true
}

// fixupEnv is what module fixups see of the compiler.
type fixupEnv struct{ c *compiler }

func (e *fixupEnv) Format(s string, pos sr.Pos) (sr.Format, error) {
	f, err := e.c.opts.PVs.Format(s, e.c.mode())
	if err != nil {
		return nil, &sr.PosError{Pos: pos, Err: err}
	}
	return f, nil
}

func (e *fixupEnv) XLFormat(s string, pos sr.Pos) (sr.Format, error) {
	f, err := e.c.opts.PVs.XLFormat(s)
	if err != nil {
		return nil, &sr.PosError{Pos: pos, Err: err}
	}
	return f, nil
}

func (e *fixupEnv) Getter(s string, pos sr.Pos) (sr.Getter, error) {
	var g sr.Getter
	var err error
	if strings.HasPrefix(s, "@") {
		g, err = e.c.opts.PVs.Select(s)
	} else {
		g, err = e.c.opts.PVs.Getter(s, pvKindFor(s, e.c.mode()), e.c.mode())
	}
	if err != nil {
		return nil, &sr.PosError{Pos: pos, Err: err}
	}
	return g, nil
}

func (e *fixupEnv) Setter(s string, pos sr.Pos) (sr.Setter, error) {
	st, err := e.c.opts.PVs.Setter(s, pvKindFor(s, e.c.mode()), e.c.mode())
	if err != nil {
		return nil, &sr.PosError{Pos: pos, Err: err}
	}
	return st, nil
}

func (e *fixupEnv) RouteDefined(t sr.RouteType, name string) bool { return e.c.s.Has(t, name) }

func (e *fixupEnv) Flag(name string) (int, bool) {
	n, ok := e.c.opts.Flags[name]
	return n, ok
}

func (e *fixupEnv) Warn(pos sr.Pos, msg string) {
	e.c.warns = append(e.c.warns, Warning{Pos: pos, Msg: msg})
}

// pvKindFor classifies a pseudo-variable given as a function argument
// string, as the lexer would have classified it in the script.
func pvKindFor(s string, mode cfg.Mode) cfg.PVKind {
	switch mode {
	case cfg.ModeKamailio:
		return cfg.PVVar
	case cfg.ModeSER:
		if s == "$?" || s == "$rc" || s == "$retcode" {
			return cfg.PVVar
		}
		return cfg.PVAttr
	}
	body := strings.TrimPrefix(s, "$")
	if strings.HasPrefix(body, "(") || strings.ContainsAny(body, "(") {
		return cfg.PVVar
	}
	if strings.ContainsAny(body, ".[") {
		return cfg.PVAttr
	}
	return cfg.PVVarOrAttr
}

// intArg reads a constant int argument of a core function.
func intArg(v *cfg.Value) (int, error) {
	switch v.Kind {
	case cfg.ValInt:
		return v.Int, nil
	case cfg.ValString, cfg.ValIdent:
		n, err := strconv.Atoi(strings.TrimSpace(v.Text))
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v.Text)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s is not a number", v.Text)
}

// modCompat converts the parser's mode into the module contract's.
func modCompat(m cfg.Mode) module.Compat {
	switch m {
	case cfg.ModeKamailio:
		return module.Kamailio
	case cfg.ModeSER:
		return module.SER
	}
	return module.MaxCompat
}
