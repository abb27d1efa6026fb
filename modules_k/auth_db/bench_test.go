package authdb_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

// benchScript loads auth_db on a fresh SQLite subscriber table, reading
// the ha1 column (calculate_ha1=0) or the plain password (1), with route
// as the body of the request route.
func benchScript(b *testing.B, calc int, route string) *siptest.Script {
	url := sqliteURL(b)
	fillSubscriber(b, url)
	col := map[int]string{0: "ha1", 1: "password"}[calc]
	return siptest.NewScript(b, fmt.Sprintf(`
loadmodule "sl.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "%s")
modparam("auth_db", "calculate_ha1", %d)
modparam("auth_db", "password_column", "%s")
route {
	%s
}
`, url, calc, col, route))
}

// BenchmarkAuthorizeFailure measures www_authorize (and the challenge
// that follows) for an unknown user and for a known user with a wrong
// password. The work is meant to be the same (one query, one HA1, one
// response), so the two times should be close. The two requests alternate
// within one loop, so that warm-up and garbage collection weigh on both
// alike; the metrics ns/unknown and ns/wrong are their mean times. It is a
// benchmark, not an assertion: compare the two numbers.
func BenchmarkAuthorizeFailure(b *testing.B) {
	for _, calc := range []int{0, 1} {
		b.Run(fmt.Sprintf("calculate_ha1=%d", calc), func(b *testing.B) {
			s := benchScript(b, calc, `if (!www_authorize("", "subscriber")) { www_challenge("", "0"); }`)
			base := `REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:USER@example.com>;tag=ft
To: <sip:USER@example.com>
Call-ID: cid
CSeq: 1 REGISTER
`
			s.Run(b, strings.ReplaceAll(base, "USER", "alice"))
			rs := s.Core.Replies()
			if len(rs) != 1 || rs[0].StatusCode != 401 {
				b.Fatalf("no challenge: %v", rs)
			}
			ch := parseChallenge(b, rs[0].GetHeader("WWW-Authenticate").Value()).params
			reqs := map[string]*sip.Request{}
			for _, user := range []string{"zz-nouser", "alice"} {
				cr := creds{username: user, realm: ch["realm"], nonce: ch["nonce"], uri: "sip:example.com"}
				reqs[user] = siptest.Request(b, strings.ReplaceAll(base, "USER", user)+
					"Authorization: "+cr.value("REGISTER", digest.HA1(user, "example.com", "wrong-password"))+"\n")
			}
			run := func(user string) time.Duration {
				c := s.Ctx(reqs[user].Clone(), "", "")
				start := time.Now()
				s.Loaded.Script.Run(c, sr.RouteRequest, "")
				return time.Since(start)
			}
			var unknown, wrong time.Duration
			s.Core.Reset()
			b.ResetTimer()
			for i := range b.N {
				if i%2 == 0 {
					unknown += run("zz-nouser")
					wrong += run("alice")
				} else {
					wrong += run("alice")
					unknown += run("zz-nouser")
				}
				if i%256 == 255 {
					s.Core.Reset()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(unknown.Nanoseconds())/float64(b.N), "ns/unknown")
			b.ReportMetric(float64(wrong.Nanoseconds())/float64(b.N), "ns/wrong")
			if rs := s.Core.Replies(); len(rs) == 0 || rs[len(rs)-1].StatusCode != 401 {
				b.Fatalf("the last run was not challenged: %v", rs)
			}
		})
	}
}

// BenchmarkAuthorizeSuccess measures a successful www_authorize: parse
// the credentials, check the nonce, one subscriber query, the HA1 and
// response hashes, then the 200 the script sends. A nonce is good for one
// request (replay protection), so every iteration first gets a challenge
// and answers it; the metric ns/success is the mean time of the
// authorized request alone, ns/op includes the challenge and building the
// answer.
func BenchmarkAuthorizeSuccess(b *testing.B) {
	for _, calc := range []int{0, 1} {
		b.Run(fmt.Sprintf("calculate_ha1=%d", calc), func(b *testing.B) {
			s := benchScript(b, calc, `if (!www_authorize("", "subscriber")) { www_challenge("", "0"); exit; }
	sl_send_reply("200", "OK");`)
			reg := `REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:alice@example.com>;tag=ft
To: <sip:alice@example.com>
Call-ID: cid
CSeq: 1 REGISTER
`
			plain := siptest.Request(b, reg)
			ha1 := digest.HA1("alice", "example.com", "alice-secret")
			last := func() *sip.Response {
				rs := s.Core.Replies()
				if len(rs) == 0 {
					b.Fatal("no reply")
				}
				return rs[len(rs)-1]
			}
			var success time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s.Core.Reset()
				s.Loaded.Script.Run(s.Ctx(plain.Clone(), "", ""), sr.RouteRequest, "")
				r := last()
				if r.StatusCode != 401 {
					b.Fatalf("no challenge: %d", r.StatusCode)
				}
				ch := parseChallenge(b, r.GetHeader("WWW-Authenticate").Value()).params
				cr := creds{username: "alice", realm: ch["realm"], nonce: ch["nonce"], uri: "sip:example.com"}
				req := siptest.Request(b, reg+"Authorization: "+cr.value("REGISTER", ha1)+"\n")
				c := s.Ctx(req, "", "")
				start := time.Now()
				s.Loaded.Script.Run(c, sr.RouteRequest, "")
				success += time.Since(start)
				if r := last(); r.StatusCode != 200 {
					b.Fatalf("not authorized: %d %s", r.StatusCode, r.Reason)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(success.Nanoseconds())/float64(b.N), "ns/success")
		})
	}
}
