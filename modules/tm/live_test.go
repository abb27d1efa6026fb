package tm_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/rpc"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/tm"
)

const wait = 3 * time.Second

var seq atomic.Int64

// call is one dialog's identifiers for building test requests.
type call struct {
	id, branch, ftag string
	uac              *siptest.Peer
	cseq             int
}

func newCall(uac *siptest.Peer) *call {
	n := seq.Add(1)
	return &call{
		id:     fmt.Sprintf("call-%d-%d@test", n, time.Now().UnixNano()),
		branch: fmt.Sprintf("z9hG4bK-c%d", n),
		ftag:   fmt.Sprintf("f%d", n),
		uac:    uac,
		cseq:   1,
	}
}

// request writes a request of the call from the UAC (Via with rport).
func (c *call) request(method, ruri, branch string, cseq int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\n", c.uac.Addr(), branch)
	fmt.Fprintf(&b, "From: <sip:alice@example.com>;tag=%s\n", c.ftag)
	b.WriteString("To: <sip:bob@example.com>\n")
	fmt.Fprintf(&b, "Call-ID: %s\n", c.id)
	fmt.Fprintf(&b, "CSeq: %d %s\n", cseq, method)
	b.WriteString("Max-Forwards: 70\n")
	fmt.Fprintf(&b, "Contact: <sip:alice@%s>\n", c.uac.Addr())
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

func (c *call) invite(ruri string) string {
	return c.request("INVITE", ruri, c.branch, c.cseq)
}

// ack2xx is the end-to-end ACK of a 2xx: a new branch, the To of the reply.
func (c *call) ack2xx(ruri, toTag string) string {
	s := c.request("ACK", ruri, c.branch+"-ack", c.cseq)
	return strings.Replace(s, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag="+toTag, 1)
}

// ackNon2xx is the hop-by-hop ACK of a final non-2xx: the INVITE's branch.
func (c *call) ackNon2xx(ruri, toTag string) string {
	s := c.request("ACK", ruri, c.branch, c.cseq)
	return strings.Replace(s, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag="+toTag, 1)
}

func (c *call) cancel(ruri string) string {
	return c.request("CANCEL", ruri, c.branch, c.cseq)
}

// expand replaces placeholders by peer addresses.
func expand(cfg string, peers map[string]*siptest.Peer) string {
	for name, p := range peers {
		cfg = strings.ReplaceAll(cfg, name+"_PORT", fmt.Sprint(p.Port()))
		cfg = strings.ReplaceAll(cfg, name, p.Addr().String())
	}
	return cfg
}

// expectRequest waits for a request of a method, skipping retransmissions
// of other requests (a UAS that has not answered yet sees INVITE copies).
func expectRequest(t *testing.T, p *siptest.Peer, method string, d time.Duration) *sip.Request {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("peer %s: no %s in %s", p.Addr(), method, d)
		}
		m, _, err := p.Recv(left)
		if err != nil {
			t.Fatalf("peer %s: waiting for %s: %v", p.Addr(), method, err)
		}
		if r, ok := m.(*sip.Request); ok && string(r.Method) == method {
			return r
		}
	}
}

// expectReply waits for a reply with the code, skipping other provisional
// replies and request retransmissions.
func expectReply(t *testing.T, p *siptest.Peer, code int, d time.Duration) *sip.Response {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("peer %s: no %d in %s", p.Addr(), code, d)
		}
		m, _, err := p.Recv(left)
		if err != nil {
			t.Fatalf("peer %s: waiting for %d: %v", p.Addr(), code, err)
		}
		res, ok := m.(*sip.Response)
		if !ok {
			continue
		}
		if res.StatusCode == code {
			return res
		}
		if res.StatusCode >= 200 {
			t.Fatalf("peer %s: expected %d, got %d %s", p.Addr(), code, res.StatusCode, res.Reason)
		}
	}
}

