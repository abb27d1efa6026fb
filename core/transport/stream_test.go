package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// options builds a small valid OPTIONS request.
func options(callID string, cseq int) string {
	return "OPTIONS sip:user@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK" + callID + fmt.Sprint(cseq) + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:a@127.0.0.1>;tag=1\r\n" +
		"To: <sip:user@127.0.0.1>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: " + fmt.Sprint(cseq) + " OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n"
}

// replier answers every request 200 through Send, to where it came from.
func replier(h *harness) func(*Incoming) {
	return func(in *Incoming) {
		h.handled <- in
		if req := in.Request(); req != nil && req.Method != sip.ACK {
			res := sipmsg.NewReply(req, 200, "OK", "")
			if err := h.m.Send(res, sr.Dest{Proto: in.Rcv.Proto, Addr: in.Rcv.Src}); err != nil {
				h.errorf("Send: %v", err)
			}
		}
	}
}

func dialTCP(t *testing.T, ap netip.AddrPort) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(ap))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readResponse reads one SIP response from a stream.
func readResponse(t *testing.T, r *bufio.Reader, c net.Conn) *sip.Response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response: %v (got %q)", err, buf.String())
		}
		buf.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	msg, err := sip.ParseMessage(buf.Bytes())
	if err != nil {
		t.Fatalf("bad response %q: %v", buf.String(), err)
	}
	res, ok := msg.(*sip.Response)
	if !ok {
		t.Fatalf("not a response: %q", buf.String())
	}
	if n := int(*res.ContentLength()); n > 0 {
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", within)
		}
		return // EOF or reset
	}
}

// expectOpen checks that c is still open (a read times out).
func expectOpen(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("connection closed: %v", err)
	}
}

func TestTCPReplyOnSameConnection(t *testing.T) {
	h := newHarness(t, false, []string{"tcp"}, func(c *Config, h *harness) { c.Handler = replier(h) })
	c := dialTCP(t, h.addr("tcp"))
	r := bufio.NewReader(c)

	// A good request reaches the handler, whose reply comes back on the
	// same connection.
	msg := options("tcp1", 1)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	in := h.nextHandled()
	if in.Rcv.Proto != "tcp" || in.Rcv.Src != localAP(c) || in.Rcv.Dst != h.addr("tcp") || in.Rcv.Socket == nil || in.Rcv.Socket.Proto != "tcp" {
		t.Errorf("RecvInfo %+v", in.Rcv)
	}
	if in.Len != len(msg) {
		t.Errorf("Len %d, want %d", in.Len, len(msg))
	}
	if res := readResponse(t, r, c); res.StatusCode != 200 {
		t.Errorf("got %d", res.StatusCode)
	}

	// A request refused by the checks gets its 400 on the connection, which
	// stays open.
	bad := strings.Replace(options("tcp1", 2), "CSeq: 2 OPTIONS", "CSeq: 2 INVITE", 1)
	if _, err := c.Write([]byte(bad)); err != nil {
		t.Fatal(err)
	}
	if res := readResponse(t, r, c); res.StatusCode != 400 {
		t.Errorf("got %d, want 400", res.StatusCode)
	}
	if _, err := c.Write([]byte(options("tcp1", 3))); err != nil {
		t.Fatal(err)
	}
	if res := readResponse(t, r, c); res.StatusCode != 200 {
		t.Errorf("got %d", res.StatusCode)
	}
	if h.m.Stats().ConnsOpen != 1 {
		t.Errorf("ConnsOpen %d", h.m.Stats().ConnsOpen)
	}
}

func TestTCPFraming(t *testing.T) {
	h := newHarness(t, false, []string{"tcp"}, nil)
	m1, m2 := options("f1", 1), options("f2", 1)

	t.Run("two messages in one write", func(t *testing.T) {
		h.t = t
		c := dialTCP(t, h.addr("tcp"))
		if _, err := c.Write([]byte(m1 + m2)); err != nil {
			t.Fatal(err)
		}
		// Different Call-IDs: different workers, any order.
		got := map[string]int{}
		for range 2 {
			in := h.nextHandled()
			got[string(*in.Msg.CallID())] = in.Len
		}
		if got["f1"] != len(m1) || got["f2"] != len(m2) {
			t.Errorf("got %v, want f1:%d f2:%d", got, len(m1), len(m2))
		}
	})
	t.Run("split across writes, keep-alives between", func(t *testing.T) {
		h.t = t
		c := dialTCP(t, h.addr("tcp"))
		body := "v=0\r\n"
		msg := strings.Replace(options("f3", 1), "Content-Length: 0", fmt.Sprintf("Content-Length: %d", len(body)), 1) + body
		stream := "\r\n" + msg + "\r\n\r\n"
		for i := 0; i < len(stream); i += 7 {
			if _, err := c.Write([]byte(stream[i:min(i+7, len(stream))])); err != nil {
				t.Fatal(err)
			}
		}
		in := h.nextHandled()
		if string(*in.Msg.CallID()) != "f3" || string(in.Msg.Body()) != body || in.Len != len(msg) {
			t.Errorf("got %s body %q len %d", *in.Msg.CallID(), in.Msg.Body(), in.Len)
		}
		if _, err := c.Write([]byte(m1)); err != nil {
			t.Fatal(err)
		}
		if in := h.nextHandled(); string(*in.Msg.CallID()) != "f1" {
			t.Errorf("got %s", *in.Msg.CallID())
		}
	})
	t.Run("double CRLF ping gets a CRLF pong", func(t *testing.T) {
		h.t = t
		c := dialTCP(t, h.addr("tcp"))
		if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 8)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "\r\n" {
			t.Errorf("pong %q, %v", buf[:n], err)
		}
	})
}

