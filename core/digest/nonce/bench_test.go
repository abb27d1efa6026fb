package nonce

import (
	"testing"

	"sip-router.org/core/digest/digesttest"
)

// BenchmarkIssueCheck issues a nonce bound to the R-URI and source
// address of a REGISTER and checks it, as a 401 and the authenticated
// REGISTER that answers it do.
func BenchmarkIssueCheck(b *testing.B) {
	n := New(Config{Secret: []byte("bench secret"), Label: "bench", Expire: 300e9, TableSize: 1 << 16, NonceCount: true, OneTime: true})
	c := digesttest.Request(b, "REGISTER", "")
	b.ReportAllocs()
	for b.Loop() {
		s := n.Issue(c, RURI|SrcIP)
		if r := n.Check(c, s, true, 1, true); r != OK {
			b.Fatalf("check = %v", r)
		}
	}
}
