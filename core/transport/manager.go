package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("transport: manager closed")

// Manager owns the listening sockets, the connections, the receive path
// and the worker pool. Create it with New, then Start it; Close stops it.
// Several managers may run in one process.
type Manager struct {
	cfg Config
	log *slog.Logger

	streamParser *sip.Parser

	// Set by Start, read-only afterwards.
	sockets   []*sr.Socket
	udp       []*udpSock
	udpBySock map[*sr.Socket]*udpSock
	listeners []*streamListener
	dialLs    map[string]*chanListener // tcp, tls: adopted outgoing connections
	tpl       *sip.TransportLayer
	self      []selfEntry
	bcast     map[netip.Addr]bool // directed broadcast addresses of local interfaces

	conns   connTable
	dialMu  sync.Mutex
	dialing map[connKey]*dialCall

	workers []chan *Incoming
	dmu     sync.RWMutex // guards dispatch against Close
	dclosed bool
	wwg     sync.WaitGroup // workers

	wg        sync.WaitGroup // readers, accept loops, sipgo serve loops
	done      chan struct{}
	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	startOnce sync.Once
	started   atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once

	bufs     sync.Pool
	logLimit *rateLimiter
	panicLog *rateLimiter
	st       counters

	// Test hooks (set before Start).
	sendHook  func(msg sip.Message, dst sr.Dest, data []byte) error
	onVerdict func(v verdict, rcv sr.RecvInfo)
}

// New checks cfg and returns a Manager ready to Start. It opens nothing.
func New(cfg Config) (*Manager, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:          c,
		log:          c.Logger,
		streamParser: sipmsg.NewParser(c.MaxStreamSize),
		udpBySock:    make(map[*sr.Socket]*udpSock),
		dialLs:       make(map[string]*chanListener),
		dialing:      make(map[connKey]*dialCall),
		done:         make(chan struct{}),
		logLimit:     newRateLimiter(5*time.Second, 4096),
		panicLog:     newRateLimiter(time.Minute, 16),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.conns.init()
	m.bufs.New = func() any { return new(bytes.Buffer) }
	return m, nil
}

// ListenError is the error Start returns when a socket cannot be opened.
// It prints as "listen=udp:127.0.0.1:5060: address already in use" and
// unwraps to the system error.
type ListenError struct {
	Spec ListenSpec
	Err  error
}

func (e *ListenError) Error() string {
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		return "listen=" + e.Spec.String() + ": " + errno.Error()
	}
	return "listen=" + e.Spec.String() + ": " + e.Err.Error()
}

func (e *ListenError) Unwrap() error { return e.Err }

// Start opens every listening socket, then starts the readers and the
// workers. On error nothing stays open. Start and Close must not run
// concurrently.
func (m *Manager) Start() error {
	err := errors.New("transport: Start called twice")
	m.startOnce.Do(func() { err = m.start() })
	return err
}

func (m *Manager) start() error {
	if m.closed.Load() {
		return ErrClosed
	}
	if err := m.bind(); err != nil {
		m.closeSockets()
		return err
	}
	m.buildSelf()
	m.bcast = localBroadcasts()

	// Workers first (streams and readers dispatch to them), then the
	// stream layer, then the UDP readers: a worker gets its first message
	// only after the stream layer is set up, so a request in over UDP can
	// be forwarded over TCP.
	m.workers = make([]chan *Incoming, m.cfg.Workers)
	for i := range m.workers {
		q := make(chan *Incoming, m.cfg.QueueLen)
		m.workers[i] = q
		m.wwg.Add(1)
		go m.work(q)
	}
	if len(m.listeners) > 0 {
		m.startStreams()
	}
	for _, u := range m.udp {
		for range m.cfg.UDPReaders {
			m.wg.Add(1)
			go m.readUDP(u)
		}
	}
	m.started.Store(true)
	return nil
}

// bind opens every socket of the configuration.
func (m *Manager) bind() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.DNSTimeout)
	defer cancel()
	for _, spec := range m.cfg.Listen {
		addrs, name, err := m.expand(ctx, spec)
		if err != nil {
			return &ListenError{Spec: spec, Err: err}
		}
		port := spec.Port
		for _, a := range addrs {
			sock := &sr.Socket{Proto: spec.Proto, Name: name, Advertise: spec.Advertise}
			if sock.Name == "" {
				sock.Name = hostName(a)
			}
			bound, err := m.open(sock, netip.AddrPortFrom(a, uint16(port)))
			if err != nil {
				s := spec
				s.Host, s.Port = a.String(), port
				return &ListenError{Spec: s, Err: err}
			}
			// With port 0 and several addresses, every address gets the
			// port the first one was given.
			port = int(bound.Port())
			sock.Addr = bound
			m.sockets = append(m.sockets, sock)
		}
	}
	return nil
}

