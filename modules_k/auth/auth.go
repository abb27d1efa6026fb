// Package auth is Kamailio's auth module: digest challenges (401/407 with
// WWW-/Proxy-Authenticate), the nonces they carry, and the checks of the
// credentials that come back. It looks up no password itself: auth_db
// does, through the Go API of this package (PreAuth, Verify, PostAuth),
// as Kamailio's auth_db binds auth's API.
//
// Nonces are stateless to validate: an HMAC keyed by the secret covers
// their issue and expiry times, a random id and an optional binding to
// parts of the request (auth_checks_*). Replays are refused with a
// bounded table of the nonces issued: with qop the nonce count must
// strictly increase, without qop a nonce is good once.
package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest"
	"sip-router.org/core/digest/nonce"
	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
)

// Auth is the module instance. auth_db gets it with
// env.Dep("modules_k/auth") and asserts it to *Auth.
type Auth struct {
	// Secret keys the nonces' HMAC. Empty: a random secret per start, so
	// nonces issued before a restart are refused (as stale).
	Secret string `modparam:"secret"`
	// NonceExpire is a nonce's lifetime in seconds.
	NonceExpire int `modparam:"nonce_expire" min:"1" max:"86400"`
	// NonceAuthMaxDrift is how far in the future, in seconds, a nonce's
	// issue time may be (servers sharing a secret with clocks apart).
	NonceAuthMaxDrift int `modparam:"nonce_auth_max_drift" min:"0" max:"3600"`
	// QOP is offered in every challenge besides what the function's
	// flags ask: "", "auth", "auth-int" or "auth,auth-int".
	QOP string `modparam:"qop"`
	// NonceCount requires, with qop, a strictly increasing nc per nonce.
	NonceCount bool `modparam:"nonce_count"`
	// OneTimeNonce accepts a nonce once when the credentials carry no qop.
	OneTimeNonce bool `modparam:"one_time_nonce"`
	// NCArraySize and OTNInFlightNo bound the table of nonces issued
	// (entries; the larger applies).
	NCArraySize   int `modparam:"nc_array_size" min:"16" max:"16777216"`
	OTNInFlightNo int `modparam:"otn_in_flight_no" min:"16" max:"16777216"`
	// NonceReuse (OpenSER's name) lets a nonce be reused until it
	// expires: it turns the nonce_count and one_time_nonce checks off.
	NonceReuse bool `modparam:"nonce_reuse"`
	// Auth checks bind a nonce to parts of the request it was issued for
	// (1 R-URI, 2 Call-ID, 4 From tag, 8 source IP).
	ChecksRegister int `modparam:"auth_checks_register" min:"0" max:"15"`
	ChecksNoDlg    int `modparam:"auth_checks_no_dlg" min:"0" max:"15"`
	ChecksInDlg    int `modparam:"auth_checks_in_dlg" min:"0" max:"15"`
	// RealmPrefix is removed from the front of a realm taken from the
	// To/From host.
	RealmPrefix string `modparam:"realm_prefix"`
	// RPID settings of append_rpid_hf and is_rpid_user_e164.
	RPIDPrefix string `modparam:"rpid_prefix"`
	RPIDSuffix string `modparam:"rpid_suffix"`
	RPIDAVP    string `modparam:"rpid_avp"`

	guard    *nonce.Guard
	qopFlags int
	rpid     sr.Getter
	sl       statelessReplier
}

// statelessReplier is the API of modules/sl used to send challenges
// when there is no transaction.
type statelessReplier interface {
	StatelessReply(c *sr.Ctx, code int, reason string, extra ...string) error
}

// Challenge flags (www_challenge's and auth_challenge's second argument).
const (
	FlagQOPAuth    = 1  // offer qop="auth"
	FlagQOPAuthInt = 2  // offer qop="auth-int"
	FlagNo500      = 4  // on failure, send no 500 reply
	FlagStale      = 16 // say stale=true
)

