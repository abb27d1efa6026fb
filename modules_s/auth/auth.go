// Package auth is SER's auth module (modules_s): the digest
// authentication core that auth_db (modules_s/auth_db) uses through the Go
// API of this package. It makes and checks the nonces and the credentials'
// responses, and builds the challenge header, which it leaves in an
// attribute ($digest_challenge) for the script to put into its 401 or 407
// with append_to_reply: unlike Kamailio's auth it sends no reply itself,
// and has no www_challenge or proxy_challenge.
//
// Nonces are stateless to validate: an HMAC keyed by the secret covers
// their issue and expiry times, a random id and an optional binding to
// parts of the request (auth_checks_*, protect_contacts). Replays are
// refused with a bounded table of the nonces issued: with qop the nonce
// count must strictly increase, without qop a nonce is good once.
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
	"sip-router.org/modules_s/avp/serattr"
)

// Auth is the module instance. auth_db gets it with
// env.Dep("modules_s/auth") and asserts it to API.
type Auth struct {
	// Secret keys the nonces' HMAC. Empty: a random secret per start.
	Secret string `modparam:"secret"`
	// NonceExpire is a nonce's lifetime in seconds.
	NonceExpire int `modparam:"nonce_expire" min:"1" max:"86400"`
	// NonceAuthMaxDrift is how far in the future, in seconds, a nonce's
	// issue time may be (servers sharing a secret with clocks apart).
	NonceAuthMaxDrift int `modparam:"nonce_auth_max_drift" min:"0" max:"3600"`
	// ProtectContacts binds the nonce of a REGISTER to its Contact headers.
	ProtectContacts bool `modparam:"protect_contacts"`
	// ChallengeAttr is the attribute the challenge header goes to.
	ChallengeAttr string `modparam:"challenge_attr"`
	// The names of the challenge headers.
	ProxyChallengeHeader string `modparam:"proxy_challenge_header"`
	WWWChallengeHeader   string `modparam:"www_challenge_header"`
	// QOP is offered in every challenge: "auth", "auth-int" or "" (none).
	QOP string `modparam:"qop"`
	// Auth checks bind a nonce to parts of the request it was issued for
	// (1 R-URI, 2 Call-ID, 4 From tag, 8 source IP).
	ChecksRegister int `modparam:"auth_checks_register" min:"0" max:"15"`
	ChecksNoDlg    int `modparam:"auth_checks_no_dlg" min:"0" max:"15"`
	ChecksInDlg    int `modparam:"auth_checks_in_dlg" min:"0" max:"15"`
	// NonceCount requires, with qop, a strictly increasing nc per nonce.
	NonceCount bool `modparam:"nonce_count"`
	// OneTimeNonce accepts a nonce once when the credentials carry no qop.
	OneTimeNonce bool `modparam:"one_time_nonce"`
	// The sizes of the table of nonces issued (entries; the larger of
	// the two applies); an order n means 2^n.
	NCArraySize      int `modparam:"nc_array_size" min:"0" max:"16777216"`
	NCArrayOrder     int `modparam:"nc_array_order" min:"0" max:"24"`
	OTNInFlightNo    int `modparam:"otn_in_flight_no" min:"0" max:"16777216"`
	OTNInFlightOrder int `modparam:"otn_in_flight_order" min:"0" max:"24"`
	// NIDPoolNo is accepted for SER configs; the nonce table has its own
	// sharding.
	NIDPoolNo int `modparam:"nid_pool_no" min:"0" max:"64"`
	// RealmPrefix is removed from the front of a realm.
	RealmPrefix string `modparam:"realm_prefix"`

	challenge attrID
	qop       string
	guard     *nonce.Guard
}

// attrID is the attribute the challenge is stored in.
type attrID struct {
	name  sr.AVPName
	flags sr.AVPFlags
}

