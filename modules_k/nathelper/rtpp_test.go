package nathelper_test

import (
	"bufio"
	"net"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

// rtppConfig is a config with the fake proxies as rtpproxy_sock values
// (each "[set ==] url") and the extra parameters. The request route runs
// the function named in X-Func with the flags of X-Flags; the reply route
// runs force_rtp_proxy (or X-Func when the reply has one).
func rtppConfig(socks []string, params string) string {
	var b strings.Builder
	b.WriteString("loadmodule \"textops.so\"\nloadmodule \"nathelper.so\"\n")
	for _, s := range socks {
		b.WriteString(`modparam("nathelper", "rtpproxy_sock", "` + s + `")` + "\n")
	}
	b.WriteString(params)
	b.WriteString(`
route {
	$var(f) = "";
	if ($hdr(X-Flags) != $null) $var(f) = $hdr(X-Flags);
`)
	for _, sock := range socks {
		if id, _, ok := strings.Cut(sock, "=="); ok {
			id = strings.TrimSpace(id)
			b.WriteString("\tif ($hdr(X-Set) == \"" + id + "\") set_rtp_proxy_set(\"" + id + "\");\n")
		}
	}
	b.WriteString(`	$var(rc) = 0;
	if ($hdr(X-Func) == "offer") {
		if (rtpproxy_offer("$var(f)")) $var(rc) = 1; else $var(rc) = -1;
	} else if ($hdr(X-Func) == "answer") {
		if (rtpproxy_answer("$var(f)")) $var(rc) = 1; else $var(rc) = -1;
	} else if ($hdr(X-Func) == "ip") {
		if (force_rtp_proxy("$var(f)", "192.0.2.200")) $var(rc) = 1; else $var(rc) = -1;
	} else if ($hdr(X-Func) == "record") {
		if (start_recording()) $var(rc) = 1; else $var(rc) = -1;
	} else if (is_method("BYE")) {
		if (unforce_rtp_proxy()) $var(rc) = 1; else $var(rc) = -1;
	} else {
		if (force_rtp_proxy("$var(f)")) $var(rc) = 1; else $var(rc) = -1;
	}
}
onreply_route {
	$var(rc) = 0;
	if ($hdr(X-Func) == "offer") {
		if (rtpproxy_offer()) $var(rc) = 1; else $var(rc) = -1;
	} else {
		if (force_rtp_proxy()) $var(rc) = 1; else $var(rc) = -1;
	}
}
`)
	return b.String()
}

const rtppFast = `modparam("nathelper", "rtpproxy_tout", 1)
modparam("nathelper", "rtpproxy_retr", 2)
modparam("nathelper", "rtpproxy_disable_tout", 1)
`

var oneStream = sdpLines(
	"v=0",
	"o=alice 1 1 IN IP4 10.0.0.5",
	"s=-",
	"c=IN IP4 10.0.0.5",
	"t=0 0",
	"m=audio 49170 RTP/AVP 0 8",
)

// request runs the request route over a message with SDP from src.
func request(t *testing.T, s *siptest.Script, head, body, src string) *sr.Ctx {
	t.Helper()
	req := withBody(t, head, "application/sdp", body)
	c := s.Ctx(req, "udp", src)
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c
}

const okHead = `SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-s1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>;tag=b1
Call-ID: sdp-call@example.org
CSeq: 1 INVITE
Contact: <sip:bob@10.1.0.9>
`

func TestForceRTPProxy(t *testing.T) {
	p := newFakeRTPProxy(t)
	s := siptest.NewScript(t, rtppConfig([]string{p.url()}, rtppFast))
	const src = "203.0.113.7:5060"

	t.Run("offer in the INVITE", func(t *testing.T) {
		c := request(t, s, inviteHead, oneStream, src)
		if varInt(c, "rc") != 1 {
			t.Fatalf("rc = %d", varInt(c, "rc"))
		}
		want := sdpLines("v=0", "o=alice 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
			"m=audio 35000 RTP/AVP 0 8", "a=nortpproxy:yes")
		if got := string(c.Req.Body()); got != want {
			t.Errorf("body:\n%s\nwant:\n%s", got, want)
		}
		checkLength(t, c.Req)
		if got := p.commands(); !reflect.DeepEqual(got, []string{"U sdp-call@example.org 203.0.113.7 49170 a1"}) {
			t.Errorf("commands %q", got)
		}
	})

	t.Run("answer in the 200", func(t *testing.T) {
		p.set(func(f *fakeRTPProxy) {
			f.cmds = nil
			f.reply = func(cmd string) string {
				if strings.HasPrefix(cmd, "L") {
					return "35002 192.0.2.50"
				}
				return "20040107"
			}
		})
		res := withResponse(t, okHead, oneStream)
		c := s.Ctx(res, "udp", "198.51.100.7:5060")
		s.Loaded.Script.Run(c, sr.RouteOnReply, "")
		if varInt(c, "rc") != 1 {
			t.Fatalf("rc = %d", varInt(c, "rc"))
		}
		if got := p.commands(); !reflect.DeepEqual(got, []string{"L sdp-call@example.org 198.51.100.7 49170 b1 a1"}) {
			t.Errorf("commands %q", got)
		}
		if body := string(res.Body()); !strings.Contains(body, "c=IN IP4 192.0.2.50\r\n") || !strings.Contains(body, "m=audio 35002 ") {
			t.Errorf("body:\n%s", body)
		}
		checkLength(t, res)
	})
	p.set(func(f *fakeRTPProxy) {
		f.reply = func(cmd string) string {
			switch {
			case cmd == "V":
				return "20040107"
			case strings.HasPrefix(cmd, "VF"):
				return "1"
			case strings.HasPrefix(cmd, "U6"), strings.HasPrefix(cmd, "L6"):
				return "36000 2001:db8::50 6"
			case strings.HasPrefix(cmd, "U"), strings.HasPrefix(cmd, "L"):
				return "35000"
			}
			return "0"
		}
	})

	for _, tc := range []struct {
		name, head, body string
		rc               int
		cmds             []string
		bodyHas          []string
	}{
		{"two streams carry media numbers", inviteHead, twoStreams, 1,
			[]string{"U sdp-call@example.org 203.0.113.7 49170 a1;1", "U sdp-call@example.org 203.0.113.7 51372 a1;2"},
			[]string{"c=IN IP4 127.0.0.1\r\nt=0 0", "m=audio 35000 RTP/AVP 0 8", "m=video 35000 RTP/AVP 31", "c=IN IP4 127.0.0.1/127"}},
		{"r trusts the SDP address", inviteHead + "X-Flags: r\n", oneStream, 1,
			[]string{"U sdp-call@example.org 10.0.0.5 49170 a1"}, []string{"c=IN IP4 127.0.0.1"}},
		{"a is asymmetric and trusts the SDP", inviteHead + "X-Flags: a\n", oneStream, 1,
			[]string{"UA sdp-call@example.org 10.0.0.5 49170 a1"}, nil},
		{"bridge and symmetric options", inviteHead + "X-Flags: iew\n", oneStream, 1,
			[]string{"UIES sdp-call@example.org 203.0.113.7 49170 a1"}, nil},
		{"IPv6 SDP", inviteHead + "X-Flags: r\n", sdpLines("v=0", "o=- 1 1 IN IP6 2001:db8::5", "s=-", "c=IN IP6 2001:db8::5", "t=0 0", "m=audio 4000 RTP/AVP 0"), 1,
			[]string{"U6 sdp-call@example.org 2001:db8::5 4000 a1"}, []string{"c=IN IP6 2001:db8::50", "m=audio 36000 "}},
		{"IPv6 proxy address replaces IPv4", inviteHead + "X-Flags: r\n", sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0", "c=IN IP6 fd00::1"), 1,
			[]string{"U6 sdp-call@example.org fd00::1 4000 a1"}, []string{"c=IN IP6 2001:db8::50"}},
		{"o rewrites the origin, c the session address", inviteHead + "X-Flags: oc\n", twoStreams, 1, nil,
			[]string{"o=alice 2890844526 2890844526 IN IP4 127.0.0.1", "s=-\r\nc=IN IP4 127.0.0.1"}},
		{"the function's IP", inviteHead + "X-Func: ip\n", oneStream, 1, nil, []string{"c=IN IP4 192.0.2.200"}},
		{"already proxied", inviteHead, oneStream + "a=nortpproxy:yes\r\n", -1, nil, nil},
		{"f proxies again", inviteHead + "X-Flags: f\n", oneStream + "a=nortpproxy:yes\r\n", 1,
			[]string{"U sdp-call@example.org 203.0.113.7 49170 a1"}, nil},
		{"disabled stream is left alone", inviteHead, sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 10.0.0.5", "t=0 0",
			"m=audio 4000 RTP/AVP 0", "m=video 0 RTP/AVP 31"), 1,
			[]string{"U sdp-call@example.org 203.0.113.7 4000 a1;1"}, []string{"m=video 0 RTP/AVP 31"}},
		{"hold keeps 0.0.0.0", inviteHead, sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"), 1,
			nil, []string{"c=IN IP4 0.0.0.0", "m=audio 35000"}},
		{"l without To tag", inviteHead + "X-Flags: l\n", oneStream, -1, nil, nil},
		{"l with To tag looks up", strings.Replace(inviteHead, "To: <sip:bob@example.org>", "To: <sip:bob@example.org>;tag=b1", 1) + "X-Flags: l\n", oneStream, 1,
			[]string{"L sdp-call@example.org 203.0.113.7 49170 a1 b1"}, nil},
		{"unknown flag at run time", inviteHead + "X-Flags: q\n", oneStream, -1, nil, nil},
		{"no SDP", inviteHead, "", -1, nil, nil},
		{"malformed SDP", inviteHead, "garbage\r\n", -1, nil, nil},
		{"m= line without c=", inviteHead, sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), -1, nil, nil},
		{"bad m= port", inviteHead, sdpLines("v=0", "c=IN IP4 10.0.0.5", "m=audio 9x RTP/AVP 0"), -1, nil, nil},
		{"no From tag", strings.Replace(inviteHead, ";tag=a1", "", 1), oneStream, -1, nil, nil},
		{"offer", inviteHead + "X-Func: offer\n", oneStream, 1, []string{"U sdp-call@example.org 203.0.113.7 49170 a1"}, nil},
		{"answer in an INVITE is refused", inviteHead + "X-Func: answer\n", oneStream, -1, nil, nil},
		{"answer in an ACK", strings.Replace(strings.Replace(strings.Replace(inviteHead, "INVITE sip", "ACK sip", 1), "1 INVITE", "1 ACK", 1),
			"To: <sip:bob@example.org>", "To: <sip:bob@example.org>;tag=b1", 1) + "X-Func: answer\n", oneStream, 1,
			[]string{"L sdp-call@example.org 203.0.113.7 49170 a1 b1"}, nil},
		{"force_rtp_proxy in an ACK answers", strings.Replace(strings.Replace(strings.Replace(inviteHead, "INVITE sip", "ACK sip", 1), "1 INVITE", "1 ACK", 1),
			"To: <sip:bob@example.org>", "To: <sip:bob@example.org>;tag=b1", 1), oneStream, 1,
			[]string{"L sdp-call@example.org 203.0.113.7 49170 a1 b1"}, nil},
		{"s swaps: the INVITE looks up", strings.Replace(inviteHead, "To: <sip:bob@example.org>", "To: <sip:bob@example.org>;tag=b1", 1) + "X-Flags: s\n", oneStream, 1,
			[]string{"L sdp-call@example.org 203.0.113.7 49170 a1 b1"}, nil},
		{"MESSAGE is refused", strings.Replace(strings.Replace(inviteHead, "INVITE sip", "MESSAGE sip", 1), "1 INVITE", "1 MESSAGE", 1), oneStream, -1, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.set(func(f *fakeRTPProxy) { f.cmds = nil })
			before := oneStream
			if tc.body != "" {
				before = tc.body
			}
			c := request(t, s, tc.head, tc.body, src)
			if got := varInt(c, "rc"); got != tc.rc {
				t.Errorf("rc = %d, want %d", got, tc.rc)
			}
			if tc.cmds != nil {
				if got := p.commands(); !reflect.DeepEqual(got, tc.cmds) {
					t.Errorf("commands %q, want %q", got, tc.cmds)
				}
			}
			if tc.rc < 0 {
				if got := string(c.Req.Body()); tc.body != "" && got != before {
					t.Errorf("a failed call changed the body:\n%s", got)
				}
				if len(tc.cmds) == 0 && len(p.commands()) != 0 && !strings.Contains(tc.name, "INVITE is refused") {
					t.Errorf("commands sent: %q", p.commands())
				}
			}
			for _, want := range tc.bodyHas {
				if !strings.Contains(string(c.Req.Body()), want) {
					t.Errorf("body lacks %q:\n%s", want, c.Req.Body())
				}
			}
			checkLength(t, c.Req)
		})
	}

	t.Run("offer in a reply", func(t *testing.T) {
		p.set(func(f *fakeRTPProxy) { f.cmds = nil })
		res := withResponse(t, okHead+"X-Func: offer\n", oneStream)
		c := s.Ctx(res, "udp", "198.51.100.7:5060")
		s.Loaded.Script.Run(c, sr.RouteOnReply, "")
		if got := p.commands(); varInt(c, "rc") != 1 || !reflect.DeepEqual(got, []string{"U sdp-call@example.org 198.51.100.7 49170 b1 a1"}) {
			t.Errorf("rc %d, commands %q", varInt(c, "rc"), got)
		}
	})

	t.Run("delete and record", func(t *testing.T) {
		p.set(func(f *fakeRTPProxy) { f.cmds = nil })
		bye := `BYE sip:bob@10.1.0.9 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-bye
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>;tag=b1
Call-ID: sdp-call@example.org
CSeq: 2 BYE
`
		c := runReq(t, s, bye+"\n", "udp", src)
		c2 := runReq(t, s, bye+"X-Func: record\n\n", "udp", src)
		if varInt(c, "rc") != 1 || varInt(c2, "rc") != 1 {
			t.Errorf("rc %d %d", varInt(c, "rc"), varInt(c2, "rc"))
		}
		want := []string{"D sdp-call@example.org a1 b1", "R sdp-call@example.org a1 b1"}
		if got := p.commands(); !reflect.DeepEqual(got, want) {
			t.Errorf("commands %q, want %q", got, want)
		}
	})

	t.Run("error reply", func(t *testing.T) {
		p.set(func(f *fakeRTPProxy) {
			f.cmds = nil
			old := f.reply
			f.reply = func(cmd string) string {
				if strings.HasPrefix(cmd, "U") {
					return "E8"
				}
				return old(cmd)
			}
		})
		c := request(t, s, inviteHead, oneStream, src)
		if varInt(c, "rc") != -1 || string(c.Req.Body()) != oneStream {
			t.Errorf("E8: rc %d, body %q", varInt(c, "rc"), c.Req.Body())
		}
		// The proxy answered: it stays enabled.
		c = runReq(t, s, strings.Replace(inviteHead, "INVITE sip:bob", "BYE sip:bob", 1)+"\n", "udp", src)
		_ = c
		if got := p.commands(); len(got) != 2 || !strings.HasPrefix(got[1], "D ") {
			t.Errorf("commands after an error reply: %q", got)
		}
	})
}

