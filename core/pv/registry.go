package pv

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// Config is what a Registry needs from the server it runs in. Every field
// is optional.
type Config struct {
	// Socket finds the listening socket that "$fs = ..." names
	// ("udp:10.0.0.1:5060", "10.0.0.1", "tcp:[::1]:5060"). host is an IP
	// (IPv6 without brackets) or a name as written in listen=; proto is
	// "" when the value gives none and port is 0 when it gives none, and
	// both then match any socket. Without it, assigning to $fs fails.
	Socket func(proto, host string, port int) (*sr.Socket, bool)
	// Now returns the current time for $Ts, $Tf, $TF and $time(...).
	// Nil means time.Now.
	Now func() time.Time
	// Start is when the server started ($TS). Zero means when NewRegistry
	// ran.
	Start time.Time
	// Pid is the process id for $pp (and %pp in SER xl formats). Zero
	// means os.Getpid().
	Pid int
	// Hostname is the host name for the SER xl %Hn, %Hd and %Hf
	// specifiers. Empty means os.Hostname().
	Hostname string
}

// Registry holds the pseudo-variable classes of one configuration load:
// the core set, which is always present, and those the loaded modules
// export. It also holds what those classes share across messages: the
// $shv(...) store, AVP aliases, initial $var values and the custom
// configuration variables read by @cfg_get.group.var.
//
// A Registry is filled while the configuration loads (the Add and Set
// methods) and then only read; the Get and Set paths of compiled specs
// and formats are safe for concurrent use by many messages. There is no
// package-level mutable state: two loads have two registries.
type Registry struct {
	cfg     Config
	classes map[string]*class
	shv     *SharedVars
	aliases map[string]avpIdent // lower-case alias → AVP
	varInit map[string]sr.Value
	selects map[string]func(c *sr.Ctx) sr.Value

	cfgMu   sync.Mutex
	cfgVars map[string]*cfgCell // "group.var"
}

type cfgCell struct {
	v        atomic.Pointer[sr.Value]
	declared atomic.Bool
	desc     string // guarded by cfgMu
}

// NewRegistry returns a registry holding the core pseudo-variables.
func NewRegistry(cfg Config) *Registry {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Start.IsZero() {
		cfg.Start = cfg.Now()
	}
	if cfg.Pid == 0 {
		cfg.Pid = os.Getpid()
	}
	r := &Registry{
		cfg:     cfg,
		classes: make(map[string]*class, 128),
		shv:     NewSharedVars(),
		aliases: map[string]avpIdent{},
		varInit: map[string]sr.Value{},
		selects: map[string]func(c *sr.Ctx) sr.Value{},
		cfgVars: map[string]*cfgCell{},
	}
	for _, c := range coreClasses() {
		r.classes[c.name] = c
	}
	return r
}

// Known reports whether a pseudo-variable class of that name exists
// ("ru", "hdr", "T_branch_idx" — without the $).
func (r *Registry) Known(name string) bool {
	_, ok := r.classes[name]
	return ok
}

// Names lists the registered class names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.classes))
	for n := range r.classes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// AddPV registers a pseudo-variable class exported by a module. inner
// says whether it takes a name in parentheses ($ulc(x)); impl reads it
// and, when impl.Set is not nil, writes it. Names follow Kamailio's rule
// (letters, digits, '_', '.'), and a name may be registered once.
func (r *Registry) AddPV(name string, inner bool, impl module.PVImpl) error {
	if name == "" {
		return fmt.Errorf("pseudo-variable with an empty name")
	}
	for i := 0; i < len(name); i++ {
		if !isPVNameChar(name[i]) || name[i] == '?' {
			return fmt.Errorf("pseudo-variable $%s: invalid character %q in the name", name, name[i])
		}
	}
	if impl.Get == nil {
		return fmt.Errorf("pseudo-variable $%s has no Get", name)
	}
	if _, dup := r.classes[name]; dup {
		return fmt.Errorf("pseudo-variable $%s already exists", name)
	}
	r.classes[name] = moduleClass(name, inner, impl)
	return nil
}

// AddModule registers every pseudo-variable class a loaded module
// exports, bound to its instance.
func (r *Registry) AddModule(inst *module.Instance) error {
	for _, d := range inst.Mod.PVs {
		if err := r.AddPV(d.Name, d.Inner, d.Bind(inst.Value)); err != nil {
			return fmt.Errorf("module %s: %w", inst.Mod.Name, err)
		}
	}
	return nil
}

// AddSelect registers a select a module exports, by its dotted path
// without the "@" ("tls.peer.subject.cn"). It is found when a select
// names exactly that path.
func (r *Registry) AddSelect(path string, get func(c *sr.Ctx) sr.Value) error {
	if path == "" || get == nil {
		return fmt.Errorf("select: empty path or no getter")
	}
	if _, dup := r.selects[path]; dup {
		return fmt.Errorf("select @%s already exists", path)
	}
	r.selects[path] = get
	return nil
}

