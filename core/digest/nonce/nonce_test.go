package nonce

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest/digesttest"
	"sip-router.org/core/sr"
)

func newTestNonces(t *testing.T, mod func(*Config)) (*Nonces, *digesttest.Clock) {
	t.Helper()
	clk := digesttest.NewClock()
	cfg := Config{
		Secret: []byte("test secret"), Label: "test", Expire: 300 * time.Second, MaxDrift: 3 * time.Second,
		TableSize: 64, NonceCount: true, OneTime: true, Now: clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg), clk
}

func TestShape(t *testing.T) {
	n, _ := newTestNonces(t, nil)
	seen := map[string]bool{}
	for range 100 {
		s, ni := n.make(digesttest.Request(t, "REGISTER", ""), RURI|SrcIP)
		if len(s) != Len || strings.ContainsAny(s, "+/=\"") {
			t.Fatalf("nonce %q", s)
		}
		if seen[s] {
			t.Fatal("nonce repeated")
		}
		seen[s] = true
		got, ok := n.parse(s)
		if !ok || got != ni {
			t.Fatalf("parse(%q) = %+v %v, want %+v", s, got, ok, ni)
		}
	}
}

func TestForgery(t *testing.T) {
	n, _ := newTestNonces(t, nil)
	s, _ := n.make(digesttest.Request(t, "REGISTER", ""), 0)
	other, _ := newTestNonces(t, func(c *Config) { c.Secret = []byte("another secret") })
	s2, _ := other.make(digesttest.Request(t, "REGISTER", ""), 0)
	label, _ := newTestNonces(t, func(c *Config) { c.Label = "other product" })
	s3 := label.Issue(digesttest.Request(t, "REGISTER", ""), 0)
	for i := 0; i < len(s); i++ {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, ok := n.parse(string(b)); ok {
			t.Fatalf("nonce with byte %d changed accepted", i)
		}
	}
	for _, bad := range []string{"", s[:54], s + "A", s2, s3, strings.Repeat("A", 55), "!" + s[1:]} {
		if _, ok := n.parse(bad); ok {
			t.Errorf("parse accepted %q", bad)
		}
		if r := n.Check(digesttest.Request(t, "REGISTER", ""), bad, false, 0, false); r != Invalid {
			t.Errorf("Check(%q) = %v, want Invalid", bad, r)
		}
	}
}

func TestLifecycle(t *testing.T) {
	n, clk := newTestNonces(t, nil)
	c := digesttest.Request(t, "REGISTER", "")
	use := func(s string, qop bool, nc uint32) Result {
		if r := n.Check(c, s, qop, nc, false); r != OK {
			return r
		}
		return n.Check(c, s, qop, nc, true)
	}

	// One-time use without qop.
	s := n.Issue(c, 0)
	if r := use(s, false, 0); r != OK {
		t.Fatalf("first use: %v", r)
	}
	if r := use(s, false, 0); r != Stale {
		t.Fatalf("second use: %v", r)
	}

	// A check that does not commit leaves the nonce unused.
	s = n.Issue(c, 0)
	for range 3 {
		if r := n.Check(c, s, false, 0, false); r != OK {
			t.Fatalf("check without commit: %v", r)
		}
	}

	// Increasing nonce counts with qop.
	s = n.Issue(c, 0)
	for _, st := range []struct {
		nc   uint32
		want Result
	}{{1, OK}, {1, Stale}, {5, OK}, {4, Stale}, {0xffffffff, OK}, {0xffffffff, Stale}} {
		if r := use(s, true, st.nc); r != st.want {
			t.Fatalf("nc %d: %v, want %v", st.nc, r, st.want)
		}
	}
	// A nonce used with a count takes no use without one.
	if r := use(s, false, 0); r != Stale {
		t.Fatalf("counted nonce used once: %v", r)
	}

	// Expiry and drift.
	s = n.Issue(c, 0)
	clk.T = clk.T.Add(300 * time.Second)
	if r := n.Check(c, s, false, 0, false); r != OK {
		t.Fatalf("at expiry: %v", r)
	}
	clk.T = clk.T.Add(time.Second)
	if r := n.Check(c, s, false, 0, false); r != Stale {
		t.Fatalf("after expiry: %v", r)
	}
	clk.T = clk.T.Add(10 * time.Second)
	s = n.Issue(c, 0)
	clk.T = clk.T.Add(-10 * time.Second)
	if r := n.Check(c, s, false, 0, false); r != Invalid {
		t.Fatalf("nonce from the future: %v", r)
	}
	clk.T = clk.T.Add(7 * time.Second) // issued 3 s ahead: within the drift
	if r := n.Check(c, s, false, 0, false); r == Invalid {
		t.Fatalf("nonce within the drift: %v", r)
	}

	// A nonce the table forgot (or issued before a restart) is stale.
	s, _ = n.make(c, 0)
	if r := n.Check(c, s, false, 0, false); r != Stale {
		t.Fatalf("unknown nonce: %v", r)
	}
}