// withResponse builds a reply with an SDP body written as is.
func withResponse(t *testing.T, head, body string) *sip.Response {
	t.Helper()
	h := strings.ReplaceAll(strings.TrimLeft(head, "\n"), "\n", "\r\n")
	h += "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	m, err := sipmsg.NewParser(0).ParseSIP([]byte(h + body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m.(*sip.Response)
}

// Unknown flags and sets are refused when the script loads.
func TestRTPPFixups(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`route { force_rtp_proxy("aq"); }`, "force_rtp_proxy"},
		{`route { rtpproxy_offer("r", "nonsense"); }`, "rtpproxy_offer"},
		{`route { set_rtp_proxy_set("3"); }`, "set 3"},
		{`route { set_rtp_proxy_set("x"); }`, "set_rtp_proxy_set"},
		{`onreply_route { start_recording(); } failure_route[F] { start_recording(); }`, "start_recording"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"nathelper.so\"\nmodparam(\"nathelper\", \"rtpproxy_sock\", \"udp:127.0.0.1:7722\")\n"+tc.cfg+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.cfg, err, tc.want)
		}
	}
	for _, bad := range []string{"udp:127.0.0.1:99999", "1x == udp:127.0.0.1:7722", "2 ==", "udp:127.0.0.1:7722=x", "udp:"} {
		_, err := siptest.LoadErr(t, "loadmodule \"nathelper.so\"\nmodparam(\"nathelper\", \"rtpproxy_sock\", \""+bad+"\")\nroute { }\n")
		if err == nil || !strings.Contains(err.Error(), "rtpproxy_sock") {
			t.Errorf("rtpproxy_sock %q: error %v", bad, err)
		}
	}
}