func TestInviteRelayedWithTrying(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
route { if (!t_relay("udp:UAS")) { exit; } }
`, map[string]*siptest.Peer{"UAS": uas}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	trying := uac.ExpectReply(wait, 100)
	if n := len(trying.GetHeaders("Via")); n != 1 {
		t.Errorf("100 Trying has %d Vias, want 1", n)
	}
	req := uas.ExpectRequest(wait, "INVITE")
	vias := req.GetHeaders("Via")
	if len(vias) != 2 {
		t.Fatalf("UAS got %d Vias, want 2:\n%s", len(vias), req)
	}
	top := req.Via()
	if b, _ := top.Params.Get("branch"); !strings.HasPrefix(b, "z9hG4bK") || top.Port != int(srv.UDP.Port()) {
		t.Errorf("top Via %s lacks our address or a magic-cookie branch", top.Value())
	}
	if rp, _ := vias[1].(*sip.ViaHeader).Params.Get("rport"); rp != fmt.Sprint(uac.Port()) {
		t.Errorf("client Via rport=%q, want %d", rp, uac.Port())
	}
	uas.Reply(req, 100, "Trying", "")
	uas.Reply(req, 180, "Ringing", "uas1")
	ring := uac.ExpectReply(wait, 180)
	if n := len(ring.GetHeaders("Via")); n != 1 {
		t.Errorf("180 reached the UAC with %d Vias", n)
	}
	uas.Reply(req, 200, "OK", "uas1")
	ok := uac.ExpectReply(wait, 200)
	uac.Send(srv.UDP, c.ack2xx("sip:bob@example.com", ok.To().Params.GetOr("tag", "")))
	ack := expectRequest(t, uas, "ACK", wait)
	if b, _ := ack.Via().Params.Get("branch"); !strings.HasPrefix(b, "z9hG4bK") {
		t.Errorf("relayed ACK branch %q", b)
	}
	if n := len(ack.GetHeaders("Via")); n != 2 {
		t.Errorf("relayed ACK has %d Vias, want 2", n)
	}
}

// A retransmitted request is absorbed and answered with the last reply.
func TestRetransmissionAbsorbed(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
route { if (!t_relay("udp:UAS")) { exit; } }
`, map[string]*siptest.Peer{"UAS": uas}))
	c := newCall(uac)
	inv := c.invite("sip:bob@example.com")
	uac.Send(srv.UDP, inv)
	uac.ExpectReply(wait, 100)
	req := uas.ExpectRequest(wait, "INVITE")
	uas.Reply(req, 180, "Ringing", "")
	uac.ExpectReply(wait, 180)

	uac.Send(srv.UDP, inv) // the UAC retransmits
	if r := uac.ExpectReply(wait, 180); r.StatusCode != 180 {
		t.Fatalf("retransmission answered with %d", r.StatusCode)
	}
	uas.ExpectNothing(300 * time.Millisecond)

	// A non-INVITE answered 200: its retransmission gets the 200 again.
	o := newCall(uac)
	opt := o.request("OPTIONS", "sip:bob@example.com", o.branch, 1)
	uac.Send(srv.UDP, opt)
	oreq := expectRequest(t, uas, "OPTIONS", wait)
	uas.Reply(oreq, 200, "OK", "")
	uac.ExpectReply(wait, 200)
	uac.Send(srv.UDP, opt)
	uac.ExpectReply(wait, 200)
	uas.ExpectNothing(300 * time.Millisecond)
}

// Timer A: a UAS that only answers the second copy of the INVITE still
// gets the call through.
func TestTimerARetransmission(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "retr_timer1", 200)
route { t_relay("udp:UAS"); }
`, map[string]*siptest.Peer{"UAS": uas}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	first := uas.ExpectRequest(wait, "INVITE")
	t0 := time.Now()
	second := uas.ExpectRequest(wait, "INVITE") // ignore the first copy
	if d := time.Since(t0); d < 100*time.Millisecond {
		t.Errorf("retransmission after %s, want about T1 (200ms)", d)
	}
	if first.Via().Value() != second.Via().Value() {
		t.Errorf("retransmission differs: %s vs %s", first.Via().Value(), second.Via().Value())
	}
	uas.Reply(second, 200, "OK", "")
	uac.ExpectReply(wait, 200)
}

// A dead UAS: 408 after fr_timer, and the retransmissions stop.
func TestDeadUASTimesOut(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "fr_timer", 800)
route { t_relay("udp:UAS"); }
`, map[string]*siptest.Peer{"UAS": uas}))
	for _, method := range []string{"INVITE", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			c := newCall(uac)
			t0 := time.Now()
			uac.Send(srv.UDP, c.request(method, "sip:bob@example.com", c.branch, 1))
			res := expectReply(t, uac, 408, wait)
			if d := time.Since(t0); d < 700*time.Millisecond {
				t.Errorf("408 after %s, want fr_timer (800ms)", d)
			}
			if n := len(res.GetHeaders("Via")); n != 1 {
				t.Errorf("408 has %d Vias", n)
			}
			if method == "INVITE" {
				uac.Send(srv.UDP, c.ackNon2xx("sip:bob@example.com", res.To().Params.GetOr("tag", "")))
			}
			// Drain what the UAS got; after the timeout nothing more comes.
			for {
				if _, _, err := uas.Recv(200 * time.Millisecond); err != nil {
					break
				}
			}
			uas.ExpectNothing(600 * time.Millisecond)
		})
	}
}