// API is what auth offers auth_db: finding and checking credentials and
// building challenges. *Auth implements it.
type API interface {
	// Realm returns the realm to authenticate with: realm with
	// realm_prefix removed, or when it is empty the host of the To URI
	// of a REGISTER checked with Authorization, of the From URI
	// otherwise.
	Realm(c *sr.Ctx, realm string, k HeaderKind) string
	// PreAuth finds the credentials for realm and checks their nonce.
	PreAuth(c *sr.Ctx, realm string, k HeaderKind) (*Creds, Result)
	// Verify reports whether the response is right for ha1.
	Verify(c *sr.Ctx, cr *Creds, ha1 string) bool
	// PostAuth records the nonce's use and marks the credentials as the
	// ones the request was authorized with.
	PostAuth(c *sr.Ctx, cr *Creds) Result
	// DummyHA1 is the HA1 of a user that does not exist.
	DummyHA1(username, realm string) string
	// Challenge builds the challenge header with a new nonce and adds it
	// to the challenge attribute.
	Challenge(c *sr.Ctx, realm string, k HeaderKind, stale bool) error
}

var _ API = (*Auth)(nil)

func init() {
	module.Register(module.Spec[*Auth]{
		Name:    "auth",
		Tree:    "modules_s",
		Summary: "Digest authentication core: nonces, credential checks and challenges in an attribute",
		New: func() *Auth {
			return &Auth{
				NonceExpire: 300, NonceAuthMaxDrift: 3,
				ChallengeAttr:        "$digest_challenge",
				ProxyChallengeHeader: "Proxy-Authenticate", WWWChallengeHeader: "WWW-Authenticate",
				QOP:        "auth",
				NonceCount: true, OneTimeNonce: true,
				NCArraySize: 65536, OTNInFlightNo: 65536,
			}
		},
		Funcs: []module.Func[*Auth]{
			{Name: "consume_credentials", Routes: sr.RouteRequest, Call: (*Auth).consumeCredentials},
		},
	})
}

var (
	_ module.Configurer = (*Auth)(nil)
	_ module.Initer     = (*Auth)(nil)
)

