package digest_test

import (
	"strings"
	"testing"

	"sip-router.org/core/digest"
)

// FuzzParse feeds the credentials parser arbitrary header values: it must
// never panic, and what it accepts must be consistent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="6629fae49393a05397450978507c4ef1"`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="c"`,
		`Digest username="a\"b", realm="r", nonce="n", uri="u", response="6629fae49393a05397450978507c4ef1", nc=ffffffffff`,
		`Digest username="a, realm="r`,
		`Digest username=a,,,,realm=r`,
		"Digest \t\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := digest.Parse(s)
		if err != nil {
			if c != nil {
				t.Fatal("credentials returned with an error")
			}
			return
		}
		if len(s) > digest.MaxLen {
			t.Fatal("accepted a value over MaxLen")
		}
		if c.Username == "" || c.Nonce == "" || c.URI == "" || len(c.Response) != 32 {
			t.Fatalf("accepted incomplete credentials %+v", c)
		}
		if c.User+"@"+c.Domain != c.Username && c.User != c.Username {
			t.Fatalf("username %q split into %q and %q", c.Username, c.User, c.Domain)
		}
		if c.QOP != "" && (len(c.NC) != 8 || c.CNonce == "") {
			t.Fatalf("qop %q with nc %q cnonce %q", c.QOP, c.NC, c.CNonce)
		}
		if strings.ToLower(c.Response) != c.Response {
			t.Fatal("response not lower case")
		}
		_ = c.Check("REGISTER", []byte(s), "0123")
	})
}