// CANCEL: 200 for the CANCEL, CANCEL downstream on the same branch, 487
// upstream, ACK for the 487 hop by hop on both sides.
func TestCancel(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
route {
	if (method == "CANCEL") {
		if (t_check_trans()) { t_relay(); }
		exit;
	}
	t_relay("udp:UAS");
}
`, map[string]*siptest.Peer{"UAS": uas}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	inv := uas.ExpectRequest(wait, "INVITE")
	uas.Reply(inv, 180, "Ringing", "")
	uac.ExpectReply(wait, 180)

	uac.Send(srv.UDP, c.cancel("sip:bob@example.com"))
	cres := uac.ExpectReply(wait, 200)
	if sip.RequestMethod(cres.CSeq().MethodName) != sip.CANCEL {
		t.Errorf("200 is for %s, want CANCEL", cres.CSeq().MethodName)
	}
	can := expectRequest(t, uas, "CANCEL", wait)
	if can.Via().Value() != inv.Via().Value() || len(can.GetHeaders("Via")) != 1 {
		t.Errorf("CANCEL Via %q (%d), want the INVITE's top Via %q only", can.Via().Value(), len(can.GetHeaders("Via")), inv.Via().Value())
	}
	if can.CSeq().SeqNo != inv.CSeq().SeqNo || can.Recipient.String() != inv.Recipient.String() {
		t.Errorf("CANCEL CSeq/R-URI differ from the INVITE's")
	}
	uas.Reply(can, 200, "OK", "")
	uas.Reply(inv, 487, "Request Terminated", "")
	res := expectReply(t, uac, 487, wait)
	ack := expectRequest(t, uas, "ACK", wait)
	if ack.Via().Value() != inv.Via().Value() {
		t.Errorf("ACK for 487 has Via %q, want the INVITE's %q", ack.Via().Value(), inv.Via().Value())
	}
	uac.Send(srv.UDP, c.ackNon2xx("sip:bob@example.com", res.To().Params.GetOr("tag", "")))
	uas.ExpectNothing(400 * time.Millisecond)
}

// A UAS that never answers: the CANCEL still ends in 487 for the caller.
func TestCancelSilentBranch(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "cancel_b_method", 0)
route {
	if (method == "CANCEL") { t_relay_cancel(); exit; }
	t_relay("udp:UAS");
}
`, map[string]*siptest.Peer{"UAS": uas}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	uas.ExpectRequest(wait, "INVITE")
	uac.Send(srv.UDP, c.cancel("sip:bob@example.com"))
	uac.ExpectReply(wait, 200)
	expectReply(t, uac, 487, wait)
}

