// Package pv is Kamailio's pv module. The pseudo-variables themselves live
// in the core (sip-router.org/core/pv) and exist whether or not the module
// is loaded; configs load it for its parameters — initial $shv and $var
// values, AVP aliases — and its functions pv_isset, pv_unset and
// is_avp_set.
package pv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	corepv "sip-router.org/core/pv"

	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

type pvmod struct {
	// ShvSet are initial $shv values: "name=i:1", "name=s:text".
	ShvSet []string `modparam:"shvset"`
	// VarSet are initial $var values, in the same form.
	VarSet []string `modparam:"varset"`
	// AVPAliases name AVPs: "caller=i:10;callee=s:callee".
	AVPAliases []string `modparam:"avp_aliases"`

	// reg is the configuration's registry, kept for the RPC commands.
	reg *corepv.Registry
}

type fn = module.Func[*pvmod]

func init() {
	module.Register(module.Spec[*pvmod]{
		Name:    "pv",
		Tree:    "modules_k",
		Summary: "pseudo-variable parameters ($shv, $var, AVP aliases) and pv_isset/pv_unset",
		New:     func() *pvmod { return &pvmod{} },
		Funcs: []fn{
			{Name: "pv_isset", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixGetter, Call: (*pvmod).isSet},
			{Name: "pv_unset", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixSetter, Call: (*pvmod).unset},
			{Name: "is_avp_set", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixAVP, Call: (*pvmod).isSet},
		},
		RPCs: []module.RPC[*pvmod]{
			{Name: "pv.shvGet", Doc: "Print the value of a shared variable ($shv), or of all of them.", Call: (*pvmod).shvGet},
			{Name: "pv.shvSet", Doc: "Set a shared variable ($shv): name, type (int or str), value.", Call: (*pvmod).shvSet},
		},
	})
}

// Configure hands the parameters to the configuration's pseudo-variable
// registry, before the script is compiled (so aliases resolve in it).
func (m *pvmod) Configure(env *module.ConfigEnv) error {
	reg, ok := env.PVs.(*corepv.Registry)
	if !ok {
		return fmt.Errorf("no pseudo-variable registry (%T)", env.PVs)
	}
	m.reg = reg
	for _, s := range m.ShvSet {
		if err := reg.AddShvSet(s); err != nil {
			return fmt.Errorf("modparam shvset: %w", err)
		}
	}
	for _, s := range m.VarSet {
		if err := reg.AddVarSet(s); err != nil {
			return fmt.Errorf("modparam varset: %w", err)
		}
	}
	for _, s := range m.AVPAliases {
		if err := reg.AddAVPAliases(s); err != nil {
			return fmt.Errorf("modparam avp_aliases: %w", err)
		}
	}
	return nil
}

func fixGetter(_ *pvmod, fx *module.Fixup, args []module.Arg) ([]any, error) {
	g, err := fx.Getter(args[0])
	if err != nil {
		return nil, err
	}
	return []any{g}, nil
}

func fixSetter(_ *pvmod, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Setter(args[0])
	if err != nil {
		return nil, err
	}
	return []any{s}, nil
}

// fixAVP takes an AVP as "$avp(name)", or just its name ("s:name",
// "i:10", an alias), as avpops' is_avp_set did.
func fixAVP(_ *pvmod, fx *module.Fixup, args []module.Arg) ([]any, error) {
	a := args[0]
	if a.Kind != module.ArgPV && len(a.S) > 0 && a.S[0] != '$' {
		a.S = "$avp(" + a.S + ")"
	}
	return fixGetter(nil, fx, []module.Arg{a})
}

// isSet is pv_isset and is_avp_set: true when the variable has a value.
func (m *pvmod) isSet(c *sr.Ctx, p []any) int {
	if p[0].(sr.Getter).Get(c).IsNull() {
		return -1
	}
	return 1
}

// unset is pv_unset: the variable is assigned $null (an AVP loses its
// newest value, $(avp(x)[*]) all of them).
func (m *pvmod) unset(c *sr.Ctx, p []any) int {
	if err := p[0].(sr.Setter).Set(c, sr.NullVal); err != nil {
		l := c.Log
		if l == nil {
			l = slog.Default()
		}
		l.Log(context.Background(), slog.LevelError, "pv_unset failed", "error", err)
		return -1
	}
	return 1
}

var errNoRegistry = errors.New("the pv module is not configured")

func shvItem(name string, v sr.Value) map[string]any {
	if v.K == sr.Int {
		return map[string]any{"name": name, "type": "int", "value": v.I}
	}
	return map[string]any{"name": name, "type": "str", "value": v.Text()}
}

// shvGet is pv.shvGet [name]: one variable, or all of them.
func (m *pvmod) shvGet(req *rpc.Request) (any, error) {
	if m.reg == nil {
		return nil, errNoRegistry
	}
	shv := m.reg.SHV()
	if len(req.Params) > 0 {
		name, _ := req.Str(0)
		v, ok := shv.Get(name)
		if !ok {
			return nil, fmt.Errorf("%w: no shared variable %q", rpc.ErrParams, name)
		}
		return []any{shvItem(name, v)}, nil
	}
	out := []any{}
	for _, name := range shv.Names() {
		v, _ := shv.Get(name)
		out = append(out, shvItem(name, v))
	}
	return out, nil
}

// shvSet is pv.shvSet name type value, type "int" or "str".
func (m *pvmod) shvSet(req *rpc.Request) (any, error) {
	if m.reg == nil {
		return nil, errNoRegistry
	}
	name, err := req.Str(0)
	if err != nil {
		return nil, err
	}
	typ, err := req.Str(1)
	if err != nil {
		return nil, err
	}
	val, err := req.Str(2)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty variable name", rpc.ErrParams)
	}
	switch typ {
	case "int", "i":
		n, err := strconv.Atoi(val)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a number", rpc.ErrParams, val)
		}
		m.reg.SHV().Set(name, sr.IntVal(n))
	case "str", "s":
		m.reg.SHV().Set(name, sr.StrVal(val))
	default:
		return nil, fmt.Errorf("%w: type %q is neither int nor str", rpc.ErrParams, typ)
	}
	return "Ok. Variable set to new value.", nil
}
