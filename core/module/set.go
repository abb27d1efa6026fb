package module

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"strings"

	"sip-router.org/core/flavor"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
	"sip-router.org/core/stats"
)

// Instance is a module activated by loadmodule in one configuration load.
type Instance struct {
	Mod *Module
	// Value is the module's instance (what Spec.New returned).
	Value any
	// Pos is the loadmodule line.
	Pos sr.Pos
}

// Set is the modules a configuration has loaded, with their parameters.
// Each configuration load makes its own Set; nothing is shared between two
// loads.
type Set struct {
	// Flavor names the binary's flavor in error messages.
	Flavor string
	// Available lists tree/name of every module in the source tree, compiled
	// in or not, so that loading one that is not built in can say how to
	// build it in.
	Available []string
	// SearchPath is the module path set with mpath/loadpath. When an entry
	// ends in a tree folder name (…/modules_k), modules from a tree that no
	// entry names are refused, as the real search would not find them.
	SearchPath []string

	order  []*Instance
	byName map[string]*Instance
	inited []*Instance
	myself []func(host string, port int) bool
}

// Myself reports whether a module claims host[:port] as this server (the
// domain module's register_myself); the transports' own addresses and
// aliases are checked before.
func (s *Set) Myself(host string, port int) bool {
	for _, fn := range s.myself {
		if fn(host, port) {
			return true
		}
	}
	return false
}

// NewSet returns an empty set for a binary of the given flavor.
func NewSet(flavor string, available []string) *Set {
	return &Set{Flavor: flavor, Available: available, byName: map[string]*Instance{}}
}

// Instances returns the loaded modules in load order.
func (s *Set) Instances() []*Instance { return s.order }

// Get returns a loaded module by name.
func (s *Set) Get(name string) (*Instance, bool) {
	i, ok := s.byName[name]
	return i, ok
}

// ErrNotBuiltIn is wrapped by Load when the module is not in this binary.
var ErrNotBuiltIn = errors.New("not built into this binary")

// Load activates a compiled-in module. spec is what loadmodule says: a
// name ("tm"), a file name ("tm.so") or a path ("/usr/lib/kamailio/modules_k/tm.so").
// Loading a module twice only warns, as in Kamailio, and returns the first
// instance with warn set.
func (s *Set) Load(spec string, pos sr.Pos) (inst *Instance, warn string, err error) {
	name := strings.TrimSuffix(path.Base(spec), ".so")
	dir := path.Dir(spec)
	if name == "" || name == "." || name == "/" {
		return nil, "", fmt.Errorf("loadmodule: empty module name")
	}
	m, ok := Lookup(name)
	if !ok {
		msg := fmt.Sprintf("module %q is %s (flavor %s)", name, ErrNotBuiltIn, s.Flavor)
		if u, ok := unshipped[name]; ok {
			msg += ": " + u.why
		}
		for _, a := range s.Available {
			if strings.HasSuffix(a, "/"+name) {
				msg += fmt.Sprintf("; the source tree has %s: build it in with make flavor=%s include_modules=%s", a, s.Flavor, a)
				break
			}
		}
		return nil, "", fmt.Errorf("%w", &notBuiltIn{msg})
	}
	if tree := path.Base(dir); dir != "." && isTree(tree) && tree != m.Tree {
		return nil, "", fmt.Errorf("module %q: loadmodule asks for %s/%s, but this binary has %s", name, tree, name, m.ID())
	}
	if dir == "." && !strings.Contains(spec, "/") {
		if trees := s.searchTrees(); len(trees) > 0 && !contains(trees, m.Tree) {
			return nil, "", fmt.Errorf("module %q: this binary has %s, but the module path (mpath) only searches %s",
				name, m.ID(), strings.Join(trees, ", "))
		}
	}
	if old, dup := s.byName[name]; dup {
		return old, fmt.Sprintf("module %q loaded twice (first at %s); the second loadmodule is ignored", name, old.Pos), nil
	}
	inst = &Instance{Mod: m, Value: m.newInst(), Pos: pos}
	s.order = append(s.order, inst)
	s.byName[name] = inst
	return inst, "", nil
}

type notBuiltIn struct{ msg string }