// A proxy that does not answer in time gets the command again, up to
// rtpproxy_retr times; one that never answers is disabled for
// rtpproxy_disable_tout seconds, then tested and used again.
func TestRTPPTimeoutRetriesAndDisable(t *testing.T) {
	p := newFakeRTPProxy(t)
	s := siptest.NewScript(t, rtppConfig([]string{p.url()}, rtppFast))
	const src = "203.0.113.7:5060"
	if c := request(t, s, inviteHead, oneStream, src); varInt(c, "rc") != 1 {
		t.Fatalf("first call: rc %d", varInt(c, "rc"))
	}

	// One lost datagram: the retransmission gets the answer.
	p.set(func(f *fakeRTPProxy) { f.cmds, f.drop, f.seen = nil, 1, 0 })
	start := time.Now()
	if c := request(t, s, inviteHead, oneStream, src); varInt(c, "rc") != 1 {
		t.Fatalf("after one loss: rc %d", varInt(c, "rc"))
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("answered after %s: no wait for the timeout", d)
	}
	if n := p.datagrams(); n != 2 {
		t.Errorf("%d datagrams, want 2 (one retransmission)", n)
	}

	// A dead proxy: both tries time out, the call fails, the proxy is
	// disabled.
	p.set(func(f *fakeRTPProxy) { f.silent, f.seen = true, 0 })
	if c := request(t, s, inviteHead, oneStream, src); varInt(c, "rc") != -1 || string(c.Req.Body()) != oneStream {
		t.Fatalf("dead proxy: rc %d", varInt(c, "rc"))
	}
	if n := p.datagrams(); n != 2 {
		t.Errorf("%d datagrams to the dead proxy, want 2 (rtpproxy_retr)", n)
	}
	// Disabled: the next call fails at once without asking it.
	p.set(func(f *fakeRTPProxy) { f.seen = 0 })
	start = time.Now()
	if c := request(t, s, inviteHead, oneStream, src); varInt(c, "rc") != -1 {
		t.Fatalf("disabled proxy: rc %d", varInt(c, "rc"))
	}
	if d := time.Since(start); d > 500*time.Millisecond || p.datagrams() != 0 {
		t.Errorf("a disabled proxy was asked (%d datagrams, %s)", p.datagrams(), d)
	}
	// Back after rtpproxy_disable_tout (1 s): re-tested, used again.
	p.set(func(f *fakeRTPProxy) { f.silent, f.cmds = false, nil })
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := request(t, s, inviteHead, oneStream, src)
		if varInt(c, "rc") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the proxy was not enabled again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.mu.Lock()
	cmds := append([]string(nil), p.cmds...)
	p.mu.Unlock()
	if len(cmds) < 3 || cmds[0] != "V" || !strings.HasPrefix(cmds[1], "VF ") {
		t.Errorf("re-enabling did not test the version first: %q", cmds)
	}
}

