package nathelper_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

// sdpLines joins SDP lines with CRLF, with a final CRLF.
func sdpLines(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

var twoStreams = sdpLines(
	"v=0",
	"o=alice 2890844526 2890844526 IN IP4 10.0.0.5",
	"s=-",
	"c=IN IP4 10.0.0.5",
	"t=0 0",
	"m=audio 49170 RTP/AVP 0 8",
	"a=rtpmap:0 PCMU/8000",
	"m=video 51372 RTP/AVP 31",
	"c=IN IP4 10.0.0.6/127",
	"a=sendrecv",
)

// withBody builds a message around a body written as is (Normalize would
// rewrite its line ends), with a Content-Length matching it.
func withBody(t *testing.T, head, ctype, body string) *sip.Request {
	t.Helper()
	h := strings.ReplaceAll(strings.TrimLeft(head, "\n"), "\n", "\r\n")
	if ctype != "" {
		h += "Content-Type: " + ctype + "\r\n"
	}
	h += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	m, err := sipmsg.NewParser(0).ParseSIP([]byte(h + body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m.(*sip.Request)
}

const inviteHead = `INVITE sip:bob@example.org SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-s1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>
Call-ID: sdp-call@example.org
CSeq: 1 INVITE
Contact: <sip:alice@10.0.0.5>
`

// checkLength verifies that the message has one Content-Length, equal to
// its body's size, and that it parses back to the same body.
func checkLength(t *testing.T, msg sip.Message) {
	t.Helper()
	hs := sipmsg.Headers(msg, "Content-Length")
	if len(hs) != 1 {
		t.Fatalf("%d Content-Length headers", len(hs))
	}
	if want := strconv.Itoa(len(msg.Body())); hs[0].Value() != want {
		t.Errorf("Content-Length %s, body %s bytes", hs[0].Value(), want)
	}
	back, err := sipmsg.NewParser(0).ParseSIP([]byte(msg.String()))
	if err != nil {
		t.Fatalf("the message does not parse back: %v", err)
	}
	if string(back.Body()) != string(msg.Body()) {
		t.Errorf("body after a round trip:\n%q\nwant\n%q", back.Body(), msg.Body())
	}
}

// sdpScript runs fix_nated_sdp with the flags and IP of header X-Case.
func sdpScript(t *testing.T, calls map[string]string) *siptest.Script {
	var b strings.Builder
	b.WriteString("loadmodule \"nathelper.so\"\nroute {\n\t$var(rc) = 0;\n")
	for name, call := range calls {
		b.WriteString("\tif ($hdr(X-Case) == \"" + name + "\") { if (" + call + ") $var(rc) = 1; else $var(rc) = -1; }\n")
	}
	b.WriteString("}\n")
	return siptest.NewScript(t, b.String())
}

func TestFixNatedSDP(t *testing.T) {
	s := sdpScript(t, map[string]string{
		"dir":    `fix_nated_sdp("1")`,
		"media":  `fix_nated_sdp("2")`,
		"marker": `fix_nated_sdp("4")`,
		"both":   `fix_nated_sdp("10")`,
		"all":    `fix_nated_sdp("15")`,
		"ip":     `fix_nated_sdp("2", "198.51.100.1")`,
		"ip6":    `fix_nated_sdp("10", "2001:db8::99")`,
		"pvip":   `fix_nated_sdp("2", "$hdr(X-IP)")`,
	})
	src := "203.0.113.7:40000"
	for _, tc := range []struct {
		name, xcase, ctype, body, want string
		rc                             int
	}{
		{"direction", "dir", "application/sdp", twoStreams, twoStreams + "a=direction:active\r\n", 1},
		{"marker", "marker", "application/sdp", twoStreams, twoStreams + "a=nortpproxy:yes\r\n", 1},
		{"media IPs", "media", "application/sdp", twoStreams, sdpLines(
			"v=0",
			"o=alice 2890844526 2890844526 IN IP4 10.0.0.5",
			"s=-",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 49170 RTP/AVP 0 8",
			"a=rtpmap:0 PCMU/8000",
			"m=video 51372 RTP/AVP 31",
			"c=IN IP4 203.0.113.7/127",
			"a=sendrecv",
			"a=oldmediaip:10.0.0.5",
			"a=oldmediaip:10.0.0.6",
		), 1},
		{"media and origin", "both", "application/sdp", twoStreams, sdpLines(
			"v=0",
			"o=alice 2890844526 2890844526 IN IP4 203.0.113.7",
			"s=-",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 49170 RTP/AVP 0 8",
			"a=rtpmap:0 PCMU/8000",
			"m=video 51372 RTP/AVP 31",
			"c=IN IP4 203.0.113.7/127",
			"a=sendrecv",
			"a=oldmediaip:10.0.0.5",
			"a=oldmediaip:10.0.0.6",
		), 1},
		{"given IP", "ip", "application/sdp", sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 10.0.0.5", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 198.51.100.1", "t=0 0", "m=audio 4000 RTP/AVP 0", "a=oldmediaip:10.0.0.5"), 1},
		{"IPv6 address replaces IPv4", "ip6", "", sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 10.0.0.5", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			sdpLines("v=0", "o=- 1 1 IN IP6 2001:db8::99", "s=-", "c=IN IP6 2001:db8::99", "t=0 0", "m=audio 4000 RTP/AVP 0", "a=oldmediaip:10.0.0.5"), 1},
		{"IPv6 c= gets the IPv4 source", "media", "application/sdp", sdpLines("v=0", "o=- 1 1 IN IP6 fd00::5", "s=-", "c=IN IP6 fd00::5", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			sdpLines("v=0", "o=- 1 1 IN IP6 fd00::5", "s=-", "c=IN IP4 203.0.113.7", "t=0 0", "m=audio 4000 RTP/AVP 0", "a=oldmediaip6:fd00::5"), 1},
		{"on hold stays on hold", "media", "application/sdp", sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"), 1},
		{"no final line end", "all", "application/sdp", "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0",
			sdpLines("v=0", "o=- 1 1 IN IP4 203.0.113.7", "s=-", "c=IN IP4 203.0.113.7", "t=0 0", "m=audio 4000 RTP/AVP 0",
				"a=direction:active", "a=nortpproxy:yes", "a=oldmediaip:10.0.0.5"), 1},
		{"LF line ends are kept", "media", "application/sdp", "v=0\no=- 1 1 IN IP4 10.0.0.5\ns=-\nc=IN IP4 10.0.0.5\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
			"v=0\no=- 1 1 IN IP4 10.0.0.5\ns=-\nc=IN IP4 203.0.113.7\nt=0 0\nm=audio 4000 RTP/AVP 0\na=oldmediaip:10.0.0.5\n", 1},
		{"no SDP", "media", "", "", "", -1},
		{"not SDP", "media", "text/plain", "hello\r\n", "hello\r\n", -1},
		{"malformed SDP", "media", "application/sdp", "this is not\r\nSDP at all\r\n", "this is not\r\nSDP at all\r\n", -1},
		{"no c= line", "media", "application/sdp", sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.5", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), -1},
		{"broken c= line", "media", "application/sdp", sdpLines("v=0", "c=IN IP9 x", "m=audio 4000 RTP/AVP 0"),
			sdpLines("v=0", "c=IN IP9 x", "m=audio 4000 RTP/AVP 0"), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := withBody(t, inviteHead+"X-Case: "+tc.xcase+"\n", tc.ctype, tc.body)
			c := s.Ctx(req, "udp", src)
			s.Loaded.Script.Run(c, sr.RouteRequest, "")
			if got := varInt(c, "rc"); got != tc.rc {
				t.Errorf("rc = %d, want %d", got, tc.rc)
			}
			if got := string(req.Body()); got != tc.want {
				t.Errorf("body:\n%s\nwant:\n%s", got, tc.want)
			}
			checkLength(t, req)
		})
	}
	t.Run("IP from a variable that is not an IP", func(t *testing.T) {
		req := withBody(t, inviteHead+"X-Case: pvip\nX-IP: nonsense\n", "application/sdp", twoStreams)
		c := s.Ctx(req, "udp", src)
		s.Loaded.Script.Run(c, sr.RouteRequest, "")
		if varInt(c, "rc") != -1 || string(req.Body()) != twoStreams {
			t.Errorf("rc %d, body changed: %v", varInt(c, "rc"), string(req.Body()) != twoStreams)
		}
	})
	for _, bad := range []string{`fix_nated_sdp("16")`, `fix_nated_sdp("x")`, `fix_nated_sdp("2", "not-an-ip")`} {
		if _, err := siptest.LoadErr(t, "loadmodule \"nathelper.so\"\nroute { "+bad+"; }\n"); err == nil || !strings.Contains(err.Error(), "fix_nated_sdp") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}
