package transport

import (
	"net/netip"
	"strings"
	"testing"

	"sip-router.org/core/sipmsg"
)

// r5 is a request with the given replacements applied.
func r5(method string, repl ...string) string {
	base := method + " sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr5\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:alice@example.com>;tag=f1\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"Call-ID: r5@example.com\r\n" +
		"CSeq: 1 " + method + "\r\n" +
		"Content-Length: 0\r\n\r\n"
	return strings.NewReplacer(repl...).Replace(base)
}

// TestR5Outcomes: the CVE-class inputs of robustness-anchors.md R5 get a
// 400 or a drop here, or pass well-formed; nothing panics.
func TestR5Outcomes(t *testing.T) {
	long := strings.Repeat("a", 4096)
	cases := []struct {
		name string
		data string
		out  outcome
		code int
	}{
		{"two To, one with an empty tag", r5("INVITE", "To: <sip:bob@example.com>\r\n", "To: <sip:bob@example.com>\r\nTo: <sip:bob@example.com>;tag=\r\n"), outReply, 400},
		{"empty To tag", r5("INVITE", "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag="), outReply, 400},
		{"300-char branch", r5("REGISTER", "branch=z9hG4bKr5", "branch=z9hG4bK"+strings.Repeat("x", 300)), outDispatch, 0},
		{"empty branch, empty From tag", r5("REGISTER", "branch=z9hG4bKr5", "branch=", "tag=f1", "tag="), outReply, 400},
		{"OpenSIPS Via garbage", r5("OPTIONS", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr5", "Via: SIP/2.0/\x16UD~PTo :::]"), outDrop, 0},
		{"duplicates with a 4 KiB tag", r5("INVITE", "Call-ID: r5@example.com\r\n", "Call-ID: r5@example.com\r\nCall-ID: x\r\nTo: <sip:x@example.com>;tag="+long+"\r\nFrom: <sip:y@example.com>;tag="+long+"\r\n"), outReply, 400},
		{"header-name blanks", r5("OPTIONS", "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nX-Internal : 1\r\nX-Internal\t: 1\r\n"), outDispatch, 0},
		{"SDP without final LF", r5("INVITE", "Content-Length: 0\r\n\r\n", "Content-Type: application/sdp\r\nContent-Length: 8\r\n\r\nv=0\r\ns=-"), outDispatch, 0},
		{"broken Authorization", r5("REGISTER", "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nAuthorization: Digest username=\"alice, nc=ffffffffff, response=\""+long+"\r\n"), outDispatch, 0},
		{"Content-Length 2^32", r5("INVITE", "Content-Length: 0", "Content-Length: 4294967296") + "0123456789", outReply, 400},
		{"Content-Length 10^18", r5("INVITE", "Content-Length: 0", "Content-Length: 1000000000000000000") + "0123456789", outReply, 400},
		{"Content-Length 10^9", r5("INVITE", "Content-Length: 0", "Content-Length: 1000000000") + "0123456789", outReply, 400},
		{"Content-Length -1", r5("INVITE", "Content-Length: 0", "Content-Length: -1"), outReply, 400},
		{"status 4294967301", "SIP/2.0 4294967301 Big\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@b.example.com>;tag=1\r\nTo: <sip:c@d.example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", outDrop, 0},
		{"CSeq 2^32", r5("INVITE", "CSeq: 1 INVITE", "CSeq: 4294967296 INVITE"), outReply, 400},
		{"CSeq 2^64+1", r5("INVITE", "CSeq: 1 INVITE", "CSeq: 18446744073709551617 INVITE"), outReply, 400},
		{"CSeq 2^32-1", r5("INVITE", "CSeq: 1 INVITE", "CSeq: 4294967295 INVITE"), outDispatch, 0},
		{"bare LF inside a header (injection)", r5("OPTIONS", "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nX-A: 1\nVia: SIP/2.0/UDP evil.example.com\r\n"), outReply, 400},
		{"ACK with a defect: no reply", r5("ACK", "CSeq: 1 ACK", "CSeq: 1 INVITE"), outDrop, 0},
		{"broken ACK: no reply", r5("ACK", "CSeq: 1 ACK", "CSeq: x"), outDrop, 0},
		{"reply with bad CSeq: drop", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nCSeq: x\r\n\r\n", outDrop, 0},
		{"TLS ClientHello on the UDP port", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", outDrop, 0},
		{"keep-alive", "\r\n\r\n", outIgnore, 0},
		{"leading blank lines", "\r\n\r\n" + r5("OPTIONS"), outDispatch, 0},
		{"no Via: nowhere to answer", r5("INVITE", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr5\r\n", ""), outDrop, 0},
		{"unknown scheme with digits", r5("OPTIONS", "sip:bob@example.com SIP", "x-y.z+1:abc SIP"), outReply, 416},
		{"tel Request-URI", r5("INVITE", "sip:bob@example.com SIP", "tel:+1-201-555-0123 SIP"), outDispatch, 0},
	}
	src := netip.MustParseAddrPort("127.0.0.1:5070")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := examine(sipmsg.NewParser(DefaultMaxUDPSize), []byte(tc.data), src, DefaultMaxUDPSize)
			if v.out != tc.out || v.code != tc.code {
				t.Errorf("outcome %s %d (%s), want %s %d", v.out, v.code, v.why, tc.out, tc.code)
			}
		})
	}
}

// TestLocalReplyDestination: replies made here go to the source IP,
// whatever the Via host, at the rport/Via/default port.
func TestLocalReplyDestination(t *testing.T) {
	h := newHarness(t, true, []string{"udp"}, nil)
	c := udpClient(t)
	me := localAP(c)
	cases := []struct {
		via  string
		port uint16
	}{
		{"SIP/2.0/UDP 203.0.113.5:5099;branch=z9hG4bK1", 5099},
		{"SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK1", 5060},
		{"SIP/2.0/UDP 203.0.113.5:5099;rport;branch=z9hG4bK1", me.Port()},
		{"SIP/2.0/UDP 203.0.113.5;maddr=255.255.255.255;branch=z9hG4bK1", 5060},
	}
	for _, tc := range cases {
		msg := r5("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr5", tc.via, "CSeq: 1 OPTIONS", "CSeq: 1 INVITE")
		if _, err := c.WriteToUDPAddrPort([]byte(msg), h.addr("udp")); err != nil {
			t.Fatal(err)
		}
		if ev := h.verdict(me); ev.v.out != outReply {
			t.Fatalf("%s: %s", tc.via, ev.v.out)
		}
		s := h.nextSent()
		if want := netip.AddrPortFrom(loopback, tc.port); s.dst.Addr != want || s.dst.Socket != h.m.Sockets()[0] {
			t.Errorf("%s: reply to %s via %v, want %s", tc.via, s.dst.Addr, s.dst.Socket, want)
		}
	}
}
