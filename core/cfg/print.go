package cfg

import (
	"io"
	"strconv"
	"strings"

	"sip-router.org/core/sr"
)

// Fprint writes a compact, deterministic, indented dump of n and
// everything under it: one line per top-level item, route, statement and
// case, each starting with its position ("line:col", or "file:line:col"
// outside the main file), with expressions as S-expressions.
// Pseudo-variables show their kind and compatibility mode
// ($rU<pv:K>, $f.did<attr:M>, $x<pv-or-attr:M>).
func Fprint(w io.Writer, n Node) error {
	pr := &printer{}
	if f, ok := n.(*File); ok {
		pr.main = f.Name
	} else if n != nil {
		pr.main = n.Position().File
	}
	pr.node(n, 0)
	_, err := io.WriteString(w, pr.b.String())
	return err
}

type printer struct {
	b    strings.Builder
	main string
}

func (pr *printer) line(indent int, parts ...string) {
	for i := 0; i < indent; i++ {
		pr.b.WriteString("  ")
	}
	for i, s := range parts {
		if i > 0 {
			pr.b.WriteByte(' ')
		}
		pr.b.WriteString(s)
	}
	pr.b.WriteByte('\n')
}

func (pr *printer) pos(p sr.Pos) string {
	if p.File == pr.main {
		return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
	}
	return p.String()
}

func (pr *printer) node(n Node, indent int) {
	switch n := n.(type) {
	case nil:
		pr.line(indent, "<nil>")
	case *File:
		pr.line(indent, "file", strconv.Quote(n.Name))
		for i, f := range n.Files {
			if i > 0 {
				pr.line(indent, "include", strconv.Quote(f))
			}
		}
		for _, m := range n.Modes {
			pr.line(indent, pr.pos(m.Pos), "mode", m.Mode.String())
		}
		for _, it := range n.Items {
			pr.node(it, indent)
		}
		for _, r := range n.Routes {
			pr.node(r, indent)
		}
	case *Global:
		parts := []string{pr.pos(n.Pos), "global", n.Name, "=", pr.value(n.Value)}
		if n.Advertise != nil {
			parts = append(parts, "advertise", pr.value(n.Advertise))
		}
		pr.line(indent, parts...)
	case *CustomVar:
		parts := []string{pr.pos(n.Pos), "custom", n.Group + "." + n.Name, "=", pr.value(n.Value)}
		if n.Desc != "" {
			parts = append(parts, "desc", strconv.Quote(n.Desc))
		}
		pr.line(indent, parts...)
	case *LoadModule:
		pr.line(indent, pr.pos(n.Pos), "loadmodule", strconv.Quote(n.Path))
	case *LoadPath:
		pr.line(indent, pr.pos(n.Pos), n.Keyword, strconv.Quote(n.Path))
	case *ModParam:
		pr.line(indent, pr.pos(n.Pos), "modparam", strconv.Quote(n.Module), strconv.Quote(n.Param), pr.value(n.Value))
	case *FlagDecl:
		parts := []string{pr.pos(n.Pos), n.Keyword}
		for _, f := range n.Flags {
			parts = append(parts, flagString(f))
		}
		pr.line(indent, parts...)
	case *Flag:
		pr.line(indent, pr.pos(n.Pos), flagString(n))
	case *Route:
		head := n.Keyword
		if n.Name != "" {
			head += "[" + strconv.Quote(n.Name) + "]"
		}
		pr.line(indent, pr.pos(n.Pos), head, "type="+n.Type.String())
		if n.Body != nil {
			for _, s := range n.Body.Stmts {
				pr.stmt(s, indent+1, "")
			}
		}
	case *Case:
		pr.caseNode(n, indent)
	case Stmt:
		pr.stmt(n, indent, "")
	case Expr:
		pr.line(indent, pr.pos(n.Position()), pr.expr(n))
	case *Value:
		pr.line(indent, pr.pos(n.Pos), pr.value(n))
	case *Addr:
		pr.line(indent, pr.pos(n.Pos), addrString(n))
	}
}

func flagString(f *Flag) string {
	if f.Bit >= 0 {
		return f.Name + ":" + strconv.Itoa(f.Bit)
	}
	return f.Name
}

