package module

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"sip-router.org/core/db/schema"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

// Module is a registered module: the Spec of Register without its type
// parameter, plus where it came from.
type Module struct {
	Name    string
	Tree    string
	Deps    []string
	Summary string
	// ImportPath is the Go package that registered the module.
	ImportPath string
	Funcs      []*FuncDef
	Params     []*ParamDef
	PVs        []*PVDef
	RPCs       []*RPCDef
	// Tables are the names of the tables the module owns; TableDefs their
	// declarations.
	Tables    []string
	TableDefs []*schema.Table

	newInst func() any
}

// ID is the module's tree/name.
func (m *Module) ID() string { return m.Tree + "/" + m.Name }

// FuncDef is a registered function with its instance type erased.
type FuncDef struct {
	Name   string
	Args   []int
	Routes sr.RouteType
	// Bind returns the fixup and call of this function for one instance.
	Bind func(inst any) (fixup func(fx *Fixup, args []Arg) ([]any, error), call func(c *sr.Ctx, p []any) int)
}

// AcceptsArgs reports whether n arguments are allowed.
func (f *FuncDef) AcceptsArgs(n int) bool {
	if len(f.Args) == 0 {
		return n == 0
	}
	for _, a := range f.Args {
		if a == n {
			return true
		}
	}
	return false
}

