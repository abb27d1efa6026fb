// Package registrar is Kamailio's registrar module: it processes
// REGISTER requests (RFC 3261 §10.3) into the user location service
// (modules_k/usrloc) with save(), and finds the contacts of a request's
// target with lookup().
package registrar

import (
	"errors"
	"fmt"
	"strings"

	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
	"sip-router.org/core/stats"
	"sip-router.org/modules_k/usrloc"
)

type registrar struct {
	DefaultExpires  int    `modparam:"default_expires" min:"0"`
	MinExpires      int    `modparam:"min_expires" min:"0"`
	MaxExpires      int    `modparam:"max_expires" min:"0"`
	DefaultQ        int    `modparam:"default_q" min:"-1" max:"1000"`
	AppendBranches  bool   `modparam:"append_branches"`
	CaseSensitive   bool   `modparam:"case_sensitive"`
	ReceivedAVP     string `modparam:"received_avp"`
	ReceivedParam   string `modparam:"received_param"`
	MaxContacts     int    `modparam:"max_contacts" min:"0"`
	RetryAfter      int    `modparam:"retry_after" min:"0"`
	SockFlag        int    `modparam:"sock_flag" min:"-1" max:"31"`
	SockHdrName     string `modparam:"sock_hdr_name"`
	MethodFiltering bool   `modparam:"method_filtering"`
	UsePath         bool   `modparam:"use_path"`
	PathMode        int    `modparam:"path_mode" min:"0" max:"2"`
	PathUseReceived bool   `modparam:"path_use_received"`
	RealmPrefix     string `modparam:"realm_prefix"`
	AORAVP          string `modparam:"aor_avp"`
	GRUUEnabled     int    `modparam:"gruu_enabled" min:"0" max:"1"`

	rcvAVP sr.Getter
	aorAVP sr.Getter
	// tables are the usrloc tables the script's calls name; their usrloc
	// domains are bound at Init.
	tables map[string]*tableRef
	ul     usrloc.API

	accepted, rejected *stats.Counter
}

// tableRef is a table named in a call, bound to its usrloc domain at
// Init (fixups run before Init).
type tableRef struct {
	name string
	dom  usrloc.Domain
}

// Path modes.
const (
	pathOff    = 0
	pathLazy   = 1
	pathStrict = 2
)

// Flags of save().
const (
	saveMemOnly = 0x01
	saveNoReply = 0x02
	saveSingle  = 0x04
)

const rtReqFail = sr.RouteRequest | sr.RouteFailure

func init() {
	module.Register(module.Spec[*registrar]{
		Name:    "registrar",
		Tree:    "modules_k",
		Deps:    []string{"modules_k/usrloc"},
		Summary: "SIP registrar: REGISTER processing and contact lookup",
		New: func() *registrar {
			return &registrar{
				DefaultExpires: 3600, MinExpires: 60, DefaultQ: -1, AppendBranches: true,
				ReceivedParam: "received", SockFlag: -1, PathMode: pathStrict,
				tables: map[string]*tableRef{},
			}
		},
		Funcs: []module.Func[*registrar]{
			{Name: "save", Args: []int{1, 2}, Routes: sr.RouteRequest | sr.RouteOnReply, Fixup: fixupSave, Call: (*registrar).save},
			{Name: "lookup", Args: []int{1, 2}, Routes: rtReqFail, Fixup: fixupTableURI, Call: (*registrar).lookup},
			{Name: "registered", Args: []int{1, 2}, Routes: rtReqFail, Fixup: fixupTableURI, Call: (*registrar).registered},
			{Name: "unregister", Args: []int{2}, Routes: rtReqFail, Fixup: fixupTableURI, Call: (*registrar).unregister},
			{Name: "add_sock_hdr", Args: []int{1}, Routes: sr.RouteRequest, Fixup: fixupHdrName, Call: (*registrar).addSockHdr},
			{Name: "reg_fetch_contacts", Args: []int{3}, Routes: sr.RouteAny, Fixup: fixupFetch, Call: (*registrar).fetchContacts},
			{Name: "reg_free_contacts", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixupProfile, Call: (*registrar).freeContacts},
		},
		PVs: []module.PV[*registrar]{
			{Name: "ulc", Inner: true, Parse: (*registrar).parseULC, Get: (*registrar).getULC},
		},
		Tables: []*schema.Table{usrloc.Table("aliases", "alias_idx",
			"Aliases: AORs registered as aliases of others, looked up like the location table")},
	})
}

