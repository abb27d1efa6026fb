// Package cfgrpc is the cfg_rpc module: control commands that read and
// change, while the server runs, the configuration variables a config
// declares with "group.var = value desc "…"". A change applies at once to
// the messages that follow (@cfg_get.group.var, $sel(cfg_get.group.var));
// the delayed commands collect changes that cfg.commit applies together.
package cfgrpc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

type cfgRPC struct {
	reg     *pv.Registry
	mu      sync.Mutex
	pending []change
}

// change is a prepared (delayed) change.
type change struct {
	group, name string
	old, val    sr.Value
}

func init() {
	module.Register(module.Spec[*cfgRPC]{
		Name:    "cfg_rpc",
		Tree:    "modules",
		Summary: "Control commands to read and change configuration variables at run time",
		New:     func() *cfgRPC { return &cfgRPC{} },
		RPCs: []module.RPC[*cfgRPC]{
			{Name: "cfg.set_now_int", Doc: "Set the value of a configuration variable and commit the change immediately", Call: setNow(true)},
			{Name: "cfg.set_now_string", Doc: "Set the value of a configuration variable and commit the change immediately", Call: setNow(false)},
			{Name: "cfg.set_delayed_int", Doc: "Prepare the change of a configuration variable, but does not commit the new value yet", Call: setDelayed(true)},
			{Name: "cfg.set_delayed_string", Doc: "Prepare the change of a configuration variable, but does not commit the new value yet", Call: setDelayed(false)},
			{Name: "cfg.commit", Doc: "Commit the previously prepared configuration changes", Call: (*cfgRPC).commit},
			{Name: "cfg.rollback", Doc: "Drop the prepared configuration changes", Call: (*cfgRPC).rollback},
			{Name: "cfg.get", Doc: "Get the value of a configuration variable", Call: (*cfgRPC).get},
			{Name: "cfg.help", Doc: "Print the description of a configuration variable", Call: (*cfgRPC).help},
			{Name: "cfg.list", Doc: "List the configuration variables", Call: (*cfgRPC).list},
			{Name: "cfg.diff", Doc: "List the pending configuration changes that have not been committed yet", Call: (*cfgRPC).diff},
		},
	})
}

var _ module.Configurer = (*cfgRPC)(nil)

// Configure keeps the configuration's pseudo-variable registry, where the
// variables live.
func (m *cfgRPC) Configure(env *module.ConfigEnv) error {
	reg, ok := env.PVs.(*pv.Registry)
	if !ok {
		return errors.New("cfg_rpc: the configuration has no pseudo-variable registry")
	}
	m.reg = reg
	return nil
}

// ErrVar marks a variable that does not exist or a value that does not
// fit it.
var ErrVar = errors.New("failed to set the variable")

// target reads the group and variable names of a call.
func target(req *rpc.Request) (string, string, error) {
	group, err := req.Str(0)
	if err != nil {
		return "", "", err
	}
	name, err := req.Str(1)
	if err != nil {
		return "", "", err
	}
	group, name = strings.TrimSpace(group), strings.TrimSpace(name)
	if group == "" || name == "" {
		return "", "", fmt.Errorf("%w: empty group or variable name", rpc.ErrParams)
	}
	if strings.ContainsAny(group, "[]") {
		return "", "", fmt.Errorf("%w: group instances (%s) are not supported", rpc.ErrParams, group)
	}
	return group, name, nil
}

// value reads the new value of a set call and converts it to the type of
// the variable, as the cfg framework converts between int and string.
func (m *cfgRPC) value(req *rpc.Request, asInt bool) (group, name string, old, v sr.Value, err error) {
	if m.reg == nil {
		return "", "", sr.NullVal, sr.NullVal, errors.New("cfg_rpc is not configured")
	}
	group, name, err = target(req)
	if err != nil {
		return "", "", sr.NullVal, sr.NullVal, err
	}
	raw, err := req.Str(2)
	if err != nil {
		return "", "", sr.NullVal, sr.NullVal, err
	}
	if asInt {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return "", "", sr.NullVal, sr.NullVal, fmt.Errorf("%w: parameter 3: %q is not a number", rpc.ErrParams, raw)
		}
		v = sr.IntVal(n)
	} else {
		v = sr.StrVal(raw)
	}
	old, ok := m.reg.CfgVar(group, name)
	if !ok {
		return "", "", sr.NullVal, sr.NullVal, fmt.Errorf("%w: %s.%s is not a configuration variable", ErrVar, group, name)
	}
	switch {
	case old.K == sr.Int && v.K == sr.Str:
		n, err := strconv.Atoi(strings.TrimSpace(v.S))
		if err != nil {
			return "", "", sr.NullVal, sr.NullVal, fmt.Errorf("%w: %s.%s is an integer, %q is not", ErrVar, group, name, v.S)
		}
		v = sr.IntVal(n)
	case old.K == sr.Str && v.K == sr.Int:
		v = sr.StrVal(strconv.Itoa(v.I))
	}
	return group, name, old, v, nil
}

