package tm

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
)

func req(t *testing.T, method, via, extra string) *sip.Request {
	t.Helper()
	to := "<sip:bob@example.com>"
	if strings.Contains(extra, "totag") {
		to += ";tag=tt"
	}
	return siptest.Request(t, method+` sip:bob@example.com SIP/2.0
Via: `+via+`
From: <sip:alice@example.com>;tag=ft
To: `+to+`
Call-ID: k1@test
CSeq: 7 `+method+`
Max-Forwards: 70
`)
}

// RFC 3261 §17.2.3 keys, and the RFC 2543 fallback.
func TestServerKey(t *testing.T) {
	const v3261 = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc"
	const v2543 = "SIP/2.0/UDP 192.0.2.1:5060;branch=abc"
	key := func(r *sip.Request, m string) reqKey {
		k, ok := serverKey(r, m)
		if !ok {
			t.Fatalf("no key for %s", r.StartLine())
		}
		return k
	}
	inv := key(req(t, "INVITE", v3261, ""), "")
	tests := []struct {
		name string
		k    reqKey
		same bool
	}{
		{"retransmission", key(req(t, "INVITE", v3261, ""), ""), true},
		{"ACK matches its INVITE", key(req(t, "ACK", v3261, "totag"), ""), true},
		{"CANCEL has its own", key(req(t, "CANCEL", v3261, ""), ""), false},
		{"CANCEL finds its INVITE", key(req(t, "CANCEL", v3261, ""), "INVITE"), true},
		{"host case", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc", ""), ""), true},
		{"default port", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc", ""), ""), true},
		{"other sent-by port", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKabc", ""), ""), false},
		{"other branch", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabd", ""), ""), false},
		{"branch is case-sensitive", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKABC", ""), ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.k.key == inv.key) != tc.same {
				t.Errorf("key %q vs INVITE %q: same=%v, want %v", tc.k.key, inv.key, !tc.same, tc.same)
			}
			if tc.k.rfc2543 {
				t.Error("RFC 3261 request keyed as RFC 2543")
			}
		})
	}

	old := key(req(t, "INVITE", v2543, ""), "")
	if !old.rfc2543 {
		t.Fatal("branch without the magic cookie not keyed as RFC 2543")
	}
	tests2543 := []struct {
		name string
		k    reqKey
		same bool
	}{
		{"retransmission", key(req(t, "INVITE", v2543, ""), ""), true},
		{"ACK", key(req(t, "ACK", v2543, "totag"), ""), true},
		{"CANCEL finds its INVITE", key(req(t, "CANCEL", v2543, ""), "INVITE"), true},
		{"other Via", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.2:5060;branch=abc", ""), ""), false},
		{"no branch at all", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.1:5060", ""), ""), false},
		{"bare cookie is 2543", key(req(t, "INVITE", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK", ""), ""), false},
	}
	for _, tc := range tests2543 {
		t.Run("2543/"+tc.name, func(t *testing.T) {
			if (tc.k.key == old.key) != tc.same {
				t.Errorf("key %q vs INVITE %q: same=%v, want %v", tc.k.key, old.key, !tc.same, tc.same)
			}
		})
	}
	other := siptest.Request(t, `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=abc
From: <sip:alice@example.com>;tag=ft
To: <sip:bob@example.com>
Call-ID: k1@test
CSeq: 8 INVITE
`)
	if key(other, "").key == old.key {
		t.Error("RFC 2543 key ignores the CSeq number")
	}
	if _, ok := serverKey(siptest.Request(t, "OPTIONS sip:x@example.com SIP/2.0\nCall-ID: a\n"), ""); ok {
		t.Error("a request without Via and CSeq got a key")
	}
	if _, ok := serverKey(nil, ""); ok {
		t.Error("nil request got a key")
	}
}

func TestBranchValue(t *testing.T) {
	for _, id := range []uint64{0, 1, 0xdeadbeef, 1<<64 - 1} {
		for _, idx := range []int{0, 3, 11} {
			v := branchValue(id, idx)
			if !isRFC3261Branch(v) {
				t.Errorf("%s lacks the magic cookie", v)
			}
			gid, gidx, ok := parseBranch(v)
			if !ok || gid != id || gidx != idx {
				t.Errorf("parseBranch(%s) = %x %d %v", v, gid, gidx, ok)
			}
		}
	}
	for _, bad := range []string{"", "z9hG4bK", "z9hG4bKTm", "z9hG4bKTm.1", "z9hG4bKTmzz.1", "z9hG4bKTm1.", "z9hG4bKTm1.-1", "z9hG4bKabc.1", "z9hG4bKTm11111111111111111.1", "z9hG4bKTm1.99999"} {
		if _, _, ok := parseBranch(bad); ok {
			t.Errorf("parseBranch(%q) accepted", bad)
		}
	}
}

// RFC 3261 §16.7 step 6 as Kamailio ranks replies.
func TestPickBest(t *testing.T) {
	m := newTM()
	tests := []struct {
		name  string
		codes []int
		want  int
	}{
		{"lowest class", []int{486, 302}, 1},
		{"6xx wins", []int{302, 603, 404}, 1},
		{"401 before other 4xx", []int{486, 401}, 1},
		{"401 before 407", []int{407, 401}, 1},
		{"4xx before 5xx", []int{500, 486}, 1},
		{"404 before 486", []int{486, 404}, 1},
		{"timeout counts as 408", []int{486, 408}, 1},
		{"first of equals", []int{486, 486}, 0},
		{"single", []int{480}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx := &Tx{m: m}
			for i, c := range tc.codes {
				tx.branches = append(tx.branches, &branch{idx: i, final: true, status: c})
			}
			if got := tx.pick(); got != tc.want {
				t.Errorf("pick(%v) = %d, want %d", tc.codes, got, tc.want)
			}
		})
	}
	t.Run("failure_reply_mode", func(t *testing.T) {
		tx := &Tx{m: m, leg: 1}
		tx.branches = []*branch{
			{idx: 0, leg: 0, final: true, status: 404},
			{idx: 1, leg: 1, final: true, status: 486},
		}
		if got := tx.pick(); got != 0 {
			t.Errorf("mode 0 picks %d, want the 404 of the first round", got)
		}
		m3 := newTM()
		m3.FailureReplyMode = 3
		tx.m = m3
		if got := tx.pick(); got != 1 {
			t.Errorf("mode 3 picks %d, want the newest round's 486", got)
		}
		tx.branches[1].dropped = true
		if got := tx.pick(); got != 0 {
			t.Errorf("mode 3 with the newest round dropped picks %d, want 0", got)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		tx := &Tx{m: m, branches: []*branch{{final: true, abandoned: true}, {final: false}}}
		if got := tx.pick(); got != -1 {
			t.Errorf("pick = %d, want -1", got)
		}
	})
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		in          string
		proto, host string
		port        int
		bad         bool
	}{
		{in: "udp:127.0.0.1:5070", proto: "udp", host: "127.0.0.1", port: 5070},
		{in: "TCP:gw.example.com:5080", proto: "tcp", host: "gw.example.com", port: 5080},
		{in: "gw.example.com", host: "gw.example.com"},
		{in: "10.0.0.1:5060", host: "10.0.0.1", port: 5060},
		{in: "tls:[2001:db8::1]:5061", proto: "tls", host: "2001:db8::1", port: 5061},
		{in: "sip:gw.example.com:5062;transport=tcp", proto: "tcp", host: "gw.example.com", port: 5062},
		{in: "udp:host:0", bad: true},
		{in: "udp:host:99999", bad: true},
		{in: "", bad: true},
		{in: "[::1", bad: true},
		{in: "a b", bad: true},
	}
	for _, tc := range tests {
		p, h, port, err := parseHostPort(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted", tc.in)
			}
			continue
		}
		if err != nil || p != tc.proto || h != tc.host || port != tc.port {
			t.Errorf("%q = %q %q %d %v", tc.in, p, h, port, err)
		}
	}
	if got := destURI("tcp", "2001:db8::1", 5060); got != "sip:[2001:db8::1]:5060;transport=tcp" {
		t.Errorf("destURI = %s", got)
	}
}

func TestPathRoutes(t *testing.T) {
	rs := pathRoutes(`<sip:p1.example.com;lr>, <sip:p2.example.com;lr;x="a,b">`)
	if len(rs) != 2 {
		t.Fatalf("got %d routes", len(rs))
	}
	if h := rs[0].(*sip.RouteHeader).Address.Host; h != "p1.example.com" {
		t.Errorf("first route %s", h)
	}
	if pathRoutes("  ") != nil {
		t.Error("empty path gave routes")
	}
}

// The timer fires in deadline order; stopped and re-set timers do not
// fire with their old deadline.
func TestWheel(t *testing.T) {
	got := make(chan timerKind, 10)
	var w *wheel
	w = newWheel(func(f fired) {
		if w.valid(f) {
			got <- f.t.kind
		}
	}, 1)
	defer w.close()
	tx := &Tx{}
	var a, b, c timer
	a.init(tRetr, tx, nil)
	b.init(tCancelRetr, tx, nil)
	c.init(tWait, tx, nil)
	w.set(&a, 60*time.Millisecond)
	w.set(&b, 20*time.Millisecond)
	w.set(&c, 40*time.Millisecond)
	w.stopTimer(&c)
	w.set(&a, 80*time.Millisecond) // re-set: fires once, later
	for _, want := range []timerKind{tCancelRetr, tRetr} {
		select {
		case k := <-got:
			if k != want {
				t.Fatalf("fired %d, want %d", k, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("timer %d did not fire", want)
		}
	}
	select {
	case k := <-got:
		t.Fatalf("extra firing of %d", k)
	case <-time.After(100 * time.Millisecond):
	}
	if n := w.pending(); n != 0 {
		t.Errorf("%d timers left", n)
	}
}
