package sanity_test

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sanity"
	_ "sip-router.org/modules/sl"
)

const options = `
OPTIONS sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-s1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>
Call-ID: s-1@test
CSeq: 1 OPTIONS
Max-Forwards: 70
`

// edit returns options with old replaced by new.
func edit(pairs ...string) string {
	return strings.NewReplacer(pairs...).Replace(options)
}

// with adds header lines after Max-Forwards.
func with(lines ...string) string {
	return edit("Max-Forwards: 70", "Max-Forwards: 70\n"+strings.Join(lines, "\n"))
}

type tweak func(req *sip.Request)

// replace swaps a header for a text one, as a script could have added it.
func replace(name, value string) tweak {
	return func(req *sip.Request) {
		sipmsg.Remove(req, name)
		if value != "-" {
			req.AppendHeader(sip.NewHeader(name, value))
		}
	}
}

const script = `
loadmodule "sl.so"
loadmodule "sanity.so"
PARAMS
route {
	$var(rc) = "none";
	if (sanity_check(ARGS)) { $var(rc) = 1; } else { $var(rc) = -1; }
}
`

func newScript(t *testing.T, params, args string) *siptest.Script {
	t.Helper()
	return siptest.NewScript(t, strings.NewReplacer("PARAMS", params, "ARGS", args).Replace(script))
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name   string
		params string
		args   string
		msg    string
		tweak  tweak
		code   int    // 0: no reply
		reason string // reply reason
		extra  string // "Name: value" expected in the reply
		rc     string // $var(rc): "1" passed, "-1" failed without autodrop, "none" script stopped
	}{
		{"valid, default checks", "", "", options, nil, 0, "", "", "1"},
		{"valid, every check", "", `"32767", "15"`, with("Contact: <sip:alice@192.0.2.10>", "Expires: 3600"), nil, 0, "", "", "1"},
		{"1 version", "", `"1"`, edit("sip:bob@example.com SIP/2.0", "sip:bob@example.com SIP/3.0"), nil, 505, "Version Not Supported (R-URI)", "", "none"},
		{"2 scheme", "", `"2"`, edit("OPTIONS sip:bob@example.com", "OPTIONS urn:service:sos"), nil, 416, "Unsupported URI Scheme in Request URI", "", "none"},
		{"2 tel is fine", "", `"2"`, edit("OPTIONS sip:bob@example.com", "OPTIONS tel:+15551234"), nil, 0, "", "", "1"},
		{"4 missing Call-ID", "", `"4"`, options, replace("Call-ID", "-"), 400, "Missing Required Header in Request", "", "none"},
		{"4 missing Via", "", `"4"`, options, replace("Via", "-"), 400, "Missing Required Header in Request", "", "none"},
		{"4 duplicate To", "", `"4"`, with("To: <sip:carol@example.com>"), nil, 400, "Duplicate Required Header in Request", "", "none"},
		{"8 Via version", "", `"8"`, edit("Via: SIP/2.0/UDP", "Via: SIP/3.0/UDP"), nil, 505, "Version Not Supported (Via)", "", "none"},
		{"16 Via transport mismatch", "", `"16"`, edit("Via: SIP/2.0/UDP", "Via: SIP/2.0/TCP"), nil, 400, "Transport Mismatch in Topmost Via", "", "none"},
		{"16 unknown Via transport", "", `"16"`, edit("Via: SIP/2.0/UDP", "Via: SIP/2.0/FOO"), nil, 400, "Unsupported Transport in Topmost Via", "", "none"},
		{"16384 no usable Via: no reply", "", `"16384"`, options, replace("Via", "-"), 0, "", "", "none"},
		{"32 CSeq method", "", `"32"`, edit("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), nil, 400, "CSeq method does not match request method", "", "none"},
		{"64 CSeq number too big", "", `"64"`, options, replace("CSeq", "4294967296 OPTIONS"), 400, "CSeq number is illegal", "", "none"},
		{"64 CSeq without number", "", `"64"`, options, replace("CSeq", ""), 400, "Missing number in CSeq header", "", "none"},
		{"64 CSeq at the limit", "", `"64"`, edit("CSeq: 1 OPTIONS", "CSeq: 4294967295 OPTIONS"), nil, 0, "", "", "1"},
		{"128 Content-Length", "", `"128"`, options, replace("Content-Length", "3"), 400, "Content-Length mis-match", "", "none"},
		{"128 no Content-Length", "", `"128"`, options, replace("Content-Length", "-"), 0, "", "", "1"},
		{"256 Expires too big", "", `"256"`, with("Expires: 4294967296"), nil, 400, "Expires value is illegal", "", "none"},
		{"256 Expires not a number", "", `"256"`, with("Expires: soon"), nil, 400, "Expires value is illegal", "", "none"},
		{"256 Expires empty", "", `"256"`, options, replace("Expires", ""), 400, "Missing number in Expires header", "", "none"},
		{"512 Proxy-Require", `modparam("sanity", "proxy_require", "bar")`, `"512"`, with("Proxy-Require: foo, BAR", "Proxy-Require: baz"), nil,
			420, "Bad Extension", "Unsupported: foo, baz", "none"},
		{"512 all supported", `modparam("sanity", "proxy_require", " pref , timer ")`, `"512"`, with("Proxy-Require: timer,pref"), nil, 0, "", "", "1"},
		{"512 Require is not the proxy's business", "", `"512"`, with("Require: foo"), nil, 0, "", "", "1"},
		{"1024 bad From", "", `"1024", "2"`, edit("From: <sip:alice@example.org>", "From: <http://example.org>"), nil, 400, "Bad From URI", "", "none"},
		{"1024 bad To", "", `"1024", "4"`, edit("To: <sip:bob@example.com>", "To: isbn:2983792873"), nil, 400, "Bad To URI", "", "none"},
		{"1024 To not checked", "", `"1024", "3"`, edit("To: <sip:bob@example.com>", "To: isbn:2983792873"), nil, 0, "", "", "1"},
		{"1024 bad Contact", "", `"1024", "8"`, with("Contact: <name:John_Smith>"), nil, 400, "Bad Contact URI", "", "none"},
		{"1024 Contact star", "", `"1024", "8"`, with("Contact: *"), nil, 0, "", "", "1"},
		{"1024 bad R-URI", "", `"1024", "1"`, edit("OPTIONS sip:bob@example.com", "OPTIONS urn:service:sos"), nil, 400, "Bad Request URI", "", "none"},
		{"2048 good digest", "", `"2048"`, with(`Authorization: Digest username="alice", realm="example.org", nonce="abc", uri="sip:bob@example.com", response="0123456789abcdef0123456789abcdef"`), nil, 0, "", "", "1"},
		{"2048 digest without response", "", `"2048"`, with(`Authorization: Digest username="alice", realm="example.org", nonce="abc", uri="sip:bob@example.com"`), nil, 400, "Bad Authorization Header", "", "none"},
		{"2048 qop without nc", "", `"2048"`, with(`Proxy-Authorization: Digest username="alice", realm="r", nonce="n", uri="sip:b", response="x", qop=auth, cnonce="c"`), nil, 400, "Bad Proxy-Authorization Header", "", "none"},
		{"2048 unknown scheme", "", `"2048"`, with(`Authorization: NoOneKnowsThisScheme opaque-data=here`), nil, 400, "Bad Authorization Header", "", "none"},
		{"8192 unknown scheme passes", "", `"8192"`, with(`Authorization: NoOneKnowsThisScheme opaque-data=here`), nil, 0, "", "", "1"},
		{"8192 unterminated quote", "", `"8192"`, with(`Authorization: Digest username="alice, realm="r"`), nil, 400, "Bad Authorization Header", "", "none"},
		{"8192 empty username", "", `"8192"`, with(`Authorization: Digest username="", realm="r", nonce="n", uri="sip:b", response="x"`), nil, 400, "Bad Authorization Header", "", "none"},
		{"4096 duplicate From tag", "", `"4096"`, options, replace("From", "<sip:alice@example.org>;tag=a1;tag=a2"), 400, "Duplicate Tag in From", "", "none"},
		{"4096 tag inside the URI does not count", "", `"4096"`, options, replace("From", "<sip:alice@example.org;tag=x>;tag=a1"), 0, "", "", "1"},
		{"autodrop off: -1 and the reply is sent", `modparam("sanity", "autodrop", 0)`, `"32"`, edit("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), nil, 400, "CSeq method does not match request method", "", "-1"},
		{"mask in a variable", "", `"$hdr(X-Checks)"`, with("X-Checks: 32"), func(r *sip.Request) {
			r.CSeq().MethodName = "INVITE"
		}, 400, "CSeq method does not match request method", "", "none"},
		{"mask variable out of range", "", `"$hdr(X-Checks)"`, with("X-Checks: 0"), nil, 0, "", "", "-1"},
		{"default checks include 512", "", "", with("Proxy-Require: foo"), nil, 420, "Bad Extension", "Unsupported: foo", "none"},
		{"default_checks parameter", `modparam("sanity", "default_checks", 1)`, "", with("Proxy-Require: foo"), nil, 0, "", "", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t, tc.params, tc.args)
			req := siptest.Request(t, tc.msg)
			if tc.tweak != nil {
				tc.tweak(req)
			}
			c := s.Ctx(req, "", "")
			s.Loaded.Script.Run(c, sr.RouteRequest, "")
			if got := c.Vars["rc"].String(); got != tc.rc {
				t.Errorf("$var(rc) = %s, want %s", got, tc.rc)
			}
			rs := s.Core.Replies()
			if tc.code == 0 {
				if len(rs) != 0 {
					t.Fatalf("got reply %d %s, want none", rs[0].StatusCode, rs[0].Reason)
				}
				return
			}
			if len(rs) != 1 {
				t.Fatalf("got %d replies, want one %d", len(rs), tc.code)
			}
			if rs[0].StatusCode != tc.code || rs[0].Reason != tc.reason {
				t.Errorf("reply %d %q, want %d %q", rs[0].StatusCode, rs[0].Reason, tc.code, tc.reason)
			}
			if tc.extra != "" {
				name, value, _ := strings.Cut(tc.extra, ": ")
				if h := sipmsg.Header(rs[0], name); h == nil || h.Value() != value {
					t.Errorf("reply header %s = %v, want %q", name, h, value)
				}
			}
		})
	}
}

// An ACK is never answered.
func TestACK(t *testing.T) {
	s := newScript(t, "", `"32"`)
	c := s.Ctx(siptest.Request(t, edit("OPTIONS sip:", "ACK sip:", "CSeq: 1 OPTIONS", "CSeq: 1 INVITE")), "", "")
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	if c.Vars["rc"].String() != "none" {
		t.Errorf("$var(rc) = %s, want the script stopped", c.Vars["rc"])
	}
	if n := len(s.Core.Sent()); n != 0 {
		t.Errorf("%d messages sent for an ACK", n)
	}
}

const reply = `
SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-r1
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-s1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: s-1@test
CSeq: 1 OPTIONS
`

func TestReplyRoute(t *testing.T) {
	run := func(params, args string, fix func(*sip.Response)) (*sr.Ctx, *siptest.Script) {
		s := siptest.NewScript(t, strings.NewReplacer("PARAMS", params, "ARGS", args).Replace(`
loadmodule "sl.so"
loadmodule "sanity.so"
PARAMS
route { exit; }
onreply_route {
	$var(rc) = "none";
	if (sanity_check(ARGS)) { $var(rc) = 1; } else { $var(rc) = -1; }
}
`))
		res := siptest.Response(t, reply)
		if fix != nil {
			fix(res)
		}
		c := s.Ctx(res, "", "")
		s.Loaded.Script.Run(c, sr.RouteOnReply, "")
		return c, s
	}
	noCallID := func(r *sip.Response) { sipmsg.Remove(r, "Call-ID") }
	badTo := func(r *sip.Response) {
		sipmsg.Remove(r, "To")
		r.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "isbn"}})
	}
	cases := []struct {
		name, params, args string
		fix                func(*sip.Response)
		rc                 string
		dropped            bool
	}{
		{"valid", "", `"17604", "6"`, nil, "1", false},
		{"request-only checks skipped", "", `"1"`, nil, "1", false},
		{"missing header, autodrop drops the reply", "", `"17604", "6"`, noCallID, "none", true},
		{"bad To URI, autodrop off", `modparam("sanity", "autodrop", 0)`, `"17604", "6"`, badTo, "-1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, s := run(tc.params, tc.args, tc.fix)
			if got := c.Vars["rc"].String(); got != tc.rc {
				t.Errorf("$var(rc) = %s, want %s", got, tc.rc)
			}
			if c.Dropped != tc.dropped {
				t.Errorf("dropped = %v, want %v", c.Dropped, tc.dropped)
			}
			if n := len(s.Core.Sent()); n != 0 {
				t.Errorf("%d messages sent while checking a reply", n)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"zero checks", `loadmodule "sl.so"
loadmodule "sanity.so"
route { sanity_check("0"); }`, "out of range"},
		{"too many checks", `loadmodule "sl.so"
loadmodule "sanity.so"
route { sanity_check(40000); }`, "out of range"},
		{"uri checks out of range", `loadmodule "sl.so"
loadmodule "sanity.so"
route { sanity_check("1", "16"); }`, "out of range"},
		{"not a number", `loadmodule "sl.so"
loadmodule "sanity.so"
route { sanity_check("all"); }`, "not a number"},
		{"needs sl", `loadmodule "sanity.so"
route { sanity_check(); }`, "modules/sl"},
		{"not in failure_route", `loadmodule "sl.so"
loadmodule "sanity.so"
route { exit; }
failure_route[F] { sanity_check(); }`, "sanity_check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := siptest.LoadErr(t, tc.cfg)
			if err == nil {
				t.Fatal("config loaded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
