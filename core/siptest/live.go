package siptest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/server"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// Live is a real server started from a configuration text, listening on
// 127.0.0.1 with ephemeral ports.
type Live struct {
	Server *server.Server
	// UDP and TCP are the addresses of the first UDP and TCP sockets.
	UDP, TCP netip.AddrPort
	log      *syncBuffer
}

// Log returns the server's log so far.
func (l *Live) Log() string { return l.log.String() }

// Start loads config, replacing the word LISTEN in it by listen lines on
// 127.0.0.1 port 0 (udp and tcp), starts the server and stops it at the
// end of the test. A config without LISTEN gets them prepended.
func Start(t testing.TB, config string) *Live {
	t.Helper()
	listen := "listen=udp:127.0.0.1:0\nlisten=tcp:127.0.0.1:0\n"
	if strings.Contains(config, "LISTEN") {
		config = strings.Replace(config, "LISTEN", listen, 1)
	} else {
		config = listen + config
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "live.cfg")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l, err := server.Load(TestFlavor(), server.LoadOptions{Path: path, Log: log})
	if err != nil {
		t.Fatalf("config does not load:\n%v", err)
	}
	srv, err := server.NewServer(TestFlavor(), l, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		srv.Stop()
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		srv.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logBuf.String())
		}
	})
	lv := &Live{Server: srv, log: logBuf}
	for _, s := range srv.Sockets() {
		switch {
		case s.Proto == sr.ProtoUDP && !lv.UDP.IsValid():
			lv.UDP = s.Addr
		case s.Proto == sr.ProtoTCP && !lv.TCP.IsValid():
			lv.TCP = s.Addr
		}
	}
	return lv
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Peer is a UDP endpoint on 127.0.0.1 (ephemeral port) that sends raw SIP
// and reads what arrives, with deadlines: a fake UA, UAS or downstream.
type Peer struct {
	Conn *net.UDPConn
	t    testing.TB
}

// NewPeer opens a UDP peer on 127.0.0.1 and closes it at the end of the
// test.
func NewPeer(t testing.TB) *Peer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Peer{Conn: c, t: t}
}

// Addr is the peer's address.
func (p *Peer) Addr() netip.AddrPort { return p.Conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Port is the peer's port.
func (p *Peer) Port() int { return int(p.Addr().Port()) }

// Expand replaces the words PEER_PORT, PEER (127.0.0.1:port) in text.
func (p *Peer) Expand(text string) string {
	text = strings.ReplaceAll(text, "PEER_PORT", fmt.Sprint(p.Port()))
	return strings.ReplaceAll(text, "PEER", p.Addr().String())
}

// Send writes a message (written as in Normalize, after Expand) to dst.
func (p *Peer) Send(dst netip.AddrPort, text string) {
	p.t.Helper()
	p.SendRaw(dst, Normalize(p.Expand(text)))
}

// SendRaw writes bytes to dst as one datagram.
func (p *Peer) SendRaw(dst netip.AddrPort, b []byte) {
	p.t.Helper()
	if _, err := p.Conn.WriteToUDPAddrPort(b, dst); err != nil {
		p.t.Fatal(err)
	}
}

// SendMsg writes a parsed message to dst.
func (p *Peer) SendMsg(dst netip.AddrPort, m sip.Message) {
	p.t.Helper()
	p.SendRaw(dst, []byte(m.String()))
}

// ErrTimeout is returned by Recv when nothing arrives in time.
var ErrTimeout = errors.New("nothing received before the deadline")

// Recv returns the next message, waiting at most d, and where it came from.
func (p *Peer) Recv(d time.Duration) (sip.Message, netip.AddrPort, error) {
	buf := make([]byte, 65535)
	if err := p.Conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, netip.AddrPort{}, err
	}
	n, from, err := p.Conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, netip.AddrPort{}, ErrTimeout
		}
		return nil, netip.AddrPort{}, err
	}
	m, err := sipmsg.NewParser(0).ParseSIP(buf[:n])
	if err != nil {
		return nil, from, fmt.Errorf("peer got an unparsable message: %w\n%s", err, buf[:n])
	}
	return m, from, nil
}

// Expect waits at most d for a message and fails the test if none comes.
func (p *Peer) Expect(d time.Duration) sip.Message {
	p.t.Helper()
	m, _, err := p.Recv(d)
	if err != nil {
		p.t.Fatalf("peer %s: %v", p.Addr(), err)
	}
	return m
}