// AddAVPAliases adds AVP aliases as the pv module's avp_aliases
// parameter writes them: "name=i:10;other=s:foo" ("name=foo" is a string
// name too). $avp(name) then addresses the aliased AVP. Alias names are
// case-insensitive and may be defined once.
func (r *Registry) AddAVPAliases(spec string) error {
	for _, item := range strings.Split(spec, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		alias, target, ok := strings.Cut(item, "=")
		alias, target = strings.TrimSpace(alias), strings.TrimSpace(target)
		if !ok || alias == "" || target == "" {
			return fmt.Errorf("avp_aliases: %q is not alias=name", item)
		}
		if strings.ContainsAny(alias, " \t:.[]") {
			return fmt.Errorf("avp_aliases: invalid alias name %q", alias)
		}
		id, err := parseAVPName(target)
		if err != nil {
			return fmt.Errorf("avp_aliases: alias %s: %w", alias, err)
		}
		key := strings.ToLower(alias)
		if _, dup := r.aliases[key]; dup {
			return fmt.Errorf("avp_aliases: alias %s is defined twice", alias)
		}
		r.aliases[key] = id
	}
	return nil
}

// AddShvSet sets an initial $shv value as modparam("pv", "shvset", ...)
// writes it: "name=i:10" or "name=s:text".
func (r *Registry) AddShvSet(spec string) error {
	name, v, err := parseVarSet(spec)
	if err != nil {
		return fmt.Errorf("shvset: %w", err)
	}
	r.shv.Set(name, v)
	return nil
}

// AddVarSet sets an initial $var value as modparam("pv", "varset", ...)
// writes it: "name=i:10" or "name=s:text". Every worker starts with it.
func (r *Registry) AddVarSet(spec string) error {
	name, v, err := parseVarSet(spec)
	if err != nil {
		return fmt.Errorf("varset: %w", err)
	}
	r.varInit[name] = v
	return nil
}

// NewVars returns a fresh set of script variables holding the varset
// values, for a new worker. A $var read before any assignment falls back
// to these values anyway, so using NewVars is optional.
func (r *Registry) NewVars() sr.Vars {
	v := make(sr.Vars, len(r.varInit))
	for k, x := range r.varInit {
		v[k] = x
	}
	return v
}

func parseVarSet(spec string) (string, sr.Value, error) {
	name, rest, ok := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", sr.NullVal, fmt.Errorf("%q is not name=type:value", spec)
	}
	typ, val, ok := strings.Cut(rest, ":")
	if !ok {
		return "", sr.NullVal, fmt.Errorf("%q: the value must be i:number or s:text", spec)
	}
	switch strings.TrimSpace(typ) {
	case "i", "I":
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil {
			return "", sr.NullVal, fmt.Errorf("%q: %q is not a number: %w", spec, val, err)
		}
		return name, sr.IntVal(n), nil
	case "s", "S":
		return name, sr.StrVal(val), nil
	}
	return "", sr.NullVal, fmt.Errorf("%q: unknown value type %q (use i or s)", spec, typ)
}

// SHV returns the store behind $shv(...), which the pv module's control
// commands (shv_get, shv_set) also use.
func (r *Registry) SHV() *SharedVars { return r.shv }

// SetCfgVar declares or changes a custom configuration variable
// (group.var = value in the config, cfg_rpc at run time). Selects
// @cfg_get.group.var and $sel(cfg_get.group.var) read it. Changing a
// value is safe while messages read it.
func (r *Registry) SetCfgVar(group, name string, v sr.Value) {
	c := r.cfgCell(group + "." + name)
	c.v.Store(&v)
	c.declared.Store(true)
}

// CfgVar returns the value of a declared configuration variable.
func (r *Registry) CfgVar(group, name string) (sr.Value, bool) {
	r.cfgMu.Lock()
	c := r.cfgVars[group+"."+name]
	r.cfgMu.Unlock()
	if c == nil || !c.declared.Load() {
		return sr.NullVal, false
	}
	return *c.v.Load(), true
}

// DescribeCfgVar keeps the description of a configuration variable (the
// desc "…" of its declaration), for cfg_rpc's cfg.help.
func (r *Registry) DescribeCfgVar(group, name, desc string) {
	c := r.cfgCell(group + "." + name)
	r.cfgMu.Lock()
	c.desc = desc
	r.cfgMu.Unlock()
}

// CfgVarDesc returns the description of a declared configuration variable
// ("" when it has none).
func (r *Registry) CfgVarDesc(group, name string) (string, bool) {
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	c := r.cfgVars[group+"."+name]
	if c == nil || !c.declared.Load() {
		return "", false
	}
	return c.desc, true
}

// CfgVarNames lists the declared configuration variables as "group.var",
// sorted.
func (r *Registry) CfgVarNames() []string {
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	names := make([]string, 0, len(r.cfgVars))
	for k, c := range r.cfgVars {
		if c.declared.Load() {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

func (r *Registry) cfgCell(key string) *cfgCell {
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	c := r.cfgVars[key]
	if c == nil {
		c = &cfgCell{}
		c.v.Store(&sr.Value{})
		r.cfgVars[key] = c
	}
	return c
}

// Check reports what could only be verified once the whole configuration
// was read: every configuration variable a select reads
// (@cfg_get.group.var) must have been declared. Kamailio resolves these
// in its fixups, after parsing, so a route may use a variable declared
// further down the file.
func (r *Registry) Check() error {
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	var missing []string
	for k, c := range r.cfgVars {
		if !c.declared.Load() {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("@cfg_get: unknown configuration variable %s (declare it with %s = value)",
		strings.Join(missing, ", "), missing[0])
}

func (r *Registry) now() time.Time { return r.cfg.Now() }

func (r *Registry) hostname() string {
	if r.cfg.Hostname != "" {
		return r.cfg.Hostname
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}
