package nathelper_test

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/textops"
	_ "sip-router.org/modules/tm"
	_ "sip-router.org/modules_k/kex"
	_ "sip-router.org/modules_k/nathelper"
	_ "sip-router.org/modules_k/registrar"
	_ "sip-router.org/modules_k/usrloc"
)

// runReq runs the request route over a request received over proto from
// src.
func runReq(t *testing.T, s *siptest.Script, text, proto, src string) *sr.Ctx {
	t.Helper()
	c := s.Ctx(siptest.Request(t, text), proto, src)
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c
}

// runReply runs the unnamed onreply_route over a reply.
func runReply(t *testing.T, s *siptest.Script, text, proto, src string) *sr.Ctx {
	t.Helper()
	c := s.Ctx(siptest.Response(t, text), proto, src)
	s.Loaded.Script.Run(c, sr.RouteOnReply, "")
	return c
}

func varInt(c *sr.Ctx, name string) int {
	n, _ := c.Vars[name].AsInt()
	return n
}

const uacTestCfg = `
loadmodule "nathelper.so"
route {
	$var(t1) = 0; $var(t2) = 0; $var(t4) = 0; $var(t8) = 0; $var(t16) = 0; $var(t19) = 0; $var(t31) = 0;
	if (nat_uac_test("1")) $var(t1) = 1;
	if (nat_uac_test("2")) $var(t2) = 1;
	if (nat_uac_test("4")) $var(t4) = 1;
	if (nat_uac_test("8")) $var(t8) = 1;
	if (nat_uac_test("16")) $var(t16) = 1;
	if (nat_uac_test("19")) $var(t19) = 1;
	if (nat_uac_test("31")) $var(t31) = 1;
}
onreply_route {
	$var(t1) = 0; $var(t2) = 0; $var(t8) = 0; $var(t16) = 0;
	if (nat_uac_test("1")) $var(t1) = 1;
	if (nat_uac_test("2")) $var(t2) = 1;
	if (nat_uac_test("8")) $var(t8) = 1;
	if (nat_uac_test("16")) $var(t16) = 1;
}
`

// invite builds an INVITE with the given top Via sent-by, Contact and SDP
// connection address ("" for no SDP).
func invite(via, contact, sdpIP string) string {
	msg := `INVITE sip:bob@example.org SIP/2.0
Via: SIP/2.0/UDP ` + via + `;branch=z9hG4bK-1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>
Call-ID: uac-test@example.org
CSeq: 1 INVITE
`
	if contact != "" {
		msg += "Contact: " + contact + "\n"
	}
	if sdpIP == "" {
		return msg + "\n"
	}
	return msg + `Content-Type: application/sdp

v=0
o=- 1 1 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 4000 RTP/AVP 0
c=IN IP4 ` + sdpIP + `
`
}

