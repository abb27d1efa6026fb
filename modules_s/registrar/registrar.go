// Package registrar is SER's registrar module (modules_s): it processes
// REGISTER requests (RFC 3261 §10.3) into the uid-keyed user location
// service of this tree (modules_s/usrloc) with save_contacts(), and finds
// the contacts of a request's target with lookup_contacts().
//
// The record a REGISTER updates, and the one a lookup reads, is the uid
// of the to-track ($tu.uid, set by uri_db's lookup_user); without it, the
// To username of a REGISTER or the Request-URI username of other
// requests, lower-cased, as SER's get_to_uid does.
//
// It is not Kamailio's registrar (modules_k/registrar), keyed by user or
// user@domain and bound to modules_k/usrloc.
package registrar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sip-router.org/core/location"
	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
	"sip-router.org/core/stats"
	"sip-router.org/modules_s/avp/serattr"
	"sip-router.org/modules_s/usrloc"
)

// flagParam is a message flag parameter: a number (SER allows -1 and -2
// where they mean something) or a name declared with "flags".
type flagParam struct{ n int }

func (f *flagParam) SetParam(v sr.Value, env *module.ParamEnv) error {
	if v.K == sr.Int {
		if v.I < -2 || v.I > 31 {
			return fmt.Errorf("flag %d out of range -2..31", v.I)
		}
		f.n = v.I
		return nil
	}
	s := strings.TrimSpace(v.S)
	if env != nil && env.Flag != nil {
		if n, ok := env.Flag(s); ok {
			f.n = n
			return nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -2 || n > 31 {
		return fmt.Errorf("%q is neither a flag number nor a declared flag name", v.S)
	}
	f.n = n
	return nil
}

func (f *flagParam) ParamType() string { return "flag" }
func (f flagParam) String() string     { return strconv.Itoa(f.n) }

// set reports whether the flag is a real flag (0..31) set on the message.
func (f flagParam) set(c *sr.Ctx) bool { return f.n >= 0 && c.IsFlagSet(f.n) }

type registrar struct {
	DefaultExpires    int       `modparam:"default_expires" min:"0"`
	DefaultQ          int       `modparam:"default_q" min:"-1" max:"1000"`
	AppendBranches    bool      `modparam:"append_branches"`
	SaveNATFlag       flagParam `modparam:"save_nat_flag"`
	LoadNATFlag       flagParam `modparam:"load_nat_flag"`
	TrustReceivedFlag flagParam `modparam:"trust_received_flag"`
	MinExpires        int       `modparam:"min_expires" min:"0"`
	MaxExpires        int       `modparam:"max_expires" min:"0"`
	MaxContacts       int       `modparam:"max_contacts" min:"0"`
	ReceivedParam     string    `modparam:"received_param"`
	ReceivedToURI     bool      `modparam:"received_to_uri"`
	ReplyCodeAttr     string    `modparam:"reply_code_attr"`
	ReplyReasonAttr   string    `modparam:"reply_reason_attr"`
	ContactAttr       string    `modparam:"contact_attr"`
	AORAttr           string    `modparam:"aor_attr"`
	ServerIDAttr      string    `modparam:"server_id_attr"`

	codeAttr, reasonAttr, contactAttr attr
	aorName, serverIDName             string

	// tables are the usrloc tables the script's calls name; their usrloc
	// domains are bound at Init (fixups run before).
	tables map[string]*tableRef
	ul     usrloc.API

	accepted, rejected *stats.Counter
}

// attr is an attribute a parameter names ("$code"), "" when disabled.
type attr struct {
	name  sr.AVPName
	flags sr.AVPFlags
	on    bool
}

// tableRef is a table named in a call, bound to its usrloc domain at Init.
type tableRef struct {
	name string
	dom  usrloc.Domain
}

const rtReqFail = sr.RouteRequest | sr.RouteFailure

func init() {
	saveFn := func(name string, routes sr.RouteType, call func(*registrar, *sr.Ctx, []any) int) module.Func[*registrar] {
		return module.Func[*registrar]{Name: name, Args: []int{1, 2}, Routes: routes, Fixup: fixupTable, Call: call}
	}
	module.Register(module.Spec[*registrar]{
		Name:    "registrar",
		Tree:    "modules_s",
		Deps:    []string{"modules_s/usrloc"},
		Summary: "SIP registrar on SER's uid user model: REGISTER processing and contact lookup",
		New: func() *registrar {
			return &registrar{
				DefaultExpires: 3600, DefaultQ: -1, AppendBranches: true,
				SaveNATFlag: flagParam{4}, LoadNATFlag: flagParam{4}, TrustReceivedFlag: flagParam{-2},
				MinExpires: 60, ReceivedParam: "received",
				ReplyCodeAttr: "$code", ReplyReasonAttr: "$reason", ContactAttr: "$contact",
				AORAttr: "$aor", ServerIDAttr: "$server_id",
				tables: map[string]*tableRef{},
			}
		},
		Funcs: []module.Func[*registrar]{
			saveFn("save_contacts", rtReqFail, (*registrar).save),
			saveFn("save", rtReqFail, (*registrar).save),
			saveFn("save_contacts_noreply", rtReqFail, (*registrar).saveNoReply),
			saveFn("save_noreply", rtReqFail|sr.RouteOnReply, (*registrar).saveNoReply),
			saveFn("save_memory", rtReqFail, (*registrar).saveMemory),
			saveFn("save_mem_nr", rtReqFail, (*registrar).saveMemNoReply),
			{Name: "lookup_contacts", Args: []int{1, 2}, Routes: rtReqFail, Fixup: fixupTable, Call: (*registrar).lookup},
			{Name: "lookup", Args: []int{1, 2}, Routes: rtReqFail, Fixup: fixupTable, Call: (*registrar).lookup},
			{Name: "registered", Args: []int{1, 2}, Routes: rtReqFail, Fixup: fixupTable, Call: (*registrar).registered},
		},
	})
}

var (
	_ module.Configurer = (*registrar)(nil)
	_ module.Initer     = (*registrar)(nil)
)

// Configure compiles the attribute parameters.
func (m *registrar) Configure(env *module.ConfigEnv) error {
	reg, _ := env.PVs.(*pv.Registry)
	for _, a := range []struct {
		param, text string
		dst         *attr
	}{
		{"reply_code_attr", m.ReplyCodeAttr, &m.codeAttr},
		{"reply_reason_attr", m.ReplyReasonAttr, &m.reasonAttr},
		{"contact_attr", m.ContactAttr, &m.contactAttr},
	} {
		at, err := parseAttr(reg, a.text)
		if err != nil {
			return fmt.Errorf("%s %q: %w", a.param, a.text, err)
		}
		*a.dst = at
	}
	for _, a := range []struct {
		param, text string
		dst         *string
	}{{"aor_attr", m.AORAttr, &m.aorName}, {"server_id_attr", m.ServerIDAttr, &m.serverIDName}} {
		at, err := parseAttr(reg, a.text)
		if err != nil {
			return fmt.Errorf("%s %q: %w", a.param, a.text, err)
		}
		// SER reads these by name only, in a track of its choosing.
		*a.dst = ""
		if at.on {
			*a.dst = at.name.S
		}
	}
	if strings.TrimSpace(m.ReceivedParam) == "" || strings.ContainsAny(m.ReceivedParam, " \t\r\n;=,\"") {
		return fmt.Errorf("received_param %q is not a parameter name", m.ReceivedParam)
	}
	return nil
}

// parseAttr reads an attribute parameter ("$code", "$t.aor"); "" turns it
// off. SER requires the leading "$".
func parseAttr(reg *pv.Registry, text string) (attr, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return attr{}, nil
	}
	if !strings.HasPrefix(text, "$") || len(text) == 1 {
		return attr{}, errors.New("an attribute name starting with $ is expected")
	}
	if reg == nil {
		name := text[1:]
		if !serattr.ValidName(name) {
			return attr{}, fmt.Errorf("invalid attribute name")
		}
		return attr{name: sr.AVPName{S: name}, on: true}, nil
	}
	spec, err := reg.Parse(text, pv.SER)
	if err != nil {
		return attr{}, err
	}
	name, flags, ok := spec.AVP()
	if !ok || name.IsID {
		return attr{}, errors.New("not an attribute with a constant name")
	}
	return attr{name: name, flags: flags, on: true}, nil
}

// Init binds usrloc and registers the tables the script uses.
func (m *registrar) Init(env *module.InitEnv) error {
	d, err := env.Dep("modules_s/usrloc")
	if err != nil {
		return err
	}
	api, ok := d.(usrloc.API)
	if !ok {
		return fmt.Errorf("modules_s/usrloc (%T) does not offer the usrloc API", d)
	}
	m.ul = api
	for _, t := range m.tables {
		dom, err := api.RegisterDomain(t.name)
		if err != nil {
			return err
		}
		t.dom = dom
	}
	if env.Stats != nil {
		m.accepted = env.Stats.Counter("registrar", "accepted_regs")
		m.rejected = env.Stats.Counter("registrar", "rejected_regs")
	}
	return nil
}

// aorArg is the optional second argument of the functions: an AOR to
// filter the contacts by, constant or read from an attribute or select.
type aorArg struct {
	s string
	g sr.Getter
}

func (a *aorArg) value(c *sr.Ctx) (string, bool) {
	if a == nil {
		return "", false
	}
	if a.g == nil {
		return a.s, true
	}
	v := a.g.Get(c)
	if v.IsNull() {
		return "", false
	}
	return v.Text(), true
}

// fixupTable prepares (table[, aor]): the table is a constant name (SER
// refuses anything else), the AOR a string, an attribute or a select.
func fixupTable(m *registrar, fx *module.Fixup, args []module.Arg) ([]any, error) {
	name, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if !location.ValidName(name) {
		return nil, fx.Errorf(args[0], "%s: %q is not a table name", fx.Func, name)
	}
	t, ok := m.tables[name]
	if !ok {
		t = &tableRef{name: name}
		m.tables[name] = t
	}
	p := []any{t, (*aorArg)(nil)}
	if len(args) > 1 {
		a := args[1]
		s := strings.TrimSpace(a.S)
		switch {
		case a.Kind == module.ArgPV || strings.HasPrefix(s, "$") || strings.HasPrefix(s, "@"):
			g, err := fx.Getter(a)
			if err != nil {
				return nil, err
			}
			p[1] = &aorArg{g: g}
		default:
			p[1] = &aorArg{s: a.S}
		}
	}
	return p, nil
}
