package authdb_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/digest"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/textops"
	"sip-router.org/modules_s/auth_db"
	"sip-router.org/modules_s/avp/sertest"
	_ "sip-router.org/modules_s/xlog"
)

// Flags of usable credentials: for SER.
const forSER = authdb.FlagLoadSER

// credDB creates a database with the credentials table and rows in it.
func credDB(t *testing.T, b sertest.Backend) (string, *db.DB) {
	t.Helper()
	url := b.NewDB(t)
	d := sertest.Create(t, url, authdb.Credentials())
	for _, r := range []struct {
		user, did, realm, pw string
		flags                int
		uid                  string
	}{
		{"alice", "_default", "example.com", "secret", forSER, "u-alice"},
		{"bob", "_default", "example.com", "bobpw", forSER | authdb.FlagDisabled, "u-bob"},
		{"carol", "_default", "example.com", "carolpw", 0, "u-carol"},
		{"dave", "_default", "example.com", "dave-1", forSER, "u-dave-1"},
		{"dave", "_default", "example.com", "dave-2", forSER, "u-dave-2"},
		{"erin", "d-other", "example.com", "erin-other", forSER, "u-erin-other"},
		{"erin", "d-main", "example.com", "erin-main", forSER, "u-erin-main"},
		{"frank", "_default", "other.example", "frankpw", forSER, "u-frank"},
	} {
		sertest.Exec(t, d, "INSERT INTO credentials (auth_username, did, realm, password, flags, ha1, ha1b, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			r.user, r.did, r.realm, r.pw, r.flags, digest.HA1(r.user, r.realm, r.pw),
			digest.HA1(r.user+"@"+r.realm, r.realm, r.pw), r.uid)
	}
	return url, d
}

// authScript loads a config that authenticates every request with the
// given call and keeps its code in $arc.
func authScript(t *testing.T, b sertest.Backend, url, params, call string) *siptest.Script {
	t.Helper()
	return siptest.NewScript(t, fmt.Sprintf(`
loadmodule %q
loadmodule "sl"
loadmodule "textops"
loadmodule "xlog"
loadmodule "auth"
loadmodule "auth_db"
modparam("auth_db", "db_url", %q)
%s
route {
	$arc = "none";
	%s;
	$arc = $?;
}
`, b.Module, url, params, call))
}

func rc(c *sr.Ctx) string {
	v, _ := c.AVPs.Get(sr.AVPName{S: "arc"}, 0, 0)
	return v.Text()
}

// challenge returns the newest challenge line of a message and its nonce.
func challenge(t *testing.T, c *sr.Ctx) (line, nonce string) {
	t.Helper()
	v, ok := c.AVPs.Get(sr.AVPName{S: "digest_challenge"}, 0, 0)
	if !ok {
		t.Fatal("no $digest_challenge")
	}
	m := regexp.MustCompile(`nonce="([^"]+)"`).FindStringSubmatch(v.Text())
	if m == nil {
		t.Fatalf("no nonce in %q", v.Text())
	}
	return v.Text(), m[1]
}

// creds builds a credentials header value answering nonce.
func creds(user, realm, pw, nonce, method, uri, nc string) string {
	cr := &digest.Credentials{Username: user, Realm: realm, Nonce: nonce, URI: uri, QOP: "auth", NC: nc, CNonce: "0a4f113b"}
	resp := cr.ExpectedResponse(method, nil, digest.HA1(user, realm, pw))
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", qop=auth, nc=%s, cnonce="0a4f113b"`,
		user, realm, nonce, uri, resp, nc)
}

func registerMsg(to string, extra ...string) string {
	return fmt.Sprintf(`REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <%s>;tag=ft
To: <%s>
Call-ID: auth-call
CSeq: 1 REGISTER
Contact: <sip:ua@192.0.2.10>
%s
`, to, to, strings.Join(extra, "\n"))
}

func inviteMsg(from string, extra ...string) string {
	return fmt.Sprintf(`INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-2
From: <%s>;tag=ft
To: <sip:bob@example.com>
Call-ID: auth-call-2
CSeq: 1 INVITE
%s
`, from, strings.Join(extra, "\n"))
}

