package authdb_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
)

// registrarConfig is a registrar that authenticates REGISTER statefully
// (t_newtran, so retransmissions get the cached reply) and answers 200.
// startRegistrar starts the registrar of registrarConfig on a fresh
// SQLite subscriber table.
func startRegistrar(t *testing.T, extra, qop string) *siptest.Live {
	t.Helper()
	url := sqliteURL(t)
	fillSubscriber(t, url)
	return siptest.Start(t, registrarConfig(url, extra, qop))
}

func registrarConfig(url, extra, qop string) string {
	driver := "db_sqlite"
	switch {
	case strings.HasPrefix(url, "mysql:"):
		driver = "db_mysql"
	case strings.HasPrefix(url, "postgres:"):
		driver = "db_postgres"
	}
	return fmt.Sprintf(`
LISTEN
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "%s.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "%s")
%s
route {
	if (method == "REGISTER") {
		if (!t_newtran()) { exit; }
		if (!www_authorize("", "subscriber")) {
			www_challenge("", "%s");
			exit;
		}
		t_reply("200", "OK");
		exit;
	}
}
`, driver, url, extra, qop)
}

// register sends a REGISTER (credentials optional) and returns the final
// reply.
func (u *ua) register(t *testing.T, auth string) *sip.Response {
	t.Helper()
	var extra []string
	if auth != "" {
		extra = append(extra, "Authorization: "+auth)
	}
	u.send(u.request("REGISTER", "sip:"+u.domain, extra...))
	return expectFinal(t, u.peer)
}

// login runs the challenge/response round and returns the 200 and the
// credentials used.
func login(t *testing.T, u *ua, username, ha1 string) (*sip.Response, creds) {
	t.Helper()
	res := u.register(t, "")
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials: %d %s", res.StatusCode, res.Reason)
	}
	c := answer(challengeOf(t, res), username, "sip:"+u.domain)
	return u.register(t, c.value("REGISTER", ha1)), c
}

func TestRegisterChallengeThen200(t *testing.T) {
	for _, tc := range []struct {
		name, params, domain, username, ha1 string
	}{
		{"ha1 column", "", "example.com", "alice", digest.HA1("alice", "example.com", "alice-secret")},
		{"plaintext with calculate_ha1", `modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")`, "example.com", "alice", digest.HA1("alice", "example.com", "alice-secret")},
		{"ha1b with user@domain", "", "example.com", "alice@example.com", digest.HA1("alice@example.com", "example.com", "alice-secret")},
		{"use_domain with user@domain", `modparam("auth_db", "use_domain", 1)`, "other.org", "alice@other.org",
			digest.HA1("alice@other.org", "other.org", "other-secret")},
		{"use_domain takes the realm as domain", `modparam("auth_db", "use_domain", 1)
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")`, "other.org", "alice", digest.HA1("alice", "other.org", "other-secret")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRegistrar(t, tc.params, "0")
			u := newUA(t, srv.UDP, "alice", tc.domain)
			res := u.register(t, "")
			if res.StatusCode != 401 || res.Reason != "Unauthorized" {
				t.Fatalf("first REGISTER: %d %s", res.StatusCode, res.Reason)
			}
			ch := challengeOf(t, res)
			if got := strings.Join(ch.names, ","); got != "realm,nonce,algorithm" {
				t.Errorf("challenge parameters %s, want realm,nonce,algorithm", got)
			}
			if ch.params["realm"] != tc.domain || ch.params["algorithm"] != "MD5" {
				t.Errorf("challenge %v", ch.params)
			}
			c := answer(ch, tc.username, "sip:"+tc.domain)
			if res := u.register(t, c.value("REGISTER", tc.ha1)); res.StatusCode != 200 {
				t.Fatalf("answered REGISTER: %d %s", res.StatusCode, res.Reason)
			}
		})
	}
}

