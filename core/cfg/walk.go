package cfg

// Inspect walks the tree under n in source order, calling f for each
// node; when f returns false, the children of that node are skipped.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	switch n := n.(type) {
	case *File:
		for _, it := range n.Items {
			Inspect(it, f)
		}
		for _, r := range n.Routes {
			Inspect(r, f)
		}
	case *Global:
		inspectValue(n.Value, f)
		inspectValue(n.Advertise, f)
	case *CustomVar:
		inspectValue(n.Value, f)
	case *ModParam:
		inspectValue(n.Value, f)
	case *FlagDecl:
		for _, fl := range n.Flags {
			Inspect(fl, f)
		}
	case *Route:
		if n.Body != nil {
			Inspect(n.Body, f)
		}
	case *Value:
		switch {
		case n.Addr != nil:
			Inspect(n.Addr, f)
		case n.PV != nil:
			Inspect(n.PV, f)
		case n.Expr != nil:
			Inspect(n.Expr, f)
		}
	case *Block:
		inspectStmts(n.Stmts, f)
	case *If:
		Inspect(n.Cond, f)
		Inspect(n.Then, f)
		if n.Else != nil {
			Inspect(n.Else, f)
		}
	case *Switch:
		Inspect(n.X, f)
		for _, c := range n.Cases {
			Inspect(c, f)
		}
	case *Case:
		if n.Label != nil {
			Inspect(n.Label, f)
		}
		inspectStmts(n.Body, f)
	case *While:
		Inspect(n.Cond, f)
		Inspect(n.Body, f)
	case *Return:
		inspectExpr(n.X, f)
	case *Exit:
		inspectExpr(n.X, f)
	case *Drop:
		inspectExpr(n.X, f)
	case *Assign:
		if n.LHS != nil {
			Inspect(n.LHS, f)
		}
		Inspect(n.RHS, f)
	case *Call:
		for _, a := range n.Args {
			inspectValue(a, f)
		}
	case *Unary:
		Inspect(n.X, f)
	case *Binary:
		Inspect(n.X, f)
		Inspect(n.Y, f)
	case *Elem:
		Inspect(n.Value, f)
	}
}

func inspectStmts(list []Stmt, f func(Node) bool) {
	for _, s := range list {
		Inspect(s, f)
	}
}

// The helpers keep typed nil pointers out of the Node interface.

func inspectValue(v *Value, f func(Node) bool) {
	if v != nil {
		Inspect(v, f)
	}
}

func inspectExpr(x Expr, f func(Node) bool) {
	if x != nil {
		Inspect(x, f)
	}
}
