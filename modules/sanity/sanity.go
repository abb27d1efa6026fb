// Package sanity is the sanity module: sanity_check() runs Kamailio's
// numbered checks over a request (or a reply) and answers a request that
// fails one with the matching error reply, sent through the sl module.
package sanity

import (
	"errors"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// The check bits of sanity_check's first argument, as Kamailio numbers
// them.
const (
	checkRURIVersion  = 1
	checkRURIScheme   = 2
	checkRequired     = 4
	checkViaVersion   = 8
	checkViaProtocol  = 16
	checkCSeqMethod   = 32
	checkCSeqValue    = 64
	checkCL           = 128
	checkExpires      = 256
	checkProxyRequire = 512
	checkParseURIs    = 1024
	checkDigest       = 2048
	checkDupTags      = 4096
	checkAuth         = 8192
	checkVia1         = 16384

	maxChecks = 1<<15 - 1
)

// The bits of the second argument: which URIs check 1024 parses.
const (
	uriRURI    = 1
	uriFrom    = 2
	uriTo      = 4
	uriContact = 8

	maxURIChecks = 15
)

type sanity struct {
	DefaultChecks int    `modparam:"default_checks" min:"1" max:"32767"`
	URIChecks     int    `modparam:"uri_checks" min:"1" max:"15"`
	ProxyRequire  string `modparam:"proxy_require"`
	AutoDrop      bool   `modparam:"autodrop"`

	supported []string
	sl        slAPI
}

// slAPI is what this module needs from the sl module.
type slAPI interface {
	StatelessReply(c *sr.Ctx, code int, reason string, extra ...string) error
}

func init() {
	module.Register(module.Spec[*sanity]{
		Name:    "sanity",
		Tree:    "modules",
		Deps:    []string{"modules/sl"},
		Summary: "Sanity checks of SIP messages",
		New: func() *sanity {
			return &sanity{DefaultChecks: 3047, URIChecks: 7, AutoDrop: true}
		},
		Funcs: []module.Func[*sanity]{
			{
				Name: "sanity_check", Args: []int{0, 1, 2}, Routes: sr.RouteRequest | sr.RouteOnReply,
				Fixup: fixupChecks, Call: (*sanity).check,
			},
		},
	})
}

// Configure reads the proxy_require list (comma separated).
func (m *sanity) Configure(*module.ConfigEnv) error {
	m.supported = nil
	for _, o := range strings.Split(m.ProxyRequire, ",") {
		if o = strings.TrimSpace(o); o != "" {
			m.supported = append(m.supported, o)
		}
	}
	return nil
}

// Init binds the sl module, which sends the error replies.
func (m *sanity) Init(env *module.InitEnv) error {
	d, err := env.Dep("modules/sl")
	if err != nil {
		return err
	}
	api, ok := d.(slAPI)
	if !ok {
		return errors.New("modules/sl does not offer stateless replies")
	}
	m.sl = api
	return nil
}

// intArg is an argument that yields a number: a constant, a
// pseudo-variable, or a text with variables.
type intArg struct {
	n int
	g sr.Getter
	f sr.Format
}

func (a intArg) value(c *sr.Ctx) (int, bool) {
	switch {
	case a.g != nil:
		return a.g.Get(c).AsInt()
	case a.f != nil:
		n, err := strconv.Atoi(strings.TrimSpace(a.f.Expand(c)))
		return n, err == nil
	}
	return a.n, true
}

// fixupChecks reads the check masks: numbers, strings holding them
// ("1511"), or pseudo-variables.
func fixupChecks(_ *sanity, fx *module.Fixup, args []module.Arg) ([]any, error) {
	limits := []int{maxChecks, maxURIChecks}
	out := make([]any, len(args))
	for i, a := range args {
		if a.Kind == module.ArgPV {
			g, err := fx.Getter(a)
			if err != nil {
				return nil, err
			}
			out[i] = intArg{g: g}
			continue
		}
		n, err := fx.Int(a)
		if err != nil {
			if !strings.ContainsAny(a.S, "$%") {
				return nil, err
			}
			f, ferr := fx.TextFormat(a)
			if ferr != nil {
				return nil, ferr
			}
			out[i] = intArg{f: f}
			continue
		}
		if n < 1 || n > limits[i] {
			return nil, fx.Errorf(a, "%s: checks %d out of range 1..%d", fx.Func, n, limits[i])
		}
		out[i] = intArg{n: n}
	}
	return out, nil
}

// check implements sanity_check([msg_checks[, uri_checks]]). It returns 1
// when every check passes. On a failure a request is answered (never an
// ACK, never a reply) and the function returns 0 with autodrop (the script
// stops; a reply in a reply route is dropped), -1 without. A mask out of
// range returns -1.
func (m *sanity) check(c *sr.Ctx, p []any) int {
	checks, uris := m.DefaultChecks, m.URIChecks
	if len(p) > 0 {
		n, ok := p[0].(intArg).value(c)
		if !ok || n < 1 || n > maxChecks {
			c.Log.Error("sanity_check: message checks out of range", "value", n)
			return -1
		}
		checks = n
	}
	if len(p) > 1 {
		n, ok := p[1].(intArg).value(c)
		if !ok || n < 1 || n > maxURIChecks {
			c.Log.Error("sanity_check: URI checks out of range", "value", n)
			return -1
		}
		uris = n
	}
	f := m.run(c, checks, uris)
	if f == nil {
		return 1
	}
	c.Log.Debug("sanity_check failed", "check", f.check, "code", f.code, "reason", f.reason)
	if c.IsRequest() && f.code != 0 && c.Req.Method != sip.ACK {
		if m.sl == nil {
			c.Log.Error("sanity_check: no sl module to reply with")
		} else if err := m.sl.StatelessReply(c, f.code, f.reason, f.extra...); err != nil {
			c.Log.Warn("sanity_check: cannot send the reply", "code", f.code, "error", err)
		}
	}
	if !m.AutoDrop {
		return -1
	}
	if !c.IsRequest() {
		c.Dropped = true
	}
	return 0
}

// failure describes a failed check: the reply to send (code 0 for none)
// and the header lines to add to it.
type failure struct {
	check  int
	code   int
	reason string
	extra  []string
}

func fail(check, code int, reason string, extra ...string) *failure {
	return &failure{check: check, code: code, reason: reason, extra: extra}
}