// expand resolves a listen host into the addresses to bind and the socket
// name ("" to use each address).
func (m *Manager) expand(ctx context.Context, spec ListenSpec) ([]netip.Addr, string, error) {
	switch spec.Host {
	case "*", "0.0.0.0", "::", "[::]":
		addrs, err := localAddrs()
		return addrs, "", err
	}
	if a, ok := parseIPHost(spec.Host); ok {
		return []netip.Addr{a}, hostName(a), nil
	}
	ips, err := m.cfg.Resolver.LookupNetIP(ctx, "ip", spec.Host)
	if err != nil {
		return nil, "", fmt.Errorf("resolve %s: %w", spec.Host, err)
	}
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("resolve %s: no address", spec.Host)
	}
	return out, spec.Host, nil
}

// localAddrs lists the addresses of the local interfaces, IPv6 link-local
// ones left out (they need a zone).
func localAddrs() ([]netip.Addr, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("interface addresses: %w", err)
	}
	var out []netip.Addr
	for _, ifa := range ifas {
		n, ok := ifa.(*net.IPNet)
		if !ok {
			continue
		}
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		a = a.Unmap()
		if a.IsLinkLocalUnicast() && a.Is6() {
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("no local address")
	}
	return out, nil
}

// localBroadcasts returns the directed broadcast addresses of the local
// IPv4 networks (Send refuses them).
func localBroadcasts() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, ifa := range ifas {
		n, ok := ifa.(*net.IPNet)
		if !ok {
			continue
		}
		ip4 := n.IP.To4()
		ones, bits := n.Mask.Size()
		if ip4 == nil || bits != 32 || ones >= 31 {
			continue
		}
		var b [4]byte
		for i := range b {
			b[i] = ip4[i] | ^n.Mask[len(n.Mask)-4+i]
		}
		out[netip.AddrFrom4(b)] = true
	}
	return out
}

func hostName(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// open binds one socket.
func (m *Manager) open(sock *sr.Socket, ap netip.AddrPort) (netip.AddrPort, error) {
	switch sock.Proto {
	case sr.ProtoUDP:
		c, err := net.ListenUDP(udpNet(ap.Addr()), net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return netip.AddrPort{}, err
		}
		// A bigger receive buffer absorbs bursts (the kernel caps it at
		// net.core.rmem_max), as Kamailio probes its UDP buffers up.
		if m.cfg.UDPReadBuffer > 0 {
			_ = c.SetReadBuffer(m.cfg.UDPReadBuffer)
		}
		bound := c.LocalAddr().(*net.UDPAddr).AddrPort()
		uio, err := newUDPIO(c)
		if err != nil {
			_ = c.Close()
			return netip.AddrPort{}, err
		}
		u := &udpSock{sock: sock, conn: c, io: uio}
		m.udp = append(m.udp, u)
		m.udpBySock[sock] = u
		return netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port()), nil
	default:
		ln, err := net.ListenTCP(tcpNet(ap.Addr()), net.TCPAddrFromAddrPort(ap))
		if err != nil {
			return netip.AddrPort{}, err
		}
		bound := ln.Addr().(*net.TCPAddr).AddrPort()
		m.listeners = append(m.listeners, newStreamListener(m, ln, sock))
		return netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port()), nil
	}
}

func udpNet(a netip.Addr) string {
	if a.Is4() {
		return "udp4"
	}
	return "udp6"
}

func tcpNet(a netip.Addr) string {
	if a.Is4() {
		return "tcp4"
	}
	return "tcp6"
}

// closeSockets closes what bind opened (Start failed).
func (m *Manager) closeSockets() {
	for _, u := range m.udp {
		_ = u.conn.Close()
	}
	for _, l := range m.listeners {
		_ = l.ln.Close()
	}
	m.udp, m.listeners, m.sockets = nil, nil, nil
}

// Close stops the readers, closes every socket and connection, lets the
// workers finish the queued messages and waits for all goroutines.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.done)
		m.cancel()
		if !m.started.Load() {
			m.closeSockets()
			return
		}
		for _, u := range m.udp {
			_ = u.conn.Close()
		}
		for _, l := range m.listeners {
			l.close()
		}
		for _, l := range m.dialLs {
			l.close()
		}
		// Closing the connections ends sipgo's reader goroutines, which
		// clean sipgo's pools up (sipgo's TransportLayer.Close would close
		// them a second time, under the readers' feet).
		m.conns.closeAll()
		m.wg.Wait()

		m.dmu.Lock()
		m.dclosed = true
		for _, q := range m.workers {
			close(q)
		}
		m.dmu.Unlock()
		m.wwg.Wait()
	})
	return nil
}

