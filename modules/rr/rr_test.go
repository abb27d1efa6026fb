package rr_test

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/rr"
	_ "sip-router.org/modules/sl"
)

const invite = `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-inv1
From: "Alice" <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>
Call-ID: call-1@test
CSeq: 10 INVITE
Max-Forwards: 70
Contact: <sip:alice@192.0.2.10>
`

// forwarded runs the script over a request and returns the copies sent.
func forwarded(t *testing.T, s *siptest.Script, text string) (*sr.Ctx, []*sip.Request) {
	t.Helper()
	c := s.Run(t, text)
	var out []*sip.Request
	for _, m := range s.Core.Sent() {
		if r, ok := m.Msg.(*sip.Request); ok {
			out = append(out, r)
		}
	}
	return c, out
}

func rrValues(m sip.Message) []string {
	var out []string
	for _, h := range sipmsg.Headers(m, "Record-Route") {
		out = append(out, h.Value())
	}
	return out
}

func TestRecordRoute(t *testing.T) {
	tests := []struct {
		name   string
		params string
		route  string
		want   []string // Record-Route values of each copy sent, joined by " | "
	}{
		{"udp in, udp out: one header", "", `record_route(); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:127.0.0.1;lr;ftag=a1>"}},
		{"udp in, tcp out: double, outgoing first", "", `record_route(); forward_tcp("192.0.2.20", 5060);`,
			[]string{"<sip:127.0.0.1;transport=tcp;r2=on;lr;ftag=a1> | <sip:127.0.0.1;r2=on;lr;ftag=a1>"}},
		{"double off: the arriving socket only", `modparam("rr", "enable_double_rr", 0)`, `record_route(); forward_tcp("192.0.2.20", 5060);`,
			[]string{"<sip:127.0.0.1;lr;ftag=a1>"}},
		{"full lr, no ftag", "modparam(\"rr\", \"enable_full_lr\", 1)\nmodparam(\"rr\", \"append_fromtag\", 0)", `record_route(); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:127.0.0.1;lr=on>"}},
		{"params, before and after", "", `add_rr_param(";a=1"); record_route("p=$rU"); add_rr_param(";nat=yes"); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:127.0.0.1;lr;ftag=a1;p=bob;a=1;nat=yes>"}},
		{"params on both halves of a double", "", `record_route(); add_rr_param(";nat=yes"); forward_tcp("192.0.2.20", 5060);`,
			[]string{"<sip:127.0.0.1;transport=tcp;r2=on;lr;ftag=a1;nat=yes> | <sip:127.0.0.1;r2=on;lr;ftag=a1;nat=yes>"}},
		{"called twice: one set", "", `record_route(); if (!record_route()) { $var(x) = 1; } forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:127.0.0.1;lr;ftag=a1>"}},
		{"each copy gets one set", "", `record_route(); forward("udp:192.0.2.20:5060"); forward_tcp("192.0.2.21", 5060);`,
			[]string{"<sip:127.0.0.1;lr;ftag=a1>", "<sip:127.0.0.1;transport=tcp;r2=on;lr;ftag=a1> | <sip:127.0.0.1;r2=on;lr;ftag=a1>"}},
		{"add_username", `modparam("rr", "add_username", 1)`, `$ru = "sip:carol@example.net"; record_route(); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:bob@127.0.0.1;lr;ftag=a1>"}},
		{"preset", "", `record_route_preset("192.0.2.1:5090"); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:192.0.2.1:5090;lr;ftag=a1>"}},
		{"preset with scheme, two addresses", "", `record_route_preset("sip:in.example.com", "out.example.com;transport=tcp"); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:in.example.com;r2=on;lr;ftag=a1> | <sip:out.example.com;transport=tcp;r2=on;lr;ftag=a1>"}},
		{"preset then record_route: one", "", `record_route_preset("192.0.2.1"); record_route(); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:192.0.2.1;lr;ftag=a1>"}},
		{"removed", "", `record_route(); remove_record_route(); forward("udp:192.0.2.20:5060");`,
			[]string{""}},
		{"removed then again", "", `record_route("x=1"); remove_record_route(); record_route(); forward("udp:192.0.2.20:5060");`,
			[]string{"<sip:127.0.0.1;lr;ftag=a1>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"rr.so\"\n"+tc.params+"\nroute {\n"+tc.route+"\n}\n")
			c, reqs := forwarded(t, s, invite)
			if len(reqs) != len(tc.want) {
				t.Fatalf("%d copies sent, want %d", len(reqs), len(tc.want))
			}
			for i, r := range reqs {
				if got := strings.Join(rrValues(r), " | "); got != tc.want[i] {
					t.Errorf("copy %d Record-Route:\n got %s\nwant %s", i, got, tc.want[i])
				}
				// Our Record-Route comes before our Via.
				if hs := r.Headers(); len(rrValues(r)) > 0 && !sipmsg.Same(hs[0].Name(), "Record-Route") {
					t.Errorf("copy %d starts with %s, want Record-Route", i, hs[0].Name())
				}
			}
			if rr := rrValues(c.Req); len(rr) != 0 {
				t.Errorf("the request itself got Record-Route %v", rr)
			}
		})
	}
}

// Record-Route values already in the request stay below ours.
func TestRecordRouteKeepsOthers(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"rr\"\nroute { record_route(); forward(\"udp:192.0.2.20:5060\"); }\n")
	_, reqs := forwarded(t, s, strings.Replace(invite, "Max-Forwards: 70", "Max-Forwards: 70\nRecord-Route: <sip:p1.example.com;lr>", 1))
	got := strings.Join(rrValues(reqs[0]), " | ")
	if got != "<sip:127.0.0.1;lr;ftag=a1> | <sip:p1.example.com;lr>" {
		t.Errorf("Record-Route %s", got)
	}
}

const bye = `
BYE SIP_RURI SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-bye1
From: <sip:alice@example.org>;tag=FROMTAG
To: <sip:bob@example.com>TOTAG
Call-ID: call-1@test
CSeq: 11 BYE
Max-Forwards: 70
ROUTES
`

func byeText(ruri, fromTag, toTag string, routes ...string) string {
	s := strings.Replace(bye, "SIP_RURI", ruri, 1)
	s = strings.Replace(s, "FROMTAG", fromTag, 1)
	if toTag != "" {
		toTag = ";tag=" + toTag
	}
	s = strings.Replace(s, "TOTAG", toTag, 1)
	var lines []string
	for _, r := range routes {
		lines = append(lines, "Route: "+r)
	}
	return strings.Replace(s, "ROUTES", strings.Join(lines, "\n"), 1)
}

func routeValues(m sip.Message) string {
	var out []string
	for _, h := range sipmsg.Headers(m, "Route") {
		out = append(out, h.Value())
	}
	return strings.Join(out, " | ")
}

func TestLooseRoute(t *testing.T) {
	tests := []struct {
		name     string
		req      string
		rc       string
		du, ruri string
		routes   string
		socket   string
	}{
		{"no Route", byeText("sip:alice@192.0.2.10", "a1", "b1"),
			"-1", "", "sip:alice@192.0.2.10", "", ""},
		{"ours then a loose router", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1;lr;ftag=a1>", "<sip:p2.example.com;lr>"),
			"1", "sip:p2.example.com;lr", "sip:alice@192.0.2.10", "<sip:p2.example.com;lr>", ""},
		{"ours only", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1;lr;ftag=a1>"),
			"1", "", "sip:alice@192.0.2.10", "", ""},
		{"ours with default port written", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1:5060;lr>"),
			"1", "", "sip:alice@192.0.2.10", "", ""},
		{"preloaded, ours only", byeText("sip:alice@192.0.2.10", "a1", "", "<sip:127.0.0.1;lr>"),
			"-1", "", "sip:alice@192.0.2.10", "", ""},
		{"preloaded to another proxy", byeText("sip:alice@192.0.2.10", "a1", "", "<sip:127.0.0.1;lr>", "<sip:p2.example.com;lr>"),
			"1", "sip:p2.example.com;lr", "sip:alice@192.0.2.10", "<sip:p2.example.com;lr>", ""},
		{"not ours on top", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:other.example.com;lr>"),
			"1", "sip:other.example.com;lr", "sip:alice@192.0.2.10", "<sip:other.example.com;lr>", ""},
		{"ours on another port is not ours", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1:5099;lr>"),
			"1", "sip:127.0.0.1:5099;lr", "sip:alice@192.0.2.10", "<sip:127.0.0.1:5099;lr>", ""},
		{"double Record-Route: both removed, socket forced", byeText("sip:alice@192.0.2.10", "a1", "b1",
			"<sip:127.0.0.1;transport=tcp;r2=on;lr>", "<sip:127.0.0.1;r2=on;lr>", "<sip:next.example.com;lr>"),
			"1", "sip:next.example.com;lr", "sip:alice@192.0.2.10", "<sip:next.example.com;lr>", "udp:127.0.0.1:5060"},
		{"double Record-Route, other way", byeText("sip:alice@192.0.2.10", "a1", "b1",
			"<sip:127.0.0.1;r2=on;lr>", "<sip:127.0.0.1;transport=tcp;r2=on;lr>"),
			"1", "", "sip:alice@192.0.2.10", "", "tcp:127.0.0.1:5060"},
		{"next hop is a strict router", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1;lr>", "<sip:strict.example.com>", "<sip:p3.example.com;lr>"),
			"1", "", "sip:strict.example.com", "<sip:p3.example.com;lr> | <sip:alice@192.0.2.10>", ""},
		{"maddr", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1;lr>", "<sip:proxy.example.com:5070;lr;maddr=192.0.2.99>"),
			"1", "sip:192.0.2.99:5070", "sip:alice@192.0.2.10", "<sip:proxy.example.com:5070;lr;maddr=192.0.2.99>", ""},
		{"previous hop strict: last Route is the target", byeText("sip:127.0.0.1;lr;ftag=a1", "a1", "b1", "<sip:next.example.com;lr>", "<sip:alice@192.0.2.10>"),
			"1", "sip:next.example.com;lr", "sip:alice@192.0.2.10", "<sip:next.example.com;lr>", ""},
		{"previous hop strict, next strict too", byeText("sip:127.0.0.1;lr", "a1", "b1", "<sip:strict2.example.com>", "<sip:alice@192.0.2.10>"),
			"1", "", "sip:strict2.example.com", "<sip:alice@192.0.2.10>", ""},
		{"previous hop strict, double Record-Route", byeText("sip:127.0.0.1;r2=on;lr", "a1", "b1",
			"<sip:127.0.0.1;transport=tcp;r2=on;lr>", "<sip:next.example.com;lr>", "<sip:alice@192.0.2.10>"),
			"1", "sip:next.example.com;lr", "sip:alice@192.0.2.10", "<sip:next.example.com;lr>", "tcp:127.0.0.1:5060"},
		{"a UA on this host is not a strict-routed Request-URI", byeText("sip:alice@127.0.0.1", "a1", "b1", "<sip:127.0.0.1;lr>", "<sip:x.example.com;lr>"),
			"1", "sip:x.example.com;lr", "sip:alice@127.0.0.1", "<sip:x.example.com;lr>", ""},
		{"several values in one header", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1;lr>, <sip:p2.example.com;lr>, <sip:p3.example.com;lr>"),
			"1", "sip:p2.example.com;lr", "sip:alice@192.0.2.10", "<sip:p2.example.com;lr> | <sip:p3.example.com;lr>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"rr.so\"\nroute {\n$var(rc) = 0; if (loose_route()) { $var(rc) = 1; } else { $var(rc) = -1; }\n}\n")
			c := s.Run(t, tc.req)
			if got := c.Vars["rc"].String(); got != tc.rc {
				t.Errorf("loose_route %s, want %s", got, tc.rc)
			}
			if c.DstURI != tc.du {
				t.Errorf("$du %q, want %q", c.DstURI, tc.du)
			}
			if got := c.Req.Recipient.String(); got != tc.ruri {
				t.Errorf("R-URI %q, want %q", got, tc.ruri)
			}
			if got := routeValues(c.Req); got != tc.routes {
				t.Errorf("Route %q, want %q", got, tc.routes)
			}
			if got := c.ForceSocket.String(); got != tc.socket {
				t.Errorf("forced socket %q, want %q", got, tc.socket)
			}
		})
	}
}

