package registrar_test

import (
	"strings"
	"testing"
	"time"

	"sip-router.org/core/siptest"
)

const liveConfig = `
LISTEN
port=0
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("registrar", "received_avp", "$avp(i:80)")
route {
	if (method == "REGISTER") {
		if ($hdr(X-NAT) == "yes") {
			$avp(i:80) = "sip:" + $si + ":" + $sp;
		}
		if (!save("location")) {
			exit;
		}
		exit;
	}
	if (!lookup("location")) {
		sl_send_reply("404", "Not Found");
		exit;
	}
	if (!t_relay()) {
		sl_reply_error();
	}
}
`

// A UA registers over UDP; a call to its AOR is relayed statefully to
// the registered contact, and the answer comes back to the caller.
func TestLiveRegisterThenCall(t *testing.T) {
	srv := siptest.Start(t, liveConfig)
	for _, tc := range []struct {
		name, contact, nat string
	}{
		{"direct", "sip:alice@PEER", "no"},
		// Behind a NAT: the Contact is a private address nobody can
		// reach; the received address (from the script) is the way.
		{"nat", "sip:alice@10.255.255.1:5060", "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := siptest.NewPeer(t)
			bob := siptest.NewPeer(t)
			alice.Send(srv.UDP, `
REGISTER sip:127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-reg-`+tc.name+`;rport
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:alice@127.0.0.1>
Call-ID: live-reg-`+tc.name+`@test
CSeq: 1 REGISTER
Max-Forwards: 70
X-NAT: `+tc.nat+`
Contact: <`+tc.contact+`>;expires=300
`)
			res := alice.ExpectReply(3*time.Second, 200)
			if h := res.GetHeader("Contact"); h == nil || !strings.Contains(h.Value(), "expires=300") {
				t.Fatalf("200 OK without the binding:\n%s", res)
			}
			bob.Send(srv.UDP, `
INVITE sip:alice@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-inv-`+tc.name+`;rport
From: <sip:bob@127.0.0.1>;tag=b1
To: <sip:alice@127.0.0.1>
Call-ID: live-inv-`+tc.name+`@test
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:bob@PEER>
Content-Length: 0
`)
			req := alice.ExpectRequest(3*time.Second, "INVITE")
			want := alice.Expand(tc.contact)
			if got := req.Recipient.String(); got != want {
				t.Errorf("INVITE R-URI %s, want the registered contact %s", got, want)
			}
			alice.Reply(req, 200, "OK", "alice-tag", "Contact: <sip:alice@"+alice.Addr().String()+">")
			ok := bob.ExpectReply(3*time.Second, 200)
			if to := ok.To(); to == nil || !strings.Contains(to.Value(), "alice-tag") {
				t.Errorf("200 reached bob without alice's tag:\n%s", ok)
			}
		})
	}
	// Nobody registered: 404.
	carol := siptest.NewPeer(t)
	carol.Send(srv.UDP, `
INVITE sip:nobody@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-inv-nobody;rport
From: <sip:carol@127.0.0.1>;tag=c1
To: <sip:nobody@127.0.0.1>
Call-ID: live-inv-nobody@test
CSeq: 1 INVITE
Max-Forwards: 70
`)
	carol.ExpectReply(3*time.Second, 404)
}

// A UA registered through an edge proxy (Path, RFC 3327): calls to it go
// to the edge first, carrying the Path as Route headers.
func TestLivePath(t *testing.T) {
	srv := siptest.Start(t, strings.Replace(liveConfig, `modparam("registrar", "received_avp", "$avp(i:80)")`,
		`modparam("registrar", "use_path", 1)`, 1))
	edge := siptest.NewPeer(t)
	bob := siptest.NewPeer(t)
	// The edge relays alice's REGISTER and adds its Path.
	edge.Send(srv.UDP, `
REGISTER sip:127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-edge-reg;rport
Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK-ua-reg
From: <sip:alice@127.0.0.1>;tag=a1
To: <sip:alice@127.0.0.1>
Call-ID: live-path@test
CSeq: 1 REGISTER
Max-Forwards: 69
Path: <sip:PEER;lr>
Supported: path
Contact: <sip:alice@10.0.0.7:5060>;expires=300
`)
	res := edge.ExpectReply(3*time.Second, 200)
	if h := res.GetHeader("Path"); h == nil || !strings.Contains(h.Value(), edge.Addr().String()) {
		t.Errorf("200 OK without the Path:\n%s", res)
	}
	bob.Send(srv.UDP, `
INVITE sip:alice@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-path-inv;rport
From: <sip:bob@127.0.0.1>;tag=b1
To: <sip:alice@127.0.0.1>
Call-ID: live-path-inv@test
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 0
`)
	req := edge.ExpectRequest(3*time.Second, "INVITE")
	if req.Recipient.String() != "sip:alice@10.0.0.7:5060" {
		t.Errorf("R-URI %s, want the registered contact", req.Recipient.String())
	}
	rt := req.GetHeader("Route")
	if rt == nil || !strings.Contains(rt.Value(), edge.Addr().String()) {
		t.Errorf("INVITE at the edge without the Path as Route:\n%s", req)
	}
	edge.Reply(req, 486, "Busy Here", "edge-tag")
	bob.ExpectReply(3*time.Second, 486)
}
