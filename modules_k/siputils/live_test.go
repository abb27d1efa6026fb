package siputils_test

import (
	"testing"
	"time"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
)

// A keepalive OPTIONS to the server gets the 200 with the capabilities; a
// user's OPTIONS goes on through the script.
func TestLiveOptionsReply(t *testing.T) {
	srv := siptest.Start(t, `
LISTEN
# siptest.Start binds :0 as port=, so ask for ephemeral ports explicitly.
port=0
loadmodule "sl.so"
loadmodule "siputils.so"
modparam("siputils", "options_support", "100rel")
route {
	if (method == "OPTIONS" && !has_totag()) {
		options_reply();
	}
	sl_send_reply("404", "Not here");
}
`)
	peer := siptest.NewPeer(t)
	send := func(ruri, branch string) {
		peer.Send(srv.UDP, `
OPTIONS `+ruri+` SIP/2.0
Via: SIP/2.0/UDP PEER;branch=`+branch+`;rport
From: <sip:alice@example.org>;tag=o1
To: <`+ruri+`>
Call-ID: live-opt-`+branch+`@test
CSeq: 1 OPTIONS
Max-Forwards: 70
`)
	}
	send("sip:127.0.0.1", "z9hG4bK-o1")
	res := peer.ExpectReply(2*time.Second, 200)
	for name, want := range map[string]string{"Accept": "*/*", "Accept-Language": "en", "Supported": "100rel"} {
		if h := sipmsg.Header(res, name); h == nil || h.Value() != want {
			t.Errorf("%s: %v, want %q", name, h, want)
		}
	}
	if tag, _ := res.To().Params.Get("tag"); tag == "" {
		t.Error("200 without a To tag")
	}
	send("sip:bob@127.0.0.1", "z9hG4bK-o2")
	peer.ExpectReply(2*time.Second, 404)
}
