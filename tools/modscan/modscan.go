// Package modscan finds the modules in the source tree and reads their
// name, tree and dependencies from the module.Register call in their Go
// source, without compiling anything. The build uses it to check a flavor's
// module mix before compiling (duplicate names, missing or mismatched
// dependencies).
package modscan

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ModulePathPrefix is the Go module path prefix of the trees.
const ModulePathPrefix = "sip-router.org/"

// Trees are the module folders, in search order.
var Trees = []string{"modules", "modules_k", "modules_s"}

// Info describes one module found in the source tree.
type Info struct {
	Name string
	Tree string
	Deps []string
	// Dir is the module's folder relative to the repository root.
	Dir string
	// ImportPath is its Go package path.
	ImportPath string
	// Pos is where module.Register is called.
	Pos string
}

// ID returns tree/name.
func (i *Info) ID() string { return i.Tree + "/" + i.Name }

// Scan reads every module under root's trees. The result is keyed by
// tree/name.
func Scan(root string) (map[string]*Info, error) {
	out := map[string]*Info{}
	var errs []string
	for _, tree := range Trees {
		entries, err := os.ReadDir(filepath.Join(root, tree))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("scan modules: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") || e.Name() == "testdata" || e.Name() == "internal" {
				continue
			}
			dir := filepath.Join(tree, e.Name())
			info, err := scanDir(root, tree, dir)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			if info != nil {
				out[info.ID()] = info
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return out, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

func scanDir(root, tree, dir string) (*Info, error) {
	files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	fset := token.NewFileSet()
	var found *Info
	hasGo := false
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		hasGo = true
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		var ferr error
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !isRegister(call.Fun) || len(call.Args) != 1 {
				return true
			}
			lit := compositeLit(call.Args[0])
			if lit == nil {
				ferr = fmt.Errorf("%s: module.Register must be given a Spec literal", fset.Position(call.Pos()))
				return false
			}
			info, err := readSpec(fset, lit)
			if err != nil {
				ferr = err
				return false
			}
			if found != nil {
				ferr = fmt.Errorf("%s: second module.Register in %s (first at %s)", fset.Position(call.Pos()), dir, found.Pos)
				return false
			}
			info.Pos = relPos(root, fset.Position(call.Pos()))
			found = info
			return false
		})
		if ferr != nil {
			return nil, ferr
		}
	}
	if !hasGo {
		return nil, nil
	}
	if found == nil {
		return nil, fmt.Errorf("%s: Go package without a module.Register call", dir)
	}
	base := filepath.Base(dir)
	switch {
	case found.Name != base:
		return nil, fmt.Errorf("%s: module name %q differs from its folder %q", found.Pos, found.Name, base)
	case found.Tree != tree:
		return nil, fmt.Errorf("%s: module %s declares tree %q but lives in %s", found.Pos, found.Name, found.Tree, tree)
	}
	found.Dir = filepath.ToSlash(dir)
	found.ImportPath = ModulePathPrefix + found.Dir
	return found, nil
}

func relPos(root string, p token.Position) string {
	if r, err := filepath.Rel(root, p.Filename); err == nil {
		p.Filename = r
	}
	return fmt.Sprintf("%s:%d", p.Filename, p.Line)
}

// isRegister matches module.Register and module.Register[T].
func isRegister(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.IndexExpr:
		return isRegister(f.X)
	case *ast.IndexListExpr:
		return isRegister(f.X)
	case *ast.SelectorExpr:
		id, ok := f.X.(*ast.Ident)
		return ok && id.Name == "module" && f.Sel.Name == "Register"
	}
	return false
}

func compositeLit(e ast.Expr) *ast.CompositeLit {
	switch x := e.(type) {
	case *ast.CompositeLit:
		return x
	case *ast.UnaryExpr:
		return compositeLit(x.X)
	}
	return nil
}

var treeConsts = map[string]string{
	"TreeCommon":   "modules",
	"TreeKamailio": "modules_k",
	"TreeSER":      "modules_s",
}

func readSpec(fset *token.FileSet, lit *ast.CompositeLit) (*Info, error) {
	info := &Info{}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		pos := fset.Position(kv.Pos())
		switch key.Name {
		case "Name":
			s, ok := stringLit(kv.Value)
			if !ok {
				return nil, fmt.Errorf("%s: module Name must be a string literal", pos)
			}
			info.Name = s
		case "Tree":
			if s, ok := stringLit(kv.Value); ok {
				info.Tree = s
				break
			}
			if sel, ok := kv.Value.(*ast.SelectorExpr); ok && treeConsts[sel.Sel.Name] != "" {
				info.Tree = treeConsts[sel.Sel.Name]
				break
			}
			return nil, fmt.Errorf("%s: module Tree must be a string literal or module.Tree* constant", pos)
		case "Deps":
			cl, ok := kv.Value.(*ast.CompositeLit)
			if !ok {
				return nil, fmt.Errorf("%s: module Deps must be a []string literal", pos)
			}
			for _, d := range cl.Elts {
				s, ok := stringLit(d)
				if !ok {
					return nil, fmt.Errorf("%s: module Deps entries must be string literals", fset.Position(d.Pos()))
				}
				info.Deps = append(info.Deps, s)
			}
		}
	}
	if info.Name == "" || info.Tree == "" {
		return nil, fmt.Errorf("%s: module.Register without Name or Tree", fset.Position(lit.Pos()))
	}
	return info, nil
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}