// 486 from the first UAS: failure_route sends the call to a second one.
func TestSerialForking(t *testing.T) {
	uas1, uas2, uac := siptest.NewPeer(t), siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
route {
	t_on_failure("NEXT");
	t_relay("udp:UASA");
}
failure_route[NEXT] {
	if (t_is_canceled()) { exit; }
	if (t_check_status("486")) {
		append_branch("sip:bob@UASB");
		t_relay();
	}
}
`, map[string]*siptest.Peer{"UASA": uas1, "UASB": uas2}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	r1 := uas1.ExpectRequest(wait, "INVITE")
	uas1.Reply(r1, 486, "Busy Here", "")
	ack := expectRequest(t, uas1, "ACK", wait)
	if ack.Via().Value() != r1.Via().Value() || ack.CSeq().SeqNo != r1.CSeq().SeqNo {
		t.Errorf("hop-by-hop ACK: Via %q CSeq %d, want %q %d", ack.Via().Value(), ack.CSeq().SeqNo, r1.Via().Value(), r1.CSeq().SeqNo)
	}
	if tag := ack.To().Params.GetOr("tag", ""); tag == "" {
		t.Error("hop-by-hop ACK has no To tag")
	}
	r2 := uas2.ExpectRequest(wait, "INVITE")
	if r2.Via().Value() == r1.Via().Value() {
		t.Error("the second branch reuses the first one's Via branch")
	}
	uas2.Reply(r2, 200, "OK", "")
	uac.ExpectReply(wait, 200)
}

// Two branches in parallel: the first 200 wins, the other branch gets a
// CANCEL, the caller sees no 487.
func TestParallelForking(t *testing.T) {
	uas1, uas2, uac := siptest.NewPeer(t), siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
route {
	rewritehostport("127.0.0.1:UASA_PORT");
	append_branch("sip:bob@UASB");
	t_relay();
}
`, map[string]*siptest.Peer{"UASA": uas1, "UASB": uas2}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	r1 := uas1.ExpectRequest(wait, "INVITE")
	r2 := uas2.ExpectRequest(wait, "INVITE")
	if r1.Recipient.Port != uas1.Port() || r2.Recipient.Port != uas2.Port() {
		t.Errorf("branch R-URIs %s, %s", r1.Recipient.String(), r2.Recipient.String())
	}
	uas1.Reply(r1, 180, "Ringing", "")
	uac.ExpectReply(wait, 180)
	uas2.Reply(r2, 200, "OK", "")
	uac.ExpectReply(wait, 200)
	can := expectRequest(t, uas1, "CANCEL", wait)
	uas1.Reply(can, 200, "OK", "")
	uas1.Reply(r1, 487, "Request Terminated", "")
	expectRequest(t, uas1, "ACK", wait)
	// The caller sees nothing more (no 487).
	if m, _, err := uac.Recv(400 * time.Millisecond); err == nil {
		if res, ok := m.(*sip.Response); ok && res.StatusCode != 200 {
			t.Errorf("caller got %d after the 200", res.StatusCode)
		}
	}
}

// The transaction cap: above max_transactions new requests get 503 with
// Retry-After.
func TestTransactionCap(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "max_transactions", 1)
modparam("tm", "retry_after", 7)
route { t_relay("udp:UAS"); }
`, map[string]*siptest.Peer{"UAS": uas}))
	c1, c2 := newCall(uac), newCall(uac)
	uac.Send(srv.UDP, c1.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	uac.Send(srv.UDP, c2.invite("sip:bob@example.com"))
	res := expectReply(t, uac, 503, wait)
	if h := res.GetHeader("Retry-After"); h == nil || h.Value() != "7" {
		t.Errorf("503 without Retry-After: 7:\n%s", res)
	}
	if res.CallID().Value() != c2.id {
		t.Errorf("503 is for call %s, want %s", res.CallID().Value(), c2.id)
	}
}

// tcpUAS is a UAS listening on TCP, as a downstream the proxy dials.
type tcpUAS struct {
	ln   net.Listener
	t    *testing.T
	msgs chan sip.Message
	mu   sync.Mutex
	conn net.Conn
}

func newTCPUAS(t *testing.T) *tcpUAS {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &tcpUAS{ln: ln, t: t, msgs: make(chan sip.Message, 16)}
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		if u.conn != nil {
			u.conn.Close()
		}
		u.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conn = c
			u.mu.Unlock()
			go u.read(c)
		}
	}()
	return u
}

func (u *tcpUAS) port() int { return u.ln.Addr().(*net.TCPAddr).Port }

func (u *tcpUAS) read(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		m, err := readFramed(r)
		if err != nil {
			return
		}
		u.msgs <- m
	}
}

// readFramed reads one SIP message from a stream (Content-Length framing).
func readFramed(r *bufio.Reader) (sip.Message, error) {
	var head bytes.Buffer
	cl := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "" {
			if head.Len() == 0 {
				continue
			}
			head.WriteString("\r\n")
			break
		}
		head.WriteString(line)
		n, v, _ := strings.Cut(trimmed, ":")
		if sipmsg.Same(n, "Content-Length") {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, cl)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	head.Write(body)
	return sipmsg.NewParser(0).ParseSIP(head.Bytes())
}

func (u *tcpUAS) expectRequest(method string) *sip.Request {
	u.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m := <-u.msgs:
			if r, ok := m.(*sip.Request); ok && string(r.Method) == method {
				return r
			}
		case <-deadline:
			u.t.Fatalf("TCP UAS: no %s", method)
		}
	}
}

func (u *tcpUAS) reply(req *sip.Request, code int, reason string) {
	u.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	u.mu.Lock()
	c := u.conn
	u.mu.Unlock()
	if _, err := c.Write([]byte(res.String())); err != nil {
		u.t.Fatal(err)
	}
}

// UAC over UDP, UAS over TCP: the proxy dials the UAS and relays both ways.
func TestUDPToTCP(t *testing.T) {
	uas := newTCPUAS(t)
	uac := siptest.NewPeer(t)
	srv := siptest.Start(t, fmt.Sprintf(`