func TestReplayModes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		mod           func(*Config)
		onceNoQOP     bool // a second use without qop is refused
		countedWithQP bool // a repeated nc is refused
	}{
		{"both", nil, true, true},
		{"no table", func(c *Config) { c.TableSize = 0 }, false, false},
		{"one-time only", func(c *Config) { c.NonceCount = false }, true, true},
		{"nonce count only", func(c *Config) { c.OneTime = false }, false, true},
		{"neither", func(c *Config) { c.OneTime, c.NonceCount = false, false }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _ := newTestNonces(t, tc.mod)
			c := digesttest.Request(t, "REGISTER", "")
			s := n.Issue(c, 0)
			n.Check(c, s, false, 0, true)
			if r := n.Check(c, s, false, 0, true); (r == Stale) != tc.onceNoQOP {
				t.Errorf("second use without qop: %v", r)
			}
			s = n.Issue(c, 0)
			n.Check(c, s, true, 1, true)
			if r := n.Check(c, s, true, 1, true); (r == Stale) != tc.countedWithQP {
				t.Errorf("repeated nc: %v", r)
			}
		})
	}
}

func TestTableBounded(t *testing.T) {
	tb := newTable(32)
	for id := uint64(0); id < 1000; id++ {
		tb.add(id)
	}
	if n := tb.len(); n != 32 {
		t.Fatalf("table holds %d nonces, want 32", n)
	}
	if tb.check(0, false, 0, false) != forgotten {
		t.Error("oldest nonce still known")
	}
	if tb.check(999, false, 0, true) != accepted || tb.check(999, false, 0, true) != replay {
		t.Error("newest nonce not usable once")
	}
	if tb.check(998, true, 1, true) != accepted || tb.check(998, false, 0, false) != replay {
		t.Error("a nonce used with a count was accepted without one")
	}
	if small := newTable(1); len(small.shards[0].idx) != 0 || small.shards[0].size != 1 {
		t.Error("a table smaller than its shards has a slot per shard")
	}
}

func TestBinding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks Checks
		change func(c *sr.Ctx)
		stale  bool
	}{
		{"no checks, other source", 0, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.99:5060") }, false},
		{"source IP bound, same IP other port", SrcIP, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.10:5070") }, false},
		{"source IP bound, other IP", SrcIP, func(c *sr.Ctx) { c.Rcv.Src = netip.MustParseAddrPort("192.0.2.99:5060") }, true},
		{"Call-ID bound", CallID, setCallID, true},
		{"R-URI bound", RURI, func(c *sr.Ctx) { c.OrigRURI = "sip:carol@example.com" }, true},
		{"From tag bound", FromTag, func(c *sr.Ctx) { c.Req.From().Params.Add("tag", "other") }, true},
		{"From tag bound, Call-ID changed", FromTag, setCallID, false},
		{"contacts bound, same contacts", Contacts, func(*sr.Ctx) {}, false},
		{"contacts bound, other contact", Contacts, setContact, true},
		{"contacts not bound, other contact", RURI | CallID, setContact, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _ := newTestNonces(t, nil)
			s := n.Issue(digesttest.Request(t, "REGISTER", ""), tc.checks)
			c := digesttest.Request(t, "REGISTER", "")
			tc.change(c)
			if r := n.Check(c, s, false, 0, false); (r == Stale) != tc.stale || (r != Stale && r != OK) {
				t.Fatalf("Check = %v, stale wanted: %v", r, tc.stale)
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

func TestFor(t *testing.T) {
	for _, tc := range []struct {
		method, extra string
		want          Checks
	}{
		{"REGISTER", "", RURI},
		{"INVITE", "", FromTag},
		{"BYE", "", FromTag},
	} {
		c := digesttest.Request(t, tc.method, tc.extra)
		if got := For(c, RURI, CallID, FromTag); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.method, got, tc.want)
		}
	}
	c := digesttest.Request(t, "BYE", "")
	c.Req.To().Params.Add("tag", "tt")
	if got := For(c, RURI, CallID, FromTag); got != CallID {
		t.Errorf("in dialog: %v, want %v", got, CallID)
	}
	if got := For(&sr.Ctx{}, RURI, RURI, RURI); got != 0 {
		t.Errorf("no request: %v", got)
	}
	if got := For(digesttest.Request(t, "REGISTER", ""), 0xff, 0, 0); got != RURI|CallID|FromTag|SrcIP|Contacts {
		t.Errorf("unknown bits kept: %v", got)
	}
}

// Copies of one request racing each other: exactly one passes.
func TestRace(t *testing.T) {
	n, _ := newTestNonces(t, nil)
	s := n.Issue(digesttest.Request(t, "REGISTER", ""), 0)
	const copies = 16
	results := make(chan Result, copies)
	for range copies {
		c := digesttest.Request(t, "REGISTER", "")
		go func() {
			r := n.Check(c, s, false, 0, false)
			if r == OK {
				r = n.Check(c, s, false, 0, true)
			}
			results <- r
		}()
	}
	passed := 0
	for range copies {
		if <-results == OK {
			passed++
		}
	}
	if passed != 1 {
		t.Fatalf("%d copies passed, want 1", passed)
	}
}