// A wrong password and an unknown user get the same answer: status,
// reason, header names, challenge parameters, realm, algorithm, qop,
// nonce length and alphabet.
func TestNoUserEnumeration(t *testing.T) {
	for _, qop := range []string{"0", "1"} {
		t.Run("qop="+qop, func(t *testing.T) {
			srv := startRegistrar(t, "", qop)
			probe := func(user, password string, creds bool) *sip.Response {
				u := newUA(t, srv.UDP, user, "example.com")
				res := u.register(t, "")
				if !creds {
					return res
				}
				c := answer(challengeOf(t, res), user, "sip:example.com")
				return u.register(t, c.value("REGISTER", digest.HA1(user, "example.com", password)))
			}
			for _, creds := range []bool{false, true} {
				known := probe("alice", "wrong-password", creds)
				unknown := probe("zz-nouser", "wrong-password", creds)
				if known.StatusCode != 401 || unknown.StatusCode != 401 {
					t.Fatalf("credentials=%v: %d vs %d", creds, known.StatusCode, unknown.StatusCode)
				}
				if known.Reason != unknown.Reason {
					t.Errorf("reasons %q vs %q", known.Reason, unknown.Reason)
				}
				if a, b := headerNames(known), headerNames(unknown); !slices.Equal(a, b) {
					t.Errorf("header names differ:\n%v\n%v", a, b)
				}
				ck, cu := challengeOf(t, known), challengeOf(t, unknown)
				if !slices.Equal(ck.names, cu.names) {
					t.Errorf("challenge parameters %v vs %v", ck.names, cu.names)
				}
				for _, p := range []string{"realm", "algorithm", "qop", "stale"} {
					if ck.params[p] != cu.params[p] {
						t.Errorf("%s: %q vs %q", p, ck.params[p], cu.params[p])
					}
				}
				nonceRE := regexp.MustCompile(`^[A-Za-z0-9_-]{55}$`)
				for _, n := range []string{ck.params["nonce"], cu.params["nonce"]} {
					if !nonceRE.MatchString(n) {
						t.Errorf("nonce %q is not 55 base64url characters", n)
					}
				}
				if qop == "1" && ck.params["qop"] != "auth" {
					t.Errorf("qop %q, want auth", ck.params["qop"])
				}
			}
			// Passwords and HA1s never reach the log, at any level (the
			// test server logs at debug).
			log := srv.Log()
			for _, secret := range []string{"alice-secret", "wrong-password",
				digest.HA1("alice", "example.com", "alice-secret"), digest.HA1("alice", "example.com", "wrong-password"),
				digest.HA1("zz-nouser", "example.com", "wrong-password")} {
				if strings.Contains(log, secret) {
					t.Errorf("the log holds %q", secret)
				}
			}
		})
	}
}

// A captured Authorization sent again in a new transaction is refused;
// a retransmission of the same transaction gets the cached 200.
func TestReplayRefusedRetransmissionAnswered(t *testing.T) {
	srv := startRegistrar(t, "", "0")
	u := newUA(t, srv.UDP, "alice", "example.com")
	ha1 := digest.HA1("alice", "example.com", "alice-secret")
	res := u.register(t, "")
	c := answer(challengeOf(t, res), "alice", "sip:example.com")
	auth := c.value("REGISTER", ha1)
	u.cseq++
	branch := fmt.Sprintf("z9hG4bK-%d", seq.Add(1))
	msg := u.requestCSeq("REGISTER", "sip:example.com", branch, u.cseq, "Authorization: "+auth)
	u.send(msg)
	if res := expectFinal(t, u.peer); res.StatusCode != 200 {
		t.Fatalf("first use: %d", res.StatusCode)
	}
	// Retransmission: same branch, same CSeq.
	u.send(msg)
	if res := expectFinal(t, u.peer); res.StatusCode != 200 {
		t.Fatalf("retransmission: %d, want the cached 200", res.StatusCode)
	}
	// Replay: new branch, next CSeq, same credentials.
	expectStale(t, "replay", u.register(t, auth))
}

// expectStale checks that res, the answer to what, is a 401 whose
// challenge says stale=true.
func expectStale(t *testing.T, what string, res *sip.Response) {
	t.Helper()
	if res.StatusCode != 401 {
		t.Fatalf("%s: %d, want 401", what, res.StatusCode)
	}
	if ch := challengeOf(t, res); ch.params["stale"] != "true" {
		t.Errorf("%s: challenge %v, want stale=true", what, ch.params)
	}
}

// With qop=auth the nonce count must grow: a count used already is
// refused, a higher one accepted.
func TestNonceCount(t *testing.T) {
	srv := startRegistrar(t, "", "1")
	u := newUA(t, srv.UDP, "alice", "example.com")
	ha1 := digest.HA1("alice", "example.com", "alice-secret")
	res := u.register(t, "")
	c := answer(challengeOf(t, res), "alice", "sip:example.com")
	if c.qop != "auth" {
		t.Fatalf("challenge offers no qop=auth")
	}
	for _, step := range []struct {
		nc   string
		want int
	}{{"00000001", 200}, {"00000001", 401}, {"00000003", 200}, {"00000002", 401}, {"00000004", 200}} {
		c.nc = step.nc
		if res := u.register(t, c.value("REGISTER", ha1)); res.StatusCode != step.want {
			t.Fatalf("nc=%s: %d, want %d", step.nc, res.StatusCode, step.want)
		}
	}
}