func init() {
	module.Register(module.Spec[*Auth]{
		Name:    "auth",
		Tree:    "modules_k",
		Deps:    []string{"modules/sl"},
		Summary: "Digest authentication: challenges, nonces and credential checks",
		New: func() *Auth {
			return &Auth{
				NonceExpire: 300, NonceAuthMaxDrift: 3,
				NonceCount: true, OneTimeNonce: true,
				NCArraySize: 65536, OTNInFlightNo: 65536,
				RPIDSuffix: ";party=calling;id-type=subscriber;screen=yes",
				RPIDAVP:    "$avp(s:rpid)",
			}
		},
		Funcs: []module.Func[*Auth]{
			{Name: "www_challenge", Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupChallenge, Call: (*Auth).wwwChallenge},
			{Name: "proxy_challenge", Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupChallenge, Call: (*Auth).proxyChallenge},
			{Name: "auth_challenge", Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupChallenge, Call: (*Auth).authChallenge},
			{Name: "consume_credentials", Routes: sr.RouteRequest, Call: (*Auth).consumeCredentials},
			{Name: "has_credentials", Args: []int{1}, Routes: sr.RouteRequest, Fixup: fixupRealm, Call: (*Auth).hasCredentials},
			{
				Name: "append_rpid_hf", Args: []int{0, 2}, Routes: sr.RouteRequest | sr.RouteBranch,
				Fixup: fixupRPID, Call: (*Auth).appendRPID,
			},
			{Name: "is_rpid_user_e164", Routes: sr.RouteRequest, Call: (*Auth).isRPIDE164},
		},
	})
}

var (
	_ module.Configurer = (*Auth)(nil)
	_ module.Initer     = (*Auth)(nil)
)

// Configure checks qop and compiles rpid_avp.
func (a *Auth) Configure(env *module.ConfigEnv) error {
	switch strings.ReplaceAll(strings.ToLower(a.QOP), " ", "") {
	case "":
		a.qopFlags = 0
	case "auth":
		a.qopFlags = FlagQOPAuth
	case "auth-int":
		a.qopFlags = FlagQOPAuthInt
	case "auth,auth-int", "auth-int,auth":
		a.qopFlags = FlagQOPAuth | FlagQOPAuthInt
	default:
		return fmt.Errorf("qop %q: must be empty, auth, auth-int or auth,auth-int", a.QOP)
	}
	if a.RPIDAVP != "" {
		reg, ok := env.PVs.(*pv.Registry)
		if !ok {
			return fmt.Errorf("rpid_avp: no pseudo-variable registry")
		}
		g, err := reg.Parse(a.RPIDAVP, pv.MaxCompat)
		if err != nil {
			return fmt.Errorf("rpid_avp %q: %w", a.RPIDAVP, err)
		}
		a.rpid = g
	}
	return nil
}

// Init sets up the nonces and the link to sl.
func (a *Auth) Init(env *module.InitEnv) error {
	dep, err := env.Dep("modules/sl")
	if err != nil {
		return err
	}
	sl, ok := dep.(statelessReplier)
	if !ok {
		return fmt.Errorf("module sl (%T) does not offer stateless replies", dep)
	}
	a.sl = sl
	size := 0
	if !a.NonceReuse && (a.NonceCount || a.OneTimeNonce) {
		size = max(a.NCArraySize, a.OTNInFlightNo)
	}
	a.guard = nonce.NewGuard(env.Log, a.nonceConfig(size))
	return nil
}

// nonceConfig is the configuration of the nonces, with a table of size
// entries (0: none).
func (a *Auth) nonceConfig(size int) nonce.Config {
	return nonce.Config{
		Secret: []byte(a.Secret), Label: "sip-router auth",
		Expire: time.Duration(a.NonceExpire) * time.Second, MaxDrift: time.Duration(a.NonceAuthMaxDrift) * time.Second,
		TableSize: size, NonceCount: a.NonceCount, OneTime: a.OneTimeNonce,
	}
}

// HeaderKind says which credentials and challenge headers are meant:
// WWW (Authorization, 401 WWW-Authenticate) or Proxy
// (Proxy-Authorization, 407 Proxy-Authenticate).
type HeaderKind = digest.Kind

// The two kinds.
const (
	WWW   = digest.WWW
	Proxy = digest.Proxy
)

// KindFor is auth_check's choice: WWW for REGISTER, Proxy otherwise.
func KindFor(req *sip.Request) HeaderKind { return digest.KindFor(req) }

