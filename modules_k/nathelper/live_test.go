package nathelper_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
)

// A real server relays an INVITE whose SDP has a private address: the
// callee receives the SDP rewritten to the RTP proxy's port (and the
// address the INVITE arrived on), the caller the 200's SDP rewritten to
// what the proxy answered for the callee's side.
func TestLiveForceRTPProxy(t *testing.T) {
	p := newFakeRTPProxy(t)
	p.set(func(f *fakeRTPProxy) {
		f.reply = func(cmd string) string {
			switch {
			case cmd == "V":
				return "20040107"
			case strings.HasPrefix(cmd, "VF"):
				return "1"
			case strings.HasPrefix(cmd, "U"):
				return "35000"
			case strings.HasPrefix(cmd, "L"):
				return "35002 192.0.2.50"
			}
			return "0"
		}
	})
	srv := siptest.Start(t, `
LISTEN
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "textops.so"
loadmodule "nathelper.so"
modparam("nathelper", "rtpproxy_sock", "`+p.url()+`")
route {
	if (is_method("INVITE") && nat_uac_test("8")) {
		force_rtp_proxy();
		t_on_reply("NAT");
	}
	if (!t_relay()) {
		sl_reply_error();
	}
}
onreply_route[NAT] {
	if (status =~ "(183)|(2[0-9][0-9])") {
		force_rtp_proxy();
	}
}
`)
	caller := siptest.NewPeer(t)
	callee := siptest.NewPeer(t)
	caller.Send(srv.UDP, `INVITE sip:bob@`+callee.Addr().String()+` SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-live-rtpp;rport
Max-Forwards: 70
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>
Call-ID: live-rtpp@example.org
CSeq: 1 INVITE
Contact: <sip:alice@10.0.0.5:5060>
Content-Type: application/sdp

v=0
o=alice 1 1 IN IP4 10.0.0.5
s=-
c=IN IP4 10.0.0.5
t=0 0
m=audio 49170 RTP/AVP 0
`)
	inv := callee.ExpectRequest(5*time.Second, "INVITE")
	body := string(inv.Body())
	if !strings.Contains(body, "c=IN IP4 127.0.0.1\r\n") || !strings.Contains(body, "m=audio 35000 RTP/AVP 0\r\n") ||
		!strings.Contains(body, "a=nortpproxy:yes\r\n") {
		t.Errorf("the callee got:\n%s", body)
	}
	if cl := sipmsg.Header(inv, "Content-Length"); cl == nil || cl.Value() != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %v for %d bytes", cl, len(body))
	}
	if got := p.commands(); len(got) != 1 || !strings.HasPrefix(got[0], "U live-rtpp@example.org 127.0.0.1 49170 a1") {
		t.Errorf("rtpproxy commands %q", got)
	}

	res := sip.NewResponseFromRequest(inv, 200, "OK", []byte("v=0\r\no=bob 2 2 IN IP4 10.1.0.9\r\ns=-\r\nc=IN IP4 10.1.0.9\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"))
	res.AppendHeader(sip.NewHeader("Contact", "<sip:bob@"+callee.Addr().String()+">"))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	host, port := sipmsg.ReplyDest(inv.Via(), "udp")
	callee.SendMsg(mustAddrPort(t, host, port), res)

	ok := caller.ExpectReply(5*time.Second, 200)
	rb := string(ok.Body())
	if !strings.Contains(rb, "c=IN IP4 192.0.2.50\r\n") || !strings.Contains(rb, "m=audio 35002 RTP/AVP 0\r\n") {
		t.Errorf("the caller got:\n%s", rb)
	}
	if cl := sipmsg.Header(ok, "Content-Length"); cl == nil || cl.Value() != strconv.Itoa(len(rb)) {
		t.Errorf("200 Content-Length %v for %d bytes", cl, len(rb))
	}
	toTag, _ := res.To().Params.Get("tag")
	if got := p.commands(); len(got) != 2 || got[1] != "L live-rtpp@example.org 127.0.0.1 6000 "+toTag+" a1" {
		t.Errorf("rtpproxy commands %q", got)
	}
}

func mustAddrPort(t *testing.T, host string, port int) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddr(host)
	if err != nil {
		t.Fatalf("reply host %q: %v", host, err)
	}
	return netip.AddrPortFrom(a, uint16(port))
}
