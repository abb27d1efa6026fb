package pv

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"sip-router.org/core/sr"
)

// testNow is the fixed time the test registries see.
var testNow = time.Date(2010, time.January, 11, 12, 30, 45, 0, time.UTC)

const inviteText = `INVITE sip:alice@atlanta.example.com;transport=tcp SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport
Via: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKabc;received=192.0.2.99
Max-Forwards: 70
To: "Alice A" <sip:alice@atlanta.example.com>
From: "Bob" <sip:bob@biloxi.example.com:5070>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>;expires=60
User-Agent: TestUA/1.0
X-Multi: one
X-Multi: two
x-multi: three
Remote-Party-ID: "Bob" <sip:+15551234@biloxi.example.com>;screen=yes
Refer-To: <sip:carol@chicago.example.com>
Diversion: <sip:dave@example.org>;reason=unconditional
P-Asserted-Identity: "Eve" <sip:eve@example.org>, <tel:+1234>
P-Preferred-Identity: "Frank" <sip:frank@example.net>
Proxy-Authorization: Digest username="bob@biloxi.example.com", realm="biloxi.example.com", nonce="abc", uri="sip:alice@atlanta.example.com", response="0123"
Content-Type: application/sdp
Content-Length: 4

test`

const compactText = `INVITE sip:carol@chicago.example.com SIP/2.0
v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKnashds7
f: <sip:dave@example.org>;tag=42
t: "Carol" <sip:carol@chicago.example.com>
i: compact-call-id
CSeq: 7 INVITE
m: <sip:dave@192.0.2.8>
c: text/plain
l: 0

`

const replyText = `SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds
From: "Bob" <sip:bob@biloxi.example.com:5070>;tag=1928301774
To: "Alice A" <sip:alice@atlanta.example.com>;tag=reply-tag
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159  INVITE
Contact: <sip:alice@192.0.2.7>
Content-Length: 0

`

// parseSIP parses a message written with \n line ends.
func parseSIP(t testing.TB, text string) sip.Message {
	t.Helper()
	m, err := sip.ParseMessage([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	return m
}

// reqCtx is the context of a received request.
func reqCtx(t testing.TB, text string) *sr.Ctx {
	t.Helper()
	req := parseSIP(t, text).(*sip.Request)
	return &sr.Ctx{
		Req: req,
		Rcv: sr.RecvInfo{
			Proto: "UDP",
			Src:   netip.MustParseAddrPort("192.0.2.10:5062"),
			Dst:   netip.MustParseAddrPort("10.0.0.10:5060"),
		},
		OrigRURI:  req.Recipient.String(),
		Q:         sr.QUnset,
		AVPs:      sr.NewAVPList(),
		RouteType: sr.RouteRequest,
	}
}

// replyCtx is the context of a reply route with the request of the
// transaction.
func replyCtx(t testing.TB) *sr.Ctx {
	t.Helper()
	c := reqCtx(t, inviteText)
	c.Resp = parseSIP(t, replyText).(*sip.Response)
	c.RouteType = sr.RouteOnReply
	return c
}

func newTestRegistry(t testing.TB) *Registry {
	t.Helper()
	return NewRegistry(Config{
		Now:      func() time.Time { return testNow },
		Start:    testNow.Add(-time.Hour),
		Pid:      4242,
		Hostname: "proxy.example.com",
		Socket: func(proto, host string, port int) (*sr.Socket, bool) {
			s := &sr.Socket{Proto: "udp", Addr: netip.MustParseAddrPort("10.0.0.10:5060")}
			if (proto == "" || proto == s.Proto) && host == "10.0.0.10" && (port == 0 || port == 5060) {
				return s, true
			}
			return nil, false
		},
	})
}

func mustParse(t testing.TB, r *Registry, text string, mode Compat) *Spec {
	t.Helper()
	s, err := r.Parse(text, mode)
	if err != nil {
		t.Fatalf("Parse(%q, %v): %v", text, mode, err)
	}
	return s
}

func str(s string) sr.Value { return sr.StrVal(s) }
func num(n int) sr.Value    { return sr.IntVal(n) }

var null = sr.NullVal

// sameValue compares kind and content.
func sameValue(a, b sr.Value) bool {
	if a.K != b.K {
		return false
	}
	switch a.K {
	case sr.Int:
		return a.I == b.I
	case sr.Str:
		return a.S == b.S
	}
	return true
}

func show(v sr.Value) string {
	switch v.K {
	case sr.Int:
		return "int " + v.String()
	case sr.Str:
		return "str " + `"` + v.S + `"`
	}
	return "null"
}

func checkValue(t testing.TB, what string, got, want sr.Value) {
	t.Helper()
	if !sameValue(got, want) {
		t.Errorf("%s = %s, want %s", what, show(got), show(want))
	}
}