// TestTCPFramingErrorsClose: RFC 4475 clerr/ncl/mcl01 and other framing
// defects over TCP close the connection and deliver nothing.
func TestTCPFramingErrorsClose(t *testing.T) {
	h := newHarness(t, false, []string{"tcp"}, func(c *Config, h *harness) {
		c.FirstMessageTimeout = 300 * time.Millisecond
		c.MaxStreamSize = 4096
	})
	huge := strings.Replace(options("big", 1), "Max-Forwards: 70\r\n", "X-Pad: "+strings.Repeat("a", 5000)+"\r\n", 1)
	cases := []struct {
		name string
		data []byte
	}{
		{"clerr (times out)", readRFC(t, "invalid/clerr.dat")},
		{"ncl", readRFC(t, "invalid/ncl.dat")},
		{"mcl01", readRFC(t, "invalid/mcl01.dat")},
		{"no Content-Length", []byte(strings.Replace(options("x", 1), "Content-Length: 0\r\n", "", 1))},
		{"Content-Length 2^32", []byte(strings.Replace(options("x", 1), "Content-Length: 0", "Content-Length: 4294967296", 1))},
		{"Content-Length 10^18", []byte(strings.Replace(options("x", 1), "Content-Length: 0", "Content-Length: 1000000000000000000", 1))},
		{"Content-Length over the limit", []byte(strings.Replace(options("x", 1), "Content-Length: 0", "Content-Length: 1000000000", 1) + "0123456789")},
		{"message over the limit", []byte(huge)},
		{"bare LF", []byte(strings.Replace(options("x", 1), "Max-Forwards: 70\r\n", "Max-Forwards: 70\n", 1))},
		{"garbage", []byte("hello world\r\n\r\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before := h.m.Stats()
			c := dialTCP(t, h.addr("tcp"))
			if _, err := c.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c, 5*time.Second)
			if d := h.m.Stats().Dispatched - before.Dispatched; d != 0 {
				t.Errorf("%d messages dispatched", d)
			}
		})
	}
	waitFor(t, "connections closed", 5*time.Second, func() bool { return h.m.Stats().ConnsOpen == 0 })
	select {
	case in := <-h.handled:
		t.Errorf("handler got %v", in.Msg.CallID())
	default:
	}
}

func TestTCPConnectionCaps(t *testing.T) {
	t.Run("total", func(t *testing.T) {
		const max = 20
		h := newHarness(t, false, []string{"tcp"}, func(c *Config, h *harness) { c.MaxConnections = max })
		testCap(t, h, max, max+10)
	})
	t.Run("per IP", func(t *testing.T) {
		const max = 5
		h := newHarness(t, false, []string{"tcp"}, func(c *Config, h *harness) { c.MaxConnectionsPerIP = max })
		testCap(t, h, max, max+10)
		// Another source address still gets in.
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		c, err := d.Dial("tcp4", h.addr("tcp").String())
		if err != nil {
			t.Skipf("cannot bind 127.0.0.2: %v", err)
		}
		defer c.Close()
		waitFor(t, "accept from 127.0.0.2", 5*time.Second, func() bool { return h.m.Stats().ConnsOpen == max+1 })
		expectOpen(t, c, 100*time.Millisecond)
	})
}

// testCap opens n connections and checks that exactly n-max are closed
// by the server and max stay open.
func testCap(t *testing.T, h *harness, max, n int) {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialTCP(t, h.addr("tcp"))
	}
	waitFor(t, "accepts", 5*time.Second, func() bool {
		s := h.m.Stats()
		return s.ConnsAccepted+s.ConnsRejected == uint64(n)
	})
	s := h.m.Stats()
	if s.ConnsOpen != max || s.ConnsRejected != uint64(n-max) {
		t.Fatalf("open %d rejected %d, want %d and %d", s.ConnsOpen, s.ConnsRejected, max, n-max)
	}
	var closed, open int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			mu.Lock()
			defer mu.Unlock()
			if errors.As(err, &ne) && ne.Timeout() {
				open++
			} else {
				closed++
			}
		}(c)
	}
	wg.Wait()
	if open != max || closed != n-max {
		t.Errorf("client side: %d open, %d closed; want %d, %d", open, closed, max, n-max)
	}
}