loadmodule "tm.so"
route { t_relay("tcp:127.0.0.1:%d"); }
`, uas.port()))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	req := uas.expectRequest("INVITE")
	if tr := req.Via().Transport; tr != "TCP" {
		t.Errorf("top Via transport %s, want TCP", tr)
	}
	uas.reply(req, 180, "Ringing")
	uac.ExpectReply(wait, 180)
	uas.reply(req, 486, "Busy Here")
	res := expectReply(t, uac, 486, wait)
	ack := uas.expectRequest("ACK")
	if ack.Via().Value() != req.Via().Value() {
		t.Errorf("ACK Via %q, want %q", ack.Via().Value(), req.Via().Value())
	}
	uac.Send(srv.UDP, c.ackNon2xx("sip:bob@example.com", res.To().Params.GetOr("tag", "")))
}

// UAC over TCP, UAS over UDP: replies go back over the UAC's connection.
func TestTCPToUDP(t *testing.T) {
	uas := siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
route { t_relay("udp:UAS"); }
`, map[string]*siptest.Peer{"UAS": uas}))
	uac := siptest.DialTCP(t, srv.TCP)
	local := uac.Conn.LocalAddr().String()
	uac.Send(fmt.Sprintf(`INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/TCP %s;branch=z9hG4bK-tcp1
From: <sip:alice@example.com>;tag=ft1
To: <sip:bob@example.com>
Call-ID: tcp-call-1@test
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:alice@%s;transport=tcp>
`, local, local))
	want := []int{100, 180, 200}
	req := uas.ExpectRequest(wait, "INVITE")
	uas.Reply(req, 180, "Ringing", "")
	uas.Reply(req, 200, "OK", "")
	for _, code := range want {
		m, err := uac.Recv(wait)
		if err != nil {
			t.Fatalf("waiting for %d over TCP: %v", code, err)
		}
		res, ok := m.(*sip.Response)
		if !ok || res.StatusCode != code {
			t.Fatalf("got %v, want %d", m, code)
		}
	}
}

// t_newtran and t_reply: a stateful negative reply to an INVITE is
// retransmitted over UDP until the ACK, and a retransmitted INVITE gets it
// again.
func TestNewtranReply(t *testing.T) {
	uac := siptest.NewPeer(t)
	srv := siptest.Start(t, `
loadmodule "tm.so"
modparam("tm", "retr_timer1", 100)
route {
	if (!t_newtran()) { exit; }
	t_reply("404", "Not Here");
}
`)
	c := newCall(uac)
	inv := c.invite("sip:bob@example.com")
	uac.Send(srv.UDP, inv)
	res := uac.ExpectReply(wait, 404)
	if res.Reason != "Not Here" {
		t.Errorf("reason %q", res.Reason)
	}
	uac.ExpectReply(wait, 404) // Timer G
	uac.Send(srv.UDP, c.ackNon2xx("sip:bob@example.com", res.To().Params.GetOr("tag", "")))
	// Drain a retransmission that may have crossed the ACK.
	if m, _, err := uac.Recv(150 * time.Millisecond); err == nil {
		if r, ok := m.(*sip.Response); !ok || r.StatusCode != 404 {
			t.Fatalf("unexpected %v", m)
		}
	}
	uac.ExpectNothing(500 * time.Millisecond)
}

