package server

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strings"

	"sip-router.org/core/cfg"
	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/script"
	"sip-router.org/core/sr"
)

// Loaded is a configuration read, checked and compiled: everything the
// server needs to start, nothing started yet.
type Loaded struct {
	File     *cfg.File
	Params   Params
	Modules  *module.Set
	PVs      *pv.Registry
	Script   *script.Script
	Warnings []script.Warning
	Flags    map[string]int
	AVPFlags map[string]sr.AVPFlags
}

// LoadError is every error of a configuration, each at file:line:col.
type LoadError struct {
	Errs []*sr.PosError
}

func (e *LoadError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, pe := range e.Errs {
		parts[i] = pe.Error()
	}
	return strings.Join(parts, "\n")
}

// loader collects errors while a configuration loads.
type loader struct {
	// failed are modules whose loadmodule failed: their modparam lines
	// add nothing to the error already reported.
	failed map[string]bool
	f      *flavor.Flavor
	l      *Loaded
	errs   []*sr.PosError
	log    *slog.Logger
	// socketLookup finds a listening socket once the transports run ($fs).
	socketLookup func(proto, host string, port int) (*sr.Socket, bool)
}

func (ld *loader) errorf(pos sr.Pos, format string, args ...any) {
	ld.errs = append(ld.errs, &sr.PosError{Pos: pos, Err: fmt.Errorf(format, args...)})
}

func (ld *loader) addErr(pos sr.Pos, err error) {
	var pe *sr.PosError
	if errors.As(err, &pe) {
		ld.errs = append(ld.errs, pe)
		return
	}
	ld.errs = append(ld.errs, &sr.PosError{Pos: pos, Err: err})
}

// LoadOptions say what to load.
type LoadOptions struct {
	Path    string
	Defines map[string]string
	// Listen overrides listen= (-l).
	Listen []string
	Log    *slog.Logger
	// Sockets resolves $fs assignments once the server runs; may be nil.
	Sockets func(proto, host string, port int) (*sr.Socket, bool)
}

// Load reads, checks and compiles a configuration for flavor f. It never
// starts anything: -c uses it as it is.
func Load(f *flavor.Flavor, o LoadOptions) (*Loaded, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ld := &loader{f: f, log: o.Log, socketLookup: o.Sockets}
	mode := cfg.ModeMaxCompat
	switch f.Compat {
	case "kamailio":
		mode = cfg.ModeKamailio
	case "ser":
		mode = cfg.ModeSER
	}
	file, err := cfg.ParseFile(o.Path, cfg.Options{Defines: o.Defines, Mode: mode})
	if err != nil {
		var el cfg.ErrorList
		if errors.As(err, &el) {
			return nil, &LoadError{Errs: []*sr.PosError(el)}
		}
		return nil, &LoadError{Errs: []*sr.PosError{{Pos: sr.Pos{File: o.Path}, Err: err}}}
	}
	params := DefaultParams()
	params.ServerHeader = f.Default("server_header")
	params.UserAgent = f.Default("user_agent_header")
	ld.l = &Loaded{
		File:     file,
		Params:   params,
		Modules:  module.NewSet(f.Name, f.Available),
		Flags:    map[string]int{},
		AVPFlags: map[string]sr.AVPFlags{},
	}
	ld.l.PVs = pv.NewRegistry(pv.Config{Socket: func(proto, host string, port int) (*sr.Socket, bool) {
		if ld.socketLookup == nil {
			return nil, false
		}
		return ld.socketLookup(proto, host, port)
	}})
	ld.items(file)
	if len(o.Listen) > 0 {
		ld.l.Params.Listen = nil
		for _, s := range o.Listen {
			ls, err := parseListen(&cfg.Value{Kind: cfg.ValString, Text: s}, 0)
			if err != nil {
				ld.errorf(sr.Pos{File: "-l " + s}, "%v", err)
				continue
			}
			ld.l.Params.Listen = append(ld.l.Params.Listen, ls)
		}
	}
	cenv := module.ConfigEnv{
		PVs: ld.l.PVs, Flavor: f.Name, Defaults: f.Defaults,
		Flag:    func(n string) (int, bool) { b, ok := ld.l.Flags[n]; return b, ok },
		AVPFlag: func(n string) (sr.AVPFlags, bool) { b, ok := ld.l.AVPFlags[n]; return b, ok },
	}
	for _, err := range ld.l.Modules.Configure(cenv) {
		ld.addErr(sr.Pos{File: o.Path}, err)
	}
	if _, err := ld.l.Modules.Order(); err != nil {
		ld.addErr(sr.Pos{File: o.Path}, err)
	}
	scr, warns, err := script.Compile(file, script.Options{
		Modules:       ld.l.Modules,
		PVs:           pvAdapter{ld.l.PVs},
		Flags:         ld.l.Flags,
		AVPFlags:      ld.l.AVPFlags,
		MaxWhileLoops: ld.l.Params.MaxWhileLoops,
		Log:           o.Log,
	})
	ld.l.Warnings = warns
	if err != nil {
		var ce script.Errors
		if errors.As(err, &ce) {
			ld.errs = append(ld.errs, ce...)
		} else {
			ld.addErr(sr.Pos{File: o.Path}, err)
		}
	}
	ld.l.Script = scr
	if len(ld.errs) > 0 {
		sort.SliceStable(ld.errs, func(i, j int) bool { return posBefore(ld.errs[i].Pos, ld.errs[j].Pos, file.Files) })
		return nil, &LoadError{Errs: dedup(ld.errs)}
	}
	return ld.l, nil
}

