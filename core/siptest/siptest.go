// Package siptest is the public test kit of the core, for tests in every
// module tree: parse SIP text into messages, run a configuration's script
// over a message with a recording fake core, or start a real server on
// 127.0.0.1 with ephemeral ports and talk to it with a UDP or TCP peer.
package siptest

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/server"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/core/stats"
)

// Normalize turns a message written in a Go string (LF line ends, leading
// tabs from indentation allowed) into wire form: CRLF line ends, and a
// Content-Length matching the body when the text has none.
func Normalize(text string) []byte {
	text = strings.TrimLeft(text, "\n")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimLeft(l, "\t"), "\r")
	}
	head, body := lines, []string(nil)
	for i, l := range lines {
		if l == "" {
			head, body = lines[:i], lines[i+1:]
			break
		}
	}
	bodyText := strings.Join(body, "\r\n")
	bodyText = strings.TrimRight(bodyText, "\r\n")
	if bodyText != "" {
		bodyText += "\r\n"
	}
	hasCL := false
	for _, h := range head {
		n, _, _ := strings.Cut(h, ":")
		if sipmsg.Same(n, "Content-Length") {
			hasCL = true
		}
	}
	if !hasCL {
		head = append(head, fmt.Sprintf("Content-Length: %d", len(bodyText)))
	}
	return []byte(strings.Join(head, "\r\n") + "\r\n\r\n" + bodyText)
}

// Parse parses a message written as in Normalize.
func Parse(t testing.TB, text string) sip.Message {
	t.Helper()
	m, err := sipmsg.NewParser(0).ParseSIP(Normalize(text))
	if err != nil {
		t.Fatalf("parse test message: %v\n%s", err, text)
	}
	return m
}

// Request parses a request written as in Normalize.
func Request(t testing.TB, text string) *sip.Request {
	t.Helper()
	r, ok := Parse(t, text).(*sip.Request)
	if !ok {
		t.Fatal("test message is not a request")
	}
	return r
}

// Response parses a reply written as in Normalize.
func Response(t testing.TB, text string) *sip.Response {
	t.Helper()
	r, ok := Parse(t, text).(*sip.Response)
	if !ok {
		t.Fatal("test message is not a reply")
	}
	return r
}

// Sent is a message the fake core sent.
type Sent struct {
	Msg sip.Message
	Dst sr.Dest
	// Reply is set for replies sent with SendReply.
	Reply bool
}

// Core is an sr.Core that records what it is asked to send instead of
// sending it. It listens (pretends to) on udp and tcp 127.0.0.1:5060.
type Core struct {
	mu     sync.Mutex
	sent   []Sent
	socks  []*sr.Socket
	Hosts  []string // extra names that are "myself"
	Script interface {
		Run(c *sr.Ctx, t sr.RouteType, name string) int
	}
	Server string // Server header line
	// Modules, when set, are asked about hosts that are not myself
	// otherwise (domain's register_myself), as the server asks them.
	Modules *module.Set
}

// NewCore returns a fake core.
func NewCore() *Core {
	ap := netip.MustParseAddrPort("127.0.0.1:5060")
	return &Core{socks: []*sr.Socket{
		{Proto: sr.ProtoUDP, Addr: ap, Name: "127.0.0.1"},
		{Proto: sr.ProtoTCP, Addr: ap, Name: "127.0.0.1"},
	}}
}

var _ sr.Core = (*Core)(nil)

// Sent returns a copy of what was sent so far.
func (f *Core) Sent() []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Sent(nil), f.sent...)
}

// Reset forgets what was sent.
func (f *Core) Reset() {
	f.mu.Lock()
	f.sent = nil
	f.mu.Unlock()
}

// Send records a message.
func (f *Core) Send(msg sip.Message, dst sr.Dest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, Sent{Msg: cloneMsg(msg), Dst: dst})
	return nil
}

func cloneMsg(m sip.Message) sip.Message {
	switch x := m.(type) {
	case *sip.Request:
		return x.Clone()
	case *sip.Response:
		return x.Clone()
	}
	return m
}

// Resolve accepts IP-literal URIs only.
func (f *Core) Resolve(uri string) (sr.Dest, error) {
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		return sr.Dest{}, err
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return sr.Dest{}, fmt.Errorf("fake core resolves IP addresses only, not %q", u.Host)
	}
	proto := sr.ProtoUDP
	if t, ok := u.UriParams.Get("transport"); ok {
		proto = strings.ToLower(t)
	}
	port := u.Port
	if port == 0 {
		port = sipmsg.DefaultPort(proto)
	}
	return sr.Dest{Proto: proto, Addr: netip.AddrPortFrom(ip, uint16(port))}, nil
}

// Myself matches 127.0.0.1 (any port 5060 or none) and Hosts, then asks
// Modules.
func (f *Core) Myself(host string, port int) bool {
	host = strings.Trim(host, "[]")
	if port == 0 || port == 5060 {
		if host == "127.0.0.1" {
			return true
		}
		for _, h := range f.Hosts {
			if strings.EqualFold(h, host) {
				return true
			}
		}
	}
	return f.Modules != nil && f.Modules.Myself(host, port)
}

// Sockets returns the pretend sockets.
func (f *Core) Sockets() []*sr.Socket { return f.socks }