// Each nat_uac_test bit tests one thing; combinations are true when any
// of their bits is.
func TestNatUACTest(t *testing.T) {
	s := siptest.NewScript(t, uacTestCfg)
	pub := "<sip:alice@192.0.2.10:5060>"
	for _, tc := range []struct {
		name string
		msg  string
		src  string
		want map[string]int // t1, t2, t4, t8, t16, t19, t31
	}{
		{"public and consistent", invite("192.0.2.10:5060", pub, "192.0.2.10"), "192.0.2.10:5060",
			map[string]int{"t1": 0, "t2": 0, "t4": 0, "t8": 0, "t16": 0, "t19": 0, "t31": 0}},
		{"private contact", invite("192.0.2.10:5060", "<sip:alice@192.168.1.5:5060>", "192.0.2.10"), "192.0.2.10:5060",
			map[string]int{"t1": 1, "t2": 0, "t4": 0, "t8": 0, "t16": 0, "t19": 1, "t31": 1}},
		{"contact 172.16/12", invite("192.0.2.10:5060", "<sip:alice@172.31.255.254>", ""), "192.0.2.10:5060",
			map[string]int{"t1": 1, "t19": 1}},
		{"contact 172.32 is public", invite("192.0.2.10:5060", "<sip:alice@172.32.0.1>", ""), "192.0.2.10:5060",
			map[string]int{"t1": 0, "t19": 0}},
		{"contact 10/8", invite("192.0.2.10:5060", "sip:alice@10.1.2.3", ""), "192.0.2.10:5060",
			map[string]int{"t1": 1}},
		{"IPv6 contact is not RFC 1918", invite("192.0.2.10:5060", "<sip:alice@[fd00::1]>", ""), "192.0.2.10:5060",
			map[string]int{"t1": 0}},
		{"contact host name", invite("192.0.2.10:5060", "<sip:alice@ua.example.org>", ""), "192.0.2.10:5060",
			map[string]int{"t1": 0}},
		{"no contact", invite("192.0.2.10:5060", "", ""), "192.0.2.10:5060",
			map[string]int{"t1": 0, "t19": 0}},
		{"source IP differs from Via", invite("192.0.2.99:5060", pub, ""), "192.0.2.10:5060",
			map[string]int{"t2": 1, "t4": 0, "t16": 0, "t19": 1}},
		{"Via host is a name", invite("ua.example.org:5060", pub, ""), "192.0.2.10:5060",
			map[string]int{"t2": 1, "t19": 1}},
		{"Via with received from the sender", strings.Replace(invite("192.0.2.10:5060", pub, ""),
			";branch=z9hG4bK-1", ";received=192.0.2.10;branch=z9hG4bK-1", 1), "192.0.2.10:5060",
			map[string]int{"t2": 1}},
		{"private Via", invite("10.0.0.5:5060", pub, ""), "192.0.2.10:5060",
			map[string]int{"t2": 1, "t4": 1, "t16": 0, "t19": 1, "t31": 1}},
		{"private SDP", invite("192.0.2.10:5060", pub, "192.168.0.20"), "192.0.2.10:5060",
			map[string]int{"t1": 0, "t2": 0, "t4": 0, "t8": 1, "t16": 0, "t19": 0, "t31": 1}},
		{"source port differs", invite("192.0.2.10:5060", pub, ""), "192.0.2.10:40000",
			map[string]int{"t2": 0, "t16": 1, "t19": 1}},
		{"Via without port is 5060", invite("192.0.2.10", pub, ""), "192.0.2.10:5060",
			map[string]int{"t16": 0}},
		{"Via without port, source 5062", invite("192.0.2.10", pub, ""), "192.0.2.10:5062",
			map[string]int{"t16": 1}},
		{"IPv6 Via matching the source", invite("[2001:db8::10]:5060", "<sip:alice@[2001:db8::10]>", ""), "[2001:db8::10]:5060",
			map[string]int{"t2": 0, "t4": 0, "t16": 0, "t31": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := runReq(t, s, tc.msg, "udp", tc.src)
			for k, want := range tc.want {
				if got := varInt(c, k); got != want {
					t.Errorf("nat_uac_test(%q) = %d, want %d", strings.TrimPrefix(k, "t"), got, want)
				}
			}
		})
	}

	t.Run("reply", func(t *testing.T) {
		c := runReply(t, s, `SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>;tag=b1
Call-ID: uac-test@example.org
CSeq: 1 INVITE
Contact: <sip:bob@10.0.0.7:5060>
Content-Type: application/sdp

v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 4000 RTP/AVP 0
`, "udp", "198.51.100.7:5060")
		for k, want := range map[string]int{"t1": 1, "t2": 1, "t8": 1, "t16": 0} {
			if got := varInt(c, k); got != want {
				t.Errorf("reply: nat_uac_test(%q) = %d, want %d", strings.TrimPrefix(k, "t"), got, want)
			}
		}
	})
}

func TestNatUACTestFixup(t *testing.T) {
	for _, arg := range []string{`"x"`, `"-1"`, `$var(x)`} {
		_, err := siptest.LoadErr(t, "loadmodule \"nathelper.so\"\nroute { nat_uac_test("+arg+"); }\n")
		if err == nil || !strings.Contains(err.Error(), "nat_uac_test") {
			t.Errorf("nat_uac_test(%s): error %v, want one naming nat_uac_test", arg, err)
		}
	}
}

const contactCfg = `
loadmodule "nathelper.so"
route {
	$var(rc) = 0;
	if (fix_nated_contact()) $var(rc) = 1; else $var(rc) = -1;
}
onreply_route {
	if (fix_nated_contact()) $var(rc) = 1; else $var(rc) = -1;
}
`

func contactOf(msg sip.Message) string {
	if h := sipmsg.Header(msg, "Contact"); h != nil {
		return h.Value()
	}
	return ""
}