// Route headers keep their place among the other headers.
func TestLooseRouteKeepsHeaderOrder(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"rr\"\nroute { loose_route(); }\n")
	c := s.Run(t, byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:127.0.0.1;lr>", "<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"))
	var names []string
	for _, h := range c.Req.Headers() {
		names = append(names, sipmsg.Canonical(h.Name()))
	}
	want := "via from to call-id cseq max-forwards route route content-length"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("headers %q, want %q", got, want)
	}
}

// A Route added as text with several values, or one that does not parse,
// is handled without panicking.
func TestLooseRouteTextHeaders(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"rr\"\nroute { if (loose_route()) { $var(rc) = 1; } else { $var(rc) = -1; } }\n")
	run := func(value string) *sr.Ctx {
		req := siptest.Request(t, byeText("sip:alice@192.0.2.10", "a1", "b1"))
		req.AppendHeader(sip.NewHeader("Route", value))
		c := s.Ctx(req, "", "")
		s.Loaded.Script.Run(c, sr.RouteRequest, "")
		return c
	}
	c := run(`<sip:127.0.0.1;lr>, "Proxy, Two" <sip:p2.example.com;lr>`)
	if c.Vars["rc"].String() != "1" || c.DstURI != "sip:p2.example.com;lr" {
		t.Errorf("text Route: rc %s, $du %q", c.Vars["rc"], c.DstURI)
	}
	for _, bad := range []string{"<sip:127.0.0.1;lr", "<>", "garbage<", "<sip:>"} {
		if c := run(bad); c.Vars["rc"].String() != "-1" {
			t.Errorf("Route %q: rc %s, want -1", bad, c.Vars["rc"])
		}
	}
}