// SocketFor returns the forced socket or the one of the same transport.
func (f *Core) SocketFor(dst sr.Dest, forced *sr.Socket) *sr.Socket {
	if forced != nil {
		return forced
	}
	for _, s := range f.socks {
		if s.Proto == dst.Proto {
			return s
		}
	}
	return f.socks[0]
}

// Reply builds a local reply as the server does.
func (f *Core) Reply(c *sr.Ctx, code int, reason, toTag string) *sip.Response {
	return server.BuildReply(c, code, reason, toTag, f.Server)
}

// SendReply records a reply.
func (f *Core) SendReply(c *sr.Ctx, res *sip.Response) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, Sent{Msg: res.Clone(), Dst: sr.Dest{Proto: c.Rcv.Proto, Addr: c.Rcv.Src}, Reply: true})
	return nil
}

// ServerHeader returns the Server line.
func (f *Core) ServerHeader() string { return f.Server }

// UserAgentHeader returns "".
func (f *Core) UserAgentHeader() string { return "" }

// RunRoute runs a route of the attached script, if any.
func (f *Core) RunRoute(c *sr.Ctx, t sr.RouteType, name string) int {
	if f.Script == nil {
		return 1
	}
	return f.Script.Run(c, t, name)
}

// Replies returns the replies sent so far.
func (f *Core) Replies() []*sip.Response {
	var out []*sip.Response
	for _, s := range f.Sent() {
		if r, ok := s.Msg.(*sip.Response); ok {
			out = append(out, r)
		}
	}
	return out
}

// TestFlavor is a flavor holding every compiled-in module.
func TestFlavor() *flavor.Flavor {
	var all []string
	for _, m := range module.All() {
		all = append(all, m.ID())
	}
	return &flavor.Flavor{Name: "test", Binary: "test", Version: "0", Compat: "maxcompat", DBTool: "testdbctl",
		Modules: all, Available: all, Defaults: map[string]string{}}
}

// Load loads a configuration text with every compiled-in module available
// (the test binary's imports decide which). It fails the test on errors.
func Load(t testing.TB, config string) *server.Loaded {
	t.Helper()
	l, err := LoadErr(t, config)
	if err != nil {
		t.Fatalf("config does not load:\n%v", err)
	}
	return l
}

// LoadErr is Load returning the error, for tests of config errors. Error
// positions name the file "test.cfg".
func LoadErr(t testing.TB, config string) (*server.Loaded, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "test.cfg")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := server.Load(TestFlavor(), server.LoadOptions{Path: path, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), path, "test.cfg"))
	}
	return l, nil
}

// Script is a loaded configuration run over messages with a fake core,
// without transports: module Init runs (Core is the fake), Destroy runs at
// the end of the test.
type Script struct {
	Loaded *server.Loaded
	Core   *Core
	// RPC and Stats are the registries the modules' Init filled.
	RPC   *rpc.Registry
	Stats *stats.Registry
}

// NewScript loads a configuration and initialises its modules with a fake
// core.
func NewScript(t testing.TB, config string) *Script {
	t.Helper()
	l := Load(t, config)
	core := NewCore()
	core.Script = l.Script
	core.Modules = l.Modules
	s := &Script{Loaded: l, Core: core, RPC: rpc.NewRegistry(), Stats: stats.New()}
	if err := l.Modules.Init(module.InitEnv{Log: slog.New(slog.DiscardHandler), Core: core, RPC: s.RPC, Stats: s.Stats, Flavor: TestFlavor()}); err != nil {
		l.Modules.Destroy()
		t.Fatalf("module init: %v", err)
	}
	t.Cleanup(l.Modules.Destroy)
	return s
}

// Ctx prepares the context of a message as received over proto from src
// on the fake core's socket.
func (s *Script) Ctx(msg sip.Message, proto, src string) *sr.Ctx {
	return NewCtx(s.Core, msg, proto, src)
}

// NewCtx prepares the context of a message as received over proto
// (udp if "") from src (192.0.2.10:5060 if "") on core.
func NewCtx(core sr.Core, msg sip.Message, proto, src string) *sr.Ctx {
	if proto == "" {
		proto = sr.ProtoUDP
	}
	if src == "" {
		src = "192.0.2.10:5060"
	}
	c := &sr.Ctx{
		Rcv: sr.RecvInfo{
			Proto: proto, Src: netip.MustParseAddrPort(src),
			Dst: netip.MustParseAddrPort("127.0.0.1:5060"),
			Len: len(msg.String()),
		},
		Log:  slog.New(slog.DiscardHandler),
		Core: core, Q: sr.QUnset, AVPs: sr.NewAVPList(), Vars: sr.Vars{}, RC: 1,
	}
	for _, s := range core.Sockets() {
		if s.Proto == proto {
			c.Rcv.Socket = s
			break
		}
	}
	switch m := msg.(type) {
	case *sip.Request:
		c.Req = m
		c.OrigRURI = m.Recipient.String()
		c.RouteType = sr.RouteRequest
	case *sip.Response:
		c.Resp = m
		c.RouteType = sr.RouteOnReply
	}
	return c
}

// Run runs the main request route over a request written as in
// Normalize, received over UDP from 192.0.2.10:5060, and returns its
// context.
func (s *Script) Run(t testing.TB, text string) *sr.Ctx {
	t.Helper()
	c := s.Ctx(Request(t, text), "", "")
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c
}
