package auth

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest"
	"sip-router.org/core/digest/digesttest"
	"sip-router.org/core/digest/nonce"
	"sip-router.org/core/sr"
)

func newTestAuth(t *testing.T) (*Auth, *digesttest.Clock) {
	t.Helper()
	clk := digesttest.NewClock()
	a := &Auth{
		NonceExpire: 300, NonceAuthMaxDrift: 3, NonceCount: true, OneTimeNonce: true,
		NCArraySize: 64, OTNInFlightNo: 16, QOP: "auth", qop: "auth",
		ChallengeAttr: "$digest_challenge", challenge: attrID{name: sr.AVPName{S: "digest_challenge"}},
		WWWChallengeHeader: "WWW-Authenticate", ProxyChallengeHeader: "Proxy-Authenticate",
	}
	a.guard = &nonce.Guard{Nonces: testNonces(a, clk, "test secret", max(a.NCArraySize, a.OTNInFlightNo))}
	return a, clk
}

// testNonces are the nonces Init would set up, on the test's clock, with
// a table of size entries (0: none).
func testNonces(a *Auth, clk *digesttest.Clock, secret string, size int) *nonce.Nonces {
	cfg := a.nonceConfig(size)
	cfg.Secret, cfg.Now = []byte(secret), clk.Now
	return nonce.New(cfg)
}

// issue challenges the request of c and returns the nonce of the
// challenge.
func issue(t *testing.T, a *Auth, c *sr.Ctx) string {
	t.Helper()
	v := a.ChallengeHeader(c, "example.com", WWW, false)
	_, rest, ok := strings.Cut(v, `nonce="`)
	n, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || len(n) != nonce.Len {
		t.Fatalf("no nonce in %s", v)
	}
	return n
}

// A nonce of another secret is invalid.
func TestNonceForgery(t *testing.T) {
	a, clk := newTestAuth(t)
	n2 := testNonces(a, clk, "another secret", 16).Issue(digesttest.Request(t, "REGISTER", ""), 0)
	if _, r := a.PreAuth(digesttest.AnswerRequest(t, n2, "", ""), "example.com", WWW); r != Invalid {
		t.Errorf("foreign nonce: %v", r)
	}
}

func TestNonceLifecycle(t *testing.T) {
	a, clk := newTestAuth(t)
	issueNow := func() string { return issue(t, a, digesttest.Request(t, "REGISTER", "")) }
	pre := func(c *sr.Ctx) Result { _, r := a.PreAuth(c, "example.com", WWW); return r }
	post := func(c *sr.Ctx) Result {
		cr, r := a.PreAuth(c, "example.com", WWW)
		if r != Proceed {
			return r
		}
		if !a.Verify(c, cr, digest.HA1("alice", "example.com", "pw")) {
			t.Fatal("response refused")
		}
		return a.PostAuth(c, cr)
	}

	// One-time use without qop.
	n := issueNow()
	if r := post(digesttest.AnswerRequest(t, n, "", "")); r != Proceed {
		t.Fatalf("first use: %v", r)
	}
	if r := pre(digesttest.AnswerRequest(t, n, "", "")); r != Stale {
		t.Fatalf("second use: %v", r)
	}

	// Increasing nonce counts with qop.
	n = issueNow()
	for _, s := range []struct {
		nc   string
		want Result
	}{{"00000001", Proceed}, {"00000001", Stale}, {"00000005", Proceed}, {"00000004", Stale}} {
		if r := post(digesttest.AnswerRequest(t, n, "auth", s.nc)); r != s.want {
			t.Fatalf("nc %s: %v, want %v", s.nc, r, s.want)
		}
	}

	// Expiry and drift.
	n = issueNow()
	clk.T = clk.T.Add(300 * time.Second)
	if r := pre(digesttest.AnswerRequest(t, n, "", "")); r != Proceed {
		t.Fatalf("at expiry: %v", r)
	}
	clk.T = clk.T.Add(time.Second)
	if r := pre(digesttest.AnswerRequest(t, n, "", "")); r != Stale {
		t.Fatalf("after expiry: %v", r)
	}
	clk.T = clk.T.Add(10 * time.Second)
	n = issueNow()
	clk.T = clk.T.Add(-10 * time.Second)
	if r := pre(digesttest.AnswerRequest(t, n, "", "")); r != Invalid {
		t.Fatalf("nonce from the future: %v", r)
	}

	// A nonce the table forgot (or issued before a restart) is stale.
	n = testNonces(a, clk, "test secret", 16).Issue(digesttest.Request(t, "REGISTER", ""), 0)
	if r := pre(digesttest.AnswerRequest(t, n, "", "")); r != Stale {
		t.Fatalf("unknown nonce: %v", r)
	}

	// Replay checks off: no table, a nonce serves until it expires.
	a.guard = &nonce.Guard{Nonces: testNonces(a, clk, "test secret", 0)}
	n = issueNow()
	for range 3 {
		if r := post(digesttest.AnswerRequest(t, n, "", "")); r != Proceed {
			t.Fatalf("reuse allowed: %v", r)
		}
	}
}

