// Package rr is the rr module: Record-Route insertion (RFC 3261 §16.6
// step 4, double Record-Route when the request changes socket) and Route
// processing (loose_route, RFC 3261 §16.4 and §16.12, including the
// recovery from and forwarding to strict routers), with Kamailio's
// route-parameter functions and SER's AVP cookies.
package rr

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

type rr struct {
	// EnableFullLR writes ";lr=on" instead of ";lr" (for broken UAs).
	EnableFullLR bool `modparam:"enable_full_lr"`
	// AppendFromTag adds ";ftag=<From tag>" to the Record-Route URI.
	AppendFromTag bool `modparam:"append_fromtag"`
	// EnableDoubleRR inserts two Record-Routes when the request leaves on
	// another socket than it arrived on.
	EnableDoubleRR bool `modparam:"enable_double_rr"`
	// AddUsername puts the Request-URI user into the Record-Route URI.
	AddUsername bool `modparam:"add_username"`
	// CookieFilter limits the AVPs carried in (and restored from) the
	// Record-Route cookie to the names it matches (SER).
	CookieFilter string `modparam:"cookie_filter"`
	// CookieSecret keys the integrity check of the cookie (SER).
	CookieSecret string `modparam:"cookie_secret"`

	filter *regexp.Regexp
	key    []byte
	// cookieFlag is the bit of the dialog_cookie avpflag, 0 if undeclared.
	cookieFlag sr.AVPFlags
}

func init() {
	module.Register(module.Spec[*rr]{
		Name:    "rr",
		Tree:    "modules",
		Summary: "Record-Route and Route processing",
		New: func() *rr {
			return &rr{AppendFromTag: true, EnableDoubleRR: true}
		},
		Funcs: []module.Func[*rr]{
			{Name: "loose_route", Routes: sr.RouteRequest, Call: (*rr).looseRoute},
			{Name: "record_route", Args: []int{0, 1}, Routes: rrRoutes, Fixup: fixupFormats, Call: (*rr).recordRoute},
			{Name: "record_route_preset", Args: []int{1, 2}, Routes: rrRoutes, Fixup: fixupFormats, Call: (*rr).recordRoutePreset},
			{Name: "add_rr_param", Args: []int{1}, Routes: rrRoutes | sr.RouteOnReply, Fixup: fixupFormats, Call: (*rr).addRRParam},
			{Name: "remove_record_route", Routes: rrRoutes, Call: (*rr).removeRecordRoute},
			{Name: "check_route_param", Args: []int{1}, Routes: rrRoutes | sr.RouteOnReply, Fixup: fixupRegex, Call: (*rr).checkRouteParam},
			{Name: "is_direction", Args: []int{1}, Routes: sr.RouteRequest, Fixup: fixupDirection, Call: (*rr).isDirection},
		},
	})
}

// rrRoutes are the routes where Record-Route can be added or changed.
// check_route_param and add_rr_param also allow onreply_route (Kamailio
// allows request_route, and request, branch and failure routes): the core
// checks a sub-route against every route type that calls it, and
// Kamailio 5.6's default configuration calls both in route[NATMANAGE],
// which its branch and reply routes call (behind is_request()).
const rrRoutes = sr.RouteRequest | sr.RouteBranch | sr.RouteFailure

// Configure compiles the cookie filter and sets the cookie key: the
// secret when one is given, else a random key (cookies then do not
// survive a restart).
func (m *rr) Configure(env *module.ConfigEnv) error {
	if env.AVPFlag != nil {
		if f, ok := env.AVPFlag(cookieFlagName); ok {
			m.cookieFlag = f
		}
	}
	if m.CookieFilter != "" {
		re, err := regexp.Compile("(?i)" + m.CookieFilter)
		if err != nil {
			return fmt.Errorf("cookie_filter %q: %w", m.CookieFilter, err)
		}
		m.filter = re
	}
	if m.CookieSecret != "" {
		m.key = []byte(m.CookieSecret)
	} else {
		m.key = make([]byte, 32)
		if _, err := rand.Read(m.key); err != nil {
			return fmt.Errorf("cookie key: %w", err)
		}
	}
	return nil
}

// fixupFormats compiles every argument as a text with variables.
func fixupFormats(_ *rr, fx *module.Fixup, args []module.Arg) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		f, err := fx.TextFormat(a)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// fixupRegex compiles the argument as a case-insensitive extended regular
// expression.
func fixupRegex(_ *rr, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if _, err := fx.Str(args[0]); err != nil {
		return nil, err
	}
	re, err := fx.Regex(args[0], true)
	if err != nil {
		return nil, err
	}
	return []any{re}, nil
}

// Flow directions for is_direction.
const (
	downstream = 1
	upstream   = 2
)

// fixupDirection reads "downstream" or "upstream"; like Kamailio it
// refuses the function when append_fromtag is off, since the direction is
// told by the ftag parameter.
func fixupDirection(m *rr, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	if !m.AppendFromTag {
		return nil, fx.Errorf(args[0], "%s: needs modparam(\"rr\", \"append_fromtag\", 1)", fx.Func)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "downstream":
		return []any{downstream}, nil
	case "upstream":
		return []any{upstream}, nil
	}
	return nil, fx.Errorf(args[0], "%s: unknown direction %q (use downstream or upstream)", fx.Func, s)
}
