package registrar_test

import (
	"fmt"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

// BenchmarkSaveScript: a REGISTER through the script: parse, save()
// (a refresh, memory mode) and the 200 OK built by the core.
func BenchmarkSaveScript(b *testing.B) {
	s := siptest.NewScript(b, modules+`route { save("location"); }`)
	const n = 1000
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = siptest.Normalize(registerCSeq(fmt.Sprintf("user%d", i), fmt.Sprintf("bench-%d", i), 1,
			fmt.Sprintf("Contact: <sip:user%d@198.51.100.1:%d>;expires=3600", i, 5060+i), "User-Agent: Bench/1.0"))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A new CSeq each round, so that every run is a refresh.
		raw := strings.Replace(string(msgs[i%n]), "CSeq: 1 ", fmt.Sprintf("CSeq: %d ", i/n+1), 1)
		req := siptest.Request(b, raw)
		c := s.Ctx(req, "", "")
		s.Loaded.Script.Run(c, sr.RouteRequest, "")
		if i%n == 0 {
			s.Core.Reset()
		}
	}
}

// BenchmarkLookupScript: an INVITE through lookup() to an AOR with two
// contacts.
func BenchmarkLookupScript(b *testing.B) {
	s := siptest.NewScript(b, modules+`route { if (method == "REGISTER") { save("location"); exit; } lookup("location"); }`)
	const n = 1000
	for i := 0; i < n; i++ {
		s.Run(b, registerCSeq(fmt.Sprintf("user%d", i), fmt.Sprintf("bl-%d", i), 1,
			fmt.Sprintf("Contact: <sip:user%d@198.51.100.1:5060>;q=0.5", i), fmt.Sprintf("Contact: <sip:user%d@198.51.100.2:5060>", i)))
	}
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = string(siptest.Normalize(invite(fmt.Sprintf("sip:user%d@example.com", i))))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := s.Ctx(siptest.Request(b, msgs[i%n]), "", "")
		s.Loaded.Script.Run(c, sr.RouteRequest, "")
		if len(c.Branches) != 1 {
			b.Fatalf("%d branches", len(c.Branches))
		}
	}
}