func TestTCPTimeouts(t *testing.T) {
	h := newHarness(t, false, []string{"tcp"}, func(c *Config, h *harness) {
		c.FirstMessageTimeout = 200 * time.Millisecond
		c.ConnectionLifetime = 400 * time.Millisecond
	})
	t.Run("silent connection", func(t *testing.T) {
		h.t = t
		c := dialTCP(t, h.addr("tcp"))
		start := time.Now()
		expectClosed(t, c, 5*time.Second)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("closed after %v, before the first-message timeout", d)
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		h.t = t
		c := dialTCP(t, h.addr("tcp"))
		msg := options("slow", 1)
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < len(msg); i++ {
				if _, err := c.Write([]byte{msg[i]}); err != nil {
					return
				}
				<-tick.C
			}
		}()
		expectClosed(t, c, 5*time.Second)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("slow connection closed after %v", d)
		}
		_ = c.Close()
		<-done
	})
	t.Run("idle after a message", func(t *testing.T) {
		h.t = t
		c := dialTCP(t, h.addr("tcp"))
		if _, err := c.Write([]byte(options("idle", 1))); err != nil {
			t.Fatal(err)
		}
		h.nextHandled()
		// Past the first-message timeout, the connection lives on...
		expectOpen(t, c, 250*time.Millisecond)
		// ...until it has been idle for the lifetime.
		expectClosed(t, c, 5*time.Second)
	})
}

func TestTCPOutgoing(t *testing.T) {
	h := newHarness(t, false, []string{"tcp"}, nil)
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := ln.Addr().(*net.TCPAddr).AddrPort()

	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(peer.Port())})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "TCP", Host: "127.0.0.1", Port: int(h.addr("tcp").Port()), Params: sip.NewParams()}
	via.Params.Add("branch", "z9hG4bKout1")
	req.AppendHeader(via)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "x")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "b", Host: "127.0.0.1"}})
	cid := sip.CallIDHeader("out1")
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetBody(nil)

	dst := sr.Dest{Proto: "tcp", Addr: peer}
	if err := h.m.Send(req, dst); err != nil {
		t.Fatal(err)
	}
	pc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if got := pc.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != h.addr("tcp").Addr() {
		t.Errorf("dialed from %s", got)
	}
	r := bufio.NewReader(pc)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	first, err := r.ReadString('\n')
	if err != nil || first != "OPTIONS sip:127.0.0.1:"+fmt.Sprint(peer.Port())+" SIP/2.0\r\n" {
		t.Fatalf("peer read %q, %v", first, err)
	}
	// A second send reuses the connection.
	if err := h.m.Send(req, dst); err != nil {
		t.Fatal(err)
	}
	if s := h.m.Stats(); s.ConnsDialed != 1 || s.ConnsOpen != 1 {
		t.Errorf("dialed %d open %d", s.ConnsDialed, s.ConnsOpen)
	}
	// The reply the peer sends on that connection reaches the handler.
	res := sipmsg.NewReply(req, 200, "OK", "")
	if _, err := pc.Write([]byte(res.String())); err != nil {
		t.Fatal(err)
	}
	in := h.nextHandled()
	if r := in.Response(); r == nil || r.StatusCode != 200 {
		t.Fatalf("handler got %v", in.Msg)
	}
	if in.Rcv.Proto != "tcp" || in.Rcv.Src != peer || in.Rcv.Socket != h.m.Sockets()[0] {
		t.Errorf("RecvInfo %+v", in.Rcv)
	}
}

func TestStartErrors(t *testing.T) {
	h := newHarness(t, false, []string{"udp", "tcp"}, nil)
	for _, proto := range []string{"udp", "tcp"} {
		ap := h.addr(proto)
		m, err := New(Config{Handler: func(*Incoming) {}, Listen: []ListenSpec{{Proto: proto, Host: "127.0.0.1", Port: int(ap.Port())}}})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Start()
		want := fmt.Sprintf("listen=%s:127.0.0.1:%d: address already in use", proto, ap.Port())
		if err == nil || err.Error() != want {
			t.Errorf("Start: %v, want %q", err, want)
		}
		var le *ListenError
		if !errors.As(err, &le) || !errors.Is(err, os.ErrExist) && !strings.Contains(le.Err.Error(), "in use") {
			t.Errorf("error %v does not unwrap", err)
		}
		_ = m.Close()
	}
}
