package sl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
)

const liveCfg = `
LISTEN
# siptest.Start binds :0 as port=, so ask for ephemeral ports explicitly.
port=0
loadmodule "sl.so"
route {
	if (method == "ACK") {
		forward("udp:WATCHER");
		exit;
	}
	sl_send_reply("404", "Not here $rU");
}
`

func liveServer(t *testing.T, watcher *siptest.Peer) *siptest.Live {
	t.Helper()
	return siptest.Start(t, strings.ReplaceAll(liveCfg, "WATCHER", watcher.Addr().String()))
}

const liveInvite = `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-live1;rport
From: <sip:alice@example.org>;tag=la1
To: <sip:bob@example.com>
Call-ID: live-1@test
CSeq: 1 INVITE
Max-Forwards: 70
`

const liveACK = `
ACK sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-live1;rport
From: <sip:alice@example.org>;tag=la1
To: <sip:bob@example.com>;tag=TOTAG
Call-ID: live-1@test
CSeq: 1 ACK
Max-Forwards: 70
`

func TestLiveUDP(t *testing.T) {
	watcher := siptest.NewPeer(t)
	srv := liveServer(t, watcher)
	uac := siptest.NewPeer(t)
	uac.Send(srv.UDP, liveInvite)
	res := uac.ExpectReply(2*time.Second, 404)
	if res.Reason != "Not here bob" {
		t.Errorf("reason %q, want Not here bob", res.Reason)
	}
	if tag, _ := res.To().Params.Get("tag"); tag == "" {
		t.Error("no To tag in the reply")
	}
	if rp, _ := res.Via().Params.Get("rport"); rp == "" {
		t.Error("rport not filled in the reply's Via")
	}
}

func TestLiveTCP(t *testing.T) {
	watcher := siptest.NewPeer(t)
	srv := liveServer(t, watcher)
	conn := siptest.DialTCP(t, srv.TCP)
	conn.Send(`
OPTIONS sip:carol@example.com SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-tcp1
From: <sip:alice@example.org>;tag=t1
To: <sip:carol@example.com>
Call-ID: tcp-1@test
CSeq: 1 OPTIONS
Max-Forwards: 70
`)
	m, err := conn.Recv(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := m.(*sip.Response)
	if !ok || res.StatusCode != 404 || res.Reason != "Not here carol" {
		t.Fatalf("got %v, want 404 Not here carol on the connection", m)
	}
}

// The ACK of our 404 is absorbed before the script; a stray ACK of the
// same call reaches it (and is forwarded to the watcher). Both are handled
// in order by the call's worker, so the stray one arriving alone proves
// the first was absorbed.
func TestLiveACKAbsorbed(t *testing.T) {
	watcher := siptest.NewPeer(t)
	srv := liveServer(t, watcher)
	uac := siptest.NewPeer(t)
	uac.Send(srv.UDP, liveInvite)
	res := uac.ExpectReply(2*time.Second, 404)
	tag, _ := res.To().Params.Get("tag")
	uac.Send(srv.UDP, strings.Replace(liveACK, "TOTAG", tag, 1))
	uac.Send(srv.UDP, strings.Replace(liveACK, "TOTAG", "stray", 1))
	got := watcher.ExpectRequest(2*time.Second, "ACK")
	if gt, _ := got.To().Params.Get("tag"); gt != "stray" {
		t.Fatalf("the script saw the ACK with To tag %q; the one of our reply must be absorbed", gt)
	}
	watcher.ExpectNothing(200 * time.Millisecond)
	uac.ExpectNothing(100 * time.Millisecond)
}
