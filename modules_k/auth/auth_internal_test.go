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
		NCArraySize: 64, OTNInFlightNo: 16,
	}
	a.guard = &nonce.Guard{Nonces: testNonces(a, clk, max(a.NCArraySize, a.OTNInFlightNo))}
	return a, clk
}

// testNonces are the nonces Init would set up, on the test's clock, with
// a table of size entries (0: none).
func testNonces(a *Auth, clk *digesttest.Clock, size int) *nonce.Nonces {
	return nonce.New(nonce.Config{
		Secret: []byte("test secret"), Label: "sip-router auth",
		Expire: time.Duration(a.NonceExpire) * time.Second, MaxDrift: time.Duration(a.NonceAuthMaxDrift) * time.Second,
		TableSize: size, NonceCount: a.NonceCount, OneTime: a.OneTimeNonce, Now: clk.Now,
	})
}

// issue challenges the request of c and returns the nonce of the
// challenge.
func issue(t *testing.T, a *Auth, c *sr.Ctx) string {
	t.Helper()
	v := a.ChallengeValue(c, "example.com", 0, false)
	_, rest, ok := strings.Cut(v, `nonce="`)
	n, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || len(n) != nonce.Len {
		t.Fatalf("no nonce in %s", v)
	}
	return n
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
	c := digesttest.AnswerRequest(t, n, "", "")
	if r := pre(c); r != Stale || !getState(c).stale[WWW] {
		t.Fatalf("second use: %v", r)
	}

	// Increasing nonce counts with qop.
	n = issueNow()
	for _, s := range []struct {
		nc   string
		want Result
	}{{"00000001", Proceed}, {"00000001", Stale}, {"00000005", Proceed}, {"00000004", Stale}, {"ffffffff", Proceed}, {"ffffffff", Stale}} {
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
	n = testNonces(a, clk, 16).Issue(digesttest.Request(t, "REGISTER", ""), 0)
	if r := pre(digesttest.AnswerRequest(t, n, "", "")); r != Stale {
		t.Fatalf("unknown nonce: %v", r)
	}

	// Nonce reuse allowed: no table.
	a.guard = &nonce.Guard{Nonces: testNonces(a, clk, 0)}
	n = issueNow()
	for range 3 {
		if r := post(digesttest.AnswerRequest(t, n, "", "")); r != Proceed {
			t.Fatalf("reuse allowed: %v", r)
		}
	}
}

func TestNonceBinding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks int
		change func(c *sr.Ctx)
		stale  bool
	}{
		{"no checks, other source", 0, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.99:5060") }, false},
		{"source IP bound, same IP other port", 8, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.10:5070") }, false},
		{"source IP bound, other IP", 8, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.99:5060") }, true},
		{"Call-ID bound", 2, setCallID, true},
		{"R-URI bound", 1, func(c *sr.Ctx) { c.OrigRURI = "sip:carol@example.com" }, true},
		{"From tag bound", 4, func(c *sr.Ctx) { c.Req.From().Params.Add("tag", "other") }, true},
		{"From tag bound, Call-ID changed", 4, setCallID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestAuth(t)
			a.ChecksRegister = tc.checks
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

func TestChallengeValue(t *testing.T) {
	a, _ := newTestAuth(t)
	c := digesttest.Request(t, "REGISTER", "")
	for _, tc := range []struct {
		flags, qopFlags int
		stale           bool
		want            string
	}{
		{0, 0, false, `Digest realm="example.com", nonce="N", algorithm=MD5`},
		{1, 0, false, `Digest realm="example.com", nonce="N", qop="auth", algorithm=MD5`},
		{2, 0, true, `Digest realm="example.com", nonce="N", stale=true, qop="auth-int", algorithm=MD5`},
		{0, 3, false, `Digest realm="example.com", nonce="N", qop="auth,auth-int", algorithm=MD5`},
	} {
		a.qopFlags = tc.qopFlags
		v := a.ChallengeValue(c, "example.com", tc.flags, tc.stale)
		i := strings.Index(v, `nonce="`) + 7
		got := v[:i] + "N" + v[i+nonce.Len:]
		if got != tc.want {
			t.Errorf("flags %d: %s\nwant %s", tc.flags, got, tc.want)
		}
	}
	if v := a.ChallengeValue(c, "a\"b\r\nX: y", 0, false); !strings.HasPrefix(v, `Digest realm="a\"bX: y"`) {
		t.Errorf("realm not escaped: %s", v)
	}
}

func TestRealm(t *testing.T) {
	a, _ := newTestAuth(t)
	c := digesttest.Request(t, "REGISTER", "")
	c.Req.To().Address.Host = "sip.reg.example"
	c.Req.From().Address.Host = "sip.from.example"
	if r := a.Realm(c, WWW); r != "sip.reg.example" {
		t.Errorf("REGISTER realm %q", r)
	}
	if r := a.Realm(c, Proxy); r != "sip.from.example" {
		t.Errorf("REGISTER proxy realm %q", r)
	}
	a.RealmPrefix = "sip."
	if r := a.Realm(c, WWW); r != "reg.example" {
		t.Errorf("realm_prefix: %q", r)
	}
	c.Req.From().Address.Host = "sip."
	if r := a.Realm(c, Proxy); r != "sip." {
		t.Errorf("realm made empty by its prefix: %q", r)
	}
}

func TestRPIDUser(t *testing.T) {
	for in, want := range map[string]bool{
		"<sip:+4930123456@example.com>;party=calling": true,
		"\"A\" <sip:+12@h>":                           true,
		"sip:+123456789012345@h":                      true,
		"sip:+1234567890123456@h":                     false,
		"sip:+1@h":                                    false,
		"sip:4930123@h":                               false,
		"<sip:+49a@h>":                                false,
		"<sip:+4930;user=phone@h>":                    true,
		"+4930":                                       false,
		"":                                            false,
	} {
		if got := isE164(rpidUser(in)); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
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