// An expired nonce gets a new challenge with stale=true.
func TestExpiredNonceIsStale(t *testing.T) {
	srv := startRegistrar(t, `modparam("auth", "nonce_expire", 1)`, "0")
	u := newUA(t, srv.UDP, "alice", "example.com")
	res := u.register(t, "")
	issued := time.Now()
	c := answer(challengeOf(t, res), "alice", "sip:example.com")
	// The nonce carries whole seconds: it is expired once the clock is
	// more than a second past its issue second.
	time.Sleep(time.Until(issued.Truncate(time.Second).Add(2100 * time.Millisecond)))
	expectStale(t, "expired nonce", u.register(t, c.value("REGISTER", digest.HA1("alice", "example.com", "alice-secret"))))
}

// A nonce that was edited, or made up, is refused without stale.
func TestForgedNonce(t *testing.T) {
	srv := startRegistrar(t, "", "0")
	ha1 := digest.HA1("alice", "example.com", "alice-secret")
	for _, tc := range []struct {
		name string
		edit func(string) string
	}{
		{"one character changed", func(n string) string {
			b := []byte(n)
			if b[3] == 'A' {
				b[3] = 'B'
			} else {
				b[3] = 'A'
			}
			return string(b)
		}},
		{"expiry pushed", func(n string) string { return "AAAAAAAA" + n[8:] }},
		{"made up", func(string) string { return strings.Repeat("x", 55) }},
		{"truncated", func(n string) string { return n[:40] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUA(t, srv.UDP, "alice", "example.com")
			res := u.register(t, "")
			c := answer(challengeOf(t, res), "alice", "sip:example.com")
			c.nonce = tc.edit(c.nonce)
			res = u.register(t, c.value("REGISTER", ha1))
			if res.StatusCode != 401 {
				t.Fatalf("forged nonce: %d", res.StatusCode)
			}
			if ch := challengeOf(t, res); ch.params["stale"] != "" {
				t.Errorf("forged nonce challenged with stale=%s", ch.params["stale"])
			}
		})
	}
}