// Configure checks qop, the header names and challenge_attr.
func (a *Auth) Configure(env *module.ConfigEnv) error {
	switch q := strings.ToLower(strings.TrimSpace(a.QOP)); q {
	case "", "auth", "auth-int":
		a.qop = q
	default:
		return fmt.Errorf("qop %q: must be auth, auth-int or empty", a.QOP)
	}
	for _, h := range []struct{ param, v string }{
		{"proxy_challenge_header", a.ProxyChallengeHeader}, {"www_challenge_header", a.WWWChallengeHeader},
	} {
		if !validToken(h.v) {
			return fmt.Errorf("%s %q is not a header name", h.param, h.v)
		}
	}
	text := strings.TrimSpace(a.ChallengeAttr)
	if !strings.HasPrefix(text, "$") || len(text) < 2 {
		return fmt.Errorf("challenge_attr %q: an attribute name starting with $ is expected", a.ChallengeAttr)
	}
	a.challenge = attrID{name: sr.AVPName{S: text[1:]}}
	if reg, ok := env.PVs.(*pv.Registry); ok {
		spec, err := reg.Parse(text, pv.SER)
		if err != nil {
			return fmt.Errorf("challenge_attr %q: %w", a.ChallengeAttr, err)
		}
		name, flags, ok := spec.AVP()
		if !ok {
			return fmt.Errorf("challenge_attr %q: not an attribute with a constant name", a.ChallengeAttr)
		}
		a.challenge = attrID{name: name, flags: flags}
	} else if !validToken(text[1:]) {
		return fmt.Errorf("challenge_attr %q: invalid attribute name", a.ChallengeAttr)
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._!%*+`'~", c) >= 0) {
			return false
		}
	}
	return true
}

// Init sets up the nonces.
func (a *Auth) Init(env *module.InitEnv) error {
	if a.challenge.name.S == "" { // Configure was not run (a set built by hand)
		a.challenge = attrID{name: sr.AVPName{S: strings.TrimPrefix(a.ChallengeAttr, "$")}}
		a.qop = strings.ToLower(strings.TrimSpace(a.QOP))
	}
	size := 0
	if a.NonceCount || a.OneTimeNonce {
		size = max(a.NCArraySize, a.OTNInFlightNo, 1<<a.NCArrayOrder, 1<<a.OTNInFlightOrder, 16)
	}
	a.guard = nonce.NewGuard(env.Log, a.nonceConfig(size))
	return nil
}

// nonceConfig is the configuration of the nonces, with a table of size
// entries (0: none).
func (a *Auth) nonceConfig(size int) nonce.Config {
	return nonce.Config{
		Secret: []byte(a.Secret), Label: "sip-router ser auth",
		Expire: time.Duration(a.NonceExpire) * time.Second, MaxDrift: time.Duration(a.NonceAuthMaxDrift) * time.Second,
		TableSize: size, NonceCount: a.NonceCount, OneTime: a.OneTimeNonce,
	}
}

// HeaderKind says which credentials and challenge headers are meant:
// WWW (Authorization, WWW-Authenticate) or Proxy (Proxy-Authorization,
// Proxy-Authenticate).
type HeaderKind = digest.Kind

// The two kinds.
const (
	WWW   = digest.WWW
	Proxy = digest.Proxy
)

// Realm returns the realm to authenticate with (see API).
func (a *Auth) Realm(c *sr.Ctx, realm string, k HeaderKind) string {
	realm = strings.TrimSpace(realm)
	if realm == "" {
		realm = digest.RequestRealm(c.Req, k)
	}
	return digest.TrimRealmPrefix(realm, a.RealmPrefix)
}

// Result is the outcome of PreAuth and PostAuth.
type Result int

// Results, as SER's auth_result_t names them.
const (
	// Proceed (DO_AUTHENTICATION): credentials for the realm were found
	// and their nonce is good; check the response (PreAuth), or the use
	// was recorded (PostAuth).
	Proceed Result = iota
	// Authenticated: the request needs no credentials (ACK, CANCEL and
	// PRACK cannot be challenged).
	Authenticated
	// NoCredentials: no credentials header for the realm (or they name an
	// algorithm other than MD5).
	NoCredentials
	// Stale: the nonce expired, was replayed, was forgotten or does not
	// belong to this request; the challenge says stale=true.
	Stale
	// Invalid (NOT_AUTHENTICATED): the nonce was not issued by this
	// server (forged, edited) or its time is too far in the future.
	Invalid
	// BadCredentials: a credentials header does not parse, or lacks
	// parameters: the request is malformed.
	BadCredentials
)

func (r Result) String() string {
	switch r {
	case Proceed:
		return "proceed"
	case Authenticated:
		return "authenticated"
	case NoCredentials:
		return "no credentials"
	case Stale:
		return "stale nonce"
	case Invalid:
		return "invalid nonce"
	case BadCredentials:
		return "bad credentials"
	}
	return fmt.Sprintf("result(%d)", int(r))
}

// Creds are credentials PreAuth found: the parsed header and what the
// later steps need.
type Creds = digest.Creds

// ErrNoRequest is returned for a message that is not a request.
var ErrNoRequest = errors.New("auth: no request")

// PreAuth finds the credentials for realm in the request's Authorization
// (WWW) or Proxy-Authorization (Proxy) headers — the first that names the
// realm — and checks their nonce: HMAC, issue time, expiry, binding, and
// whether the table of nonces would accept this use (without recording
// it: PostAuth does). A header of that kind that does not parse, met
// before the realm's, makes the request malformed (BadCredentials), as in
// SER. It does no password work, so its outcome cannot depend on the
// user.
func (a *Auth) PreAuth(c *sr.Ctx, realm string, k HeaderKind) (*Creds, Result) {
	req := c.Req
	if req == nil {
		return nil, BadCredentials
	}
	switch req.Method {
	case sip.ACK, sip.CANCEL, sip.PRACK:
		return nil, Authenticated
	}
	cr, malformed := digest.Find(c, k, realm, true)
	if malformed {
		return nil, BadCredentials
	}
	if cr == nil {
		return nil, NoCredentials
	}
	if r := result(a.guard.CheckNonce(c, cr, false)); r != Proceed {
		return nil, r
	}
	return cr, Proceed
}

// result is the Result of a nonce check.
func result(r nonce.Result) Result {
	return [...]Result{nonce.OK: Proceed, nonce.Stale: Stale, nonce.Invalid: Invalid}[r]
}

// Verify reports whether the credentials' response is right for ha1 (the
// hex MD5 of username:realm:password), comparing in constant time.
func (a *Auth) Verify(c *sr.Ctx, cr *Creds, ha1 string) bool { return digest.Verify(c, cr, ha1) }

// DummyHA1 is the HA1 of a user that does not exist (see
// nonce.Guard.DummyHA1).
func (a *Auth) DummyHA1(username, realm string) string { return a.guard.DummyHA1(username, realm) }

// PostAuth runs after a right response: it records the nonce's use (nc
// or one-time) — refusing it as Stale when a copy of the request got
// there first — and marks the credentials as the ones the request was
// authorized with (consume_credentials, $au). It also moves the
// authorized header in front of the other headers of its name.
func (a *Auth) PostAuth(c *sr.Ctx, cr *Creds) Result {
	if cr == nil {
		return NoCredentials
	}
	return result(a.guard.Commit(c, cr))
}

// ChallengeHeader builds a challenge header line with a new nonce, as
// SER writes it: "WWW-Authenticate: Digest realm="…", nonce="…"[,
// qop="…"][, stale=true]" followed by CRLF. Its parameters, their order
// and the nonce's length depend only on realm, the kind and stale.
func (a *Auth) ChallengeHeader(c *sr.Ctx, realm string, k HeaderKind, stale bool) string {
	register := nonce.Checks(a.ChecksRegister)
	if a.ProtectContacts {
		register |= nonce.Contacts
	}
	checks := nonce.For(c, register, nonce.Checks(a.ChecksInDlg), nonce.Checks(a.ChecksNoDlg))
	name := a.WWWChallengeHeader
	if k == Proxy {
		name = a.ProxyChallengeHeader
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(`: Digest realm="`)
	b.WriteString(digest.Quote(realm))
	b.WriteString(`", nonce="`)
	b.WriteString(a.guard.Nonces.Issue(c, checks))
	b.WriteByte('"')
	if a.qop != "" {
		b.WriteString(`, qop="`)
		b.WriteString(a.qop)
		b.WriteByte('"')
	}
	if stale {
		b.WriteString(", stale=true")
	}
	b.WriteString("\r\n")
	return b.String()
}

// Challenge adds a new challenge header line to the challenge attribute
// (challenge_attr), the newest value of its name.
func (a *Auth) Challenge(c *sr.Ctx, realm string, k HeaderKind, stale bool) error {
	if c.Req == nil {
		return ErrNoRequest
	}
	if a.challenge.name.S == "" {
		return errors.New("auth: challenge_attr is not set up")
	}
	serattr.Add(c, a.challenge.name, sr.StrVal(a.ChallengeHeader(c, realm, k, stale)), a.challenge.flags)
	return nil
}

// consumeCredentials is consume_credentials(): it removes the
// credentials header the request was authorized with, so it is not
// forwarded. -1 when no authorization succeeded on the request.
func (a *Auth) consumeCredentials(c *sr.Ctx, _ []any) int {
	req := c.Req
	if req == nil {
		return -1
	}
	au := digest.GetAuthorized(c)
	if au == nil {
		if req.Method != sip.ACK && req.Method != sip.CANCEL {
			c.Log.Error("auth: consume_credentials: no authorized credentials found (call www_authenticate or proxy_authenticate first)")
		}
		return -1
	}
	if !digest.RemoveHeader(req, au.Header, au.Value) {
		return -1
	}
	return 1
}