func TestNonceBinding(t *testing.T) {
	for _, tc := range []struct {
		name    string
		checks  int
		protect bool
		change  func(c *sr.Ctx)
		stale   bool
	}{
		{"no checks, other source", 0, false, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.99:5060") }, false},
		{"source IP bound, other IP", 8, false, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.99:5060") }, true},
		{"Call-ID bound", 2, false, setCallID, true},
		{"R-URI bound", 1, false, func(c *sr.Ctx) { c.OrigRURI = "sip:carol@example.com" }, true},
		{"From tag bound, Call-ID changed", 4, false, setCallID, false},
		{"contacts protected, same contacts", 0, true, func(*sr.Ctx) {}, false},
		{"contacts protected, other contact", 0, true, setContact, true},
		{"contacts not protected, other contact", 0, false, setContact, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestAuth(t)
			a.ChecksRegister = tc.checks
			a.ProtectContacts = tc.protect
			n := issue(t, a, digesttest.Request(t, "REGISTER", ""))
			c := digesttest.AnswerRequest(t, n, "", "")
			tc.change(c)
			_, r := a.PreAuth(c, "example.com", WWW)
			if (r == Stale) != tc.stale || (r != Stale && r != Proceed) {
				t.Fatalf("PreAuth = %v, stale wanted: %v", r, tc.stale)
			}
		})
	}
}

func setCallID(c *sr.Ctx) {
	cid := sip.CallIDHeader("other")
	c.Req.ReplaceHeader(&cid)
}

func setContact(c *sr.Ctx) {
	c.Req.RemoveHeader("Contact")
	c.Req.AppendHeader(sip.NewHeader("Contact", "<sip:mallory@203.0.113.9>"))
}

func TestPreAuthCredentials(t *testing.T) {
	a, _ := newTestAuth(t)
	for _, tc := range []struct {
		name, method, header string
		k                    HeaderKind
		want                 Result
	}{
		{"none", "REGISTER", "", WWW, NoCredentials},
		{"other realm", "REGISTER", `Authorization: Digest username="a", realm="other.com", nonce="n", uri="sip:x", response="` + strings.Repeat("0", 32) + `"` + "\r\n", WWW, NoCredentials},
		{"malformed", "REGISTER", `Authorization: Digest username="a", realm="example.com"` + "\r\n", WWW, BadCredentials},
		{"not digest", "REGISTER", "Authorization: Basic YWxpY2U6cHc=\r\n", WWW, BadCredentials},
		{"other header kind", "INVITE", `Authorization: Digest username="a", realm="example.com"` + "\r\n", Proxy, NoCredentials},
		{"algorithm", "REGISTER", `Authorization: Digest username="a", realm="example.com", nonce="n", uri="sip:x", algorithm=SHA-256, response="` + strings.Repeat("0", 32) + `"` + "\r\n", WWW, NoCredentials},
		{"ACK", "ACK", "", Proxy, Authenticated},
		{"CANCEL", "CANCEL", "", Proxy, Authenticated},
		{"PRACK", "PRACK", "", Proxy, Authenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, r := a.PreAuth(digesttest.Request(t, tc.method, tc.header), "example.com", tc.k); r != tc.want {
				t.Errorf("PreAuth = %v, want %v", r, tc.want)
			}
		})
	}
}

