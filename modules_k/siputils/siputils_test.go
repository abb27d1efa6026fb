package siputils_test

import (
	"strings"
	"testing"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules_k/siputils"
)

const invite = `
INVITE sip:bob@example.com;user=phone;lr SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-u1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>
Call-ID: u-1@test
CSeq: 1 INVITE
Max-Forwards: 70
`

// withHeaders adds header lines to invite.
func withHeaders(lines ...string) string {
	return strings.Replace(invite, "Max-Forwards: 70", "Max-Forwards: 70\n"+strings.Join(lines, "\n"), 1)
}

// eval runs an expression as a condition and returns "1" or "-1".
func eval(t *testing.T, params, cond, msg string) string {
	t.Helper()
	s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"siputils.so\"\n"+params+
		"\nroute {\n$var(r) = -1;\nif ("+cond+") { $var(r) = 1; }\n}\n")
	c := s.Run(t, msg)
	return c.Vars["r"].String()
}

func TestConditions(t *testing.T) {
	digest := `Authorization: Digest username="alice@example.org", realm="example.org", nonce="n", uri="sip:bob@example.com", response="r"`
	tests := []struct {
		name, cond, msg, want string
	}{
		{"has_totag without tag", "has_totag()", invite, "-1"},
		{"has_totag with tag", "has_totag()", strings.Replace(invite, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b1", 1), "1"},
		{"is_request", "is_request()", invite, "1"},
		{"is_reply on a request", "is_reply()", invite, "-1"},
		{"is_user", `is_user("alice")`, withHeaders(digest), "1"},
		{"is_user other", `is_user("bob")`, withHeaders(digest), "-1"},
		{"is_user with a variable", `is_user("$fU")`, withHeaders(digest), "1"},
		{"is_user proxy credentials", `is_user("carol")`, withHeaders(`Proxy-Authorization: Digest realm="r", username=carol, nonce="n"`), "1"},
		{"is_user authorization first", `is_user("alice")`, withHeaders(`Proxy-Authorization: Digest username="carol"`, digest), "1"},
		{"is_user other scheme", `is_user("alice")`, withHeaders(`Authorization: Basic YWxpY2U6eA==`), "-1"},
		{"is_user no credentials", `is_user("alice")`, invite, "-1"},
		{"uri_param value", `uri_param("user", "phone")`, invite, "1"},
		{"uri_param value differs", `uri_param("user", "PHONE")`, invite, "-1"},
		{"uri_param flag", `uri_param("lr")`, invite, "1"},
		{"uri_param has a value", `uri_param("user")`, invite, "-1"},
		{"uri_param missing", `uri_param("maddr")`, invite, "-1"},
		{"e164", `is_uri_user_e164("$hdr(X-U)")`, withHeaders("X-U: sip:+4930123456@example.com"), "1"},
		{"e164 16 chars", `is_uri_user_e164("$hdr(X-U)")`, withHeaders("X-U: sip:+123456789012345@example.com"), "1"},
		{"e164 too long", `is_uri_user_e164("$hdr(X-U)")`, withHeaders("X-U: sip:+1234567890123456@example.com"), "-1"},
		{"e164 too short", `is_uri_user_e164("$hdr(X-U)")`, withHeaders("X-U: sip:+1@example.com"), "-1"},
		{"e164 no plus", `is_uri_user_e164("$hdr(X-U)")`, withHeaders("X-U: sip:4930123@example.com"), "-1"},
		{"e164 letters", `is_uri_user_e164("$hdr(X-U)")`, withHeaders("X-U: sip:+49abc@example.com"), "-1"},
		{"e164 no user", `is_uri_user_e164("$ru")`, strings.Replace(invite, "sip:bob@example.com;user", "sip:example.com;user", 1), "-1"},
		{"e164 unquoted variable", `is_uri_user_e164($hdr(X-U))`, withHeaders("X-U: tel:+4930123456@x"), "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, "", tc.cond, tc.msg); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.cond, got, tc.want)
			}
		})
	}
}