// Sockets lists the listening sockets (after Start), in listen order.
func (m *Manager) Sockets() []*sr.Socket {
	return append([]*sr.Socket(nil), m.sockets...)
}

// SocketFor picks the socket to send to dst from: forced when it has the
// right transport and address family, else the first socket of that
// transport and family, preferring a loopback socket for a loopback
// destination and a non-loopback one otherwise. Nil when there is none.
func (m *Manager) SocketFor(dst sr.Dest, forced *sr.Socket) *sr.Socket {
	proto := normProto(dst.Proto)
	a := dst.Addr.Addr().Unmap()
	if forced != nil && forced.Proto == proto && sameFamily(forced.Addr.Addr(), a) {
		return forced
	}
	var best *sr.Socket
	for _, s := range m.sockets {
		if s.Proto != proto || !sameFamily(s.Addr.Addr(), a) {
			continue
		}
		if s.Addr.Addr().IsLoopback() == a.IsLoopback() {
			return s
		}
		if best == nil {
			best = s
		}
	}
	return best
}

func sameFamily(a, b netip.Addr) bool {
	return a.Unmap().Is4() == b.Unmap().Is4()
}

func normProto(p string) string {
	if p == "" {
		return sr.ProtoUDP
	}
	return strings.ToLower(p)
}

// selfEntry is one host[:port] this server answers for; port 0 = any.
type selfEntry struct {
	host string
	port int
}

func (m *Manager) buildSelf() {
	add := func(h string, p int) {
		m.self = append(m.self, selfEntry{strings.ToLower(strings.Trim(h, "[]")), p})
	}
	for _, s := range m.sockets {
		port := int(s.Addr.Port())
		add(s.Addr.Addr().String(), port)
		if s.Name != "" {
			add(s.Name, port)
		}
		if s.Advertise != "" {
			h, p, err := splitHostPort(s.Advertise)
			if err == nil {
				if p < 0 {
					p = port
				}
				add(h, p)
			}
		}
	}
	for _, a := range m.cfg.Aliases {
		add(a.Host, a.Port)
	}
}

// Myself reports whether host[:port] names this server: a listen address
// or name, an advertised address, or an alias. Port 0 matches any port;
// an alias without port matches any port. Host names compare
// case-insensitively; IPv6 addresses with or without brackets.
func (m *Manager) Myself(host string, port int) bool {
	h := strings.ToLower(strings.Trim(host, "[]"))
	if a, err := netip.ParseAddr(h); err == nil {
		h = a.Unmap().String()
	}
	for _, e := range m.self {
		if e.host == h && (port == 0 || e.port == 0 || e.port == port) {
			return true
		}
	}
	return false
}