// TestDigestExchange runs the whole exchange: a challenge, credentials
// computed with core/digest, and every outcome.
func TestDigestExchange(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url, _ := credDB(t, b)
		s := authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)`, `www_authenticate("example.com", "credentials")`)
		const to = "sip:alice@example.com"

		// No credentials: -1 and a challenge.
		c := s.Run(t, registerMsg(to))
		if rc(c) != "-1" {
			t.Fatalf("no credentials: %s", rc(c))
		}
		line, nonce := challenge(t, c)
		if !regexp.MustCompile(`^WWW-Authenticate: Digest realm="example\.com", nonce="[A-Za-z0-9_-]{55}", qop="auth"\r\n$`).MatchString(line) {
			t.Errorf("challenge %q", line)
		}

		// The right password: 1, the uid loaded, the credentials marked.
		c = s.Run(t, registerMsg(to, "Authorization: "+creds("alice", "example.com", "secret", nonce, "REGISTER", "sip:example.com", "00000001")))
		if rc(c) != "1" {
			t.Fatalf("right password: %s", rc(c))
		}
		if v, ok := c.AVPs.Get(sr.AVPName{S: "uid"}, sr.AVPTrackFrom|sr.AVPClassUser, 0); !ok || v.Text() != "u-alice" {
			t.Errorf("$fu.uid = %v %v", v, ok)
		}
		if au := digest.GetAuthorized(c); au == nil || au.User != "alice" || au.Realm != "example.com" {
			t.Errorf("authorized %+v", au)
		}
		if _, ok := c.AVPs.Get(sr.AVPName{S: "digest_challenge"}, 0, 0); ok {
			t.Error("a challenge after a success")
		}

		// The same credentials again (a replay): -1 with stale=true.
		c = s.Run(t, registerMsg(to, "Authorization: "+creds("alice", "example.com", "secret", nonce, "REGISTER", "sip:example.com", "00000001")))
		if line, _ := challenge(t, c); rc(c) != "-1" || !strings.HasSuffix(line, ", stale=true\r\n") {
			t.Errorf("replay: %s %q", rc(c), line)
		}
		// A higher nonce count of the same nonce is good.
		c = s.Run(t, registerMsg(to, "Authorization: "+creds("alice", "example.com", "secret", nonce, "REGISTER", "sip:example.com", "00000002")))
		if rc(c) != "1" {
			t.Errorf("nc 2: %s", rc(c))
		}

		for _, tc := range []struct {
			name, user, pw, want string
			stale                bool
		}{
			{"wrong password", "alice", "guess", "-1", false},
			{"unknown user", "mallory", "guess", "-1", false},
			{"disabled credentials", "bob", "bobpw", "-1", false},
			{"credentials not for SER", "carol", "carolpw", "-1", false},
			{"first of two rows", "dave", "dave-1", "1", false},
			{"second of two rows without check_all_ha1", "dave", "dave-2", "-1", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := s.Run(t, registerMsg(to))
				_, nonce := challenge(t, c)
				c = s.Run(t, registerMsg(to, "Authorization: "+creds(tc.user, "example.com", tc.pw, nonce, "REGISTER", "sip:example.com", "00000001")))
				if rc(c) != tc.want {
					t.Errorf("code %s, want %s", rc(c), tc.want)
				}
				if tc.want == "-1" {
					if line, _ := challenge(t, c); strings.Contains(line, "stale") {
						t.Errorf("challenge %q", line)
					}
				}
			})
		}

		// Malformed credentials: -3.
		c = s.Run(t, registerMsg(to, `Authorization: Digest username="alice", realm="example.com", uri="sip:example.com"`))
		if rc(c) != "-3" {
			t.Errorf("malformed: %s", rc(c))
		}
		// A nonce this server did not make: -1 without stale.
		c = s.Run(t, registerMsg(to, "Authorization: "+creds("alice", "example.com", "secret", strings.Repeat("x", 55), "REGISTER", "sip:example.com", "00000001")))
		if line, _ := challenge(t, c); rc(c) != "-1" || strings.Contains(line, "stale") {
			t.Errorf("foreign nonce: %s %q", rc(c), line)
		}
	})
}

func TestHA1Columns(t *testing.T) {
	b := sertest.Backends[0]
	url, _ := credDB(t, b)
	s := authScript(t, b, url, "", `www_authenticate("example.com", "credentials")`)
	for _, tc := range []struct{ user, want string }{
		{"alice", "1"},             // ha1
		{"alice@example.com", "1"}, // ha1b
	} {
		c := s.Run(t, registerMsg("sip:alice@example.com"))
		_, nonce := challenge(t, c)
		c = s.Run(t, registerMsg("sip:alice@example.com", "Authorization: "+creds(tc.user, "example.com", "secret", nonce, "REGISTER", "sip:example.com", "00000001")))
		if rc(c) != tc.want {
			t.Errorf("%s: %s", tc.user, rc(c))
		}
	}
}

func TestCheckAllHA1(t *testing.T) {
	b := sertest.Backends[0]
	url, _ := credDB(t, b)
	s := authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "check_all_ha1", 1)
modparam("auth_db", "load_credentials", "uid|realm")`, `www_authenticate("example.com", "credentials")`)
	c := s.Run(t, registerMsg("sip:dave@example.com"))
	_, nonce := challenge(t, c)
	c = s.Run(t, registerMsg("sip:dave@example.com", "Authorization: "+creds("dave", "example.com", "dave-2", nonce, "REGISTER", "sip:example.com", "00000001")))
	if rc(c) != "1" {
		t.Fatalf("second row: %s", rc(c))
	}
	uid, _ := c.AVPs.Get(sr.AVPName{S: "uid"}, sr.AVPTrackFrom|sr.AVPClassUser, 0)
	realm, _ := c.AVPs.Get(sr.AVPName{S: "realm"}, sr.AVPTrackFrom|sr.AVPClassUser, 0)
	if uid.Text() != "u-dave-2" || realm.Text() != "example.com" {
		t.Errorf("$uid %v $realm %v", uid, realm)
	}
}

