package authdb_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
	"sip-router.org/modules_s/auth_db"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/domain"
	uridb "sip-router.org/modules_s/uri_db"
	"sip-router.org/modules_s/usrloc"
)

// liveConfig is a SER-style configuration (no #! line: max-compat mode,
// SER attributes) on the modules of this tree: REGISTERs are
// authenticated against the credentials table and saved; calls go to the
// registered contacts.
const liveConfig = `
LISTEN
loadmodule "db_sqlite"
loadmodule "sl"
loadmodule "tm"
loadmodule "textops"
loadmodule "xlog"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "auth"
loadmodule "auth_db"

modparam("usrloc|auth_db", "db_url", "DBURL")
modparam("usrloc", "db_mode", 1)
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "plain_password_column", "password")

route {
	if (method == "REGISTER") {
		if (!www_authenticate("example.com", "credentials")) {
			if ($? == -3) {
				sl_reply("400", "Bad Request");
				drop;
			}
			append_to_reply("%$digest_challenge");
			sl_reply("401", "Unauthorized");
			drop;
		}
		append_to_reply("X-UID: %$uid\r\n");
		save_contacts("location");
		drop;
	}
	if (!lookup_contacts("location")) {
		sl_reply("480", "Temporarily Unavailable");
		drop;
	}
	if (!t_relay()) {
		sl_reply_error();
	}
}
`

// TestLiveRegisterAuthCall runs a real server: a REGISTER gets a 401
// whose WWW-Authenticate comes from $digest_challenge; the REGISTER with
// credentials computed from it gets a 200 listing the contact; an INVITE
// to the user reaches that contact, and its answer the caller.
func TestLiveRegisterAuthCall(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "ser.db")
	d := sertest.Create(t, url, authdb.Credentials(), usrloc.Location())
	sertest.Exec(t, d, "INSERT INTO credentials (auth_username, realm, password, flags, uid) VALUES (?, ?, ?, ?, ?)",
		"alice", "example.com", "wonderland", authdb.FlagLoadSER, "u-alice")
	srv := siptest.Start(t, strings.Replace(liveConfig, "DBURL", url, 1))

	alice := siptest.NewPeer(t)
	bob := siptest.NewPeer(t)
	reg := func(cseq int, extra string) string { return aliceRegister("live", cseq, extra) }

	alice.Send(srv.UDP, reg(1, ""))
	res := alice.ExpectReply(3*time.Second, 401)
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		t.Fatalf("401 without WWW-Authenticate:\n%s", res)
	}
	m := regexp.MustCompile(`^Digest realm="example\.com", nonce="([^"]{55})", qop="auth"$`).FindStringSubmatch(h.Value())
	if m == nil {
		t.Fatalf("challenge %q", h.Value())
	}
	nonce := m[1]

	// A wrong password gets another challenge.
	alice.Send(srv.UDP, reg(2, "Authorization: "+creds("alice", "example.com", "rabbit", nonce, "REGISTER", "sip:example.com", "00000001")+"\n"))
	alice.ExpectReply(3*time.Second, 401)

	alice.Send(srv.UDP, reg(3, "Authorization: "+creds("alice", "example.com", "wonderland", nonce, "REGISTER", "sip:example.com", "00000002")+"\n"))
	res = alice.ExpectReply(3*time.Second, 200)
	contact := res.GetHeader("Contact")
	want := "<sip:alice@" + alice.Addr().String() + ">;expires="
	if contact == nil || !strings.HasPrefix(contact.Value(), want) {
		t.Fatalf("200 OK without the binding:\n%s", res)
	}
	if x := res.GetHeader("X-UID"); x == nil || x.Value() != "u-alice" {
		t.Errorf("the uid loaded by auth_db: %v", x)
	}
	// Write-through: the binding is in the table already.
	if n := sertest.Count(t, d, "SELECT COUNT(*) FROM location WHERE uid = ?", "alice"); n != 1 {
		t.Errorf("location rows: %d", n)
	}

	bob.Send(srv.UDP, `
INVITE sip:alice@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-live-inv;rport
From: <sip:bob@example.com>;tag=b1
To: <sip:alice@example.com>
Call-ID: live-inv@test
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:bob@PEER>
Content-Length: 0
`)
	req := alice.ExpectRequest(3*time.Second, "INVITE")
	if got, want := req.Recipient.String(), "sip:alice@"+alice.Addr().String(); got != want {
		t.Errorf("INVITE R-URI %s, want the registered contact %s", got, want)
	}
	alice.Reply(req, 200, "OK", "alice-tag", "Contact: <sip:alice@"+alice.Addr().String()+">")
	ok := bob.ExpectReply(3*time.Second, 200)
	if to := ok.To(); to == nil || !strings.Contains(to.Value(), "alice-tag") {
		t.Errorf("200 reached bob without alice's tag:\n%s", ok)
	}

	// Nobody else is registered.
	bob.Send(srv.UDP, `
INVITE sip:carol@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-live-inv2;rport
From: <sip:bob@example.com>;tag=b2
To: <sip:carol@example.com>
Call-ID: live-inv2@test
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 0
`)
	bob.ExpectReply(3*time.Second, 480)
}