// dispatch hands a message to the worker its Call-ID hashes to, so that
// the messages of one call are handled in order. A full queue drops the
// message: the reader never blocks on the workers.
func (m *Manager) dispatch(in *Incoming) {
	key := ""
	if c := in.Msg.CallID(); c != nil {
		key = string(*c)
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	m.dmu.RLock()
	defer m.dmu.RUnlock()
	if m.dclosed {
		return
	}
	select {
	case m.workers[h%uint64(len(m.workers))] <- in:
		m.st.dispatched.Add(1)
	default:
		m.st.queueFull.Add(1)
		if m.logLimit.allow(netip.Addr{}, time.Now()) {
			m.log.Warn("worker queue full, message dropped", "src", in.Rcv.Src, "proto", in.Rcv.Proto)
		}
	}
}

func (m *Manager) work(q chan *Incoming) {
	defer m.wwg.Done()
	for in := range q {
		m.runHandler(in)
	}
}

func (m *Manager) runHandler(in *Incoming) {
	defer m.recoverPanic("handler", in.Rcv.Src)
	m.cfg.Handler(in)
}

// recoverPanic is the last resort of every goroutine that runs the
// receive path or the handler: count, log (rate-limited, with the stack
// the first time), keep serving.
func (m *Manager) recoverPanic(where string, src netip.AddrPort) {
	if r := recover(); r != nil {
		m.logPanic(r, where, src)
	}
}

func (m *Manager) logPanic(r any, where string, src netip.AddrPort) {
	n := m.st.panics.Add(1)
	if m.panicLog.allow(netip.Addr{}, time.Now()) {
		args := []any{"where", where, "src", src, "panic", fmt.Sprint(r), "count", n}
		if n == 1 {
			args = append(args, "stack", string(debug.Stack()))
		}
		m.log.Error("recovered panic", args...)
	}
}

// apply carries out a verdict of the receive path.
func (m *Manager) apply(v verdict, rcv sr.RecvInfo, n int) {
	switch v.out {
	case outIgnore:
		m.st.keepalives.Add(1)
	case outDispatch:
		m.dispatch(&Incoming{Msg: v.msg, Rcv: rcv, Len: n})
	case outReply:
		m.st.rejected.Add(1)
		if v.unparsable {
			m.st.parseErrors.Add(1)
		}
		err := m.sendLocalReply(v.reply, rcv)
		if m.logLimit.allow(rcv.Src.Addr(), time.Now()) {
			m.log.Info("request refused", "src", rcv.Src, "proto", rcv.Proto, "code", v.code, "reason", v.why, "send_error", err)
		}
	case outDrop:
		m.st.dropped.Add(1)
		if v.unparsable {
			m.st.parseErrors.Add(1)
		}
		if v.oversize {
			m.st.oversize.Add(1)
		}
		if m.log.Enabled(context.Background(), slog.LevelDebug) {
			m.log.Debug("message dropped", "src", rcv.Src, "proto", rcv.Proto, "reason", v.why, "len", n)
		}
	}
	if m.onVerdict != nil {
		m.onVerdict(v, rcv)
	}
}

// sendLocalReply sends a reply generated by the receive path. Over UDP it
// goes to the source IP (never to a Via host or maddr, so a forged Via
// cannot aim it at a third party) and to the port RFC 3261 §18.2.2 / RFC
// 3581 give; over a connection it goes back on that connection.
func (m *Manager) sendLocalReply(res *sip.Response, rcv sr.RecvInfo) error {
	dst := sr.Dest{Proto: rcv.Proto, Addr: rcv.Src, Socket: rcv.Socket}
	if rcv.Proto == sr.ProtoUDP {
		_, port := sipmsg.ReplyDest(res.Via(), sr.ProtoUDP)
		dst.Addr = netip.AddrPortFrom(rcv.Src.Addr(), uint16(port))
	}
	return m.Send(res, dst)
}

// Stats are the counters of a Manager.
type Stats struct {
	UDPReceived    uint64 // datagrams read
	StreamReceived uint64 // messages delivered by TCP/TLS/WS connections
	Dispatched     uint64 // messages queued to a worker
	QueueFull      uint64 // messages dropped because their worker's queue was full
	Keepalives     uint64 // CRLF keep-alives and empty datagrams ignored
	ParseErrors    uint64 // unparsable messages (answered 400 or dropped)
	Rejected       uint64 // requests answered here (400, 416, 501, 505)
	Dropped        uint64 // messages dropped here (bad replies, garbage, ACKs)
	Oversize       uint64 // datagrams over MaxUDPSize
	FramingErrors  uint64 // stream connections closed on a framing error
	ConnsAccepted  uint64
	ConnsRejected  uint64 // accepted then closed at once: a connection cap was reached
	ConnsDialed    uint64
	ConnsOpen      int
	SendErrors     uint64
	Panics         uint64
}

type counters struct {
	udpIn, streamIn, dispatched, queueFull, keepalives, parseErrors atomic.Uint64
	rejected, dropped, oversize, framing                            atomic.Uint64
	accepted, connRejected, dialed, sendErrors, panics              atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() Stats {
	return Stats{
		UDPReceived:    m.st.udpIn.Load(),
		StreamReceived: m.st.streamIn.Load(),
		Dispatched:     m.st.dispatched.Load(),
		QueueFull:      m.st.queueFull.Load(),
		Keepalives:     m.st.keepalives.Load(),
		ParseErrors:    m.st.parseErrors.Load(),
		Rejected:       m.st.rejected.Load(),
		Dropped:        m.st.dropped.Load(),
		Oversize:       m.st.oversize.Load(),
		FramingErrors:  m.st.framing.Load(),
		ConnsAccepted:  m.st.accepted.Load(),
		ConnsRejected:  m.st.connRejected.Load(),
		ConnsDialed:    m.st.dialed.Load(),
		ConnsOpen:      m.conns.count(),
		SendErrors:     m.st.sendErrors.Load(),
		Panics:         m.st.panics.Load(),
	}
}