func TestCheckRouteParamAndDirection(t *testing.T) {
	s := siptest.NewScript(t, `#!KAMAILIO
loadmodule "rr.so"
route {
	if (check_route_param("nat=yes")) { $var(before) = 1; }
	loose_route();
	if (check_route_param("nat=yes")) { $var(nat) = 1; }
	if (check_route_param("^;lr;ftag=a1")) { $var(start) = 1; }
	if (check_route_param("other")) { $var(other) = 1; }
	if (is_direction("downstream")) { $var(dir) = "down"; }
	if (is_direction("upstream")) { $var(dir) = "up"; }
}
`)
	tests := []struct {
		name string
		req  string
		want map[string]string
	}{
		{"caller to callee", byeText("sip:bob@192.0.2.20", "a1", "b1", "<sip:127.0.0.1;lr;ftag=a1;nat=yes>"),
			map[string]string{"before": "<null>", "nat": "1", "start": "1", "other": "<null>", "dir": "down"}},
		{"callee to caller", byeText("sip:alice@192.0.2.10", "b1", "a1", "<sip:127.0.0.1;lr;ftag=a1;nat=yes>"),
			map[string]string{"nat": "1", "dir": "up"}},
		{"no ftag: downstream", byeText("sip:alice@192.0.2.10", "b1", "a1", "<sip:127.0.0.1;lr;NAT=YES>"),
			map[string]string{"nat": "1", "start": "<null>", "dir": "down"}},
		{"Route not ours", byeText("sip:alice@192.0.2.10", "a1", "b1", "<sip:p2.example.com;lr;nat=yes>"),
			map[string]string{"nat": "<null>", "dir": "down"}},
		{"after a strict router: the Request-URI's parameters", byeText("sip:127.0.0.1;lr;ftag=a1;nat=yes", "b1", "a1", "<sip:alice@192.0.2.10>"),
			map[string]string{"nat": "1", "dir": "up"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := s.Run(t, tc.req)
			for k, v := range tc.want {
				if got := c.Vars[k].String(); got != v {
					t.Errorf("$var(%s) = %s, want %s", k, got, v)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"is_direction needs ftag", "modparam(\"rr\", \"append_fromtag\", 0)\nroute { is_direction(\"upstream\"); }", "append_fromtag"},
		{"bad direction", "route { is_direction(\"sideways\"); }", "unknown direction"},
		{"bad regex", "route { check_route_param(\"(\"); }", "regular expression"},
		{"bad cookie filter", "modparam(\"rr\", \"cookie_filter\", \"(\")\nroute { exit; }", "cookie_filter"},
		{"loose_route in a failure route", "route { exit; }\nfailure_route[F] { loose_route(); }", "loose_route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := siptest.LoadErr(t, "loadmodule \"rr.so\"\n"+tc.cfg+"\n")
			if err == nil {
				t.Fatal("config loaded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