func TestUseDID(t *testing.T) {
	b := sertest.Backends[0]
	url, _ := credDB(t, b)
	s := authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "use_did", 1)`, `$t.did = "d-main"; www_authenticate("example.com", "credentials")`)
	for _, tc := range []struct{ pw, want string }{{"erin-main", "1"}, {"erin-other", "-1"}} {
		c := s.Run(t, registerMsg("sip:erin@example.com"))
		_, nonce := challenge(t, c)
		c = s.Run(t, registerMsg("sip:erin@example.com", "Authorization: "+creds("erin", "example.com", tc.pw, nonce, "REGISTER", "sip:example.com", "00000001")))
		if rc(c) != tc.want {
			t.Errorf("password %s: %s", tc.pw, rc(c))
		}
	}
	// Without a did, _default: alice's row.
	s = authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "use_did", 1)`, `www_authenticate("example.com", "credentials")`)
	c := s.Run(t, registerMsg("sip:alice@example.com"))
	_, nonce := challenge(t, c)
	c = s.Run(t, registerMsg("sip:alice@example.com", "Authorization: "+creds("alice", "example.com", "secret", nonce, "REGISTER", "sip:example.com", "00000001")))
	if rc(c) != "1" {
		t.Errorf("_default did: %s", rc(c))
	}
}