// Two sets: set_rtp_proxy_set picks the one the next functions use; with
// no set 0 configured nothing is chosen by default.
func TestRTPPSets(t *testing.T) {
	p1, p2 := newFakeRTPProxy(t), newFakeRTPProxy(t)
	s := siptest.NewScript(t, rtppConfig([]string{"1 == " + p1.url(), "2 == " + p2.url()}, rtppFast))
	const src = "203.0.113.7:5060"
	if c := request(t, s, inviteHead, oneStream, src); varInt(c, "rc") != -1 {
		t.Errorf("without a set: rc %d", varInt(c, "rc"))
	}
	if c := request(t, s, inviteHead+"X-Set: 2\n", oneStream, src); varInt(c, "rc") != 1 {
		t.Errorf("set 2: rc %d", varInt(c, "rc"))
	}
	if len(p1.commands()) != 0 || len(p2.commands()) != 1 {
		t.Errorf("set 2 went to %q / %q", p1.commands(), p2.commands())
	}
	if c := request(t, s, inviteHead+"X-Set: 1\n", oneStream, src); varInt(c, "rc") != 1 {
		t.Errorf("set 1: rc %d", varInt(c, "rc"))
	}
	if len(p1.commands()) != 1 || len(p2.commands()) != 1 {
		t.Errorf("set 1 went to %q / %q", p1.commands(), p2.commands())
	}
}

