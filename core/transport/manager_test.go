package transport

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

func udpOptions(callID string, cseq int) string {
	return strings.ReplaceAll(options(callID, cseq), "SIP/2.0/TCP", "SIP/2.0/UDP")
}

func TestUDPSendFromListenSocket(t *testing.T) {
	h := newHarness(t, false, []string{"udp"}, nil)
	c := udpClient(t)
	if _, err := c.WriteToUDPAddrPort([]byte(udpOptions("u1", 1)), h.addr("udp")); err != nil {
		t.Fatal(err)
	}
	in := h.nextHandled()
	res := sipmsg.NewReply(in.Request(), 200, "OK", "")
	if err := h.m.Send(res, sr.Dest{Proto: "udp", Addr: in.Rcv.Src, Socket: in.Rcv.Socket}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if from != h.addr("udp") {
		t.Errorf("reply from %s, want the listen socket %s", from, h.addr("udp"))
	}
	if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK\r\n") {
		t.Errorf("got %q", firstLine(buf[:n]))
	}
}

func TestSendRefusesForbiddenDestinations(t *testing.T) {
	h := newHarness(t, true, []string{"udp", "tcp"}, nil)
	res := sip.NewResponse(200, "OK")
	res.SetBody(nil)
	for _, a := range []string{
		"255.255.255.255:5060", "224.0.0.1:5060", "239.255.255.250:1900", "0.0.0.0:5060", "0.1.2.3:5060",
		"[::]:5060", "[ff02::1]:5060", "[ff05::1:3]:5060", "[::ffff:255.255.255.255]:5060", "127.0.0.1:0",
	} {
		for _, proto := range []string{"udp", "tcp"} {
			t.Run(proto+" "+a, func(t *testing.T) {
				err := h.m.Send(res, sr.Dest{Proto: proto, Addr: netip.MustParseAddrPort(a)})
				if !errors.Is(err, ErrForbiddenDest) {
					t.Errorf("Send: %v, want ErrForbiddenDest", err)
				}
			})
		}
	}
	if err := h.m.Send(res, sr.Dest{Proto: "udp"}); !errors.Is(err, ErrForbiddenDest) {
		t.Errorf("zero Dest: %v", err)
	}
	// The directed broadcast addresses of the local networks too.
	for a := range h.m.bcast {
		if err := h.m.Send(res, sr.Dest{Proto: "udp", Addr: netip.AddrPortFrom(a, 5060)}); !errors.Is(err, ErrForbiddenDest) {
			t.Errorf("%s: %v", a, err)
		}
	}
	h.noneSent()
	if err := h.m.Send(res, sr.Dest{Proto: "udp", Addr: netip.MustParseAddrPort("127.0.0.1:5060")}); err != nil {
		t.Errorf("loopback: %v", err)
	}
	if err := h.m.Send(res, sr.Dest{Proto: "sctp", Addr: netip.MustParseAddrPort("127.0.0.1:5060")}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("sctp: %v", err)
	}
}

func TestUDPSizeLimits(t *testing.T) {
	t.Run("70 KiB datagram dropped and counted", func(t *testing.T) {
		// No such datagram fits in IPv4 UDP: run the receive path directly.
		h := newHarness(t, true, []string{"udp"}, nil)
		src := netip.MustParseAddrPort("127.0.0.1:5555")
		big := []byte(udpOptions("big", 1) + strings.Repeat("x", 70*1024))
		h.m.handleDatagram(h.m.udp[0], sipmsg.NewParser(DefaultMaxUDPSize), big, src)
		if ev := h.verdict(src); ev.v.out != outDrop || !ev.v.oversize {
			t.Errorf("verdict %+v", ev.v)
		}
		if s := h.m.Stats(); s.Oversize != 1 || s.Dispatched != 0 {
			t.Errorf("stats %+v", s)
		}
		h.noneSent()
	})
	t.Run("over a lowered limit, through the socket", func(t *testing.T) {
		h := newHarness(t, true, []string{"udp"}, func(c *Config, h *harness) { c.MaxUDPSize = 2000 })
		c := udpClient(t)
		big := udpOptions("big", 1) + strings.Repeat("x", 3000)
		if _, err := c.WriteToUDPAddrPort([]byte(big), h.addr("udp")); err != nil {
			t.Fatal(err)
		}
		if ev := h.verdict(localAP(c)); ev.v.out != outDrop || !ev.v.oversize {
			t.Errorf("verdict %+v", ev.v)
		}
		// A message that fits still passes.
		if _, err := c.WriteToUDPAddrPort([]byte(udpOptions("small", 1)), h.addr("udp")); err != nil {
			t.Fatal(err)
		}
		if ev := h.verdict(localAP(c)); ev.v.out != outDispatch {
			t.Errorf("verdict %+v", ev.v)
		}
		if s := h.m.Stats(); s.Oversize != 1 {
			t.Errorf("Oversize %d", s.Oversize)
		}
	})
	t.Run("Send over the limit", func(t *testing.T) {
		h := newHarness(t, true, []string{"udp"}, nil)
		res := sip.NewResponse(200, "OK")
		res.SetBody(make([]byte, DefaultMaxUDPSize))
		err := h.m.Send(res, sr.Dest{Proto: "udp", Addr: netip.MustParseAddrPort("127.0.0.1:5060")})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("Send: %v, want ErrTooLarge", err)
		}
		h.noneSent()
	})
}

