package nathelper

import (
	"log/slog"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
)

type fakeSource struct {
	list  []pingTarget
	mask  uint32
	known bool
}

func (f *fakeSource) targets() ([]pingTarget, error) { return f.list, nil }
func (f *fakeSource) natFlag() (uint32, bool)        { return f.mask, f.known }

func newTestPinger(t *testing.T, src contactSource, natedOnly bool) (*pinger, *siptest.Core) {
	t.Helper()
	core := siptest.NewCore()
	m := &nathelper{
		PingNatedOnly: natedOnly, SippingBflag: 7, SippingFrom: "sip:pinger@example.org", SippingMethod: "OPTIONS",
		core: core, log: slog.New(slog.DiscardHandler),
	}
	return newPinger(m, src), core
}

// Contacts get a 4-byte keepalive, or an OPTIONS when their branch flags
// hold sipping_bflag; behind a NAT the ping goes to the received address.
func TestPingOnce(t *testing.T) {
	src := &fakeSource{list: []pingTarget{
		{URI: "sip:alice@10.0.0.5:5060", Received: "sip:203.0.113.7:40001"},
		{URI: "sip:bob@198.51.100.9:5070", CFlags: 1 << 7, Socket: "udp:127.0.0.1:5060"},
		{URI: "sip:carol@198.51.100.10;transport=tcp"},
		{URI: "sip:dave@unresolvable.example.org"},
	}}
	p, core := newTestPinger(t, src, false)
	p.once()
	sent := core.Sent()
	if len(sent) != 2 {
		t.Fatalf("%d pings sent, want 2 (TCP and unresolvable contacts are skipped)", len(sent))
	}
	if sent[0].Dst.String() != "udp:203.0.113.7:40001" || sent[0].Msg.String() != "\x00\x00\x00\x00" {
		t.Errorf("keepalive: %q to %s", sent[0].Msg.String(), sent[0].Dst)
	}
	req, ok := sent[1].Msg.(*sip.Request)
	if !ok {
		t.Fatalf("SIP ping is %T", sent[1].Msg)
	}
	if sent[1].Dst.String() != "udp:198.51.100.9:5070" || req.Method != sip.OPTIONS || req.Recipient.String() != "sip:bob@198.51.100.9:5070" {
		t.Errorf("SIP ping %s to %s", req.StartLine(), sent[1].Dst)
	}
	if f := req.From(); f == nil || f.Address.String() != "sip:pinger@example.org" || !f.Params.Has("tag") {
		t.Errorf("From %v", req.From())
	}
	if sent[1].Dst.Socket == nil || sent[1].Dst.Socket.String() != "udp:127.0.0.1:5060" {
		t.Errorf("socket %v", sent[1].Dst.Socket)
	}
	back, err := sipmsg.NewParser(0).ParseSIP([]byte(req.String()))
	if err != nil {
		t.Fatalf("the ping does not parse: %v\n%s", err, req)
	}
	if code, reason := sipmsg.Check(back.(*sip.Request)); code != 0 {
		t.Errorf("the ping is not a valid request: %d %s\n%s", code, reason, req)
	}
	// Its reply is absorbed; other replies are not.
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if !p.isPingReply(res) {
		t.Error("the reply to the ping is not recognised")
	}
	other := siptest.Response(t, `SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-x
From: <sip:a@example.org>;tag=1
To: <sip:b@example.org>;tag=2
Call-ID: other@example.org
CSeq: 1 OPTIONS

`)
	if p.isPingReply(other) {
		t.Error("a foreign reply is taken for a ping reply")
	}
}

// With ping_nated_only, only NATed contacts are pinged: those with
// usrloc's nat flag when it is known, else those registered with a
// received address.
func TestPingNatedOnly(t *testing.T) {
	list := []pingTarget{
		{URI: "sip:a@192.0.2.1", CFlags: 1 << 6},
		{URI: "sip:b@192.0.2.2", Received: "sip:192.0.2.22:5060"},
		{URI: "sip:c@192.0.2.3"},
	}
	for _, tc := range []struct {
		name  string
		src   *fakeSource
		wantN int
		first string
	}{
		{"nat flag known", &fakeSource{list: list, mask: 1 << 6, known: true}, 1, "udp:192.0.2.1:5060"},
		{"nat flag unknown", &fakeSource{list: list}, 1, "udp:192.0.2.22:5060"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, core := newTestPinger(t, tc.src, true)
			p.once()
			sent := core.Sent()
			if len(sent) != tc.wantN || sent[0].Dst.String() != tc.first {
				t.Errorf("sent %d, first to %v", len(sent), sent)
			}
		})
	}
}

func TestParseULDump(t *testing.T) {
	res := map[string]any{"Domains": []any{map[string]any{"Domain": "location", "AoRs": []any{
		map[string]any{"AoR": "alice", "Contacts": []any{
			map[string]any{"Contact": "sip:alice@10.0.0.5", "Received": "sip:203.0.113.7:5060", "Socket": "udp:127.0.0.1:5060", "Cflags": int64(64)},
			map[string]any{"Contact": ""},
		}},
	}}}}
	got, err := parseULDump(res)
	if err != nil || len(got) != 1 || got[0] != (pingTarget{URI: "sip:alice@10.0.0.5", Received: "sip:203.0.113.7:5060", Socket: "udp:127.0.0.1:5060", CFlags: 64}) {
		t.Errorf("parseULDump = %+v, %v", got, err)
	}
	if _, err := parseULDump("nonsense"); err == nil {
		t.Error("no error for a result of the wrong shape")
	}
}

func TestMatchSocket(t *testing.T) {
	core := siptest.NewCore()
	for spec, want := range map[string]string{
		"udp:127.0.0.1:5060": "udp:127.0.0.1:5060",
		"tcp:127.0.0.1:5060": "tcp:127.0.0.1:5060",
		"127.0.0.1":          "udp:127.0.0.1:5060",
		"udp:127.0.0.1:5070": "",
		"udp:10.0.0.1:5060":  "",
		"":                   "",
	} {
		got := ""
		if s := matchSocket(core.Sockets(), spec); s != nil {
			got = s.String()
		}
		if got != want {
			t.Errorf("matchSocket(%q) = %q, want %q", spec, got, want)
		}
	}
}

// The SDP editor takes any body without panicking, and what it writes
// back is what it read.
func FuzzSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"))
	f.Add([]byte("v=0\nc=IN IP6 ::1/2/3\nm=audio 1/2 RTP/AVP\nm=video x"))
	f.Add([]byte("v=0\r\nm=audio 65536 RTP/AVP 0\r\nc=IN\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSDP(b)
		if err != nil {
			return
		}
		if string(s.bytes()) != string(b) {
			t.Fatalf("round trip changed the body")
		}
		ms, sessEnd, err := s.medias()
		for i := range s.lines {
			if ca, ok := parseConn(s.lines[i].text); ok {
				s.setAddr(i, ca, "2001:db8::1")
			}
			if oa, ok := parseOrigin(s.lines[i].text); ok {
				s.setAddr(i, oa, "192.0.2.1")
			}
		}
		if err == nil {
			for _, m := range ms {
				s.setPort(m, 1234)
			}
			_ = s.sessionConn(sessEnd)
			_ = s.origin(sessEnd)
		}
		s.appendLine("a=nortpproxy:yes")
		if _, err := parseSDP(s.bytes()); err != nil {
			t.Fatalf("the edited body does not parse: %v", err)
		}
	})
}