// load_credentials puts columns into AVPs.
func TestLoadCredentials(t *testing.T) {
	url := sqliteURL(t)
	fillSubscriber(t, url)
	for _, tc := range []struct {
		name, param, pv, want string
	}{
		{"default rpid", "", "$avp(s:rpid)", "<sip:+4930123456@example.com>"},
		{"numbered AVP", `modparam("auth_db", "load_credentials", "$avp(i:13)=email_address")`, "$avp(i:13)", "alice@example.com"},
		{"two columns", `modparam("auth_db", "load_credentials", "rpid;$avp(s:mail)=email_address")`, "$avp(s:mail)", "alice@example.com"},
		{"nothing", `modparam("auth_db", "load_credentials", "")`, "$avp(s:rpid)", "<null>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := siptest.Start(t, fmt.Sprintf(`
loadmodule "sl.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "%s")
%s
route {
	if (!www_authorize("", "subscriber")) {
		www_challenge("", "0");
		exit;
	}
	sl_send_reply("200", "got %s");
}
`, url, tc.param, tc.pv))
			u := newUA(t, srv.UDP, "alice", "example.com")
			res, _ := login(t, u, "alice", digest.HA1("alice", "example.com", "alice-secret"))
			if res.StatusCode != 200 || res.Reason != "got "+tc.want {
				t.Errorf("reply %d %q, want 200 %q", res.StatusCode, res.Reason, "got "+tc.want)
			}
		})
	}
}

// proxy_authorize challenges an INVITE with 407 for the From domain;
// consume_credentials removes the credentials from the forwarded copy.
func TestProxyAuthorizeAndConsume(t *testing.T) {
	url := sqliteURL(t)
	fillSubscriber(t, url)
	uas := siptest.NewPeer(t)
	srv := siptest.Start(t, fmt.Sprintf(`
LISTEN
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "%s")
route {
	if (!proxy_authorize("", "subscriber")) {
		proxy_challenge("", "1");
		exit;
	}
	if ($au != $fU) {
		sl_send_reply("403", "Forbidden auth ID");
		exit;
	}
	consume_credentials();
	$du = "sip:%s";
	t_relay();
}
`, url, uas.Addr()))
	u := newUA(t, srv.UDP, "alice", "example.com")
	u.send(u.request("INVITE", "sip:carol@example.net"))
	res := expectFinal(t, u.peer)
	if res.StatusCode != 407 || res.Reason != "Proxy Authentication Required" {
		t.Fatalf("INVITE without credentials: %d %s", res.StatusCode, res.Reason)
	}
	ch := challengeOf(t, res)
	if ch.params["realm"] != "example.com" || ch.params["qop"] != "auth" {
		t.Fatalf("challenge %v", ch.params)
	}
	c := answer(ch, "alice", "sip:carol@example.net")
	other := `Proxy-Authorization: Digest username="mallory", realm="elsewhere.org", nonce="x", uri="sip:carol@example.net", response="00000000000000000000000000000000"`
	u.send(u.request("INVITE", "sip:carol@example.net",
		other,
		"Proxy-Authorization: "+c.value("INVITE", digest.HA1("alice", "example.com", "alice-secret"))))
	fwd := expectRequestOf(t, uas, "INVITE")
	hs := sipmsg.Headers(fwd, "Proxy-Authorization")
	if len(hs) != 1 || !strings.Contains(hs[0].Value(), "mallory") {
		t.Fatalf("forwarded INVITE keeps %d Proxy-Authorization headers, want only the other realm's:\n%s", len(hs), fwd)
	}
	uas.Reply(fwd, 486, "Busy Here", "uas")
	if res := expectFinal(t, u.peer); res.StatusCode != 486 {
		t.Fatalf("final %d", res.StatusCode)
	}
}

func expectRequestOf(t *testing.T, p *siptest.Peer, method string) *sip.Request {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no %s", method)
		}
		m, _, err := p.Recv(left)
		if err != nil {
			t.Fatalf("waiting for %s: %v", method, err)
		}
		if r, ok := m.(*sip.Request); ok && string(r.Method) == method {
			return r
		}
	}
}

// auth_check (Kamailio 5) authenticates REGISTER with Authorization and
// other requests with Proxy-Authorization; flag 1 checks the identity.
func TestAuthCheck(t *testing.T) {
	url := sqliteURL(t)
	fillSubscriber(t, url)
	srv := siptest.Start(t, fmt.Sprintf(`
loadmodule "sl.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "%s")
route {
	auth_check("$fd", "subscriber", "1");
	$var(rc) = $rc;
	if ($var(rc) == -8) { sl_send_reply("403", "Forbidden auth ID"); exit; }
	if ($var(rc) < 0) { auth_challenge("$fd", "0"); exit; }
	sl_send_reply("200", "OK");
}
`, url))
	ha1 := digest.HA1("alice", "example.com", "alice-secret")
	for _, tc := range []struct {
		name, method, fromUser, toUser string
		want                           int
	}{
		{"REGISTER own AOR", "REGISTER", "alice", "alice", 200},
		{"REGISTER another AOR", "REGISTER", "alice", "bob", 403},
		{"REGISTER from another user", "REGISTER", "bob", "alice", 403},
		{"INVITE as self", "INVITE", "alice", "carol", 200},
		{"INVITE as another user", "INVITE", "bob", "carol", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUA(t, srv.UDP, tc.fromUser, "example.com")
			text := func(extra ...string) string {
				s := u.request(tc.method, "sip:example.com", extra...)
				return strings.Replace(s, "To: <sip:"+tc.fromUser+"@example.com>", "To: <sip:"+tc.toUser+"@example.com>", 1)
			}
			u.send(text())
			res := expectFinal(t, u.peer)
			wantCode, hdr := 401, "Authorization"
			if tc.method != "REGISTER" {
				wantCode, hdr = 407, "Proxy-Authorization"
			}
			if res.StatusCode != wantCode {
				t.Fatalf("without credentials: %d", res.StatusCode)
			}
			ch := challengeOf(t, res)
			if ch.params["realm"] != "example.com" {
				t.Errorf("realm %q", ch.params["realm"])
			}
			c := answer(ch, "alice", "sip:example.com")
			u.send(text(hdr + ": " + c.value(tc.method, ha1)))
			if res := expectFinal(t, u.peer); res.StatusCode != tc.want {
				t.Errorf("with alice's credentials: %d %s, want %d", res.StatusCode, res.Reason, tc.want)
			}
		})
	}
}