// TestLiveShippedConfig runs the ser flavor's shipped configuration
// (flavors/ser/etc/ser.cfg) on a fresh SQLite database: alice registers
// after a 401, bob calls her after a 407, and the call reaches her
// registered contact. It needs domain and uri_db too.
func TestLiveShippedConfig(t *testing.T) {
	text, err := os.ReadFile("../../flavors/ser/etc/ser.cfg")
	if err != nil {
		t.Skipf("shipped config not available: %v", err)
	}
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "ser.db")
	tables := append(domain.Tables(), uridb.Table(), authdb.Credentials(), usrloc.Location())
	d := sertest.Create(t, url, tables...)
	sertest.Exec(t, d, "INSERT INTO domain (did, domain, flags) VALUES ('d1', 'example.com', 1)")
	const uriFlags = 1 | 8 | 16 // for SER, usable in To and in From
	for _, u := range []struct{ user, pw string }{{"alice", "wonderland"}, {"bob", "builder"}} {
		sertest.Exec(t, d, "INSERT INTO uri (uid, did, username, flags, scheme) VALUES (?, 'd1', ?, ?, 'sip')", "u-"+u.user, u.user, uriFlags)
		sertest.Exec(t, d, "INSERT INTO credentials (auth_username, did, realm, password, flags, uid) VALUES (?, 'd1', 'example.com', ?, ?, ?)",
			u.user, u.pw, authdb.FlagLoadSER, "u-"+u.user)
	}
	cfg := fmt.Sprintf("#!define DBURL %q\n#!define CTLSOCK %q\n%s", url, "unixs:"+filepath.Join(dir, "ctl"), text)
	srv := siptest.Start(t, cfg)

	alice := siptest.NewPeer(t)
	bob := siptest.NewPeer(t)
	reg := func(cseq int, extra string) string { return aliceRegister("ship", cseq, extra) }
	alice.Send(srv.UDP, reg(1, ""))
	nonce := nonceOf(t, alice.ExpectReply(3*time.Second, 401).GetHeader("WWW-Authenticate"))
	alice.Send(srv.UDP, reg(2, "Authorization: "+creds("alice", "example.com", "wonderland", nonce, "REGISTER", "sip:example.com", "00000001")+"\n"))
	res := alice.ExpectReply(3*time.Second, 200)
	if c := res.GetHeader("Contact"); c == nil || !strings.Contains(c.Value(), alice.Addr().String()) {
		t.Fatalf("200 OK without the binding:\n%s", res)
	}
	if n := sertest.Count(t, d, "SELECT COUNT(*) FROM location WHERE uid = ?", "u-alice"); n != 1 {
		t.Errorf("location rows of u-alice: %d", n)
	}

	invite := func(cseq int, extra string) string {
		return fmt.Sprintf(`
INVITE sip:alice@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-ship-inv-%d;rport
From: <sip:bob@example.com>;tag=b1
To: <sip:alice@example.com>
Call-ID: ship-inv@test
CSeq: %d INVITE
Max-Forwards: 70
Contact: <sip:bob@PEER>
%sContent-Length: 0
`, cseq, cseq, extra)
	}
	bob.Send(srv.UDP, invite(1, ""))
	nonce = nonceOf(t, bob.ExpectReply(3*time.Second, 407).GetHeader("Proxy-Authenticate"))
	bob.Send(srv.UDP, invite(2, "Proxy-Authorization: "+creds("bob", "example.com", "builder", nonce, "INVITE", "sip:alice@example.com", "00000001")+"\n"))
	req := alice.ExpectRequest(3*time.Second, "INVITE")
	if got, want := req.Recipient.String(), "sip:alice@"+alice.Addr().String(); got != want {
		t.Errorf("INVITE R-URI %s, want the registered contact %s", got, want)
	}
	alice.Reply(req, 486, "Busy Here", "alice-tag")
	bob.ExpectReply(3*time.Second, 486)
}

// aliceRegister is alice's REGISTER number cseq, its Call-ID and
// branches made from label, with extra header lines.
func aliceRegister(label string, cseq int, extra string) string {
	return fmt.Sprintf(`
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-%s-reg-%d;rport
From: <sip:alice@example.com>;tag=a1
To: <sip:alice@example.com>
Call-ID: %s-reg@test
CSeq: %d REGISTER
Max-Forwards: 70
Contact: <sip:alice@PEER>;expires=300
%s`, label, cseq, label, cseq, extra)
}

// nonceOf reads the nonce of a challenge header.
func nonceOf(t *testing.T, h sip.Header) string {
	t.Helper()
	if h == nil {
		t.Fatal("no challenge header")
	}
	m := regexp.MustCompile(`nonce="([^"]+)"`).FindStringSubmatch(h.Value())
	if m == nil {
		t.Fatalf("no nonce in %q", h.Value())
	}
	return m[1]
}
