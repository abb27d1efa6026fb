package transport

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sr"
)

const rfc4475Dir = "../../../shared/testdata/rfc4475/"

var loopback = netip.MustParseAddr("127.0.0.1")

// sentMsg is what the Manager tried to send, captured by the test hook.
type sentMsg struct {
	msg  sip.Message
	dst  sr.Dest
	data []byte
}

type verdictEv struct {
	v   verdict
	rcv sr.RecvInfo
}

// harness is a started Manager whose outputs land in channels.
type harness struct {
	t        *testing.T // the (sub)test using the harness; test goroutine only
	m        *Manager
	sent     chan sentMsg
	handled  chan *Incoming
	verdicts chan verdictEv

	mu   sync.Mutex
	errs []string // errors seen on Manager goroutines (handler, hooks)
}

// errorf records an error from a Manager goroutine; it fails the test
// that created the harness at cleanup.
func (h *harness) errorf(format string, args ...any) {
	h.mu.Lock()
	h.errs = append(h.errs, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// newHarness starts a Manager on 127.0.0.1, port 0, with the given
// listen transports. With hookSend, Send never touches the network: it
// records the message, and fails the test for any destination other than
// 127.0.0.1.
func newHarness(t *testing.T, hookSend bool, protos []string, mutate func(*Config, *harness)) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		sent:     make(chan sentMsg, 64),
		handled:  make(chan *Incoming, 64),
		verdicts: make(chan verdictEv, 64),
	}
	cfg := Config{Handler: func(in *Incoming) { h.handled <- in }}
	for _, p := range protos {
		cfg.Listen = append(cfg.Listen, ListenSpec{Proto: p, Host: "127.0.0.1"})
	}
	if mutate != nil {
		mutate(&cfg, h)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	if hookSend {
		m.sendHook = func(msg sip.Message, dst sr.Dest, data []byte) error {
			if dst.Addr.Addr() != loopback {
				h.errorf("Send to %s: only 127.0.0.1 is allowed in this test", dst)
				return ErrForbiddenDest
			}
			h.sent <- sentMsg{msg: msg, dst: dst, data: append([]byte(nil), data...)}
			return nil
		}
	}
	m.onVerdict = func(v verdict, rcv sr.RecvInfo) { h.verdicts <- verdictEv{v, rcv} }
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, e := range h.errs {
			t.Error(e)
		}
	})
	return h
}

// addr returns the address of the first socket of proto.
func (h *harness) addr(proto string) netip.AddrPort {
	for _, s := range h.m.Sockets() {
		if s.Proto == proto {
			return s.Addr
		}
	}
	h.t.Fatalf("no %s socket", proto)
	return netip.AddrPort{}
}

// verdict waits for the next verdict about a message from src.
func (h *harness) verdict(src netip.AddrPort) verdictEv {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-h.verdicts:
			if !src.IsValid() || ev.rcv.Src == src {
				return ev
			}
		case <-deadline:
			h.t.Fatalf("no verdict for a message from %s", src)
		}
	}
}

// nextHandled waits for the handler to get a message.
func (h *harness) nextHandled() *Incoming {
	h.t.Helper()
	select {
	case in := <-h.handled:
		return in
	case <-time.After(5 * time.Second):
		h.t.Fatal("handler got no message")
	}
	return nil
}

func (h *harness) nextSent() sentMsg {
	h.t.Helper()
	select {
	case s := <-h.sent:
		return s
	case <-time.After(5 * time.Second):
		h.t.Fatal("nothing sent")
	}
	return sentMsg{}
}

// noneSent checks that nothing was sent. The verdict callback runs after
// the reply was handed to Send, so once the verdict is in, the channel is
// final for that message.
func (h *harness) noneSent() {
	h.t.Helper()
	select {
	case s := <-h.sent:
		h.t.Errorf("unexpected send to %s: %q", s.dst, firstLine(s.data))
	default:
	}
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}

// udpClient is a test UDP socket on 127.0.0.1.
func udpClient(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func localAP(c net.Conn) netip.AddrPort {
	switch a := c.LocalAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

func readRFC(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rfc4475Dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