// The transaction state is gone after the timers.
func TestStateFreed(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "wt_timer", 100)
route { t_relay("udp:UAS"); }
`, map[string]*siptest.Peer{"UAS": uas}))
	for i := 0; i < 5; i++ {
		c := newCall(uac)
		uac.Send(srv.UDP, c.request("OPTIONS", "sip:bob@example.com", c.branch, 1))
		req := expectRequest(t, uas, "OPTIONS", wait)
		uas.Reply(req, 200, "OK", "")
		uac.ExpectReply(wait, 200)
	}
	current := func() int64 {
		v, err := srv.Server.RPC().Call(&rpc.Request{Method: "tm.stats"})
		if err != nil {
			t.Fatal(err)
		}
		return v.(map[string]any)["current"].(int64)
	}
	if n := current(); n == 0 {
		t.Fatal("no live transaction right after the replies")
	}
	deadline := time.Now().Add(wait)
	for current() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions still live after wt_timer", current())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A timeout runs failure_route on a timer worker, which re-routes to a
// second UAS.
func TestTimeoutFailover(t *testing.T) {
	uas1, uas2, uac := siptest.NewPeer(t), siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "fr_timer", 500)
route { t_on_failure("F"); t_relay("udp:UASA"); }
failure_route[F] {
	if (t_branch_timeout() && !t_branch_replied() && t_check_status("408")) {
		rewritehostport("UASB");
		t_relay();
	}
}
`, map[string]*siptest.Peer{"UASA": uas1, "UASB": uas2}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	uas1.ExpectRequest(wait, "INVITE") // never answered
	r2 := expectRequest(t, uas2, "INVITE", wait)
	uas2.Reply(r2, 200, "OK", "")
	uac.ExpectReply(wait, 200)
}

// A CANCEL before the UAS answered anything: the CANCEL goes out once a
// provisional reply arrives (cancel_b_method 1).
func TestCancelBeforeProvisional(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
route {
	if (method == "CANCEL") { t_relay(); exit; }
	t_relay("udp:UAS");
}
`, map[string]*siptest.Peer{"UAS": uas}))
	c := newCall(uac)
	uac.Send(srv.UDP, c.invite("sip:bob@example.com"))
	uac.ExpectReply(wait, 100)
	inv := uas.ExpectRequest(wait, "INVITE")
	uac.Send(srv.UDP, c.cancel("sip:bob@example.com"))
	uac.ExpectReply(wait, 200)
	uas.Reply(inv, 180, "Ringing", "")
	can := expectRequest(t, uas, "CANCEL", wait)
	uas.Reply(can, 200, "OK", "")
	uas.Reply(inv, 487, "Request Terminated", "")
	expectReply(t, uac, 487, wait)
	expectRequest(t, uas, "ACK", wait)
}

// Many INVITEs to a dead destination: every transaction ends and all
// state is freed after the timers (R9, scaled down).
func TestFloodStateBounded(t *testing.T) {
	uac := siptest.NewPeer(t)
	dead := siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "fr_timer", 300)
modparam("tm", "retr_timer1", 50)
modparam("tm", "wt_timer", 100)
route { t_relay("udp:DEAD"); }
`, map[string]*siptest.Peer{"DEAD": dead}))
	const n = 200
	for i := 0; i < n; i++ {
		c := newCall(uac)
		method := "INVITE"
		if i%2 == 1 {
			method = "OPTIONS"
		}
		uac.Send(srv.UDP, c.request(method, "sip:bob@example.com", c.branch, 1))
	}
	stats := func() map[string]any {
		v, err := srv.Server.RPC().Call(&rpc.Request{Method: "tm.stats"})
		if err != nil {
			t.Fatal(err)
		}
		return v.(map[string]any)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := stats()
		if st["created"].(int64) == n && st["current"].(int64) == 0 {
			if st["4xx"].(int64) != n {
				t.Errorf("%v 4xx replies upstream, want %d (408s)", st["4xx"], n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state not freed: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Per-transaction timers: t_set_fr and fr_timer_avp shorten fr_timer for
// one transaction.
func TestPerTransactionTimers(t *testing.T) {
	uas, uac := siptest.NewPeer(t), siptest.NewPeer(t)
	srv := siptest.Start(t, expand(`
loadmodule "tm.so"
modparam("tm", "fr_timer_avp", "$avp(s:fr)")
route {
	if ($rd =~ "setfr") { t_set_fr(5000, 300); }
	if ($rd =~ "avp") { $avp(s:fr) = 300; }
	t_relay("udp:UAS");
}
`, map[string]*siptest.Peer{"UAS": uas}))
	for _, host := range []string{"setfr.example.com", "avp.example.com"} {
		t.Run(host, func(t *testing.T) {
			c := newCall(uac)
			t0 := time.Now()
			uac.Send(srv.UDP, c.request("OPTIONS", "sip:bob@"+host, c.branch, 1))
			expectReply(t, uac, 408, 2*time.Second)
			if d := time.Since(t0); d < 250*time.Millisecond || d > 1500*time.Millisecond {
				t.Errorf("408 after %s, want about 300ms", d)
			}
		})
	}
}
