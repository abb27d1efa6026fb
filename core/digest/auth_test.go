package digest_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest"
	"sip-router.org/core/sr"
)

func request(t *testing.T, method, extra string) *sr.Ctx {
	t.Helper()
	text := method + " sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n" +
		"From: <sip:alice@from.example>;tag=ft\r\n" +
		"To: <sip:alice@to.example>\r\n" +
		"Call-ID: cid-1\r\n" +
		"CSeq: 1 " + method + "\r\n" + extra + "Content-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return &sr.Ctx{Req: m.(*sip.Request), Log: slog.New(slog.DiscardHandler)}
}

func creds(user, realm string) string {
	return `Digest username="` + user + `", realm="` + realm + `", nonce="n", uri="sip:x", response="` + resp + `"`
}

func TestKind(t *testing.T) {
	if digest.WWW.Credentials() != "Authorization" || digest.Proxy.Credentials() != "Proxy-Authorization" ||
		digest.WWW.Challenge() != "WWW-Authenticate" || digest.Proxy.Challenge() != "Proxy-Authenticate" {
		t.Error("header names")
	}
	if c, _ := digest.WWW.Reply(); c != 401 {
		t.Error("WWW reply")
	}
	if c, _ := digest.Proxy.Reply(); c != 407 {
		t.Error("Proxy reply")
	}
	if digest.KindFor(request(t, "REGISTER", "").Req) != digest.WWW || digest.KindFor(request(t, "INVITE", "").Req) != digest.Proxy ||
		digest.KindFor(nil) != digest.Proxy {
		t.Error("KindFor")
	}
}

func TestRealm(t *testing.T) {
	reg, inv := request(t, "REGISTER", "").Req, request(t, "INVITE", "").Req
	for _, tc := range []struct {
		req  *sip.Request
		k    digest.Kind
		want string
	}{
		{reg, digest.WWW, "to.example"},
		{reg, digest.Proxy, "from.example"},
		{inv, digest.WWW, "from.example"},
		{nil, digest.WWW, ""},
	} {
		if got := digest.RequestRealm(tc.req, tc.k); got != tc.want {
			t.Errorf("RequestRealm: %q, want %q", got, tc.want)
		}
	}
	for _, tc := range []struct{ realm, prefix, want string }{
		{"sip.example.com", "sip.", "example.com"},
		{"sip.", "sip.", "sip."},
		{"example.com", "sip.", "example.com"},
		{"example.com", "", "example.com"},
	} {
		if got := digest.TrimRealmPrefix(tc.realm, tc.prefix); got != tc.want {
			t.Errorf("TrimRealmPrefix(%q, %q) = %q, want %q", tc.realm, tc.prefix, got, tc.want)
		}
	}
	if got := digest.Quote("a\"b\\c\r\nX:\ty\x00"); got != `a\"b\\cX:`+"\t"+`y` {
		t.Errorf("Quote: %q", got)
	}
}

func TestFind(t *testing.T) {
	bad := "Authorization: Digest username=\"x\"\r\n"
	for _, tc := range []struct {
		name, extra   string
		strict        bool
		user          string // "" none found
		wantMalformed bool
		k             digest.Kind
	}{
		{"none", "", false, "", false, digest.WWW},
		{"realm", "Authorization: " + creds("a", "other") + "\r\nAuthorization: " + creds("b", "EXAMPLE.com") + "\r\n", false, "b", false, digest.WWW},
		{"other kind", "Authorization: " + creds("a", "example.com") + "\r\n", false, "", false, digest.Proxy},
		{"bad skipped", bad + "Authorization: " + creds("b", "example.com") + "\r\n", false, "b", false, digest.WWW},
		{"bad strict", bad + "Authorization: " + creds("b", "example.com") + "\r\n", true, "", true, digest.WWW},
		{"bad after the realm's", "Authorization: " + creds("b", "example.com") + "\r\n" + bad, true, "b", false, digest.WWW},
		{"algorithm", "Authorization: " + strings.Replace(creds("b", "example.com"), "uri=", "algorithm=SHA-256, uri=", 1) + "\r\n", false, "", false, digest.WWW},
		{"algorithm MD5", "Authorization: " + strings.Replace(creds("b", "example.com"), "uri=", "algorithm=md5, uri=", 1) + "\r\n", false, "b", false, digest.WWW},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := request(t, "REGISTER", tc.extra)
			cr, malformed := digest.Find(c, tc.k, "example.com", tc.strict)
			if malformed != tc.wantMalformed {
				t.Errorf("malformed %v", malformed)
			}
			switch {
			case tc.user == "" && cr != nil:
				t.Errorf("found %+v", cr)
			case tc.user != "" && (cr == nil || cr.Username != tc.user || cr.Kind != tc.k || !strings.Contains(cr.Value, `"`+tc.user+`"`)):
				t.Errorf("found %+v, want user %s", cr, tc.user)
			}
		})
	}
	if cr, m := digest.Find(&sr.Ctx{Log: slog.New(slog.DiscardHandler)}, digest.WWW, "r", true); cr != nil || m {
		t.Error("no request")
	}
}

func TestVerifyAuthorizeRemove(t *testing.T) {
	ha1 := digest.HA1("b", "example.com", "pw")
	d := &digest.Credentials{Username: "b", Realm: "example.com", Nonce: "n", URI: "sip:x"}
	good := `Digest username="b", realm="example.com", nonce="n", uri="sip:x", response="` + d.ExpectedResponse("REGISTER", nil, ha1) + `"`
	c := request(t, "REGISTER", "Authorization: "+creds("a", "other")+"\r\nAuthorization: "+good+"\r\nAuthorization: "+creds("z", "third")+"\r\n")
	cr, _ := digest.Find(c, digest.WWW, "example.com", false)
	if cr == nil || !digest.Verify(c, cr, ha1) || digest.Verify(c, cr, digest.HA1("b", "example.com", "wrong")) ||
		digest.Verify(c, nil, ha1) || digest.Verify(&sr.Ctx{}, cr, ha1) {
		t.Fatal("Verify")
	}
	if digest.GetAuthorized(c) != nil {
		t.Fatal("authorized before Authorize")
	}
	digest.Authorize(c, cr)
	au := digest.GetAuthorized(c)
	if au == nil || au.Username != "b" || au.Realm != "example.com" || au.Header != "Authorization" || au.Value != good {
		t.Fatalf("authorized %+v", au)
	}
	order := func() string {
		var out []string
		for _, h := range c.Req.GetHeaders("Authorization") {
			cr, _ := digest.ParseFields(h.Value())
			out = append(out, cr.Username)
		}
		return strings.Join(out, " ")
	}
	if got := order(); got != "b a z" {
		t.Errorf("after Authorize: %s, want the authorized header first", got)
	}
	if !digest.RemoveHeader(c.Req, "Authorization", au.Value) || digest.RemoveHeader(c.Req, "Authorization", au.Value) {
		t.Error("RemoveHeader")
	}
	if got := order(); got != "a z" {
		t.Errorf("after RemoveHeader: %s", got)
	}
}
