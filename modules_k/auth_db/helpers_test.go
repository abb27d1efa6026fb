package authdb_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_sqlite"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/tm"
	_ "sip-router.org/modules_k/auth"
	authdb "sip-router.org/modules_k/auth_db"
)

const wait = 3 * time.Second

// The accounts of the test database. Realm and domain are example.com.
type account struct {
	user, domain, password, rpid string
}

var accounts = []account{
	{"alice", "example.com", "alice-secret", "<sip:+4930123456@example.com>"},
	{"bob", "example.com", "bob-secret", ""},
	{"alice", "other.org", "other-secret", ""},
}

// sqliteURL returns the URL of a fresh SQLite file in the test's
// temporary directory.
func sqliteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "auth.db")
}

// fillSubscriber creates the subscriber table (version 6) with the test
// accounts, as kamctl would: plaintext password, ha1 and ha1b.
func fillSubscriber(t testing.TB, url string) {
	t.Helper()
	d := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := db.CreateTables(ctx, d, []*schema.Table{authdb.Subscriber()}); err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		var rpid any
		if a.rpid != "" {
			rpid = a.rpid
		}
		_, err := d.Exec(ctx, "INSERT INTO subscriber (username, domain, password, email_address, ha1, ha1b, rpid) VALUES (?, ?, ?, ?, ?, ?, ?)",
			a.user, a.domain, a.password, a.user+"@"+a.domain,
			digest.HA1(a.user, a.domain, a.password), digest.HA1(a.user+"@"+a.domain, a.domain, a.password), rpid)
		if err != nil {
			t.Fatal(err)
		}
	}
}

var seq atomic.Int64

// ua builds requests of one client and answers challenges.
type ua struct {
	peer    *siptest.Peer
	srv     netip.AddrPort
	user    string // From/To user
	domain  string
	callID  string
	fromTag string
	cseq    int
}

func newUA(t *testing.T, srv netip.AddrPort, user, domain string) *ua {
	n := seq.Add(1)
	return &ua{
		peer: siptest.NewPeer(t), srv: srv, user: user, domain: domain,
		callID: fmt.Sprintf("c%d-%d@test", n, time.Now().UnixNano()), fromTag: fmt.Sprintf("ft%d", n),
	}
}

// request writes a request with a new branch and the next CSeq.
func (u *ua) request(method, ruri string, extra ...string) string {
	u.cseq++
	return u.requestCSeq(method, ruri, fmt.Sprintf("z9hG4bK-%d", seq.Add(1)), u.cseq, extra...)
}

func (u *ua) requestCSeq(method, ruri, branch string, cseq int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\n", u.peer.Addr(), branch)
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=%s\n", u.user, u.domain, u.fromTag)
	if method == "REGISTER" {
		fmt.Fprintf(&b, "To: <sip:%s@%s>\n", u.user, u.domain)
	} else {
		b.WriteString("To: <sip:carol@example.net>\n")
	}
	fmt.Fprintf(&b, "Call-ID: %s\n", u.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\n", cseq, method)
	b.WriteString("Max-Forwards: 70\n")
	fmt.Fprintf(&b, "Contact: <sip:%s@%s>\n", u.user, u.peer.Addr())
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

func (u *ua) send(text string) { u.peer.Send(u.srv, text) }

// challenge is a parsed WWW-/Proxy-Authenticate value.
type challenge struct {
	params map[string]string
	names  []string // in order
	quoted map[string]bool
}

var challengeParam = regexp.MustCompile(`\s*([A-Za-z-]+)=("([^"]*)"|[^,\s]*)\s*(,|$)`)

func parseChallenge(t testing.TB, v string) *challenge {
	t.Helper()
	rest, ok := strings.CutPrefix(v, "Digest ")
	if !ok {
		t.Fatalf("challenge %q is not Digest", v)
	}
	ch := &challenge{params: map[string]string{}, quoted: map[string]bool{}}
	for _, m := range challengeParam.FindAllStringSubmatch(rest, -1) {
		val := m[2]
		if strings.HasPrefix(val, `"`) {
			val = m[3]
			ch.quoted[m[1]] = true
		}
		ch.params[m[1]] = val
		ch.names = append(ch.names, m[1])
	}
	return ch
}

// challengeOf returns the challenge of a 401 or 407.
func challengeOf(t *testing.T, res *sip.Response) *challenge {
	t.Helper()
	name := "WWW-Authenticate"
	if res.StatusCode == 407 {
		name = "Proxy-Authenticate"
	}
	hs := res.GetHeaders(name)
	if len(hs) != 1 {
		t.Fatalf("%d reply has %d %s headers:\n%s", res.StatusCode, len(hs), name, res)
	}
	return parseChallenge(t, hs[0].Value())
}

// creds are the parameters of an answer to a challenge.
type creds struct {
	username, realm, nonce, uri, qop, nc, cnonce string
}

// authorization writes the credentials header value for a request with
// the given HA1.
func (c creds) value(method, ha1 string) string {
	var ha2 = digest.MD5Hex(method, c.uri)
	var resp string
	if c.qop != "" {
		resp = digest.MD5Hex(ha1, c.nonce, c.nc, c.cnonce, c.qop, ha2)
	} else {
		resp = digest.MD5Hex(ha1, c.nonce, ha2)
	}
	s := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5`,
		c.username, c.realm, c.nonce, c.uri, resp)
	if c.qop != "" {
		s += fmt.Sprintf(`, qop=%s, nc=%s, cnonce="%s"`, c.qop, c.nc, c.cnonce)
	}
	return s
}

// answer builds the credentials for a challenge with a password.
func answer(ch *challenge, username, uri string) creds {
	c := creds{username: username, realm: ch.params["realm"], nonce: ch.params["nonce"], uri: uri}
	if ch.params["qop"] != "" {
		c.qop, c.nc, c.cnonce = "auth", "00000001", fmt.Sprintf("cn%d", seq.Add(1))
	}
	return c
}

// headerNames lists a message's header names, lower case, sorted, without
// repeats.
func headerNames(m sip.Message) []string {
	seen := map[string]bool{}
	var out []string
	var hs []sip.Header
	switch x := m.(type) {
	case *sip.Response:
		hs = x.Headers()
	case *sip.Request:
		hs = x.Headers()
	}
	for _, h := range hs {
		n := strings.ToLower(h.Name())
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// expectFinal waits for the final reply, skipping 100 Trying.
func expectFinal(t *testing.T, p *siptest.Peer) *sip.Response {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatal("no final reply")
		}
		m := p.Expect(left)
		res, ok := m.(*sip.Response)
		if !ok {
			t.Fatalf("expected a reply, got:\n%s", m)
		}
		if res.StatusCode >= 200 {
			return res
		}
	}
}
