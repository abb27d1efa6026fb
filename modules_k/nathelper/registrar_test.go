package nathelper_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
)

// The WITH_NAT flow of Kamailio's default config, with the real usrloc
// and registrar: a NATed REGISTER gets received_avp from
// fix_nated_register, registrar stores it as the contact's received
// address, lookup() routes calls there, and the NAT pinger keeps the
// binding open (OPTIONS for contacts saved with sipping_bflag, a 4-byte
// keepalive otherwise).
func TestNATRegisterLookupAndPing(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "kex.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
modparam("nathelper", "natping_interval", 1)
modparam("nathelper", "ping_nated_only", 1)
modparam("nathelper", "sipping_bflag", 7)
modparam("nathelper", "sipping_from", "sip:pinger@example.org")
modparam("registrar|nathelper", "received_avp", "$avp(i:80)")
modparam("usrloc", "nat_bflag", 6)
route {
	if (nat_uac_test("19")) {
		if (method == "REGISTER") {
			fix_nated_register();
		} else {
			fix_nated_contact();
		}
		setbflag("6");
		if ($hdr(X-SIP-Ping) == "yes") setbflag("7");
	}
	if (method == "REGISTER") {
		save("location");
		exit;
	}
	lookup("location");
}
`)
	register := func(user, port, extra string) {
		t.Helper()
		runReq(t, s, `REGISTER sip:example.org SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:`+port+`;branch=z9hG4bK-`+user+`
From: <sip:`+user+`@example.org>;tag=r1
To: <sip:`+user+`@example.org>
Call-ID: reg-`+user+`@example.org
CSeq: 1 REGISTER
Contact: <sip:`+user+`@10.0.0.5:`+port+`>
Expires: 600
`+extra+`
`, "udp", "203.0.113.7:4"+port)
	}
	register("alice", "5060", "")
	register("bob", "5062", "X-SIP-Ping: yes")
	replies := s.Core.Replies()
	if len(replies) != 2 || replies[0].StatusCode != 200 || replies[1].StatusCode != 200 {
		t.Fatalf("REGISTER replies: %v", replies)
	}

	c := runReq(t, s, `INVITE sip:alice@example.org SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-inv
From: <sip:carol@example.org>;tag=c1
To: <sip:alice@example.org>
Call-ID: call@example.org
CSeq: 1 INVITE

`, "udp", "192.0.2.1:5060")
	if c.Req.Recipient.String() != "sip:alice@10.0.0.5:5060" || c.DstURI != "sip:203.0.113.7:45060" {
		t.Errorf("lookup: R-URI %s, $du %q", c.Req.Recipient.String(), c.DstURI)
	}

	// Wait for one round of pings.
	deadline := time.Now().Add(5 * time.Second)
	var keep, opts bool
	for time.Now().Before(deadline) && !(keep && opts) {
		for _, sent := range s.Core.Sent() {
			if sent.Reply {
				continue
			}
			switch dst := sent.Dst.String(); {
			case dst == "udp:203.0.113.7:45060" && sent.Msg.String() == "\x00\x00\x00\x00":
				keep = true
			case dst == "udp:203.0.113.7:45062":
				if req, ok := sent.Msg.(*sip.Request); ok && req.Method == sip.OPTIONS &&
					strings.HasPrefix(req.Recipient.String(), "sip:bob@10.0.0.5:5062") {
					opts = true
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !keep || !opts {
		t.Errorf("pings: keepalive to alice %v, OPTIONS to bob %v; sent: %v", keep, opts, s.Core.Sent())
	}

	// nh_enable_ping shows and switches the pinger.
	if r, err := s.RPC.Call(rpcReq("nh_enable_ping")); err != nil || r.(map[string]any)["Status"] != int64(1) {
		t.Errorf("nh_enable_ping: %v %v", r, err)
	}
	if _, err := s.RPC.Call(rpcReq("nh_enable_ping", "0")); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RPC.Call(rpcReq("nh_enable_ping")); r.(map[string]any)["Status"] != int64(0) {
		t.Errorf("nh_enable_ping after 0: %v", r)
	}
}