// TestHugeContentLengthDoesNotAllocate: a Content-Length of 10^9 (or
// 2^32, or 10^18) followed by 10 bytes must not make the receive path
// allocate the announced body (R6).
func TestHugeContentLengthDoesNotAllocate(t *testing.T) {
	p := sipmsg.NewParser(DefaultMaxUDPSize)
	src := netip.MustParseAddrPort("127.0.0.1:5555")
	for _, cl := range []string{"1000000000", "4294967296", "1000000000000000000", "65000"} {
		t.Run(cl, func(t *testing.T) {
			data := []byte(strings.Replace(udpOptions("cl", 1), "Content-Length: 0", "Content-Length: "+cl, 1) + "0123456789")
			var v verdict
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			v = examine(p, data, src, DefaultMaxUDPSize)
			runtime.ReadMemStats(&ms1)
			if v.out != outReply || v.code != 400 {
				t.Errorf("verdict %s %d (%s), want a 400", v.out, v.code, v.why)
			}
			if d := ms1.TotalAlloc - ms0.TotalAlloc; d > 64<<10 {
				t.Errorf("allocated %d bytes for a %d-byte datagram", d, len(data))
			}
			allocs := testing.AllocsPerRun(20, func() { examine(p, data, src, DefaultMaxUDPSize) })
			if allocs > 200 {
				t.Errorf("%v allocations per run", allocs)
			}
		})
	}
}

func TestQueueFullDrops(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, true, []string{"udp"}, func(c *Config, h *harness) {
		c.Workers, c.QueueLen, c.UDPReaders = 1, 1, 1
		c.Handler = func(in *Incoming) {
			<-release
			h.handled <- in
		}
	})
	c := udpClient(t)
	const n = 6
	for i := range n {
		if _, err := c.WriteToUDPAddrPort([]byte(udpOptions("q", i+1)), h.addr("udp")); err != nil {
			t.Fatal(err)
		}
		h.verdict(localAP(c))
	}
	s := h.m.Stats()
	if s.Dispatched+s.QueueFull != n || s.QueueFull < n-2 {
		t.Errorf("dispatched %d, dropped %d", s.Dispatched, s.QueueFull)
	}
	close(release)
	for range s.Dispatched {
		h.nextHandled()
	}
}

// TestCallOrder: the messages of one Call-ID reach the handler in the
// order they were read.
func TestCallOrder(t *testing.T) {
	h := newHarness(t, true, []string{"udp"}, func(c *Config, h *harness) { c.UDPReaders = 1 })
	c := udpClient(t)
	const n = 40
	for i := range n {
		if _, err := c.WriteToUDPAddrPort([]byte(udpOptions("order", i+1)), h.addr("udp")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		in := h.nextHandled()
		if got := in.Msg.CSeq().SeqNo; got != uint32(i+1) {
			t.Fatalf("message %d has CSeq %d", i+1, got)
		}
	}
}

func TestHandlerPanicRecovered(t *testing.T) {
	h := newHarness(t, true, []string{"udp"}, func(c *Config, h *harness) {
		c.Handler = func(in *Incoming) {
			if string(*in.Msg.CallID()) == "boom" {
				panic("handler bug")
			}
			h.handled <- in
		}
	})
	c := udpClient(t)
	for _, id := range []string{"boom", "fine"} {
		if _, err := c.WriteToUDPAddrPort([]byte(udpOptions(id, 1)), h.addr("udp")); err != nil {
			t.Fatal(err)
		}
	}
	if in := h.nextHandled(); string(*in.Msg.CallID()) != "fine" {
		t.Errorf("got %s", *in.Msg.CallID())
	}
	waitFor(t, "panic counted", 5*time.Second, func() bool { return h.m.Stats().Panics == 1 })
}

func TestCloseStopsGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	cert, _ := testCert(t)
	for range 3 {
		h := newHarness(t, false, []string{"udp", "tcp", "ws", "tls"}, func(c *Config, h *harness) {
			c.TLS = tlsConfig(cert)
		})
		c := dialTCP(t, h.addr("tcp"))
		if _, err := c.Write([]byte(options("close", 1))); err != nil {
			t.Fatal(err)
		}
		h.nextHandled()
		if err := h.m.Close(); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c, 5*time.Second)
		if err := h.m.Send(sip.NewResponse(200, "OK"), sr.Dest{Proto: "udp", Addr: netip.MustParseAddrPort("127.0.0.1:5060")}); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after Close: %v", err)
		}
	}
	waitFor(t, "goroutines back to baseline", 5*time.Second, func() bool { return runtime.NumGoroutine() <= base+2 })
}