// ArgsString describes the allowed argument counts ("1", "0 or 1", "1, 2 or 3").
func (f *FuncDef) ArgsString() string {
	if len(f.Args) == 0 {
		return "0"
	}
	parts := make([]string, len(f.Args))
	for i, a := range f.Args {
		parts[i] = fmt.Sprint(a)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// PVDef is a registered pseudo-variable class with its instance type erased.
type PVDef struct {
	Name  string
	Inner bool
	Bind  func(inst any) PVImpl
}

// PVImpl is a pseudo-variable class bound to one instance.
type PVImpl struct {
	Parse func(inner string) (any, error)
	Get   func(c *sr.Ctx, name any) sr.Value
	// Set is nil for a read-only variable.
	Set func(c *sr.Ctx, name any, v sr.Value) error
}

// RPCDef is a registered control command with its instance type erased.
type RPCDef struct {
	Name string
	Doc  string
	Bind func(inst any) rpc.Func
}

var (
	regMu    sync.RWMutex
	registry = map[string]*Module{}
)

// Register adds a module to the registry. It is called from the module's
// init function. Registering a second module with the same name panics,
// naming both Go packages: a binary holds one module per name.
func Register[T any](s Spec[T]) {
	m, err := build(s, callerPackage(2))
	if err != nil {
		panic(err)
	}
	regMu.Lock()
	defer regMu.Unlock()
	if old, dup := registry[m.Name]; dup {
		panic(fmt.Sprintf("module %q registered twice: by %s and by %s", m.Name, old.ImportPath, m.ImportPath))
	}
	registry[m.Name] = m
}

func build[T any](s Spec[T], importPath string) (*Module, error) {
	if s.Name == "" {
		return nil, fmt.Errorf("module registered by %s has no name", importPath)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("module %s (%s): %s", s.Name, importPath, fmt.Sprintf(format, args...))
	}
	switch s.Tree {
	case TreeCommon, TreeKamailio, TreeSER:
	default:
		return nil, fail("tree %q is not one of modules, modules_k, modules_s", s.Tree)
	}
	for _, seg := range strings.Split(importPath, "/") {
		if (seg == TreeCommon || seg == TreeKamailio || seg == TreeSER) && seg != s.Tree {
			return nil, fail("declares tree %s but lives in %s", s.Tree, importPath)
		}
	}
	for _, d := range s.Deps {
		tree, name, ok := strings.Cut(d, "/")
		if !ok || name == "" || (tree != TreeCommon && tree != TreeKamailio && tree != TreeSER) {
			return nil, fail("dependency %q is not written tree/name", d)
		}
	}
	if s.New == nil {
		return nil, fail("no constructor (Spec.New)")
	}
	m := &Module{
		Name: s.Name, Tree: s.Tree, Deps: append([]string(nil), s.Deps...),
		Summary: s.Summary, ImportPath: importPath,
		newInst: func() any { return s.New() },
	}
	for _, t := range s.Tables {
		m.Tables = append(m.Tables, t.Name)
		m.TableDefs = append(m.TableDefs, t)
	}
	params, err := paramsOf(s.New())
	if err != nil {
		return nil, fail("%v", err)
	}
	m.Params = params

	seen := map[string]bool{}
	for _, f := range s.Funcs {
		if f.Call == nil {
			return nil, fail("function %s has no Call", f.Name)
		}
		if f.Routes == 0 {
			return nil, fail("function %s allows no route type", f.Name)
		}
		key := fmt.Sprint(f.Name, f.Args)
		if seen[key] {
			return nil, fail("function %s declared twice", f.Name)
		}
		seen[key] = true
		f := f
		m.Funcs = append(m.Funcs, &FuncDef{
			Name: f.Name, Args: append([]int(nil), f.Args...), Routes: f.Routes,
			Bind: func(inst any) (func(*Fixup, []Arg) ([]any, error), func(*sr.Ctx, []any) int) {
				t := inst.(T)
				var fix func(*Fixup, []Arg) ([]any, error)
				if f.Fixup != nil {
					fix = func(fx *Fixup, args []Arg) ([]any, error) { return f.Fixup(t, fx, args) }
				} else {
					fix = plainArgs
				}
				return fix, func(c *sr.Ctx, p []any) int { return f.Call(t, c, p) }
			},
		})
	}
	for _, p := range s.PVs {
		if p.Get == nil {
			return nil, fail("pseudo-variable $%s has no Get", p.Name)
		}
		p := p
		m.PVs = append(m.PVs, &PVDef{
			Name: p.Name, Inner: p.Inner,
			Bind: func(inst any) PVImpl {
				t := inst.(T)
				impl := PVImpl{Get: func(c *sr.Ctx, name any) sr.Value { return p.Get(t, c, name) }}
				if p.Parse != nil {
					impl.Parse = func(inner string) (any, error) { return p.Parse(t, inner) }
				}
				if p.Set != nil {
					impl.Set = func(c *sr.Ctx, name any, v sr.Value) error { return p.Set(t, c, name, v) }
				}
				return impl
			},
		})
	}
	for _, r := range s.RPCs {
		if r.Call == nil {
			return nil, fail("RPC %s has no Call", r.Name)
		}
		r := r
		m.RPCs = append(m.RPCs, &RPCDef{
			Name: r.Name, Doc: r.Doc,
			Bind: func(inst any) rpc.Func {
				t := inst.(T)
				return func(req *rpc.Request) (any, error) { return r.Call(t, req) }
			},
		})
	}
	return m, nil
}

// plainArgs keeps each argument as written: a string for ArgStr and ArgPV,
// an int for ArgInt.
func plainArgs(_ *Fixup, args []Arg) ([]any, error) {
	p := make([]any, len(args))
	for i, a := range args {
		if a.Kind == ArgInt {
			p[i] = a.I
		} else {
			p[i] = a.S
		}
	}
	return p, nil
}

// callerPackage returns the import path of the package whose function is
// skip frames up the stack.
func callerPackage(skip int) string {
	pc, _, _, ok := runtime.Caller(skip)
	if !ok {
		return ""
	}
	fn := runtime.FuncForPC(pc)
	if fn == nil {
		return ""
	}
	name := fn.Name() // sip-router.org/modules_k/usrloc.init.0
	slash := strings.LastIndex(name, "/")
	if dot := strings.Index(name[slash+1:], "."); dot >= 0 {
		return name[:slash+1+dot]
	}
	return name
}

// Lookup returns the compiled-in module with that name.
func Lookup(name string) (*Module, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	m, ok := registry[name]
	return m, ok
}

// All returns every compiled-in module, sorted by tree and name.
func All() []*Module {
	regMu.RLock()
	defer regMu.RUnlock()
	mods := make([]*Module, 0, len(registry))
	for _, m := range registry {
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool {
		if mods[i].Tree != mods[j].Tree {
			return treeRank(mods[i].Tree) < treeRank(mods[j].Tree)
		}
		return mods[i].Name < mods[j].Name
	})
	return mods
}

func treeRank(t string) int {
	for i, x := range Trees {
		if x == t {
			return i
		}
	}
	return len(Trees)
}

// CheckDeps verifies that every compiled-in module's dependencies are
// compiled in too, from the tree they name. The build checks this before
// compiling; the server checks it again at start, so a binary assembled by
// hand cannot mix, say, a SER registrar with a Kamailio usrloc.
func CheckDeps() error {
	var errs []string
	for _, m := range All() {
		for _, d := range m.Deps {
			tree, name, _ := strings.Cut(d, "/")
			got, ok := Lookup(name)
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("%s needs %s, which is not compiled in", m.ID(), d))
			case got.Tree != tree:
				errs = append(errs, fmt.Sprintf("%s needs %s, but %s is compiled in instead", m.ID(), d, got.ID()))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("module dependencies: %s", strings.Join(errs, "; "))
	}
	return nil
}
