package script_test

import (
	"strings"
	"testing"

	"sip-router.org/core/pv"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

const invite = `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: "Alice" <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>
Call-ID: call-1@test
CSeq: 10 INVITE
Max-Forwards: 70
Contact: <sip:alice@192.0.2.10>
Content-Type: application/sdp

v=0
`

// get reads a pseudo-variable after a run.
func get(t *testing.T, s *siptest.Script, c *sr.Ctx, name string) string {
	t.Helper()
	spec, err := s.Loaded.PVs.Parse(name, pv.Kamailio)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return spec.Get(c).String()
}

// Each case runs a route block over the INVITE above and checks the
// values of $var(...) afterwards.
func TestSemantics(t *testing.T) {
	tests := []struct {
		name  string
		route string // body of route{}; extra routes after "----"
		want  map[string]string
	}{
		{"if else", `if (1 == 2) { $var(r) = "then"; } else { $var(r) = "else"; }`, map[string]string{"$var(r)": "else"}},
		{"if without braces", `if ($rU == "bob") $var(r) = 1; else $var(r) = 2;`, map[string]string{"$var(r)": "1"}},
		{"int left adds", `$var(r) = 1 + "2";`, map[string]string{"$var(r)": "3"}},
		{"string left concatenates", `$var(r) = "1" + 2;`, map[string]string{"$var(r)": "12"}},
		{"concat with pvs", `$var(r) = "sip:" + $rU + "@" + $fd;`, map[string]string{"$var(r)": "sip:bob@example.org"}},
		{"arithmetic", `$var(r) = 7 * 3 - 10 / 2 mod 3;`, map[string]string{"$var(r)": "19"}},
		{"bitwise", `$var(r) = 12 & 10 | 1;`, map[string]string{"$var(r)": "9"}},
		{"unary minus", `$var(a) = 5; $var(r) = -$var(a); if ($var(r) == -5) $var(ok) = 1;`, map[string]string{"$var(r)": "-5", "$var(ok)": "1"}},
		{"regex is case-insensitive ERE", `if ($rU =~ "^B(o|x)b$") $var(r) = 1; if ($rU !~ "^z") $var(s) = 1;`, map[string]string{"$var(r)": "1", "$var(s)": "1"}},
		{"comparisons", `if (3 < 10 && "abc" < "abd" && 10 >= 10 && !(2 > 3)) $var(r) = 1;`, map[string]string{"$var(r)": "1"}},
		{"eq ne ieq", `if ("10" eq "10" && "a" ne "b" && "010" ieq 10) $var(r) = 1;`, map[string]string{"$var(r)": "1"}},
		{"null", `if ($var(unset) == 0 && $hdr(X-None) == $null && $rU != $null) $var(r) = 1;`, map[string]string{"$var(r)": "1"}},
		{"defined strlen strempty", `if (defined $rU && strlen($rU) == 3 && strempty($hdr(X-None)) && !strempty($fU)) $var(r) = 1;`, map[string]string{"$var(r)": "1"}},
		{"or short-circuits", `$var(r) = 0; if (1 == 1 || route(SET)) $var(x) = 1;
----
route[SET] { $var(r) = 1; }`, map[string]string{"$var(r)": "0", "$var(x)": "1"}},
		{"switch falls through to break", `switch ($rU) { case "alice": $var(r) = "a"; case "bob": $var(r) = "b"; case "carol": $var(r) = $var(r) + "c"; break; default: $var(r) = "d"; }`,
			map[string]string{"$var(r)": "bc"}},
		{"switch default", `switch ($cs) { case 1: $var(r) = 1; break; default: $var(r) = "dflt"; }`, map[string]string{"$var(r)": "dflt"}},
		{"switch on rc", `route(NEG); switch ($rc) { case -1: $var(r) = "m1"; break; case -2: $var(r) = "m2"; break; }
----
route[NEG] { return(-2); }`, map[string]string{"$var(r)": "m2"}},
		{"while with break", `$var(i) = 0; while ($var(i) < 100) { $var(i) = $var(i) + 1; if ($var(i) == 7) break; }`, map[string]string{"$var(i)": "7"}},
		{"while bounded by max_while_loops", `$var(i) = 0; while (1) { $var(i) = $var(i) + 1; }`, map[string]string{"$var(i)": "100"}},
		{"route value as condition", `if (route(POS)) $var(p) = 1; if (!route(NEG)) $var(n) = 1;
----
route[POS] { return(5); }
route[NEG] { return(-1); }`, map[string]string{"$var(p)": "1", "$var(n)": "1"}},
		{"return sets rc", `route(NEG); $var(r) = $rc; $var(q) = $?;
----
route[NEG] { return(-3); }`, map[string]string{"$var(r)": "-3", "$var(q)": "-3"}},
		{"exit stops everything", `route(EXIT); $var(after) = 1;
----
route[EXIT] { $var(in) = 1; exit; }`, map[string]string{"$var(in)": "1", "$var(after)": "0"}},
		{"break in a route returns to the caller", `route(BRK); $var(after) = 1;
----
route[BRK] { $var(in) = 1; break; $var(not) = 1; }`, map[string]string{"$var(in)": "1", "$var(not)": "0", "$var(after)": "1"}},
		{"return 0 from a route does not stop the script", `route(ZERO); $var(after) = 1;
----
route[ZERO] { return(0); }`, map[string]string{"$var(after)": "1"}},
		{"flags", `setflag(3); if (isflagset(3)) $var(a) = 1; resetflag(3); if (!isflagset(3)) $var(b) = 1;`, map[string]string{"$var(a)": "1", "$var(b)": "1"}},
		{"method element", `if (method == "INVITE" && method == INVITE && !method == "REGISTER" && method =~ "^inv") $var(r) = 1;`, map[string]string{"$var(r)": "1"}},
		{"uri elements", `if (uri == "sip:bob@example.com" && uri =~ "@EXAMPLE" && !uri == myself && from_uri =~ "alice") $var(r) = 1;`, map[string]string{"$var(r)": "1"}},
		{"network elements", `if (src_ip == 192.0.2.0/24 && src_ip != 10.0.0.0/8 && src_port == 5060 && proto == udp && af == inet && msg:len > 100) $var(r) = 1;`, map[string]string{"$var(r)": "1"}},
		{"rewrite functions", `rewriteuser("carol"); rewritehostport("10.1.2.3:5080"); $var(r) = $ru;`, map[string]string{"$var(r)": "sip:carol@10.1.2.3:5080"}},
		{"strip prefix", `strip(1); prefix("+49"); $var(r) = $rU;`, map[string]string{"$var(r)": "+49ob"}},
		{"revert_uri", `seturi("sip:x@y.example"); revert_uri(); $var(r) = $ru;`, map[string]string{"$var(r)": "sip:bob@example.com"}},
		{"avp push and index", `$avp(s:a) = 1; $avp(s:a) = 2; $var(r) = $avp(s:a); $var(s) = $(avp(s:a)[1]);`, map[string]string{"$var(r)": "2", "$var(s)": "1"}},
		{"assignment of a route value", `$var(r) = route(POS);
----
route[POS] { return(4); }`, map[string]string{"$var(r)": "4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			main, extra, _ := strings.Cut(tc.route, "----")
			s := siptest.NewScript(t, "#!KAMAILIO\nroute {\n"+main+"\n}\n"+extra)
			c := s.Run(t, invite)
			for k, want := range tc.want {
				if got := get(t, s, c, k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// drop marks the message dropped and stops the script.
func TestDrop(t *testing.T) {
	s := siptest.NewScript(t, "route { drop; $var(r) = 1; }")
	c := s.Run(t, invite)
	if !c.Dropped {
		t.Error("drop did not mark the message")
	}
	if got := get(t, s, c, "$var(r)"); got != "0" {
		t.Errorf("statement after drop ran: $var(r) = %s", got)
	}
}

// SER flag names declared with "flags" work in setflag and isflagset.
func TestSERFlagNames(t *testing.T) {
	s := siptest.NewScript(t, `
flags FLAG_ACC : 1, FLAG_X;
route {
	setflag(FLAG_ACC);
	if (isflagset(1) && !isflagset(FLAG_X)) { $var(r) = 1; }
}`)
	c := s.Run(t, invite)
	if got := get(t, s, c, "$var(r)"); got != "1" {
		t.Errorf("$var(r) = %s", got)
	}
	if !c.IsFlagSet(1) {
		t.Error("FLAG_ACC did not set flag 1")
	}
}

// append_branch adds the current R-URI (with $du) or a given URI with q.
func TestAppendBranch(t *testing.T) {
	s := siptest.NewScript(t, `
route {
	$du = "sip:192.0.2.99:5070";
	append_branch();
	append_branch("sip:carol@example.net", "0.5");
}`)
	c := s.Run(t, invite)
	if len(c.Branches) != 2 {
		t.Fatalf("%d branches, want 2", len(c.Branches))
	}
	if b := c.Branches[0]; b.URI != "sip:bob@example.com" || b.DstURI != "sip:192.0.2.99:5070" {
		t.Errorf("branch 0 = %+v", b)
	}
	if b := c.Branches[1]; b.URI != "sip:carol@example.net" || b.Q != 500 {
		t.Errorf("branch 1 = %+v", b)
	}
}

// forward() sends to $du when set, and a copy: the request keeps no Via
// of ours, so a second forward sends a second copy with one Via added.
func TestForwardCopies(t *testing.T) {
	s := siptest.NewScript(t, `
route {
	$du = "sip:192.0.2.50:5070";
	forward();
	forward_tcp("192.0.2.51", 5080);
}`)
	c := s.Run(t, invite)
	sent := s.Core.Sent()
	if len(sent) != 2 {
		t.Fatalf("%d messages sent, want 2", len(sent))
	}
	if d := sent[0].Dst.String(); d != "udp:192.0.2.50:5070" {
		t.Errorf("first forward went to %s", d)
	}
	if d := sent[1].Dst.String(); d != "tcp:192.0.2.51:5080" {
		t.Errorf("second forward went to %s", d)
	}
	for i, m := range sent {
		if n := len(m.Msg.GetHeaders("Via")); n != 2 {
			t.Errorf("copy %d has %d Vias, want 2", i, n)
		}
	}
	if n := len(c.Req.GetHeaders("Via")); n != 1 {
		t.Errorf("the request itself has %d Vias after forwarding, want 1", n)
	}
	if v := sent[1].Msg.Via(); v.Transport != "TCP" {
		t.Errorf("forward_tcp Via transport %q", v.Transport)
	}
}

// Each forward variant sends to the protocol its name (or its URI) says,
// with a Via of that transport.
func TestForwardVariants(t *testing.T) {
	for _, tc := range []struct{ call, dst, via string }{
		{`forward("192.0.2.60", 5090)`, "udp:192.0.2.60:5090", "UDP"},
		{`forward("tcp:192.0.2.60:5090")`, "tcp:192.0.2.60:5090", "TCP"},
		{`forward_udp("192.0.2.61", 5091)`, "udp:192.0.2.61:5091", "UDP"},
		{`forward_tcp("192.0.2.62", 5092)`, "tcp:192.0.2.62:5092", "TCP"},
		{`forward_tls("192.0.2.63", 5093)`, "tls:192.0.2.63:5093", "TLS"},
		{`send("192.0.2.64", 5094)`, "udp:192.0.2.64:5094", ""},
		{`sethostport("192.0.2.65:5095"); forward_udp()`, "udp:192.0.2.65:5095", "UDP"},
		{`sethp("192.0.2.66:5096"); forward_tcp()`, "tcp:192.0.2.66:5096", "TCP"},
	} {
		t.Run(tc.call, func(t *testing.T) {
			s := siptest.NewScript(t, "route {\n\t"+tc.call+";\n}\n")
			s.Run(t, invite)
			sent := s.Core.Sent()
			if len(sent) != 1 {
				t.Fatalf("%d messages sent, want 1", len(sent))
			}
			if d := sent[0].Dst.String(); d != tc.dst {
				t.Errorf("sent to %s, want %s", d, tc.dst)
			}
			vias := sent[0].Msg.GetHeaders("Via")
			if tc.via == "" {
				// send() passes the request on as it is, without a Via.
				if len(vias) != 1 {
					t.Errorf("send added a Via: %d Vias", len(vias))
				}
				return
			}
			if v := sent[0].Msg.Via(); len(vias) != 2 || v.Transport != tc.via {
				t.Errorf("%d Vias, top transport %q, want 2 and %s", len(vias), v.Transport, tc.via)
			}
		})
	}
}

// onsend_route sees the outgoing copy and can drop it.
func TestOnsendRoute(t *testing.T) {
	s := siptest.NewScript(t, `
route {
	forward("udp:192.0.2.50:5070");
	forward("udp:192.0.2.51:5070");
}
onsend_route {
	if (snd_ip == 192.0.2.51) { drop; }
}`)
	s.Run(t, invite)
	sent := s.Core.Sent()
	if len(sent) != 1 || sent[0].Dst.String() != "udp:192.0.2.50:5070" {
		t.Fatalf("sent %v, want only the copy to 192.0.2.50", sent)
	}
}

// A call in a route[X] that some calling route type does not allow runs
// where it is allowed and returns -1 without running where it is not.
func TestSubRouteGuard(t *testing.T) {
	s := siptest.NewScript(t, `
route { route(R); }
onreply_route { route(R); }
route[R] { $var(r) = force_rport(); }
`)
	c := s.Run(t, invite)
	if got := get(t, s, c, "$var(r)"); got != "1" || !c.ForceRport {
		t.Errorf("in the request route: $var(r) = %s, ForceRport %v", got, c.ForceRport)
	}
	res := siptest.Response(t, `
SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: call-1@test
CSeq: 10 INVITE
`)
	rc := s.Ctx(res, "", "")
	s.Loaded.Script.Run(rc, sr.RouteOnReply, "")
	if got := get(t, s, rc, "$var(r)"); got != "-1" || rc.ForceRport {
		t.Errorf("in the reply route: $var(r) = %s, ForceRport %v", got, rc.ForceRport)
	}
}