func TestListenAll(t *testing.T) {
	h := newHarness(t, true, nil, func(c *Config, h *harness) {
		c.Listen = []ListenSpec{{Proto: "udp", Host: "*"}}
	})
	socks := h.m.Sockets()
	if len(socks) == 0 {
		t.Fatal("no socket")
	}
	port := socks[0].Addr.Port()
	var lo *sr.Socket
	for _, s := range socks {
		if s.Addr.Addr().IsUnspecified() || s.Addr.Port() != port {
			t.Errorf("socket %s", s)
		}
		if s.Addr.Addr() == loopback {
			lo = s
		}
	}
	if lo == nil {
		t.Fatal("no 127.0.0.1 socket")
	}
	c := udpClient(t)
	if _, err := c.WriteToUDPAddrPort([]byte(udpOptions("all", 1)), lo.Addr); err != nil {
		t.Fatal(err)
	}
	in := h.nextHandled()
	if in.Rcv.Socket != lo || in.Rcv.Dst != lo.Addr {
		t.Errorf("RecvInfo %+v", in.Rcv)
	}
}

func TestMyselfAndSocketFor(t *testing.T) {
	h := newHarness(t, true, nil, func(c *Config, h *harness) {
		c.Listen = []ListenSpec{
			{Proto: "udp", Host: "127.0.0.1"},
			{Proto: "tcp", Host: "127.0.0.1", Advertise: "sip.example.com:5080"},
			{Proto: "udp", Host: "::1"},
		}
		c.Aliases = []Alias{{Host: "example.org"}, {Host: "Example.NET", Port: 5070}}
	})
	udp := h.addr("udp")
	var v6 *sr.Socket
	for _, s := range h.m.Sockets() {
		if s.Addr.Addr().Is6() {
			v6 = s
		}
	}
	if v6 == nil || v6.Name != "[::1]" {
		t.Fatalf("IPv6 socket %+v", v6)
	}
	cases := []struct {
		host string
		port int
		want bool
	}{
		{"127.0.0.1", 0, true},
		{"127.0.0.1", int(udp.Port()), true},
		{"127.0.0.1", 1, false},
		{"[::1]", int(v6.Addr.Port()), true},
		{"::1", 0, true},
		{"sip.example.com", 5080, true},
		{"SIP.example.com", 0, true},
		{"sip.example.com", 5060, false},
		{"example.org", 1234, true},
		{"example.net", 5070, true},
		{"example.net", 5071, false},
		{"example.com", 0, false},
		{"127.0.0.2", 0, false},
	}
	for _, tc := range cases {
		if got := h.m.Myself(tc.host, tc.port); got != tc.want {
			t.Errorf("Myself(%q, %d) = %v", tc.host, tc.port, got)
		}
	}

	socks := h.m.Sockets()
	if s := h.m.SocketFor(sr.Dest{Proto: "udp", Addr: netip.MustParseAddrPort("192.0.2.1:5060")}, nil); s != socks[0] {
		t.Errorf("SocketFor v4 udp = %v", s)
	}
	if s := h.m.SocketFor(sr.Dest{Proto: "udp", Addr: netip.MustParseAddrPort("[2001:db8::1]:5060")}, nil); s != v6 {
		t.Errorf("SocketFor v6 udp = %v", s)
	}
	if s := h.m.SocketFor(sr.Dest{Proto: "tcp", Addr: netip.MustParseAddrPort("192.0.2.1:5060")}, nil); s != socks[1] {
		t.Errorf("SocketFor tcp = %v", s)
	}
	if s := h.m.SocketFor(sr.Dest{Proto: "tls", Addr: netip.MustParseAddrPort("192.0.2.1:5061")}, nil); s != nil {
		t.Errorf("SocketFor tls = %v", s)
	}
	// A forced socket of the wrong family is not used.
	if s := h.m.SocketFor(sr.Dest{Proto: "udp", Addr: netip.MustParseAddrPort("192.0.2.1:5060")}, v6); s != socks[0] {
		t.Errorf("SocketFor forced v6 for a v4 dest = %v", s)
	}
	if s := h.m.SocketFor(sr.Dest{Proto: "udp", Addr: netip.MustParseAddrPort("[::1]:5060")}, v6); s != v6 {
		t.Errorf("SocketFor forced = %v", s)
	}
}