var (
	_ module.Configurer = (*registrar)(nil)
	_ module.Initer     = (*registrar)(nil)
)

// Configure compiles the AVP names of received_avp and aor_avp.
func (m *registrar) Configure(env *module.ConfigEnv) error {
	reg, _ := env.PVs.(*pv.Registry)
	for _, a := range []struct {
		name, text string
		dst        *sr.Getter
	}{{"received_avp", m.ReceivedAVP, &m.rcvAVP}, {"aor_avp", m.AORAVP, &m.aorAVP}} {
		text := strings.TrimSpace(a.text)
		if text == "" || reg == nil {
			continue
		}
		if text[0] != '$' {
			text = "$avp(" + text + ")"
		}
		spec, err := reg.Parse(text, pv.MaxCompat)
		if err != nil {
			return fmt.Errorf("%s %q: %w", a.name, a.text, err)
		}
		*a.dst = spec
	}
	if strings.TrimSpace(m.ReceivedParam) == "" {
		return errors.New("received_param must not be empty")
	}
	return nil
}

// Init binds usrloc and registers the tables the script uses.
func (m *registrar) Init(env *module.InitEnv) error {
	d, err := env.Dep("modules_k/usrloc")
	if err != nil {
		return err
	}
	api, ok := d.(usrloc.API)
	if !ok {
		return errors.New("modules_k/usrloc does not offer the usrloc API")
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
		env.Stats.Gauge("registrar", "max_expires", func() int64 { return int64(m.MaxExpires) })
		env.Stats.Gauge("registrar", "max_contacts", func() int64 { return int64(m.MaxContacts) })
		env.Stats.Gauge("registrar", "default_expire", func() int64 { return int64(m.DefaultExpires) })
	}
	return nil
}

// table returns the reference of a table named by a call.
func (m *registrar) table(fx *module.Fixup, a module.Arg) (*tableRef, error) {
	name, err := fx.Str(a)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fx.Errorf(a, "%s: empty table name", fx.Func)
	}
	t, ok := m.tables[name]
	if !ok {
		t = &tableRef{name: name}
		m.tables[name] = t
	}
	return t, nil
}

// fixupSave prepares save(table[, flags]).
func fixupSave(m *registrar, fx *module.Fixup, args []module.Arg) ([]any, error) {
	t, err := m.table(fx, args[0])
	if err != nil {
		return nil, err
	}
	flags := 0
	if len(args) > 1 {
		if flags, err = fx.Int(args[1]); err != nil {
			return nil, err
		}
		if flags < 0 || flags > 0xff {
			return nil, fx.Errorf(args[1], "%s: flags %d out of range", fx.Func, flags)
		}
	}
	return []any{t, flags}, nil
}

// fixupTableURI prepares (table[, uri]); the URI may hold variables.
func fixupTableURI(m *registrar, fx *module.Fixup, args []module.Arg) ([]any, error) {
	t, err := m.table(fx, args[0])
	if err != nil {
		return nil, err
	}
	out := []any{t, nil}
	if len(args) > 1 {
		f, err := fx.TextFormat(args[1])
		if err != nil {
			return nil, err
		}
		out[1] = f
	}
	return out, nil
}

func fixupHdrName(_ *registrar, fx *module.Fixup, args []module.Arg) ([]any, error) {
	name, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, ": \t\r\n") {
		return nil, fx.Errorf(args[0], "%s: %q is not a header name", fx.Func, name)
	}
	return []any{name}, nil
}

func truth(b bool) int {
	if b {
		return 1
	}
	return -1
}