// TestRealm checks the realm argument: an attribute, and the To/From host
// when it is empty or unset.
func TestRealm(t *testing.T) {
	b := sertest.Backends[0]
	url, _ := credDB(t, b)
	for _, tc := range []struct {
		name, call, msg, want string
	}{
		{"attribute", `$fd.digest_realm = "other.example"; proxy_authenticate("$fd.digest_realm", "credentials")`,
			inviteMsg("sip:frank@example.com"), "Proxy-Authenticate: Digest realm=\"other.example\""},
		{"unset attribute: From host", `proxy_authenticate("$fd.digest_realm", "credentials")`,
			inviteMsg("sip:frank@from.example"), "Proxy-Authenticate: Digest realm=\"from.example\""},
		{"empty: To host of a REGISTER", `www_authenticate("", "credentials")`,
			registerMsg("sip:alice@to.example"), "WWW-Authenticate: Digest realm=\"to.example\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)`, tc.call)
			c := s.Run(t, tc.msg)
			if line, _ := challenge(t, c); rc(c) != "-1" || !strings.HasPrefix(line, tc.want) {
				t.Errorf("%s %q", rc(c), line)
			}
		})
	}
	// Authenticating with the attribute's realm.
	s := authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)`,
		`$fd.digest_realm = "other.example"; proxy_authenticate("$fd.digest_realm", "credentials")`)
	c := s.Run(t, inviteMsg("sip:frank@example.com"))
	_, nonce := challenge(t, c)
	c = s.Run(t, inviteMsg("sip:frank@example.com", "Proxy-Authorization: "+creds("frank", "other.example", "frankpw", nonce, "INVITE", "sip:bob@example.com", "00000001")))
	if rc(c) != "1" {
		t.Errorf("proxy_authenticate: %s", rc(c))
	}
}

func TestAckCancel(t *testing.T) {
	b := sertest.Backends[0]
	url, _ := credDB(t, b)
	s := authScript(t, b, url, "", `proxy_authenticate("example.com", "credentials")`)
	for _, m := range []string{"ACK", "CANCEL"} {
		msg := strings.NewReplacer("INVITE sip:", m+" sip:", "1 INVITE", "1 "+m).Replace(inviteMsg("sip:alice@example.com"))
		if c := s.Run(t, msg); rc(c) != "1" {
			t.Errorf("%s: %s", m, rc(c))
		}
	}
}

func TestConsumeCredentials(t *testing.T) {
	b := sertest.Backends[0]
	url, _ := credDB(t, b)
	s := authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)`,
		`if (proxy_authenticate("example.com", "credentials")) { consume_credentials(); }`)
	c := s.Run(t, inviteMsg("sip:alice@example.com"))
	_, nonce := challenge(t, c)
	c = s.Run(t, inviteMsg("sip:alice@example.com", "Proxy-Authorization: "+creds("alice", "example.com", "secret", nonce, "INVITE", "sip:bob@example.com", "00000001")))
	if len(c.Req.GetHeaders("Proxy-Authorization")) != 0 {
		t.Error("the credentials were not consumed")
	}
}

func TestDatabaseErrors(t *testing.T) {
	b := sertest.Backends[0]
	url, d := credDB(t, b)
	s := authScript(t, b, url, `modparam("auth_db", "calculate_ha1", 1)`, `www_authenticate("example.com", "credentials")`)
	c := s.Run(t, registerMsg("sip:alice@example.com"))
	_, nonce := challenge(t, c)
	sertest.Exec(t, d, "DROP TABLE credentials")
	c = s.Run(t, registerMsg("sip:alice@example.com", "Authorization: "+creds("alice", "example.com", "secret", nonce, "REGISTER", "sip:example.com", "00000001")))
	if rc(c) != "-2" {
		t.Errorf("without the table: %s", rc(c))
	}
}

func TestInitErrors(t *testing.T) {
	b := sertest.Backends[0]
	url := b.NewDB(t)
	d := sertest.Create(t, url, authdb.Credentials())
	if err := db.SetVersion(bgctx(t), d, "credentials", 6); err != nil {
		t.Fatal(err)
	}
	l := siptest.Load(t, fmt.Sprintf(`
loadmodule "db_sqlite"
loadmodule "auth"
loadmodule "auth_db"
modparam("auth_db", "db_url", %q)
route { www_authenticate("example.com", "credentials"); }
`, url))
	err := l.Modules.Init(initEnv())
	l.Modules.Destroy()
	if err == nil || !strings.Contains(err.Error(), "table credentials has version 6, expected 7") {
		t.Errorf("init: %v", err)
	}
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("auth_db", "load_credentials", "uid|bad col")`, `"bad col" is not a column name`},
		{`modparam("auth_db", "password_column", "x;y")`, `password_column "x;y" is not a column name`},
		{`modparam("auth", "qop", "auth-conf")`, `qop "auth-conf"`},
		{`modparam("auth", "challenge_attr", "digest")`, `an attribute name starting with $ is expected`},
	} {
		_, err := siptest.LoadErr(t, fmt.Sprintf("loadmodule \"db_sqlite\"\nloadmodule \"auth\"\nloadmodule \"auth_db\"\nmodparam(\"auth_db\", \"db_url\", %q)\n%s\nroute { drop; }\n", url, tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.cfg, err)
		}
	}
}