// Realm is the realm used when the script gives "": the To host of a
// REGISTER with Authorization credentials, the From host otherwise, with
// realm_prefix removed from its front.
func (a *Auth) Realm(c *sr.Ctx, k HeaderKind) string {
	return digest.TrimRealmPrefix(digest.RequestRealm(c.Req, k), a.RealmPrefix)
}

// state is what the auth functions leave on a message for each other.
type state struct {
	// stale says, per HeaderKind, that the nonce of the credentials
	// checked was stale: the next challenge says stale=true.
	stale [2]bool
}

type stateKey struct{}

func getState(c *sr.Ctx) *state {
	if s, ok := c.Value(stateKey{}).(*state); ok {
		return s
	}
	s := &state{}
	c.SetValue(stateKey{}, s)
	return s
}

// Result is the outcome of PreAuth and PostAuth.
type Result int

// Results.
const (
	// Proceed: credentials for the realm were found and their nonce is
	// good; check the response (PreAuth), or the use was recorded
	// (PostAuth).
	Proceed Result = iota
	// NoCredentials: no credentials header for the realm parsed (or
	// they name an algorithm other than MD5).
	NoCredentials
	// Stale: the nonce expired, was replayed, was forgotten or does not
	// belong to this request (auth_checks); the challenge says
	// stale=true.
	Stale
	// Invalid: the nonce was not issued by this server (forged, edited)
	// or its time is too far in the future.
	Invalid
)

func (r Result) String() string {
	switch r {
	case Proceed:
		return "proceed"
	case NoCredentials:
		return "no credentials"
	case Stale:
		return "stale nonce"
	case Invalid:
		return "invalid nonce"
	}
	return fmt.Sprintf("result(%d)", int(r))
}

// Creds are credentials PreAuth found: the parsed header and what the
// later steps need.
type Creds = digest.Creds

// ErrNoRequest is returned by API calls on a message that is not a request.
var ErrNoRequest = errors.New("auth: no request")

// PreAuth finds the credentials for realm in the request's
// Authorization (WWW) or Proxy-Authorization (Proxy) headers — the first
// header that parses and names that realm — and checks their nonce:
// HMAC, issue time, expiry, binding, and whether the table of nonces
// would accept this use (without recording it: PostAuth does). It does no
// password work, so its outcome cannot depend on the user.
func (a *Auth) PreAuth(c *sr.Ctx, realm string, k HeaderKind) (*Creds, Result) {
	cr, _ := digest.Find(c, k, realm, false)
	if cr == nil {
		return nil, NoCredentials
	}
	r := result(a.guard.CheckNonce(c, cr, false))
	if r == Stale {
		getState(c).stale[k] = true
	}
	if r != Proceed {
		return nil, r
	}
	return cr, Proceed
}

// result is the Result of a nonce check.
func result(r nonce.Result) Result {
	return [...]Result{nonce.OK: Proceed, nonce.Stale: Stale, nonce.Invalid: Invalid}[r]
}

// Verify reports whether the credentials' response is right for ha1 (the
// hex MD5 of user:realm:password), comparing in constant time.
func (a *Auth) Verify(c *sr.Ctx, cr *Creds, ha1 string) bool { return digest.Verify(c, cr, ha1) }

// DummyHA1 is the HA1 of a user that does not exist (see
// nonce.Guard.DummyHA1).
func (a *Auth) DummyHA1(username, realm string) string { return a.guard.DummyHA1(username, realm) }

// PostAuth runs after a right response: it records the nonce's use (nc
// or one-time) — refusing it as Stale when a copy of the request got
// there first — and marks the credentials as the ones the request was
// authorized with (consume_credentials, uri_db's check_to/check_from).
// It also moves the authorized header in front of the other headers of
// its name: $au, $ar and $ad read the first one, and another realm's
// credentials placed first must not speak for the user ($au != $fU).
func (a *Auth) PostAuth(c *sr.Ctx, cr *Creds) Result {
	if cr == nil {
		return NoCredentials
	}
	r := result(a.guard.Commit(c, cr))
	if r == Stale {
		getState(c).stale[cr.Kind] = true
	}
	return r
}