func TestChallengeHeader(t *testing.T) {
	a, _ := newTestAuth(t)
	c := digesttest.Request(t, "REGISTER", "")
	for _, tc := range []struct {
		qop   string
		k     HeaderKind
		stale bool
		want  string
	}{
		{"", WWW, false, "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"N\"\r\n"},
		{"auth", WWW, false, "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"N\", qop=\"auth\"\r\n"},
		{"auth-int", Proxy, true, "Proxy-Authenticate: Digest realm=\"example.com\", nonce=\"N\", qop=\"auth-int\", stale=true\r\n"},
	} {
		a.qop = tc.qop
		v := a.ChallengeHeader(c, "example.com", tc.k, tc.stale)
		i := strings.Index(v, `nonce="`) + 7
		got := v[:i] + "N" + v[i+nonce.Len:]
		if got != tc.want {
			t.Errorf("%q\nwant %q", got, tc.want)
		}
	}
	if v := a.ChallengeHeader(c, "a\"b\r\nX: y", WWW, false); !strings.HasPrefix(v, `WWW-Authenticate: Digest realm="a\"bX: y"`) {
		t.Errorf("realm not escaped: %s", v)
	}
	// Challenge adds the line to the attribute, newest first.
	if err := a.Challenge(c, "one.example", WWW, false); err != nil {
		t.Fatal(err)
	}
	if err := a.Challenge(c, "two.example", WWW, false); err != nil {
		t.Fatal(err)
	}
	v, ok := c.AVPs.Get(sr.AVPName{S: "digest_challenge"}, sr.AVPTrackFrom|sr.AVPClassURI, 0)
	if !ok || !strings.Contains(v.Text(), `realm="two.example"`) {
		t.Errorf("$digest_challenge %v", v)
	}
}

func TestRealm(t *testing.T) {
	a, _ := newTestAuth(t)
	c := digesttest.Request(t, "REGISTER", "")
	c.Req.To().Address.Host = "sip.reg.example"
	c.Req.From().Address.Host = "sip.from.example"
	for _, tc := range []struct {
		given, prefix string
		k             HeaderKind
		want          string
	}{
		{"", "", WWW, "sip.reg.example"},
		{"", "", Proxy, "sip.from.example"},
		{"given.example", "", WWW, "given.example"},
		{"", "sip.", WWW, "reg.example"},
		{"sip.given.example", "sip.", Proxy, "given.example"},
		{"sip.", "sip.", Proxy, "sip."},
	} {
		a.RealmPrefix = tc.prefix
		if got := a.Realm(c, tc.given, tc.k); got != tc.want {
			t.Errorf("Realm(%q) with prefix %q: %q, want %q", tc.given, tc.prefix, got, tc.want)
		}
	}
}

// Copies of one request racing each other: exactly one passes.
func TestNonceRace(t *testing.T) {
	a, _ := newTestAuth(t)
	n := issue(t, a, digesttest.Request(t, "REGISTER", ""))
	const copies = 16
	results := make(chan Result, copies)
	for range copies {
		c := digesttest.AnswerRequest(t, n, "", "")
		go func() {
			cr, r := a.PreAuth(c, "example.com", WWW)
			if r == Proceed {
				r = a.PostAuth(c, cr)
			}
			results <- r
		}()
	}
	passed := 0
	for range copies {
		if <-results == Proceed {
			passed++
		}
	}
	if passed != 1 {
		t.Fatalf("%d copies passed, want 1", passed)
	}
}

func TestConsumeCredentials(t *testing.T) {
	a, _ := newTestAuth(t)
	n := issue(t, a, digesttest.Request(t, "REGISTER", ""))
	c := digesttest.AnswerRequest(t, n, "auth", "00000001")
	c.Req.AppendHeader(sip.NewHeader("Authorization", `Digest username="x", realm="other.example", nonce="n", uri="sip:x", response="`+strings.Repeat("1", 32)+`"`))
	if r := a.consumeCredentials(c, nil); r != -1 {
		t.Errorf("before authentication: %d", r)
	}
	cr, r := a.PreAuth(c, "example.com", WWW)
	if r != Proceed || !a.Verify(c, cr, digest.HA1("alice", "example.com", "pw")) || a.PostAuth(c, cr) != Proceed {
		t.Fatalf("authentication failed: %v", r)
	}
	if au := digest.GetAuthorized(c); au == nil || au.Username != "alice" || au.Realm != "example.com" {
		t.Fatalf("authorized %+v", au)
	}
	if r := a.consumeCredentials(c, nil); r != 1 {
		t.Fatalf("consume_credentials = %d", r)
	}
	hs := c.Req.GetHeaders("Authorization")
	if len(hs) != 1 || !strings.Contains(hs[0].Value(), "other.example") {
		t.Errorf("Authorization headers left: %v", hs)
	}
}