func TestResolve(t *testing.T) {
	h := newHarness(t, true, []string{"udp", "tcp"}, func(c *Config, h *harness) { c.NoSRV = true })
	cases := []struct {
		uri  string
		want string // Dest.String(), or "" for an error
	}{
		{"sip:alice@192.0.2.1", "udp:192.0.2.1:5060"},
		{"sip:192.0.2.1:5070;transport=tcp", "tcp:192.0.2.1:5070"},
		{"sip:192.0.2.1;transport=TLS", "tls:192.0.2.1:5061"},
		{"sips:192.0.2.1", "tls:192.0.2.1:5061"},
		{"sips:192.0.2.1;transport=tcp", "tls:192.0.2.1:5061"},
		{"sips:192.0.2.1;transport=ws", "wss:192.0.2.1:443"},
		{"sip:192.0.2.1;transport=ws", "ws:192.0.2.1:80"},
		{"<sip:[2001:db8::1]:5080>", "udp:[2001:db8::1]:5080"},
		{"sip:u@example.com;maddr=192.0.2.9", "udp:192.0.2.9:5060"},
		{"sip:u@localhost:5099", "udp:127.0.0.1:5099"},
		{"sips:192.0.2.1;transport=udp", ""},
		{"sip:192.0.2.1;transport=sctp", ""},
		{"tel:+1234", ""},
		{"mailto:a@b", ""},
		{"garbage", ""},
	}
	for _, tc := range cases {
		d, err := h.m.Resolve(tc.uri)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("Resolve(%q) = %s, want an error", tc.uri, d)
		case tc.want != "" && err != nil:
			if strings.Contains(tc.uri, "localhost") {
				t.Logf("Resolve(%q): %v (no resolver here?)", tc.uri, err)
				continue
			}
			t.Errorf("Resolve(%q): %v", tc.uri, err)
		case tc.want != "" && d.String() != tc.want:
			t.Errorf("Resolve(%q) = %s, want %s", tc.uri, d, tc.want)
		}
	}
}

func TestParseListen(t *testing.T) {
	cases := []struct {
		in   string
		want ListenSpec
		err  bool
	}{
		{"udp:127.0.0.1:5060", ListenSpec{Proto: "udp", Host: "127.0.0.1", Port: 5060}, false},
		{"127.0.0.1", ListenSpec{Proto: "udp", Host: "127.0.0.1", Port: 5060}, false},
		{"tls:*", ListenSpec{Proto: "tls", Host: "*", Port: 5061}, false},
		{"tcp:[::1]:5070", ListenSpec{Proto: "tcp", Host: "::1", Port: 5070}, false},
		{"udp:::1", ListenSpec{Proto: "udp", Host: "::1", Port: 5060}, false},
		{"ws:sip.example.com:8080", ListenSpec{Proto: "ws", Host: "sip.example.com", Port: 8080}, false},
		{"udp:10.0.0.1:5060 advertise 192.0.2.1:5080", ListenSpec{Proto: "udp", Host: "10.0.0.1", Port: 5060, Advertise: "192.0.2.1:5080"}, false},
		{"sctp:1.2.3.4", ListenSpec{}, true},
		{"udp:1.2.3.4:99999", ListenSpec{}, true},
		{"udp:1.2.3.4:", ListenSpec{}, true},
		{"", ListenSpec{}, true},
	}
	for _, tc := range cases {
		got, err := ParseListen(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseListen(%q) = %+v, %v", tc.in, got, err)
		}
	}
	if s := (ListenSpec{Proto: "udp", Host: "::1", Port: 5060}).String(); s != "udp:[::1]:5060" {
		t.Errorf("String = %q", s)
	}
	if a, err := ParseAlias("Example.com:5070"); err != nil || a != (Alias{"Example.com", 5070}) {
		t.Errorf("ParseAlias = %+v, %v", a, err)
	}
}

var (
	_ = net.IPv4
	_ sync.Mutex
)