// RFC 3261 §19.1.4's examples, and AOR comparisons.
func TestCompare(t *testing.T) {
	tests := []struct {
		fn, a, b, want string
	}{
		{"cmp_uri", "sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", "1"},
		{"cmp_uri", "sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", "1"},
		{"cmp_uri", "sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on", "1"},
		{"cmp_uri", "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com", "1"},
		{"cmp_uri", "sip:alice@atlanta.com?subject=project%20x&priority=urgent", "sip:alice@atlanta.com?priority=urgent&subject=project%20x", "1"},
		{"cmp_uri", "<sip:alice@atlanta.com>", "sip:alice@atlanta.com", "1"},
		{"cmp_uri", "SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", "-1"},
		{"cmp_uri", "sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", "-1"},
		{"cmp_uri", "sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", "-1"},
		{"cmp_uri", "sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", "-1"},
		{"cmp_uri", "sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", "-1"},
		{"cmp_uri", "sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", "-1"},
		{"cmp_uri", "sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off", "-1"},
		{"cmp_uri", "sip:alice@atlanta.com", "sips:alice@atlanta.com", "-1"},
		{"cmp_uri", "tel:+1-201-555-0123", "TEL:+1-201-555-0123", "1"},
		{"cmp_uri", "sip:alice@atlanta.com", "not a uri", "-2"},
		{"cmp_aor", "sip:alice@Example.COM", "sip:alice@example.com:5060;transport=tcp", "1"},
		{"cmp_aor", "<sip:alice@example.com>;tag=1", "sip:alice@example.com?x=y", "1"},
		{"cmp_aor", "sips:alice@example.com", "sip:alice@example.com:5061", "1"},
		{"cmp_aor", "sip:Alice@example.com", "sip:alice@example.com", "-1"},
		{"cmp_aor", "sip:alice@example.com", "sip:alice@example.com:5070", "-1"},
		{"cmp_aor", "sip:alice@example.com", "tel:+12015550123", "-1"},
		{"cmp_aor", "", "sip:alice@example.com", "-2"},
	}
	for _, tc := range tests {
		t.Run(tc.fn+" "+tc.a+" "+tc.b, func(t *testing.T) {
			msg := withHeaders("X-A: "+tc.a, "X-B: "+tc.b)
			cond := tc.fn + `("$hdr(X-A)", "$hdr(X-B)")`
			s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"siputils.so\"\nroute {\n"+
				tc.fn+`("$hdr(X-A)", "$hdr(X-B)"); $var(r) = $rc;`+"\n}\n")
			c := s.Run(t, msg)
			if got := c.Vars["r"].String(); got != tc.want {
				t.Errorf("%s = %s, want %s", cond, got, tc.want)
			}
		})
	}
}

func TestURIEdits(t *testing.T) {
	tests := []struct {
		name, route, ruri, result string
		rc                        string
	}{
		{"add_uri_param", `add_uri_param("foo=bar");`, "sip:bob@example.com;user=phone;lr;foo=bar", "", "1"},
		{"add_uri_param flag with variable", `add_uri_param("x$fU");`, "sip:bob@example.com;user=phone;lr;xalice", "", "1"},
		{"add_uri_param to a tel URI", `$ru = "tel:+12015550123"; add_uri_param("npdi");`, "tel:+12015550123;npdi", "", "1"},
		{"add_uri_param empty", `add_uri_param("");`, "sip:bob@example.com;user=phone;lr", "", "1"},
		{"add_uri_param bad", `add_uri_param("a b");`, "sip:bob@example.com;user=phone;lr", "", "-1"},
		{"tel2sip", `tel2sip("tel:+1-(201).555-0123;Phone-Context=X", "gw.example.com", "$var(res)");`, "sip:bob@example.com;user=phone;lr",
			"sip:+12015550123;phone-context=x@gw.example.com;user=phone", "1"},
		{"tel2sip into the R-URI", `$ru = "tel:+12015550123"; tel2sip("$ru", "$fd", "$ru");`, "sip:+12015550123@example.org;user=phone", "", "1"},
		{"tel2sip leaves sip alone", `tel2sip("$ru", "gw.example.com", "$var(res)");`, "sip:bob@example.com;user=phone;lr", "<null>", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"siputils.so\"\nroute {\n"+tc.route+"\n$var(rc) = $rc;\n}\n")
			c := s.Run(t, invite)
			if got := c.Req.Recipient.String(); got != tc.ruri {
				t.Errorf("R-URI %s, want %s", got, tc.ruri)
			}
			if got := c.Vars["rc"].String(); got != tc.rc {
				t.Errorf("$rc %s, want %s", got, tc.rc)
			}
			if tc.result != "" {
				if got := c.Vars["res"].String(); got != tc.result {
					t.Errorf("result %s, want %s", got, tc.result)
				}
			}
		})
	}
}

