package script_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
)

// A request forwarded statelessly reaches the next hop with our Via on
// top (branch with the magic cookie, received/rport on the sender's Via),
// and the reply finds its way back with our Via removed.
func TestStatelessForwardRoundTrip(t *testing.T) {
	uas := siptest.NewPeer(t)
	uac := siptest.NewPeer(t)
	srv := siptest.Start(t, uas.Expand(`
route {
	forward("udp:PEER");
}
`))
	uac.Send(srv.UDP, `
OPTIONS sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-abc;rport
From: <sip:alice@example.com>;tag=1
To: <sip:bob@example.com>
Call-ID: c1@test
CSeq: 1 OPTIONS
Max-Forwards: 70
`)
	req := uas.ExpectRequest(2*time.Second, "OPTIONS")
	vias := req.GetHeaders("Via")
	if len(vias) != 2 {
		t.Fatalf("got %d Vias, want 2:\n%s", len(vias), req)
	}
	top := req.Via()
	if top.Host != "127.0.0.1" || top.Port != int(srv.UDP.Port()) {
		t.Errorf("top Via %s:%d, want the server's %s", top.Host, top.Port, srv.UDP)
	}
	if b, _ := top.Params.Get("branch"); len(b) < 8 || b[:7] != "z9hG4bK" {
		t.Errorf("branch %q lacks the magic cookie", b)
	}
	second := vias[1].(*sip.ViaHeader)
	if rp, _ := second.Params.Get("rport"); rp != strconv.Itoa(uac.Port()) {
		t.Errorf("sender's Via rport=%q, want %d", rp, uac.Port())
	}
	uas.Reply(req, 200, "OK", "t1")
	res := uac.ExpectReply(2*time.Second, 200)
	if n := len(res.GetHeaders("Via")); n != 1 {
		t.Errorf("reply reached the UAC with %d Vias, want 1:\n%s", n, res)
	}
}
