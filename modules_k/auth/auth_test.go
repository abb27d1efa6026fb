package auth_test

import (
	"strings"
	"testing"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/tm"
	_ "sip-router.org/modules_k/auth"
	_ "sip-router.org/modules_k/pv"
)

func msg(method, extra string) string {
	return method + ` sip:bob@example.net SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:alice@example.com>;tag=ft
To: <sip:bob@example.net>
Call-ID: cid-1
CSeq: 1 ` + method + `
Max-Forwards: 70
` + extra
}

func TestChallenges(t *testing.T) {
	for _, tc := range []struct {
		name, call, method string
		code               int
		header, want       string
		rc                 int
	}{
		{"www, realm from To", `www_challenge("", "0")`, "REGISTER", 401, "WWW-Authenticate", `Digest realm="example.net", nonce=`, 0},
		{"proxy, realm from From", `proxy_challenge("", "1")`, "INVITE", 407, "Proxy-Authenticate", `Digest realm="example.com", nonce=`, 0},
		{"auth_challenge REGISTER", `auth_challenge("$fd", "1")`, "REGISTER", 401, "WWW-Authenticate", `Digest realm="example.com"`, 0},
		{"auth_challenge INVITE", `auth_challenge("my.realm", "0")`, "INVITE", 407, "Proxy-Authenticate", `Digest realm="my.realm"`, 0},
		{"stale flag", `www_challenge("r", "16")`, "REGISTER", 401, "WWW-Authenticate", `, stale=true, algorithm=MD5`, 0},
		{"flags from a variable", `$var(f) = 1; www_challenge("r", "$var(f)")`, "REGISTER", 401, "WWW-Authenticate", `qop="auth"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, `
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "auth.so"
route {
	`+tc.call+`;
	$var(after) = 1;
}
`)
			c := s.Run(t, msg(tc.method, ""))
			if c.RC != tc.rc {
				t.Errorf("return code %d, want %d", c.RC, tc.rc)
			}
			if v := c.Vars["after"]; !v.IsNull() {
				t.Error("the script went on after the challenge")
			}
			rs := s.Core.Replies()
			if len(rs) != 1 || rs[0].StatusCode != tc.code {
				t.Fatalf("replies %v", rs)
			}
			h := sipmsg.Header(rs[0], tc.header)
			if h == nil || !strings.Contains(h.Value(), tc.want) {
				t.Fatalf("%s: %v, want it to contain %s", tc.header, h, tc.want)
			}
			if len(c.ReplyHeaders) != 0 {
				t.Errorf("challenge left in the reply headers: %v", c.ReplyHeaders)
			}
		})
	}
}

func TestChallengeFailures(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "sl.so"
loadmodule "auth.so"
route {
	if (method == "ACK") { www_challenge("", "0"); exit; }
	if ($hdr(X-Flags) == "4") { www_challenge("", "4"); exit; }
	www_challenge("", "0");
}
`)
	// No host to take the realm from: 500, -1.
	req := siptest.Request(t, msg("REGISTER", ""))
	req.To().Address.Host = ""
	c := s.Ctx(req, "", "")
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	if rs := s.Core.Replies(); len(rs) != 1 || rs[0].StatusCode != 500 {
		t.Fatalf("no realm: replies %v", rs)
	}
	s.Core.Reset()
	req = siptest.Request(t, msg("REGISTER", "X-Flags: 4\n"))
	req.To().Address.Host = ""
	c = s.Ctx(req, "", "")
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	if rs := s.Core.Replies(); len(rs) != 0 {
		t.Fatalf("flag 4: replies %v", rs)
	}
	s.Core.Reset()
	s.Run(t, msg("ACK", ""))
	if rs := s.Core.Replies(); len(rs) != 0 {
		t.Fatalf("ACK challenged: %v", rs)
	}
}

// After t_newtran the challenge goes through the transaction.
func TestChallengeStateful(t *testing.T) {
	srv := siptest.Start(t, `
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "auth.so"
route {
	if (!t_newtran()) { exit; }
	www_challenge("", "0");
}
`)
	p := siptest.NewPeer(t)
	text := strings.Replace(msg("REGISTER", ""), "192.0.2.10:5060", "PEER", 1)
	p.Send(srv.UDP, text)
	first := p.ExpectReply(3e9, 401)
	p.Send(srv.UDP, text) // retransmission: the same reply, the same nonce
	again := p.ExpectReply(3e9, 401)
	if a, b := first.GetHeader("WWW-Authenticate").Value(), again.GetHeader("WWW-Authenticate").Value(); a != b {
		t.Errorf("retransmission got a new challenge:\n%s\n%s", a, b)
	}
}

func TestHasAndConsumeCredentials(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "sl.so"
loadmodule "auth.so"
route {
	$var(has) = 0;
	if (has_credentials("example.com")) { $var(has) = 1; }
	if (!consume_credentials()) { $var(consumed) = "no"; }
}
`)
	creds := `Authorization: Digest username="alice", realm="example.com", nonce="n", uri="sip:x", response="00000000000000000000000000000000"` + "\n"
	for _, tc := range []struct {
		extra string
		has   int
	}{
		{"", 0},
		{creds, 1},
		{strings.Replace(creds, "Authorization", "Proxy-Authorization", 1), 1},
		{strings.Replace(creds, "example.com", "other.org", 1), 0},
		{`Authorization: Digest username="alice", realm="example.com` + "\n", 0},
	} {
		c := s.Run(t, msg("INVITE", tc.extra))
		if c.Vars["has"].I != tc.has {
			t.Errorf("%q: has_credentials %v, want %d", tc.extra, c.Vars["has"], tc.has)
		}
		if c.Vars["consumed"].S != "no" {
			t.Errorf("consume_credentials succeeded without authorization")
		}
	}
}