const optionsReq = `
OPTIONS sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-o1
From: <sip:alice@example.org>;tag=a1
To: <sip:example.com>
Call-ID: o-1@test
CSeq: 1 OPTIONS
Max-Forwards: 70
`

func TestOptionsReply(t *testing.T) {
	tests := []struct {
		name, params, msg string
		reply             bool
		headers           map[string]string
		after             string // $var(after): "<null>" when the script stopped
	}{
		{"defaults", "", optionsReq, true,
			map[string]string{"Accept": "*/*", "Accept-Encoding": "", "Accept-Language": "en", "Supported": ""}, "<null>"},
		{"parameters", `modparam("siputils", "options_accept", "application/sdp")
modparam("siputils", "options_accept_encoding", "gzip")
modparam("siputils", "options_accept_language", "de, en")
modparam("siputils", "options_support", "100rel, timer")`, optionsReq, true,
			map[string]string{"Accept": "application/sdp", "Accept-Encoding": "gzip", "Accept-Language": "de, en", "Supported": "100rel, timer"}, "<null>"},
		{"a user's OPTIONS is not ours", "", strings.Replace(optionsReq, "OPTIONS sip:example.com", "OPTIONS sip:bob@example.com", 1), false, nil, "-1"},
		{"not OPTIONS", "", invite, false, nil, "-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, "loadmodule \"sl.so\"\nloadmodule \"siputils.so\"\n"+tc.params+"\nroute {\noptions_reply();\n$var(after) = $rc;\n}\n")
			c := s.Run(t, tc.msg)
			if got := c.Vars["after"].String(); got != tc.after {
				t.Errorf("$var(after) = %s, want %s", got, tc.after)
			}
			rs := s.Core.Replies()
			if !tc.reply {
				if len(rs) != 0 {
					t.Errorf("got %d replies, want none", len(rs))
				}
				return
			}
			if len(rs) != 1 || rs[0].StatusCode != 200 || rs[0].Reason != "OK" {
				t.Fatalf("replies %v, want one 200 OK", rs)
			}
			for n, v := range tc.headers {
				if h := sipmsg.Header(rs[0], n); h == nil || h.Value() != v {
					t.Errorf("%s: %v, want %q", n, h, v)
				}
			}
		})
	}
}

// In reply routes the tests look at the reply; in failure routes at the
// request.
func TestRouteKinds(t *testing.T) {
	s := siptest.NewScript(t, `loadmodule "sl.so"
loadmodule "siputils.so"
route { exit; }
onreply_route {
	if (is_reply()) { $var(reply) = 1; }
	if (!is_request()) { $var(notreq) = 1; }
	if (has_totag()) { $var(tag) = 1; }
}
failure_route[F] {
	if (is_request()) { $var(req) = 1; }
	if (!is_reply()) { $var(notrep) = 1; }
	if (!has_totag()) { $var(notag) = 1; }
}
`)
	res := siptest.Response(t, `
SIP/2.0 486 Busy Here
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-u1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: u-1@test
CSeq: 1 INVITE
`)
	c := s.Ctx(res, "", "")
	s.Loaded.Script.Run(c, sr.RouteOnReply, "")
	for _, v := range []string{"reply", "notreq", "tag"} {
		if c.Vars[v].String() != "1" {
			t.Errorf("reply route: $var(%s) not set", v)
		}
	}
	c = s.Ctx(siptest.Request(t, invite), "", "")
	c.Resp = res
	c.RouteType = sr.RouteFailure
	s.Loaded.Script.Run(c, sr.RouteFailure, "F")
	for _, v := range []string{"req", "notrep", "notag"} {
		if c.Vars[v].String() != "1" {
			t.Errorf("failure route: $var(%s) not set", v)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"needs sl", "loadmodule \"siputils.so\"\nroute { exit; }", "modules/sl"},
		{"e164 needs a variable", "loadmodule \"sl.so\"\nloadmodule \"siputils.so\"\nroute { is_uri_user_e164(\"sip:+123@x\"); }", "not a pseudo-variable"},
		{"tel2sip needs a writable variable", "loadmodule \"sl.so\"\nloadmodule \"siputils.so\"\nroute { tel2sip(\"$ru\", \"h\", \"$si\"); }", "read-only"},
		{"options_reply only in request routes", "loadmodule \"sl.so\"\nloadmodule \"siputils.so\"\nroute { exit; }\nfailure_route[F] { options_reply(); }", "options_reply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := siptest.LoadErr(t, tc.cfg+"\n")
			if err == nil {
				t.Fatal("config loaded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