func (e *notBuiltIn) Error() string { return e.msg }
func (e *notBuiltIn) Unwrap() error { return ErrNotBuiltIn }

func (s *Set) searchTrees() []string {
	var trees []string
	for _, p := range s.SearchPath {
		if t := path.Base(strings.TrimRight(p, "/")); isTree(t) && !contains(trees, t) {
			trees = append(trees, t)
		}
	}
	return trees
}

func isTree(s string) bool { return s == TreeCommon || s == TreeKamailio || s == TreeSER }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SetParam applies a modparam line. modRe is matched, anchored and
// case-insensitively, against the names of the loaded modules, and the
// value is set in each one that matches; as in Kamailio, every matching
// module must have the parameter.
func (s *Set) SetParam(modRe, param string, v sr.Value, env *ParamEnv) error {
	re, err := regexp.Compile("(?i)^(?:" + modRe + ")$")
	if err != nil {
		return fmt.Errorf("modparam: bad module name pattern %q: %v", modRe, err)
	}
	matched := 0
	for _, inst := range s.order {
		if !re.MatchString(inst.Mod.Name) {
			continue
		}
		matched++
		var def *ParamDef
		for _, d := range inst.Mod.Params {
			if d.Name == param {
				def = d
				break
			}
		}
		if def == nil {
			return fmt.Errorf("modparam: module %s has no parameter %q", inst.Mod.Name, param)
		}
		if err := def.set(inst.Value, v, env); err != nil {
			return &ParamValueError{fmt.Errorf("modparam: %s parameter %q: %w", inst.Mod.Name, param, err)}
		}
	}
	if matched == 0 {
		if _, ok := Lookup(modRe); ok {
			return fmt.Errorf("modparam: module %q is not loaded (add loadmodule \"%s.so\" before this line)", modRe, modRe)
		}
		return fmt.Errorf("modparam: no loaded module matches %q", modRe)
	}
	return nil
}

// ParamValueError is a modparam whose module and parameter exist but whose
// value is wrong (type, range, syntax): the error is the value's, not the
// line's.
type ParamValueError struct{ Err error }

func (e *ParamValueError) Error() string { return e.Err.Error() }
func (e *ParamValueError) Unwrap() error { return e.Err }

// InitEnv is what Init receives.
type InitEnv struct {
	// Ctx is cancelled when the server shuts down.
	Ctx context.Context
	// Log is the module's logger (module=<name>).
	Log *slog.Logger
	// RPC is the server's command registry.
	RPC *rpc.Registry
	// Stats is the server's statistics registry.
	Stats *stats.Registry
	// Flavor is the binary's identity: its DB tool name for "run kamdbctl
	// migrate" hints, its default db_url. Nil in tests that need none.
	Flavor *flavor.Flavor
	// Core is the running server (transports, replies, script runtime).
	// Nil in tests that run without a server.
	Core sr.Core
	// Services is the running server itself (*server.Server) for the few
	// modules that need more than Core (the control transports).
	Services any

	set  *Set
	inst *Instance
}

// Loaded reports whether the configuration loaded a module of that name
// (db_url schemes need their driver module loaded, as in Kamailio).
func (e *InitEnv) Loaded(name string) bool {
	if e.set == nil {
		return false
	}
	_, ok := e.set.byName[name]
	return ok
}

// MigrateHint is the command that migrates the database of an operator
// whose table has the wrong version: "kamdbctl migrate" for the kamailio
// flavor. It is the hint db.CheckVersion wants.
func (e *InitEnv) MigrateHint() string {
	if e.Flavor != nil && e.Flavor.DBTool != "" {
		return e.Flavor.DBTool + " migrate"
	}
	return "the database tool's migrate command"
}

// AddMyself extends the script's myself check: fn is asked about every
// host and port that is not one of this server's sockets or aliases, and
// true makes it myself. Port is 0 when the URI has none. Fn runs on the
// workers, concurrently, and must not block.
func (e *InitEnv) AddMyself(fn func(host string, port int) bool) {
	if e.set != nil {
		e.set.myself = append(e.set.myself, fn)
	}
}

