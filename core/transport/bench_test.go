package transport

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// A typical INVITE with SDP, as a UA sends it.
const benchInvite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.4:5060;rport;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.4:5060>\r\n" +
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO\r\n" +
	"Supported: replaces, timer\r\n" +
	"User-Agent: bench/1.0\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 132\r\n\r\n" +
	"v=0\r\n" +
	"o=alice 2890844526 2890844526 IN IP4 192.0.2.4\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.4\r\n" +
	"t=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n"

func init() {
	// Keep the constant honest.
	if i := strings.Index(benchInvite, "\r\n\r\n"); len(benchInvite)-i-4 != 132 {
		panic("benchInvite: wrong Content-Length")
	}
}

// BenchmarkReceive: the UDP receive path for one datagram (parse with the
// project's parser, checks, verdict) on a typical INVITE with SDP.
func BenchmarkReceive(b *testing.B) {
	p := sipmsg.NewParser(DefaultMaxUDPSize)
	data := []byte(benchInvite)
	src := netip.MustParseAddrPort("192.0.2.4:5060")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if v := examine(p, data, src, DefaultMaxUDPSize); v.out != outDispatch {
			b.Fatal(v.out, v.why)
		}
	}
}

// BenchmarkReceiveSipgoParseOnly is sipgo's default parser alone on the
// same message, for comparison.
func BenchmarkReceiveSipgoParseOnly(b *testing.B) {
	p := sip.NewParser()
	data := []byte(benchInvite)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseSIP(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiveBad400: an unparsable request answered with a 400 built
// from its raw bytes (the reply is built, not sent).
func BenchmarkReceiveBad400(b *testing.B) {
	p := sipmsg.NewParser(DefaultMaxUDPSize)
	data := []byte(strings.Replace(benchInvite, "INVITE sip:bob@biloxi.example.com SIP/2.0", "INVITE  sip:bob@biloxi.example.com SIP/2.0", 1))
	src := netip.MustParseAddrPort("192.0.2.4:5060")
	b.ReportAllocs()
	for b.Loop() {
		if v := examine(p, data, src, DefaultMaxUDPSize); v.out != outReply {
			b.Fatal(v.out, v.why)
		}
	}
}

// BenchmarkFramer: the stream framer over one INVITE.
func BenchmarkFramer(b *testing.B) {
	data := []byte(benchInvite)
	fr := newFramer(DefaultMaxStreamSize)
	lens := make([]int, 0, 4)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		lens = lens[:0]
		if err := fr.feed(data, &lens); err != nil || len(lens) != 1 {
			b.Fatal(err)
		}
	}
}
