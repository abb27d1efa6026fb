package nathelper_test

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

// Every function of the module takes any parsable message without
// panicking, requests and replies alike.
func FuzzFunctions(f *testing.F) {
	for _, seed := range []string{
		invite("10.0.0.5:5060", "<sip:alice@10.0.0.5:5060>", "192.168.0.20"),
		registerMsg,
		"BYE sip:alice@10.0.0.5;alias=203.0.113.7~40001~2 SIP/2.0\r\nVia: SIP/2.0/UDP x;branch=z9hG4bK-1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add(string(siptest.Normalize(seed)))
	}
	p := newFakeRTPProxy(f)
	s := siptest.NewScript(f, `
loadmodule "nathelper.so"
modparam("nathelper", "received_avp", "$avp(i:80)")
modparam("nathelper", "rtpproxy_sock", "`+p.url()+`")
route {
	nat_uac_test("31");
	fix_nated_contact();
	add_rcv_param();
	add_rcv_param("1");
	add_contact_alias();
	handle_ruri_alias();
	fix_nated_sdp("15");
	fix_nated_register();
	force_rtp_proxy("r");
	rtpproxy_answer();
	unforce_rtp_proxy();
	$var(n) = $rr_count;
}
onreply_route {
	nat_uac_test("31");
	fix_nated_contact();
	add_contact_alias();
	fix_nated_sdp("3", "2001:db8::1");
	force_rtp_proxy();
	rtpproxy_offer("oc");
}
`)
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := sipmsg.NewParser(0).ParseSIP([]byte(raw))
		if err != nil {
			return
		}
		c := s.Ctx(m, "udp", "203.0.113.7:40001")
		if _, ok := m.(*sip.Response); ok {
			s.Loaded.Script.Run(c, sr.RouteOnReply, "")
		} else {
			s.Loaded.Script.Run(c, sr.RouteRequest, "")
		}
		_ = m.String()
	})
}