func setNow(asInt bool) func(m *cfgRPC, req *rpc.Request) (any, error) {
	return func(m *cfgRPC, req *rpc.Request) (any, error) {
		group, name, _, v, err := m.value(req, asInt)
		if err != nil {
			return nil, err
		}
		m.reg.SetCfgVar(group, name, v)
		return nil, nil
	}
}

func setDelayed(asInt bool) func(m *cfgRPC, req *rpc.Request) (any, error) {
	return func(m *cfgRPC, req *rpc.Request) (any, error) {
		group, name, old, v, err := m.value(req, asInt)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		for i := range m.pending {
			if m.pending[i].group == group && m.pending[i].name == name {
				m.pending[i].val = v
				return nil, nil
			}
		}
		m.pending = append(m.pending, change{group, name, old, v})
		return nil, nil
	}
}

func (m *cfgRPC) commit(_ *rpc.Request) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reg == nil {
		return nil, errors.New("cfg_rpc is not configured")
	}
	for _, c := range m.pending {
		m.reg.SetCfgVar(c.group, c.name, c.val)
	}
	m.pending = nil
	return nil, nil
}

func (m *cfgRPC) rollback(_ *rpc.Request) (any, error) {
	m.mu.Lock()
	m.pending = nil
	m.mu.Unlock()
	return nil, nil
}

func (m *cfgRPC) diff(_ *rpc.Request) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []any{}
	for _, c := range m.pending {
		cur, _ := m.reg.CfgVar(c.group, c.name)
		out = append(out, map[string]any{
			"group name": c.group, "variable name": c.name,
			"old value": export(cur), "new value": export(c.val),
		})
	}
	return out, nil
}

func export(v sr.Value) any {
	if v.K == sr.Int {
		return v.I
	}
	return v.Text()
}

func (m *cfgRPC) get(req *rpc.Request) (any, error) {
	if m.reg == nil {
		return nil, errors.New("cfg_rpc is not configured")
	}
	group, name, err := target(req)
	if err != nil {
		return nil, err
	}
	v, ok := m.reg.CfgVar(group, name)
	if !ok {
		return nil, fmt.Errorf("failed to get the variable: %s.%s is not a configuration variable", group, name)
	}
	return export(v), nil
}

func (m *cfgRPC) help(req *rpc.Request) (any, error) {
	if m.reg == nil {
		return nil, errors.New("cfg_rpc is not configured")
	}
	group, name, err := target(req)
	if err != nil {
		return nil, err
	}
	v, ok := m.reg.CfgVar(group, name)
	if !ok {
		return nil, fmt.Errorf("failed to get the variable description: %s.%s is not a configuration variable", group, name)
	}
	desc, _ := m.reg.CfgVarDesc(group, name)
	typ := "(parameter type is string)"
	if v.K == sr.Int {
		typ = "(parameter type is integer)"
	}
	return []any{desc, typ}, nil
}

func (m *cfgRPC) list(req *rpc.Request) (any, error) {
	if m.reg == nil {
		return nil, errors.New("cfg_rpc is not configured")
	}
	only := ""
	if len(req.Params) > 0 {
		only = strings.TrimSpace(req.Params[0])
	}
	names := m.reg.CfgVarNames()
	out := []any{}
	for _, n := range names {
		g, v, ok := strings.Cut(n, ".")
		if !ok || (only != "" && g != only) {
			continue
		}
		out = append(out, g+": "+v)
	}
	return out, nil
}