func (pr *printer) stmt(s Stmt, indent int, label string) {
	head := pr.pos(s.Position())
	if label != "" {
		head = label + " " + head
	}
	switch s := s.(type) {
	case *Block:
		pr.line(indent, head, "block")
		for _, st := range s.Stmts {
			pr.stmt(st, indent+1, "")
		}
	case *If:
		pr.line(indent, head, "if", pr.expr(s.Cond))
		pr.stmt(s.Then, indent+1, "then")
		if s.Else != nil {
			pr.stmt(s.Else, indent+1, "else")
		}
	case *While:
		pr.line(indent, head, "while", pr.expr(s.Cond))
		pr.stmt(s.Body, indent+1, "do")
	case *Switch:
		pr.line(indent, head, "switch", pr.expr(s.X))
		for _, c := range s.Cases {
			pr.caseNode(c, indent+1)
		}
	case *Return:
		pr.line(indent, pr.jump(head, "return", s.X)...)
	case *Exit:
		pr.line(indent, pr.jump(head, "exit", s.X)...)
	case *Drop:
		pr.line(indent, pr.jump(head, "drop", s.X)...)
	case *Break:
		pr.line(indent, head, "break")
	case *Assign:
		pr.line(indent, head, "assign", pr.expr(s.LHS), s.Op, pr.expr(s.RHS))
	case *Call:
		pr.line(indent, head, "call", pr.expr(s))
	}
}

func (pr *printer) jump(head, kw string, x Expr) []string {
	if x == nil {
		return []string{head, kw}
	}
	return []string{head, kw, pr.expr(x)}
}

func (pr *printer) caseNode(c *Case, indent int) {
	switch {
	case c.Default:
		pr.line(indent, pr.pos(c.Pos), "default:")
	case c.Regex:
		pr.line(indent, pr.pos(c.Pos), "case", "/"+pr.expr(c.Label)+":")
	default:
		pr.line(indent, pr.pos(c.Pos), "case", pr.expr(c.Label)+":")
	}
	for _, st := range c.Body {
		pr.stmt(st, indent+1, "")
	}
}

// expr renders an expression as an S-expression.
func (pr *printer) expr(e Expr) string {
	switch e := e.(type) {
	case nil:
		return "<nil>"
	case *IntLit:
		return intString(e.Value, e.Text)
	case *StrLit:
		return strconv.Quote(e.Value)
	case *Ident:
		return "id:" + e.Name
	case *PV:
		return pvString(e)
	case *Select:
		return e.Text
	case *IP:
		return "ip:" + e.Text
	case *Myself:
		return "myself"
	case *Call:
		if !e.Parens {
			return e.Name
		}
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = pr.value(a)
		}
		return e.Name + "(" + strings.Join(args, ", ") + ")"
	case *Unary:
		return "(" + e.Op + " " + pr.expr(e.X) + ")"
	case *Binary:
		return "(" + e.Op + " " + pr.expr(e.X) + " " + pr.expr(e.Y) + ")"
	case *Elem:
		if e.Reversed {
			return "(elem myself " + e.Op + " " + e.Name + ")"
		}
		return "(elem " + e.Name + " " + e.Op + " " + pr.expr(e.Value) + ")"
	case *BadExpr:
		return "<bad>"
	}
	return "<?>"
}

// value renders a Value.
func (pr *printer) value(v *Value) string {
	if v == nil {
		return "<nil>"
	}
	switch v.Kind {
	case ValString:
		return strconv.Quote(v.Text)
	case ValInt:
		return intString(v.Int, v.Text)
	case ValIdent:
		return "id:" + v.Text
	case ValAddr:
		if v.Addr == nil {
			return "addr:" + v.Text
		}
		return addrString(v.Addr)
	case ValPV:
		if v.PV != nil {
			return pvString(v.PV)
		}
	case ValExpr:
		return pr.expr(v.Expr)
	}
	return v.Text
}

func addrString(a *Addr) string {
	parts := []string{}
	if a.Proto != "" {
		parts = append(parts, "proto="+a.Proto)
	}
	parts = append(parts, "host="+a.Host)
	if a.Port != 0 {
		parts = append(parts, "port="+strconv.Itoa(a.Port))
	}
	return "addr{" + strings.Join(parts, " ") + "}"
}

// intString shows a number, and how it was written when that differs
// ("0x10=16", "yes=1").
func intString(v int, text string) string {
	s := strconv.Itoa(v)
	if text == "" || text == s {
		return s
	}
	return text + "=" + s
}

func pvString(v *PV) string {
	mode := "M"
	switch v.Mode {
	case ModeKamailio:
		mode = "K"
	case ModeSER:
		mode = "S"
	}
	return v.Text + "<" + v.Kind.String() + ":" + mode + ">"
}