// posBefore orders positions by file (in the order the files were read),
// line and column.
func posBefore(a, b sr.Pos, files []string) bool {
	if a.File != b.File {
		return fileRank(a.File, files) < fileRank(b.File, files)
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}

func fileRank(f string, files []string) int {
	for i, x := range files {
		if x == f {
			return i
		}
	}
	return len(files)
}

func dedup(errs []*sr.PosError) []*sr.PosError {
	out := errs[:0]
	seen := map[string]bool{}
	for _, e := range errs {
		k := e.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}

// items applies the top-level items in order: globals, module path,
// loadmodule, modparam, custom variables, flag declarations.
func (ld *loader) items(file *cfg.File) {
	l := ld.l
	for _, it := range file.Items {
		switch n := it.(type) {
		case *cfg.Global:
			ld.global(n)
		case *cfg.LoadPath:
			l.Modules.SearchPath = strings.Split(n.Path, ":")
		case *cfg.LoadModule:
			inst, warn, err := l.Modules.Load(n.Path, n.Pos)
			if err != nil {
				ld.addErr(n.Pos, err)
				if ld.failed == nil {
					ld.failed = map[string]bool{}
				}
				ld.failed[strings.TrimSuffix(path.Base(n.Path), ".so")] = true
				continue
			}
			if warn != "" {
				ld.log.Warn(warn, "at", n.Pos.String())
				continue
			}
			if err := l.PVs.AddModule(inst); err != nil {
				ld.addErr(n.Pos, err)
			}
		case *cfg.ModParam:
			if ld.onlyFailed(n.Module) {
				continue
			}
			v := sr.StrVal(n.Value.Text)
			if n.Value.Kind == cfg.ValInt {
				v = sr.IntVal(n.Value.Int)
			}
			env := &module.ParamEnv{Flag: func(name string) (int, bool) { b, ok := l.Flags[name]; return b, ok }}
			if err := l.Modules.SetParam(n.Module, n.Param, v, env); err != nil {
				pos := n.Pos
				var pve *module.ParamValueError
				if errors.As(err, &pve) {
					pos = n.Value.Pos
				}
				ld.addErr(pos, err)
			}
		case *cfg.CustomVar:
			v := sr.StrVal(n.Value.Text)
			if n.Value.Kind == cfg.ValInt {
				v = sr.IntVal(n.Value.Int)
			}
			l.PVs.SetCfgVar(n.Group, n.Name, v)
			l.PVs.DescribeCfgVar(n.Group, n.Name, n.Desc)
		case *cfg.FlagDecl:
			ld.flags(n)
		}
	}
}

// onlyFailed reports whether a modparam's module pattern names only
// modules whose loadmodule failed.
func (ld *loader) onlyFailed(pattern string) bool {
	if len(ld.failed) == 0 {
		return false
	}
	re, err := regexp.Compile("(?i)^(?:" + pattern + ")$")
	if err != nil {
		return false
	}
	for _, i := range ld.l.Modules.Instances() {
		if re.MatchString(i.Mod.Name) {
			return false
		}
	}
	for name := range ld.failed {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

func (ld *loader) global(g *cfg.Global) {
	def, ok := coreParams[g.Name]
	if !ok {
		ld.errorf(g.Pos, "unknown config variable %q", g.Name)
		return
	}
	p := &ld.l.Params
	switch def.kind {
	case pIgnored:
		return
	case pAddr:
		ls, err := parseListen(g.Value, 0)
		if err != nil {
			ld.errorf(g.Value.Pos, "%s: %v", g.Name, err)
			return
		}
		if g.Name == "alias" {
			host := ls.Host
			if ls.Port > 0 {
				host = fmt.Sprintf("%s:%d", ls.Host, ls.Port)
			}
			p.Aliases = append(p.Aliases, host)
			return
		}
		if g.Advertise != nil {
			ls.Advertise = g.Advertise.Text
		}
		p.Listen = append(p.Listen, ls)
		return
	}
	if err := def.set(p, g.Value); err != nil {
		ld.errorf(g.Value.Pos, "%s: %v", g.Name, err)
	}
}

// flags assigns SER flag names to bits: the given bit, or the lowest free
// one; avpflags names get the custom AVP flag bits.
func (ld *loader) flags(d *cfg.FlagDecl) {
	if d.Keyword == "avpflags" {
		for _, f := range d.Flags {
			if _, dup := ld.l.AVPFlags[f.Name]; dup {
				ld.errorf(f.Pos, "avpflag %q declared twice", f.Name)
				continue
			}
			n := len(ld.l.AVPFlags)
			if n >= 8 {
				ld.errorf(f.Pos, "too many avpflags (at most 8)")
				continue
			}
			ld.l.AVPFlags[f.Name] = sr.AVPCustom0 << uint(n)
		}
		return
	}
	used := map[int]bool{}
	for _, b := range ld.l.Flags {
		used[b] = true
	}
	for _, f := range d.Flags {
		if _, dup := ld.l.Flags[f.Name]; dup {
			ld.errorf(f.Pos, "flag %q declared twice", f.Name)
			continue
		}
		bit := f.Bit
		if bit < 0 {
			for bit = 0; bit < 32 && used[bit]; bit++ {
			}
		}
		if bit < 0 || bit > 31 {
			ld.errorf(f.Pos, "flag %q: no free flag bit (0..31)", f.Name)
			continue
		}
		if used[bit] {
			ld.errorf(f.Pos, "flag %q: bit %d is already taken", f.Name, bit)
			continue
		}
		used[bit] = true
		ld.l.Flags[f.Name] = bit
	}
}

// pvAdapter offers the pv registry to the script compiler.
type pvAdapter struct{ r *pv.Registry }

func compat(m cfg.Mode) pv.Compat {
	switch m {
	case cfg.ModeKamailio:
		return pv.Kamailio
	case cfg.ModeSER:
		return pv.SER
	}
	return pv.MaxCompat
}

func (a pvAdapter) Getter(text string, _ cfg.PVKind, mode cfg.Mode) (sr.Getter, error) {
	return a.r.Parse(text, compat(mode))
}

func (a pvAdapter) Setter(text string, _ cfg.PVKind, mode cfg.Mode) (sr.Setter, error) {
	return a.r.ParseSetter(text, compat(mode))
}

func (a pvAdapter) Select(text string) (sr.Getter, error) { return a.r.ParseSelect(text) }

func (a pvAdapter) Format(text string, mode cfg.Mode) (sr.Format, error) {
	return a.r.ParseFormat(text, compat(mode))
}

func (a pvAdapter) XLFormat(text string) (sr.Format, error) { return a.r.ParseXLFormat(text) }
