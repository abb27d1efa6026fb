package sipmsg

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

const rfc4475Dir = "../../../shared/testdata/rfc4475/"

func mustParse(t testing.TB, s string) sip.Message {
	t.Helper()
	m, err := NewParser(0).ParseSIP([]byte(s))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return m
}

func mustReq(t testing.TB, s string) *sip.Request {
	t.Helper()
	r, ok := mustParse(t, s).(*sip.Request)
	if !ok {
		t.Fatal("not a request")
	}
	return r
}

// req builds a request with the given top Via and extra header lines.
func req(via string, extra ...string) string {
	return "INVITE sip:bob@example.com SIP/2.0\r\n" +
		"Via: " + via + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: \"Alice\" <sip:alice@example.com>;tag=ft1\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"Call-ID: cid-1@example.com\r\n" +
		"CSeq: 7 INVITE\r\n" +
		strings.Join(extra, "") +
		"Content-Length: 0\r\n\r\n"
}

func TestAddReceived(t *testing.T) {
	cases := []struct {
		name, via, src   string
		received, rport  string // "" = absent
		hasRcv, hasRport bool
	}{
		{"same IP", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1", "192.0.2.1:5060", "", "", false, false},
		{"IP differs", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1", "198.51.100.7:5060", "198.51.100.7", "", true, false},
		{"host name", "SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1", "192.0.2.1:5060", "192.0.2.1", "", true, false},
		{"empty rport, same IP", "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1", "192.0.2.1:40000", "192.0.2.1", "40000", true, true},
		{"empty rport, NAT", "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1", "192.0.2.1:40000", "192.0.2.1", "40000", true, true},
		{"rport with value kept", "SIP/2.0/UDP 10.0.0.1:5060;rport=1234;branch=z9hG4bK1", "192.0.2.1:40000", "192.0.2.1", "1234", true, true},
		{"forged received overwritten", "SIP/2.0/UDP 10.0.0.1;received=203.0.113.9;branch=z9hG4bK1", "192.0.2.1:5060", "192.0.2.1", "", true, false},
		{"IPv6 same", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1", "[2001:db8::1]:5060", "", "", false, false},
		{"IPv6 differs", "SIP/2.0/UDP [2001:db8::1]:5060;rport;branch=z9hG4bK1", "[2001:db8::2]:6000", "2001:db8::2", "6000", true, true},
		{"IPv4-mapped source", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", "[::ffff:192.0.2.1]:5060", "", "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustReq(t, req(tc.via))
			AddReceived(r, netip.MustParseAddrPort(tc.src))
			v := r.Via()
			rcv, ok := v.Params.Get("received")
			if ok != tc.hasRcv || rcv != tc.received {
				t.Errorf("received = %q, %v; want %q, %v", rcv, ok, tc.received, tc.hasRcv)
			}
			rp, ok := v.Params.Get("rport")
			if ok != tc.hasRport || rp != tc.rport {
				t.Errorf("rport = %q, %v; want %q, %v", rp, ok, tc.rport, tc.hasRport)
			}
			// What AddReceived writes must parse back.
			if _, err := NewParser(0).ParseSIP([]byte(r.String())); err != nil {
				t.Errorf("reparse: %v", err)
			}
		})
	}
	AddReceived(nil, netip.MustParseAddrPort("192.0.2.1:5060")) // no panic
	r := mustReq(t, req("SIP/2.0/UDP a.example.com"))
	AddReceived(r, netip.AddrPort{})
	if r.Via().Params.Has("received") {
		t.Error("invalid source added received")
	}
}

func TestReplyDest(t *testing.T) {
	cases := []struct {
		via, proto string
		host       string
		port       int
	}{
		{"SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1", "udp", "192.0.2.1", 5070},
		{"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", "udp", "192.0.2.1", 5060},
		{"SIP/2.0/TLS host.example.com;branch=z9hG4bK1", "tls", "host.example.com", 5061},
		{"SIP/2.0/UDP host.example.com;received=192.0.2.9;branch=z9hG4bK1", "udp", "192.0.2.9", 5060},
		{"SIP/2.0/UDP 10.0.0.1:5062;received=192.0.2.9;rport=40000;branch=z9hG4bK1", "udp", "192.0.2.9", 40000},
		{"SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1", "udp", "10.0.0.1", 5062},
		{"SIP/2.0/UDP 10.0.0.1;maddr=239.1.1.1;received=192.0.2.9;branch=z9hG4bK1", "udp", "239.1.1.1", 5060},
		{"SIP/2.0/TCP 10.0.0.1;maddr=239.1.1.1;received=192.0.2.9;branch=z9hG4bK1", "tcp", "192.0.2.9", 5060},
		{"SIP/2.0/UDP [2001:db8::1]:5080;branch=z9hG4bK1", "udp", "2001:db8::1", 5080},
		{"SIP/2.0/UDP [2001:db8::1];received=[2001:db8::2];rport=7;branch=z9hG4bK1", "udp", "2001:db8::2", 7},
		{"SIP/2.0/UDP 10.0.0.1;rport=99999;branch=z9hG4bK1", "udp", "10.0.0.1", 5060},
		{"SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK1", "wss", "df7jal23ls0d.invalid", 443},
	}
	for _, tc := range cases {
		r := mustReq(t, req(tc.via))
		host, port := ReplyDest(r.Via(), tc.proto)
		if host != tc.host || port != tc.port {
			t.Errorf("ReplyDest(%q, %s) = %s %d, want %s %d", tc.via, tc.proto, host, port, tc.host, tc.port)
		}
	}
	if h, p := ReplyDest(nil, "udp"); h != "" || p != 0 {
		t.Error("nil Via")
	}
}

func TestNewReply(t *testing.T) {
	r := mustReq(t, "INVITE sip:bob@example.com SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP p2.example.com;branch=z9hG4bKb\r\n"+
		"Record-Route: <sip:p1.example.com;lr>\r\n"+
		"Via: SIP/2.0/UDP uac.example.com;branch=z9hG4bKc\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:alice@example.com>;tag=ft1\r\n"+
		"To: <sip:bob@example.com>\r\n"+
		"Call-ID: cid-2\r\n"+
		"CSeq: 1   INVITE\r\n"+
		"Contact: <sip:alice@uac.example.com>\r\n"+
		"Timestamp: 54\r\n"+
		"Content-Type: application/sdp\r\n"+
		"Content-Length: 4\r\n\r\nv=0\n")
	res := NewReply(r, 404, "Not Found", "")
	s := res.String()
	wantOrder := []string{
		"SIP/2.0 404 Not Found\r\n",
		"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKa\r\n",
		"Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKb\r\n",
		"Via: SIP/2.0/UDP uac.example.com;branch=z9hG4bKc\r\n",
		"From: <sip:alice@example.com>;tag=ft1\r\n",
		"To: <sip:bob@example.com>;tag=" + ToTag(r) + "\r\n",
		"Call-ID: cid-2\r\n",
		"CSeq: 1 INVITE\r\n",
		"Content-Length: 0\r\n\r\n",
	}
	pos := 0
	for _, w := range wantOrder {
		i := strings.Index(s[pos:], w)
		if i < 0 {
			t.Fatalf("missing or out of order %q in\n%s", w, s)
		}
		pos += i + len(w)
	}
	for _, no := range []string{"Contact", "Record-Route", "Timestamp", "Content-Type", "Max-Forwards"} {
		if strings.Contains(s, no+":") {
			t.Errorf("reply has %s", no)
		}
	}
	// The request is untouched.
	if r.To().Params.Has("tag") || len(r.Body()) != 4 {
		t.Error("request modified")
	}
	// 100: no tag, Timestamp copied.
	s = NewReply(r, 100, "Trying", "").String()
	if strings.Contains(s, ";tag=") && !strings.Contains(s, "To: <sip:bob@example.com>\r\n") {
		t.Errorf("100 got a To tag:\n%s", s)
	}
	if !strings.Contains(s, "Timestamp: 54\r\n") {
		t.Errorf("100 without Timestamp:\n%s", s)
	}
	// An explicit tag is used; an existing tag is kept.
	if s := NewReply(r, 486, "Busy Here", "mytag").String(); !strings.Contains(s, "To: <sip:bob@example.com>;tag=mytag\r\n") {
		t.Errorf("explicit tag:\n%s", s)
	}
	r2 := mustReq(t, strings.Replace(req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=existing", 1))
	if s := NewReply(r2, 481, "Call/Transaction Does Not Exist", "").String(); !strings.Contains(s, ";tag=existing\r\n") || strings.Count(s, "tag=") != 2 {
		t.Errorf("existing tag:\n%s", s)
	}
	// The reply parses.
	if _, err := NewParser(0).ParseSIP([]byte(NewReply(r, 404, "Not Found", "").String())); err != nil {
		t.Error(err)
	}
}

func TestToTagDeterministic(t *testing.T) {
	a := mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"))
	b := mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"))
	if ToTag(a) != ToTag(b) || ToTag(a) == "" {
		t.Errorf("retransmission: %q vs %q", ToTag(a), ToTag(b))
	}
	c := mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bK2"))
	d := mustReq(t, strings.Replace(req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), "CSeq: 7", "CSeq: 8", 1))
	e := mustReq(t, strings.Replace(req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), "cid-1", "cid-9", 1))
	for _, o := range []*sip.Request{c, d, e} {
		if ToTag(o) == ToTag(a) {
			t.Errorf("different request, same tag %q", ToTag(o))
		}
	}
}

func TestBranch(t *testing.T) {
	inv := mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bKabc"))
	b1 := Branch(inv, "udp:192.0.2.1:5060")
	if !strings.HasPrefix(b1, MagicCookie) || len(b1) <= len(MagicCookie) {
		t.Fatalf("branch %q", b1)
	}
	if Branch(mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bKabc")), "udp:192.0.2.1:5060") != b1 {
		t.Error("not deterministic")
	}
	if Branch(inv, "udp:192.0.2.1:5060;1") == b1 {
		t.Error("salt ignored")
	}
	// The CANCEL of an INVITE carries the same top Via branch: same result.
	cancel := mustReq(t, strings.NewReplacer("INVITE sip", "CANCEL sip", "7 INVITE", "7 CANCEL").Replace(req("SIP/2.0/UDP a.example.com;branch=z9hG4bKabc")))
	if Branch(cancel, "udp:192.0.2.1:5060") != b1 {
		t.Error("CANCEL branch differs")
	}
	if Branch(mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bKabd")), "udp:192.0.2.1:5060") == b1 {
		t.Error("different branch, same result")
	}
	// RFC 2543 (no cookie, or only the cookie as in RFC 4475 badbranch).
	for _, via := range []string{"SIP/2.0/UDP a.example.com", "SIP/2.0/UDP a.example.com;branch=z9hG4bK", "SIP/2.0/UDP a.example.com;branch=1234"} {
		r1 := mustReq(t, req(via))
		x := Branch(r1, "s")
		if !strings.HasPrefix(x, MagicCookie) || x != Branch(mustReq(t, req(via)), "s") {
			t.Errorf("2543 branch %q not deterministic", x)
		}
		ack := mustReq(t, strings.NewReplacer("INVITE sip", "ACK sip", "7 INVITE", "7 ACK", "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=totag").Replace(req(via)))
		if Branch(ack, "s") != x {
			t.Errorf("2543 ACK for a non-2xx gets another branch (%s)", via)
		}
		other := mustReq(t, strings.Replace(req(via), "CSeq: 7", "CSeq: 8", 1))
		if Branch(other, "s") == x {
			t.Errorf("2543: other CSeq, same branch")
		}
	}
}

func TestCSeqMethodAndMaxForwards(t *testing.T) {
	r := mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"))
	if CSeqMethod(r) != "INVITE" {
		t.Errorf("CSeqMethod %q", CSeqMethod(r))
	}
	// sipgo's own parser keeps the blanks; CSeqMethod trims them.
	raw, err := sip.ParseMessage([]byte(strings.Replace(req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), "CSeq: 7 INVITE", "CSeq: 7    INVITE", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw.CSeq().MethodName) == "INVITE" {
		t.Log("sipgo now trims CSeq methods itself")
	}
	if CSeqMethod(raw) != "INVITE" {
		t.Errorf("CSeqMethod %q", CSeqMethod(raw))
	}
	if CSeqMethod(nil) != "" {
		t.Error("nil")
	}
	if n, ok := MaxForwards(r); !ok || n != 70 {
		t.Errorf("MaxForwards %d %v", n, ok)
	}
	r2 := mustReq(t, strings.Replace(req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"), "Max-Forwards: 70\r\n", "", 1))
	if _, ok := MaxForwards(r2); ok {
		t.Error("absent Max-Forwards found")
	}
}

func TestCheck(t *testing.T) {
	base := req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
	cases := []struct {
		name string
		msg  string
		code int
	}{
		{"ok", base, 0},
		{"version", strings.Replace(base, "SIP/2.0\r\n", "SIP/3.0\r\n", 1), 505},
		{"no From", strings.Replace(base, "From: \"Alice\" <sip:alice@example.com>;tag=ft1\r\n", "", 1), 400},
		{"no Via", strings.Replace(base, "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n", "", 1), 400},
		{"two Call-IDs", strings.Replace(base, "Call-ID: cid-1@example.com\r\n", "Call-ID: a\r\ni: b\r\n", 1), 400},
		{"two Max-Forwards", strings.Replace(base, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nMax-Forwards: 69\r\n", 1), 400},
		{"two CSeqs", strings.Replace(base, "CSeq: 7 INVITE\r\n", "CSeq: 7 INVITE\r\nCSeq: 8 INVITE\r\n", 1), 400},
		{"CSeq mismatch", strings.Replace(base, "CSeq: 7 INVITE", "CSeq: 7 BYE", 1), 400},
		{"unknown method mismatch", strings.NewReplacer("INVITE sip", "FOO sip").Replace(base), 501},
		{"unknown method ok", strings.NewReplacer("INVITE sip", "FOO sip", "7 INVITE", "7 FOO").Replace(base), 0},
		{"Max-Forwards 256", strings.Replace(base, "Max-Forwards: 70", "Max-Forwards: 256", 1), 400},
		{"Max-Forwards 255", strings.Replace(base, "Max-Forwards: 70", "Max-Forwards: 255", 1), 0},
		{"CSeq 2^32-1", strings.Replace(base, "CSeq: 7", "CSeq: 4294967295", 1), 0},
		{"tel R-URI", strings.Replace(base, "sip:bob@example.com SIP", "tel:+4930123 SIP", 1), 0},
		{"unknown scheme", strings.Replace(base, "sip:bob@example.com SIP", "im:bob@example.com SIP", 1), 416},
		{"R-URI headers", strings.Replace(base, "sip:bob@example.com SIP", "sip:bob@example.com?Subject=x SIP", 1), 400},
		{"bad Via host", strings.Replace(base, "a.example.com;", "a.exa$mple.com;", 1), 400},
		{"Via SIP/3.0 (not checked)", strings.Replace(base, "SIP/2.0/UDP", "SIP/3.0/UDP", 1), 0},
		{"Via not SIP", strings.Replace(base, "SIP/2.0/UDP", "XIP/2.0/UDP", 1), 400},
		{"empty To tag", strings.Replace(base, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=", 1), 400},
		{"empty From tag", strings.Replace(base, "tag=ft1", "tag=", 1), 400},
		{"empty branch", strings.Replace(base, "branch=z9hG4bK1", "branch=", 1), 400},
		{"comma Vias without params", strings.Replace(base, "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1", "Via: SIP/2.0/UDP a.example.com:5060, SIP/2.0/UDP b.example.com", 1), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, reason := Check(mustReq(t, tc.msg))
			if code != tc.code {
				t.Errorf("Check = %d %q, want %d", code, reason, tc.code)
			}
		})
	}
	if code, _ := Check(nil); code != 400 {
		t.Error("nil")
	}
}

func TestCheckResponse(t *testing.T) {
	base := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	cases := []struct {
		name, msg string
		ok        bool
	}{
		{"ok", base, true},
		{"700", strings.Replace(base, "200 OK", "700 Huh", 1), false},
		{"99", strings.Replace(base, "200 OK", "99 Huh", 1), false},
		{"no Call-ID", strings.Replace(base, "Call-ID: x\r\n", "", 1), false},
		{"two To", strings.Replace(base, "Call-ID: x\r\n", "Call-ID: x\r\nTo: <sip:c@example.com>\r\n", 1), false},
		{"SIP/1.0", strings.Replace(base, "SIP/2.0 200", "SIP/1.0 200", 1), false},
	}
	for _, tc := range cases {
		res, ok := mustParse(t, tc.msg).(*sip.Response)
		if !ok {
			t.Fatal("not a response")
		}
		if got, why := CheckResponse(res); got != tc.ok {
			t.Errorf("%s: CheckResponse = %v (%s)", tc.name, got, why)
		}
	}
}

func TestParserRepairsLWS(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(rfc4475Dir, "valid/wsinv.dat"))
	if err != nil {
		t.Fatal(err)
	}
	r := mustReq(t, string(b))
	vias := r.GetHeaders("Via")
	want := []string{
		"SIP/2.0/UDP 192.0.2.2;branch=390skdjuw",
		"SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8",
		"SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239",
	}
	if len(vias) != len(want) {
		t.Fatalf("%d Vias", len(vias))
	}
	for i, v := range vias {
		if v.Value() != want[i] {
			t.Errorf("Via %d = %q, want %q", i, v.Value(), want[i])
		}
	}
	if tag, _ := r.To().Params.Get("tag"); tag != "1918181833n" || r.To().Address.Host != "chair-dnrc.example.com" {
		t.Errorf("To = %q", r.To().Value())
	}
	if tag, _ := r.From().Params.Get("tag"); tag != "98asjd8" {
		t.Errorf("From = %q", r.From().Value())
	}
	if q, _ := r.Contact().Params.Get("q"); q != "0.33" {
		t.Errorf("Contact = %q", r.Contact().Value())
	}
	if CSeqMethod(r) != "INVITE" || r.CSeq().SeqNo != 9 {
		t.Errorf("CSeq = %q", r.CSeq().Value())
	}

	// Comma-separated values, quoted commas, IPv6, sent-by blanks.
	r = mustReq(t, req("SIP / 2.0 / UDP [2001:db8::1] : 5070 ; branch = z9hG4bK1 , SIP/2.0/TCP b.example.com:5061;branch=z9hG4bK2",
		"Contact: \"Doe, J\" <sip:j@example.com;a=b,c>;q=0.1, <sip:k@example.com> ; expires = 60\r\n"))
	vias = r.GetHeaders("Via")
	if len(vias) != 2 {
		t.Fatalf("%d Vias: %v", len(vias), vias)
	}
	v := vias[0].(*sip.ViaHeader)
	if v.Host != "2001:db8::1" || v.Port != 5070 || v.Transport != "UDP" {
		t.Errorf("Via %+v", v)
	}
	if b, _ := v.Params.Get("branch"); b != "z9hG4bK1" {
		t.Errorf("branch %q", b)
	}
	cs := r.GetHeaders("Contact")
	if len(cs) != 2 {
		t.Fatalf("%d Contacts", len(cs))
	}
	if e, _ := cs[1].(*sip.ContactHeader).Params.Get("expires"); e != "60" {
		t.Errorf("Contact 2 = %q", cs[1].Value())
	}
	if cs[0].(*sip.ContactHeader).DisplayName != "Doe, J" {
		t.Errorf("Contact 1 = %q", cs[0].Value())
	}
}

func TestParserRefuses(t *testing.T) {
	base := req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
	for name, msg := range map[string]string{
		"CSeq 2^32":                      strings.Replace(base, "CSeq: 7", "CSeq: 4294967296", 1),
		"CSeq 2^64+1":                    strings.Replace(base, "CSeq: 7", "CSeq: 18446744073709551617", 1),
		"CSeq no method":                 strings.Replace(base, "CSeq: 7 INVITE", "CSeq: 7", 1),
		"CSeq two methods":               strings.Replace(base, "CSeq: 7 INVITE", "CSeq: 7 INVITE BYE", 1),
		"CSeq negative":                  strings.Replace(base, "CSeq: 7", "CSeq: -7", 1),
		"Contact addr-spec with headers": strings.Replace(base, "Content-Length", "Contact: sip:a@b.example.com?Route=x\r\nContent-Length", 1),
		"To addr-spec with headers":      strings.Replace(base, "To: <sip:bob@example.com>", "To: sip:bob@example.com?x=y", 1),
		"spaces inside <>":               strings.Replace(base, "To: <sip:bob@example.com>", "To: < sip:bob@example.com >", 1),
		"quoted comma in a Via param":    strings.Replace(base, "branch=z9hG4bK1", "branch=z9hG4bK1;x=\"a, b\"", 1),
	} {
		if _, err := NewParser(0).ParseSIP([]byte(msg)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	// In <> a URI may carry headers (RFC 4475 regescrt).
	if _, err := NewParser(0).ParseSIP([]byte(strings.Replace(base, "Content-Length", "Contact: <sip:a@b.example.com?Route=%3Csip:x%3E>\r\nContent-Length", 1))); err != nil {
		t.Error(err)
	}
}

// TestRFC4475Parse: every valid/ message parses with NewParser except
// novelsc (unknown scheme with a '.', answered 416 by the transport);
// invalid/ ones either fail or are caught by Check / CheckResponse.
func TestRFC4475Parse(t *testing.T) {
	files, _ := filepath.Glob(rfc4475Dir + "*/*.dat")
	if len(files) != 49 {
		t.Fatalf("%d files", len(files))
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, _ := os.ReadFile(f)
			m, err := NewParser(0).ParseSIP(b)
			valid := strings.HasPrefix(name, "valid/")
			flagged := err != nil
			if err == nil {
				switch x := m.(type) {
				case *sip.Request:
					code, _ := Check(x)
					flagged = code != 0 && code != 416
					if valid && code != 0 && code != 416 {
						t.Errorf("Check = %d", code)
					}
				case *sip.Response:
					ok, why := CheckResponse(x)
					flagged = !ok
					if valid && !ok {
						t.Errorf("CheckResponse: %s", why)
					}
				}
			}
			switch {
			case valid && err != nil && name != "valid/novelsc.dat":
				t.Errorf("does not parse: %v", err)
			case !valid && !flagged && name != "invalid/baddate.dat":
				t.Errorf("invalid message accepted")
			}
		})
	}
}

func TestClassifyAndRawReply(t *testing.T) {
	for _, tc := range []struct {
		in     string
		kind   Kind
		method string
	}{
		{"INVITE sip:a@b SIP/2.0\r\n", KindRequest, "INVITE"},
		{"INVITE  sip:a@b  SIP/2.0  \r\n", KindRequest, "INVITE"},
		{"INVITE sip:a@b; lr SIP/2.0\r\n", KindRequest, "INVITE"},
		{"SIP/2.0 200 OK\r\n", KindResponse, ""},
		{"sip/2.0 4294967301 Huh\r\n", KindResponse, ""},
		{"hello\r\n", KindGarbage, ""},
		{"INVITE sip:a@b\r\n", KindGarbage, ""},
		{"IN<VITE sip:a@b SIP/2.0\r\n", KindGarbage, ""},
		{"", KindGarbage, ""},
	} {
		if k, m := Classify([]byte(tc.in)); k != tc.kind || m != tc.method {
			t.Errorf("Classify(%q) = %v %q", tc.in, k, m)
		}
	}

	src := netip.MustParseAddrPort("192.0.2.99:40000")
	raw := "INVITE  sip:bob@example.com  SIP/2.0\r\n" +
		"v: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKx, SIP/2.0/UDP p.example.com;branch=z9hG4bKy\r\n" +
		"Via: SIP/2.0/TCP q.example.com;branch=z9hG4bKz\r\n" +
		"f: Bell, Alexander <sip:a@example.com>;tag=1\r\n" +
		"t: <sip:bob@example.com>\r\n" +
		"i: raw-1\r\n" +
		"CSeq: 5\r\n INVITE\r\n" +
		"X-Junk: \x01\x02\r\n" +
		"Content-Length: 0\r\n\r\n"
	res, err := NewReplyFromRaw([]byte(raw), src, 400, "Bad Request")
	if err != nil {
		t.Fatal(err)
	}
	s := res.String()
	for _, w := range []string{
		"SIP/2.0 400 Bad Request\r\n",
		"Via: SIP/2.0/UDP 10.0.0.1:5060;rport=40000;branch=z9hG4bKx;received=192.0.2.99\r\n",
		"Via: SIP/2.0/UDP p.example.com;branch=z9hG4bKy\r\n",
		"Via: SIP/2.0/TCP q.example.com;branch=z9hG4bKz\r\n",
		"From: \"Bell, Alexander\" <sip:a@example.com>;tag=1\r\n",
		"Call-ID: raw-1\r\n",
		"CSeq: 5 INVITE\r\n",
		"Content-Length: 0\r\n\r\n",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("missing %q in\n%s", w, s)
		}
	}
	if !strings.Contains(s, "To: <sip:bob@example.com>;tag=") || strings.Contains(s, "X-Junk") {
		t.Errorf("To / junk:\n%s", s)
	}
	if h, p := ReplyDest(res.Via(), "udp"); h != "192.0.2.99" || p != 40000 {
		t.Errorf("ReplyDest %s %d", h, p)
	}
	// Same input, same tag.
	res2, _ := NewReplyFromRaw([]byte(raw), src, 400, "Bad Request")
	if res2.String() != s {
		t.Error("not deterministic")
	}

	for name, tc := range map[string]struct {
		raw string
		err error
	}{
		"reply":     {"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example.com\r\n\r\n", ErrNotRequest},
		"garbage":   {"\x16\x03\x01", ErrNotRequest},
		"ACK":       {"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com\r\n\r\n", ErrNoReplyToACK},
		"no Via":    {"INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>\r\n\r\n", ErrNoVia},
		"bad Via":   {"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/\x16UD~PTo :::]\r\n\r\n", ErrNoVia},
		"empty Via": {"INVITE sip:a@b SIP/2.0\r\nVia:\r\n\r\n", ErrNoVia},
	} {
		if _, err := NewReplyFromRaw([]byte(tc.raw), src, 400, "Bad Request"); err != tc.err {
			t.Errorf("%s: %v, want %v", name, err, tc.err)
		}
	}
}

func TestCanonicalAndRemove(t *testing.T) {
	r := mustReq(t, req("SIP/2.0/UDP a.example.com;branch=z9hG4bK1", "X-Internal: 1\r\n", "x-internal : 2\r\n", "X-Internal\t: 3\r\n"))
	if n := len(Headers(r, "X-INTERNAL")); n != 3 {
		t.Fatalf("%d X-Internal headers", n)
	}
	if n := Remove(r, "x-internal"); n != 3 || Has(r, "X-Internal") {
		t.Errorf("removed %d", n)
	}
	if !Same("v", "Via") || Canonical(" Call-ID\t") != "call-id" {
		t.Error("Canonical")
	}
}