// fix_nated_contact puts the source address into the first Contact,
// keeping user, parameters and header parameters.
func TestFixNatedContact(t *testing.T) {
	s := siptest.NewScript(t, contactCfg)
	for _, tc := range []struct {
		name, contact, src, want string
		rc                       int
	}{
		{"private", `<sip:alice@10.0.0.5:5070;transport=udp>;expires=60`, "203.0.113.7:40001",
			`<sip:alice@203.0.113.7:40001;transport=udp>;expires=60`, 1},
		{"no port", `"Alice" <sip:alice@192.168.0.2>`, "203.0.113.7:5060", `"Alice" <sip:alice@203.0.113.7:5060>`, 1},
		{"IPv6 source", `<sip:alice@10.0.0.5>`, "[2001:db8::7]:5062", `<sip:alice@[2001:db8::7]:5062>`, 1},
		{"star", `*`, "203.0.113.7:5060", "*", -1},
		{"none", ``, "203.0.113.7:5060", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := runReq(t, s, invite("10.0.0.5:5070", tc.contact, ""), "udp", tc.src)
			if got := varInt(c, "rc"); got != tc.rc {
				t.Errorf("rc = %d, want %d", got, tc.rc)
			}
			if got := contactOf(c.Req); got != tc.want {
				t.Errorf("Contact = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("reply", func(t *testing.T) {
		c := runReply(t, s, `SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>;tag=b1
Call-ID: c1@example.org
CSeq: 1 INVITE
Contact: <sip:bob@10.0.0.7:5060>

`, "udp", "198.51.100.7:4444")
		if got := contactOf(c.Resp); got != "<sip:bob@198.51.100.7:4444>" {
			t.Errorf("reply Contact = %q", got)
		}
	})
}

const registerMsg = `REGISTER sip:example.org SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-r1
From: <sip:alice@example.org>;tag=r1
To: <sip:alice@example.org>
Call-ID: reg1@example.org
CSeq: 1 REGISTER
Contact: <sip:alice@10.0.0.5:5060>;expires=600, <sip:alice@10.0.0.5:5062>
Expires: 600

`

// fix_nated_register adds the source as a SIP URI to received_avp.
func TestFixNatedRegister(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "nathelper.so"
modparam("nathelper", "received_avp", "$avp(i:80)")
route {
	if (fix_nated_register()) $var(rc) = 1;
}
`)
	for _, tc := range []struct{ proto, src, want string }{
		{"udp", "203.0.113.7:40001", "sip:203.0.113.7:40001"},
		{"tcp", "203.0.113.7:40001", "sip:203.0.113.7:40001;transport=TCP"},
		{"tls", "203.0.113.7:5061", "sip:203.0.113.7:5061;transport=TLS"},
		{"udp", "[2001:db8::7]:5060", "sip:[2001:db8::7]:5060"},
	} {
		c := runReq(t, s, registerMsg, tc.proto, tc.src)
		if varInt(c, "rc") != 1 {
			t.Fatalf("%s %s: fix_nated_register failed", tc.proto, tc.src)
		}
		v, ok := c.AVPs.Get(sr.AVPName{ID: 80, IsID: true}, 0, 0)
		if !ok || v.S != tc.want {
			t.Errorf("%s %s: $avp(i:80) = %v, want %q", tc.proto, tc.src, v, tc.want)
		}
	}

	// Without received_avp the call is refused when the script loads, as
	// in Kamailio.
	_, err := siptest.LoadErr(t, "loadmodule \"nathelper.so\"\nroute { fix_nated_register(); }\n")
	if err == nil || !strings.Contains(err.Error(), "received_avp") {
		t.Errorf("fix_nated_register without received_avp: %v", err)
	}
	// A bad AVP is a modparam error.
	_, err = siptest.LoadErr(t, "loadmodule \"nathelper.so\"\nmodparam(\"nathelper\", \"received_avp\", \"$ru(\")\nroute { }\n")
	if err == nil || !strings.Contains(err.Error(), "received_avp") {
		t.Errorf("bad received_avp: %v", err)
	}
	// Only in request routes.
	_, err = siptest.LoadErr(t, "loadmodule \"nathelper.so\"\nmodparam(\"nathelper\", \"received_avp\", \"$avp(i:80)\")\nonreply_route { fix_nated_register(); }\n")
	if err == nil || !strings.Contains(err.Error(), "fix_nated_register") {
		t.Errorf("fix_nated_register in onreply_route: %v", err)
	}
}

// add_rcv_param adds the source URI to every Contact, as a quoted header
// parameter or as a URI parameter.
func TestAddRcvParam(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "nathelper.so"
route {
	if ($hdr(X-Form) == "uri") add_rcv_param("1"); else add_rcv_param();
}
`)
	c := runReq(t, s, registerMsg, "udp", "203.0.113.7:40001")
	cts := sipmsg.Headers(c.Req, "Contact")
	if len(cts) != 2 {
		t.Fatalf("%d contacts", len(cts))
	}
	want := []string{`<sip:alice@10.0.0.5:5060>;expires=600;received="sip:203.0.113.7:40001"`,
		`<sip:alice@10.0.0.5:5062>;received="sip:203.0.113.7:40001"`}
	for i, h := range cts {
		if h.Value() != want[i] {
			t.Errorf("contact %d = %q, want %q", i, h.Value(), want[i])
		}
	}
	c = runReq(t, s, strings.Replace(registerMsg, "Expires: 600", "Expires: 600\nX-Form: uri", 1), "tcp", "203.0.113.7:40001")
	if got := sipmsg.Headers(c.Req, "Contact")[1].Value(); got != `<sip:alice@10.0.0.5:5062;received=sip:203.0.113.7:40001;transport=TCP>` {
		t.Errorf("URI form: %q", got)
	}
}

// add_contact_alias marks a Contact with the source address;
// handle_ruri_alias turns the mark of a Request-URI into $du and removes
// it.
func TestContactAlias(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "textops.so"
loadmodule "nathelper.so"
route {
	if (is_method("INVITE")) {
		add_contact_alias();
	} else {
		handle_ruri_alias();
	}
	$var(rc) = $rc;
}
`)
	for _, tc := range []struct {
		name, contact, proto, src, want string
		rc                              int
	}{
		{"nated", "<sip:alice@10.0.0.5:5060>", "udp", "203.0.113.7:40001", "<sip:alice@10.0.0.5:5060;alias=203.0.113.7~40001~1>", 1},
		{"tcp", "<sip:alice@10.0.0.5:5060>", "tcp", "203.0.113.7:40001", "<sip:alice@10.0.0.5:5060;alias=203.0.113.7~40001~2>", 1},
		{"ipv6", "<sip:alice@10.0.0.5>", "udp", "[2001:db8::7]:5060", "<sip:alice@10.0.0.5;alias=[2001:db8::7]~5060~1>", 1},
		{"already the source", "<sip:alice@203.0.113.7:40001>", "udp", "203.0.113.7:40001", "<sip:alice@203.0.113.7:40001>", 2},
		{"default port", "<sip:alice@203.0.113.7>", "udp", "203.0.113.7:5060", "<sip:alice@203.0.113.7>", 2},
		{"no contact", "", "udp", "203.0.113.7:5060", "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := runReq(t, s, invite("10.0.0.5", tc.contact, ""), tc.proto, tc.src)
			if got := varInt(c, "rc"); got != tc.rc {
				t.Errorf("rc = %d, want %d", got, tc.rc)
			}
			if got := contactOf(c.Req); got != tc.want {
				t.Errorf("Contact = %q, want %q", got, tc.want)
			}
		})
	}
	bye := func(ruri string) string {
		return "BYE " + ruri + ` SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-b
From: <sip:bob@example.org>;tag=b1
To: <sip:alice@example.org>;tag=a1
Call-ID: c1@example.org
CSeq: 2 BYE

`
	}
	for _, tc := range []struct {
		name, ruri, du, newRURI string
		rc                      int
	}{
		{"udp", "sip:alice@10.0.0.5:5060;alias=203.0.113.7~40001~1;lr", "sip:203.0.113.7:40001", "sip:alice@10.0.0.5:5060;lr", 1},
		{"tcp", "sip:alice@10.0.0.5:5060;alias=203.0.113.7~40001~2", "sip:203.0.113.7:40001;transport=tcp", "sip:alice@10.0.0.5:5060", 1},
		{"ipv6", "sip:alice@10.0.0.5;alias=[2001:db8::7]~5060~1", "sip:[2001:db8::7]:5060", "sip:alice@10.0.0.5", 1},
		{"none", "sip:alice@10.0.0.5:5060", "", "sip:alice@10.0.0.5:5060", 2},
		{"bad proto", "sip:alice@10.0.0.5;alias=203.0.113.7~5060~9", "", "sip:alice@10.0.0.5;alias=203.0.113.7~5060~9", -1},
		{"bad port", "sip:alice@10.0.0.5;alias=203.0.113.7~99999~1", "", "sip:alice@10.0.0.5;alias=203.0.113.7~99999~1", -1},
		{"not an IP", "sip:alice@10.0.0.5;alias=host~5060~1", "", "sip:alice@10.0.0.5;alias=host~5060~1", -1},
	} {
		t.Run("handle "+tc.name, func(t *testing.T) {
			c := runReq(t, s, bye(tc.ruri), "udp", "192.0.2.1:5060")
			if got := varInt(c, "rc"); got != tc.rc {
				t.Errorf("rc = %d, want %d", got, tc.rc)
			}
			if c.DstURI != tc.du {
				t.Errorf("$du = %q, want %q", c.DstURI, tc.du)
			}
			if got := c.Req.Recipient.String(); got != tc.newRURI {
				t.Errorf("R-URI = %q, want %q", got, tc.newRURI)
			}
		})
	}
}

func TestRRCount(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "nathelper.so"
route { $var(n) = $rr_count; }
`)
	c := runReq(t, s, `INVITE sip:bob@example.org SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-rr
Record-Route: <sip:p1.example.org;lr>, <sip:p2.example.org;lr>
Record-Route: <sip:p3.example.org;lr>
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>
Call-ID: rr@example.org
CSeq: 1 INVITE

`, "udp", "192.0.2.1:5060")
	if n := varInt(c, "n"); n != 3 {
		t.Errorf("$rr_count = %d, want 3", n)
	}
}