// ExpectReply waits for a reply with the given status code, skipping
// provisional replies with another code; it fails the test otherwise.
func (p *Peer) ExpectReply(d time.Duration, code int) *sip.Response {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("peer %s: no %d reply in %s", p.Addr(), code, d)
		}
		m := p.Expect(left)
		res, ok := m.(*sip.Response)
		if !ok {
			p.t.Fatalf("peer %s: expected a %d reply, got a request:\n%s", p.Addr(), code, m)
		}
		if res.StatusCode == code {
			return res
		}
		if res.StatusCode >= 200 {
			p.t.Fatalf("peer %s: expected %d, got %d %s", p.Addr(), code, res.StatusCode, res.Reason)
		}
	}
}

// ExpectRequest waits for a request with the given method.
func (p *Peer) ExpectRequest(d time.Duration, method string) *sip.Request {
	p.t.Helper()
	m := p.Expect(d)
	req, ok := m.(*sip.Request)
	if !ok || string(req.Method) != method {
		p.t.Fatalf("peer %s: expected a %s request, got:\n%s", p.Addr(), method, m)
	}
	return req
}

// ExpectNothing fails the test if a message arrives within d.
func (p *Peer) ExpectNothing(d time.Duration) {
	p.t.Helper()
	if m, _, err := p.Recv(d); err == nil {
		p.t.Fatalf("peer %s: expected nothing, got:\n%s", p.Addr(), m)
	}
}

// Reply sends a reply to a request the peer received, copying Via, From,
// To (with toTag when set and absent), Call-ID, CSeq and, for 2xx/18x,
// Record-Route, to where the top Via says.
func (p *Peer) Reply(req *sip.Request, code int, reason, toTag string, extra ...string) {
	p.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if toTag != "" {
		// sipgo puts a random tag on replies above 100: the given one wins,
		// unless the request already had one (in-dialog).
		if to := res.To(); to != nil && (req.To() == nil || !req.To().Params.Has("tag")) {
			to.Params.Add("tag", toTag)
		}
	}
	if code > 100 && code < 300 {
		for _, rr := range req.GetHeaders("Record-Route") {
			res.AppendHeader(sip.HeaderClone(rr))
		}
	}
	for _, e := range extra {
		n, v, _ := strings.Cut(e, ":")
		res.AppendHeader(sip.NewHeader(strings.TrimSpace(n), strings.TrimSpace(v)))
	}
	via := req.Via()
	host, port := sipmsg.ReplyDest(via, "udp")
	dst, err := netip.ParseAddr(host)
	if err != nil {
		p.t.Fatalf("peer: reply Via host %q is not an IP", host)
	}
	p.SendMsg(netip.AddrPortFrom(dst, uint16(port)), res)
}

// TCPPeer is a TCP connection to the server that writes raw SIP and reads
// framed messages.
type TCPPeer struct {
	Conn net.Conn
	r    *bufio.Reader
	t    testing.TB
}

// DialTCP connects to addr and closes the connection at the end of the test.
func DialTCP(t testing.TB, addr netip.AddrPort) *TCPPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return NewTCPPeer(t, c)
}

// NewTCPPeer wraps a connection the test accepted (a TCP UAS) or dialled.
func NewTCPPeer(t testing.TB, c net.Conn) *TCPPeer {
	t.Cleanup(func() { c.Close() })
	return &TCPPeer{Conn: c, r: bufio.NewReader(c), t: t}
}

// Send writes a message written as in Normalize.
func (p *TCPPeer) Send(text string) {
	p.t.Helper()
	if _, err := p.Conn.Write(Normalize(text)); err != nil {
		p.t.Fatal(err)
	}
}

// Recv reads one message, waiting at most d.
func (p *TCPPeer) Recv(d time.Duration) (sip.Message, error) {
	if err := p.Conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, err
	}
	var head bytes.Buffer
	cl := 0
	for {
		line, err := p.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		head.WriteString(line)
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "" {
			if head.Len() <= 2 {
				head.Reset()
				continue
			}
			break
		}
		n, v, _ := strings.Cut(trimmed, ":")
		if sipmsg.Same(n, "Content-Length") {
			fmt.Sscan(strings.TrimSpace(v), &cl)
		}
	}
	body := make([]byte, cl)
	if _, err := io.ReadFull(p.r, body); err != nil {
		return nil, err
	}
	head.Write(body)
	return sipmsg.NewParser(0).ParseSIP(head.Bytes())
}
