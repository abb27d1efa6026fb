package digest_test

import (
	"errors"
	"strings"
	"testing"

	"sip-router.org/core/digest"
)

const resp = "6629fae49393a05397450978507c4ef1"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
		check    func(*digest.Credentials) bool
	}{
		{"basic", `Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="` + resp + `"`, true,
			func(c *digest.Credentials) bool {
				return c.Username == "alice" && c.User == "alice" && c.Domain == "" && c.Realm == "example.com" &&
					c.Nonce == "abc" && c.URI == "sip:example.com" && c.Response == resp && c.QOP == ""
			}},
		{"user@domain, tokens, odd spacing", "digest  username = \"alice@b.org\" ,realm=\"r\",nonce=n,uri=\"u\",\tresponse=" + strings.ToUpper(resp) + ",algorithm=MD5", true,
			func(c *digest.Credentials) bool {
				return c.User == "alice" && c.Domain == "b.org" && c.Nonce == "n" && c.Response == resp && c.Algorithm == "MD5"
			}},
		{"qop", `Digest username="a", realm="r", nonce="n", uri="u", response="` + resp + `", qop=auth, nc=0000000a, cnonce="c"`, true,
			func(c *digest.Credentials) bool {
				return c.QOP == "auth" && c.NC == "0000000a" && c.NCValue == 10 && c.CNonce == "c"
			}},
		{"qop auth-int quoted", `Digest username="a", realm="r", nonce="n", uri="u", response="` + resp + `", qop="AUTH-INT", nc=ffffffff, cnonce="c"`, true,
			func(c *digest.Credentials) bool { return c.QOP == "auth-int" && c.NCValue == 0xffffffff }},
		{"escapes", `Digest username="a\"b\\c", realm="r", nonce="n", uri="u", response="` + resp + `"`, true,
			func(c *digest.Credentials) bool { return c.Username == `a"b\c` }},
		{"unknown parameters skipped", `Digest foo="x, y", username="a", bar=1, realm="", nonce="n", uri="u", response="` + resp + `"`, true,
			func(c *digest.Credentials) bool { return c.Username == "a" && c.Realm == "" }},
		{"nc without qop dropped", `Digest username="a", realm="r", nonce="n", uri="u", response="` + resp + `", nc=00000001`, true,
			func(c *digest.Credentials) bool { return c.NC == "" }},
		{"empty", "", false, nil},
		{"basic scheme", `Basic YWxhZGRpbjpvcGVuc2VzYW1l`, false, nil},
		{"scheme only", "Digest", false, nil},
		{"missing realm", `Digest username="a", nonce="n", uri="u", response="` + resp + `"`, false, nil},
		{"missing response", `Digest username="a", realm="r", nonce="n", uri="u"`, false, nil},
		{"short response", `Digest username="a", realm="r", nonce="n", uri="u", response="abc"`, false, nil},
		{"non-hex response", `Digest username="a", realm="r", nonce="n", uri="u", response="` + strings.Repeat("z", 32) + `"`, false, nil},
		{"duplicate username", `Digest username="a", username="b", realm="r", nonce="n", uri="u", response="` + resp + `"`, false, nil},
		{"duplicate realm differing case", `Digest username="a", realm="r", REALM="s", nonce="n", uri="u", response="` + resp + `"`, false, nil},
		{"unterminated quote", `Digest username="a, realm="r", nonce="n", uri="u", response="` + resp, false, nil},
		{"trailing backslash", `Digest username="a\`, false, nil},
		{"no equals", `Digest username`, false, nil},
		{"junk after value", `Digest username="a"x, realm="r", nonce="n", uri="u", response="` + resp + `"`, false, nil},
		{"qop without nc", `Digest username="a", realm="r", nonce="n", uri="u", response="` + resp + `", qop=auth, cnonce="c"`, false, nil},
		{"nc too long", `Digest username="a", realm="r", nonce="n", uri="u", response="` + resp + `", qop=auth, nc=ffffffffff, cnonce="c"`, false, nil},
		{"nc not hex", `Digest username="a", realm="r", nonce="n", uri="u", response="` + resp + `", qop=auth, nc=0000000g, cnonce="c"`, false, nil},
		{"qop unknown", `Digest username="a", realm="r", nonce="n", uri="u", response="` + resp + `", qop=auth-conf, nc=00000001, cnonce="c"`, false, nil},
		{"too long", `Digest username="` + strings.Repeat("a", digest.MaxLen) + `"`, false, nil},
		{"too many parameters", "Digest " + strings.Repeat("x=1, ", 70), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := digest.Parse(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !tc.check(c) {
					t.Errorf("Parse gave %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted %q: %+v", tc.in, c)
			}
			if !errors.Is(err, digest.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

// RFC 2617 §3.5's example, with the method and URI it uses.
func TestResponseRFC2617(t *testing.T) {
	c, err := digest.Parse(`Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ` +
		`uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", ` +
		`opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	if err != nil {
		t.Fatal(err)
	}
	ha1 := digest.HA1("Mufasa", "testrealm@host.com", "Circle Of Life")
	if !c.Check("GET", nil, ha1) {
		t.Errorf("RFC 2617 example response not accepted (expected %s)", c.ExpectedResponse("GET", nil, ha1))
	}
	if c.Check("GET", nil, digest.HA1("Mufasa", "testrealm@host.com", "circle of life")) {
		t.Error("wrong password accepted")
	}
	if !c.Check("GET", nil, strings.ToUpper(ha1)) {
		t.Error("upper-case HA1 not accepted")
	}
}

func TestResponseWithoutQOPAndAuthInt(t *testing.T) {
	ha1 := digest.HA1("alice", "r", "pw")
	body := []byte("v=0\r\n")
	for _, qop := range []string{"", "auth", "auth-int"} {
		c := &digest.Credentials{Username: "alice", Realm: "r", Nonce: "n", URI: "sip:b@r", QOP: qop, NC: "00000001", CNonce: "c"}
		if qop == "" {
			c.NC, c.CNonce = "", ""
		}
		c.Response = c.ExpectedResponse("INVITE", body, ha1)
		if !c.Check("INVITE", body, ha1) {
			t.Errorf("qop %q: own response refused", qop)
		}
		if c.Check("REGISTER", body, ha1) {
			t.Errorf("qop %q: response accepted for another method", qop)
		}
		if qop == "auth-int" && c.Check("INVITE", []byte("v=1\r\n"), ha1) {
			t.Error("auth-int: response accepted for another body")
		}
	}
}