// In a set of two, the Call-ID hash picks the proxy; when one is dead its
// calls go to the other.
func TestRTPPBalanceAndFailover(t *testing.T) {
	p1, p2 := newFakeRTPProxy(t), newFakeRTPProxy(t)
	s := siptest.NewScript(t, rtppConfig([]string{p1.url() + " " + p2.url()}, rtppFast))
	const src = "203.0.113.7:5060"
	// Byte sums: "a@x" = 97+64+120 = 281 -> 25 (& 0xff), odd; "b@x" 26, even.
	call := func(id string) int {
		head := strings.Replace(inviteHead, "sdp-call@example.org", id, 1)
		return varInt(request(t, s, head, oneStream, src), "rc")
	}
	if call("b@x") != 1 || call("a@x") != 1 {
		t.Fatal("calls failed")
	}
	if len(p1.commands()) != 1 || len(p2.commands()) != 1 {
		t.Fatalf("not balanced: %q / %q", p1.commands(), p2.commands())
	}
	p1.set(func(f *fakeRTPProxy) { f.silent = true })
	if call("b@x") != -1 { // still goes to p1, which times out
		t.Error("the call to the dead proxy succeeded")
	}
	if call("b@x") != 1 {
		t.Error("the call did not fail over")
	}
	if got := p2.commands(); len(got) != 2 || !strings.Contains(got[1], " b@x ") {
		t.Errorf("p2 commands %q", got)
	}
}

// The unix socket transport: one stream connection per command, no
// cookie.
func TestRTPPUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rtpp.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Skipf("unix sockets: %v", err)
	}
	got := make(chan string, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := bufio.NewReader(conn).ReadString(0)
			reply := "0"
			switch {
			case b == "V":
				reply = "20040107"
			case strings.HasPrefix(b, "VF"):
				reply = "1"
			case strings.HasPrefix(b, "U"):
				reply = "40000"
			}
			got <- b
			_, _ = conn.Write([]byte(reply + "\n"))
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	s := siptest.NewScript(t, rtppConfig([]string{"unix:" + path}, rtppFast))
	c := request(t, s, inviteHead, oneStream, "203.0.113.7:5060")
	if varInt(c, "rc") != 1 || !strings.Contains(string(c.Req.Body()), "m=audio 40000 ") {
		t.Fatalf("rc %d, body %s", varInt(c, "rc"), c.Req.Body())
	}
	var cmds []string
	for len(got) > 0 {
		cmds = append(cmds, <-got)
	}
	if want := []string{"V", "VF 20050322", "U sdp-call@example.org 203.0.113.7 49170 a1"}; !reflect.DeepEqual(cmds, want) {
		t.Errorf("commands %q, want %q", cmds, want)
	}
}