func TestRPIDFunctions(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "auth.so"
modparam("auth", "rpid_prefix", "\"Caller\" ")
route {
	if ($hdr(X-RPID) != $null) { $avp(s:rpid) = $hdr(X-RPID); }
	$var(e164) = 0;
	if (is_rpid_user_e164()) { $var(e164) = 1; }
	if ($hdr(X-Two) != $null) { append_rpid_hf("<", ">;x=1"); } else { append_rpid_hf(); }
}
`)
	c := s.Run(t, msg("INVITE", "X-RPID: <sip:+4930123@example.com>\n"))
	h := sipmsg.Header(c.Req, "Remote-Party-ID")
	if h == nil || h.Value() != `"Caller" <sip:+4930123@example.com>;party=calling;id-type=subscriber;screen=yes` {
		t.Errorf("Remote-Party-ID %v", h)
	}
	if c.Vars["e164"].I != 1 {
		t.Error("is_rpid_user_e164 false for +4930123")
	}
	c = s.Run(t, msg("INVITE", "X-RPID: sip:4930123@example.com\nX-Two: 1\n"))
	if h := sipmsg.Header(c.Req, "Remote-Party-ID"); h == nil || h.Value() != "<sip:4930123@example.com>;x=1" {
		t.Errorf("Remote-Party-ID with arguments %v", h)
	}
	if c.Vars["e164"].I != 0 {
		t.Error("is_rpid_user_e164 true without +")
	}
	c = s.Run(t, msg("INVITE", ""))
	if sipmsg.Has(c.Req, "Remote-Party-ID") || c.RC != -1 {
		t.Errorf("append_rpid_hf without RPID: rc %d", c.RC)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`loadmodule "auth.so"` + "\nroute { www_challenge(\"\", \"0\"); }", `needs modules/sl`},
		{`loadmodule "sl.so"` + "\n" + `loadmodule "auth.so"` + "\n" + `modparam("auth", "qop", "auth-conf")`, `qop "auth-conf"`},
		{`loadmodule "sl.so"` + "\n" + `loadmodule "auth.so"` + "\nroute { www_challenge(\"\", \"x\"); }", `"x" is not a number`},
		{`loadmodule "sl.so"` + "\n" + `loadmodule "auth.so"` + "\nfailure_route[F] { www_challenge(\"\", \"0\"); }", `not allowed in failure_route`},
		{`loadmodule "sl.so"` + "\n" + `loadmodule "auth.so"` + "\n" + `modparam("auth", "auth_checks_register", 16)`, `above the maximum`},
	} {
		_, err := siptest.LoadErr(t, tc.cfg)
		if err == nil {
			// Dependencies are checked when modules start.
			l := siptest.Load(t, tc.cfg)
			_, err = l.Modules.Order()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\nerror %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
