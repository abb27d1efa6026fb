package nathelper_test

import (
	"net"
	"strings"
	"sync"
	"testing"
)

// fakeRTPProxy is an RTPProxy on 127.0.0.1 speaking the control protocol
// over UDP: it answers V and VF, hands out ports for U and L, and records
// every command it received (without the cookie).
type fakeRTPProxy struct {
	conn *net.UDPConn

	mu     sync.Mutex
	cmds   []string
	seen   int  // datagrams received, retransmissions included
	drop   int  // datagrams to ignore before answering again
	silent bool // answer nothing
	reply  func(cmd string) string
}

func newFakeRTPProxy(t testing.TB) *fakeRTPProxy {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRTPProxy{conn: c}
	f.reply = func(cmd string) string {
		switch {
		case cmd == "V":
			return "20040107"
		case strings.HasPrefix(cmd, "VF "):
			return "1"
		case strings.HasPrefix(cmd, "U"), strings.HasPrefix(cmd, "L"):
			return "35000"
		}
		return "0"
	}
	done := make(chan struct{})
	go f.serve(done)
	t.Cleanup(func() { c.Close(); <-done })
	return f
}

// url is the proxy's rtpproxy_sock URL.
func (f *fakeRTPProxy) url() string { return "udp:" + f.conn.LocalAddr().String() }

func (f *fakeRTPProxy) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 65535)
	for {
		n, from, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		cookie, cmd, _ := strings.Cut(string(buf[:n]), " ")
		f.mu.Lock()
		f.seen++
		if f.silent || f.drop > 0 {
			if f.drop > 0 {
				f.drop--
			}
			f.mu.Unlock()
			continue
		}
		f.cmds = append(f.cmds, cmd)
		r := f.reply(cmd)
		f.mu.Unlock()
		_, _ = f.conn.WriteToUDP([]byte(cookie+" "+r+"\n"), from)
	}
}

func (f *fakeRTPProxy) set(fn func(f *fakeRTPProxy)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// commands returns the commands answered so far, V and VF left out.
func (f *fakeRTPProxy) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.cmds {
		if c != "V" && !strings.HasPrefix(c, "VF ") {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeRTPProxy) datagrams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}