// Dep returns the instance of a dependency the module declared (tree/name).
// The caller asserts it to the API interface the dependency documents.
func (e *InitEnv) Dep(id string) (any, error) {
	declared := false
	for _, d := range e.inst.Mod.Deps {
		if d == id {
			declared = true
		}
	}
	if !declared {
		return nil, fmt.Errorf("module %s asks for %s, which it does not declare as a dependency", e.inst.Mod.ID(), id)
	}
	tree, name, _ := strings.Cut(id, "/")
	dep, ok := e.set.byName[name]
	if !ok || dep.Mod.Tree != tree {
		return nil, fmt.Errorf("module %s needs %s, which is not loaded", e.inst.Mod.ID(), id)
	}
	return dep.Value, nil
}

// Order returns the loaded modules in dependency order (a module after the
// modules it needs; otherwise load order). A dependency that is not loaded
// is an error naming it.
func (s *Set) Order() ([]*Instance, error) {
	var out []*Instance
	state := map[*Instance]int{} // 1 visiting, 2 done
	var visit func(i *Instance) error
	visit = func(i *Instance) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("module %s: dependency cycle", i.Mod.ID())
		case 2:
			return nil
		}
		state[i] = 1
		for _, d := range i.Mod.Deps {
			tree, name, _ := strings.Cut(d, "/")
			dep, ok := s.byName[name]
			if !ok {
				return fmt.Errorf("%s: module %s needs %s, which is not loaded (add loadmodule \"%s.so\")", i.Pos, i.Mod.Name, d, name)
			}
			if dep.Mod.Tree != tree {
				return fmt.Errorf("%s: module %s needs %s, but %s is loaded", i.Pos, i.Mod.Name, d, dep.Mod.ID())
			}
			if err := visit(dep); err != nil {
				return err
			}
		}
		state[i] = 2
		out = append(out, i)
		return nil
	}
	for _, i := range s.order {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Init runs Init on every loaded module in dependency order and registers
// their RPC commands. It stops at the first failure; Destroy then undoes
// what was done.
func (s *Set) Init(base InitEnv) error {
	order, err := s.Order()
	if err != nil {
		return err
	}
	for _, i := range order {
		if base.RPC != nil {
			for _, r := range i.Mod.RPCs {
				if err := base.RPC.Add(rpc.Method{Name: r.Name, Doc: r.Doc, Func: r.Bind(i.Value)}); err != nil {
					return fmt.Errorf("module %s: %w", i.Mod.Name, err)
				}
			}
		}
		s.inited = append(s.inited, i)
		if in, ok := i.Value.(Initer); ok {
			env := base
			env.set, env.inst = s, i
			if env.Log == nil {
				env.Log = slog.Default()
			}
			env.Log = env.Log.With("module", i.Mod.Name)
			if env.Ctx == nil {
				env.Ctx = context.Background()
			}
			if err := in.Init(&env); err != nil {
				return fmt.Errorf("module %s: init failed: %w", i.Mod.Name, err)
			}
		}
	}
	return nil
}

// ChildInit runs ChildInit on every initialised module, in dependency order.
func (s *Set) ChildInit(rank int) error {
	for _, i := range s.inited {
		if ci, ok := i.Value.(ChildIniter); ok {
			if err := ci.ChildInit(rank); err != nil {
				return fmt.Errorf("module %s: child init failed: %w", i.Mod.Name, err)
			}
		}
	}
	return nil
}

// Destroy runs Destroy in reverse dependency order on every module whose
// Init was attempted. It is safe to call more than once.
func (s *Set) Destroy() {
	for k := len(s.inited) - 1; k >= 0; k-- {
		if d, ok := s.inited[k].Value.(Destroyer); ok {
			d.Destroy()
		}
	}
	s.inited = nil
}

// Configure runs Configure on every loaded module, in load order, and
// returns every error.
func (s *Set) Configure(env ConfigEnv) []error {
	var errs []error
	if env.Loaded == nil {
		env.Loaded = func(name string) bool { _, ok := s.byName[name]; return ok }
	}
	for _, i := range s.order {
		if cf, ok := i.Value.(Configurer); ok {
			e := env
			if err := cf.Configure(&e); err != nil {
				errs = append(errs, &sr.PosError{Pos: i.Pos, Err: fmt.Errorf("module %s: %w", i.Mod.Name, err)})
			}
		}
	}
	return errs
}
