package module

import (
	"sip-router.org/core/db/schema"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

// The module trees.
const (
	TreeCommon   = "modules"
	TreeKamailio = "modules_k"
	TreeSER      = "modules_s"
)

// Trees lists the module trees in their search order.
var Trees = []string{TreeCommon, TreeKamailio, TreeSER}

// Spec describes a module of instance type T. It is passed to Register
// from the module's init function. Name, Tree and Deps must be string
// literals: the build reads them from the source before compiling, to
// check the module mix of a flavor (see tools/flavorgen).
type Spec[T any] struct {
	// Name is the name used in loadmodule and modparam.
	Name string
	// Tree is the folder the module lives in: modules, modules_k or modules_s.
	Tree string
	// Deps are the modules this one needs, written tree/name
	// (modules_k/usrloc). They must be compiled in and loaded before this one.
	Deps []string
	// Summary is a one-line description.
	Summary string
	// New returns a fresh instance with every parameter at its default. It
	// must not have side effects: it also runs at registration, to learn
	// the parameters and their defaults.
	New func() T
	// Funcs are the functions the routing script may call.
	Funcs []Func[T]
	// PVs are the pseudo-variables the module exports.
	PVs []PV[T]
	// RPCs are the control commands the module exports.
	RPCs []RPC[T]
	// Tables are the database tables the module owns, with their versions.
	Tables []*schema.Table
}

// Func is a script function exported by a module.
type Func[T any] struct {
	// Name is the name used in the script.
	Name string
	// Args lists the allowed argument counts. Nil means no arguments.
	Args []int
	// Routes says in which route blocks the function may be called.
	Routes sr.RouteType
	// Fixup checks and prepares the arguments once, when the script is
	// loaded. It returns the prepared parameters that Call receives. Nil
	// keeps each argument as given (a string or an int).
	Fixup func(m T, fx *Fixup, args []Arg) ([]any, error)
	// Call runs the function for one message. Its result follows the script
	// convention: > 0 true, < 0 false, 0 stops the script.
	Call func(m T, c *sr.Ctx, p []any) int
}

// PV is a pseudo-variable class exported by a module ($T_branch_idx,
// $ulc(…) …).
type PV[T any] struct {
	// Name is the class name without the $ ("T_branch_idx").
	Name string
	// Inner says whether the variable takes a name in parentheses ($ulc(x)).
	Inner bool
	// Parse prepares the inner name once at load time. Nil keeps the text.
	Parse func(m T, inner string) (any, error)
	// Get reads the value for a message.
	Get func(m T, c *sr.Ctx, name any) sr.Value
	// Set assigns it; nil makes the variable read-only.
	Set func(m T, c *sr.Ctx, name any, v sr.Value) error
}

// RPC is a control command exported by a module (ul.dump, tm.stats …).
type RPC[T any] struct {
	Name string
	// Doc is the one-line help that system.methodHelp prints.
	Doc  string
	Call func(m T, req *rpc.Request) (any, error)
}

// ArgKind is the lexical kind of a function argument in the script.
type ArgKind uint8

// Argument kinds.
const (
	ArgStr ArgKind = iota // "text" or 'text'
	ArgInt                // 10, 0x1f, or a #!define that expands to a number
	ArgPV                 // an unquoted pseudo-variable: $var(x)
)

// Arg is one argument of a function call as written in the script.
type Arg struct {
	Pos  sr.Pos
	Kind ArgKind
	// S is the text: the string's contents, the number as written, or the
	// pseudo-variable's source.
	S string
	// I is the value of an ArgInt.
	I int
}

// Initer is implemented by instances that prepare themselves after the
// configuration is read (open databases, check table versions, start
// timers). Init runs in dependency order, once per configuration load.
type Initer interface {
	Init(env *InitEnv) error
}

// ChildIniter is implemented by instances that need a step once the
// listeners are open and workers are about to start. rank is the worker
// number, or one of the special ranks.
type ChildIniter interface {
	ChildInit(rank int) error
}

// Destroyer is implemented by instances that release resources at
// shutdown. Destroy runs in reverse dependency order, also after a failed
// Init (for every instance whose Init was attempted), so it must cope with
// a half-initialised instance.
type Destroyer interface {
	Destroy()
}

// Special ranks for ChildInit, as Kamailio numbers its processes.
const (
	RankMain = 0
	RankInit = -127
)

// Configurer is implemented by instances that check their parameters or
// hand them to the core once every modparam line is read, before the
// script is compiled. It runs also when a config is only checked (-c), so
// it must not open connections or start anything: that is Init's job.
type Configurer interface {
	Configure(env *ConfigEnv) error
}

// ConfigEnv is what Configure receives.
type ConfigEnv struct {
	// PVs is the configuration's pseudo-variable registry (*pv.Registry).
	PVs any
	// Flavor names the binary's flavor.
	Flavor string
	// Defaults are the flavor's default core parameters (db_url, fifo …).
	Defaults map[string]string
	// Flag resolves a SER flag name declared with "flags".
	Flag func(name string) (int, bool)
	// AVPFlag resolves an AVP flag name declared with "avpflags".
	AVPFlag func(name string) (sr.AVPFlags, bool)
	// Loaded reports whether the configuration loaded a module.
	Loaded func(name string) bool
}

// RequestFilter is implemented by instances that look at every request
// before the script runs (sl absorbs the ACKs of its own replies).
// FilterRequest returns true when the request was consumed; the script then
// does not run for it.
type RequestFilter interface {
	FilterRequest(c *sr.Ctx) bool
}

// ReplyHandler is implemented by instances that take replies after the
// unnamed onreply_route ran (tm). HandleReply returns true when the reply
// belonged to one of its transactions and was dealt with; otherwise the
// core forwards the reply statelessly.
type ReplyHandler interface {
	HandleReply(c *sr.Ctx) bool
}
