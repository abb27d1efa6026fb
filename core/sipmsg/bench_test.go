package sipmsg

import (
	"net/netip"
	"strings"
	"testing"
)

const benchInvite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.4:5060;rport;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.4:5060>\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 4\r\n\r\nv=0\n"

func BenchmarkNewReply(b *testing.B) {
	r := mustReq(b, benchInvite)
	AddReceived(r, netip.MustParseAddrPort("198.51.100.1:40000"))
	b.ReportAllocs()
	for b.Loop() {
		_ = NewReply(r, 404, "Not Found", "")
	}
}

func BenchmarkNewReplyRendered(b *testing.B) {
	r := mustReq(b, benchInvite)
	var sb strings.Builder
	b.ReportAllocs()
	for b.Loop() {
		sb.Reset()
		NewReply(r, 404, "Not Found", "").StringWrite(&sb)
	}
}

func BenchmarkCheck(b *testing.B) {
	r := mustReq(b, benchInvite)
	b.ReportAllocs()
	for b.Loop() {
		if code, _ := Check(r); code != 0 {
			b.Fatal(code)
		}
	}
}

func BenchmarkNewReplyFromRaw(b *testing.B) {
	raw := []byte(strings.Replace(benchInvite, "CSeq: 314159 INVITE", "CSeq: x INVITE", 1))
	src := netip.MustParseAddrPort("198.51.100.1:40000")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewReplyFromRaw(raw, src, 400, "Bad Request"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToTag(b *testing.B) {
	r := mustReq(b, benchInvite)
	b.ReportAllocs()
	for b.Loop() {
		_ = ToTag(r)
	}
}

func BenchmarkBranch(b *testing.B) {
	r := mustReq(b, benchInvite)
	b.ReportAllocs()
	for b.Loop() {
		_ = Branch(r, "udp:192.0.2.1:5060")
	}
}
