package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sr"
)

// ErrConnLimit: MaxConnections is reached; no new connection is opened.
var ErrConnLimit = errors.New("connection limit reached")

var errUnknownConn = errors.New("connection not tracked")

// connKind groups the transports the way sipgo labels connections: wss
// connections are served by sipgo's WSS transport, ws by WS.
type connKind uint8

const (
	kindTCP connKind = iota
	kindTLS
	kindWS
	kindWSS
)

func kindOf(proto string) connKind {
	switch proto {
	case sr.ProtoTLS, "TLS":
		return kindTLS
	case sr.ProtoWS, "WS":
		return kindWS
	case sr.ProtoWSS, "WSS":
		return kindWSS
	}
	return kindTCP
}

type connKey struct {
	kind connKind
	addr netip.AddrPort // remote address
}

// streamConn is one TCP, TLS, WS or WSS connection, accepted or dialed.
type streamConn struct {
	m       *Manager
	key     connKey
	proto   string
	sock    *sr.Socket
	laddr   netip.AddrPort
	inbound bool
	raw     *tconn   // the TCP connection, under TLS / WebSocket
	app     net.Conn // where SIP bytes are written (tcp: raw, tls: the TLS conn); nil for ws/wss
	born    time.Time
	ws      atomic.Pointer[sip.WSConnection] // sipgo's connection, for ws/wss writes
	gotMsg  atomic.Bool
	active  atomic.Int64 // unix nanoseconds of the last message in or out
	once    sync.Once

	// State of sipgo's reader goroutine of this connection (read filter and
	// message handler run there, one after the other).
	fr      framer
	lens    []int
	lastLen int
}

func (sc *streamConn) recvInfo() sr.RecvInfo {
	return sr.RecvInfo{Proto: sc.proto, Src: sc.key.addr, Dst: sc.laddr, Socket: sc.sock}
}

// readDeadline: the first message must be complete FirstMessageTimeout
// after the connection was accepted; afterwards the connection may stay
// idle ConnectionLifetime.
func (sc *streamConn) readDeadline() time.Time {
	if !sc.gotMsg.Load() {
		return sc.born.Add(sc.m.cfg.FirstMessageTimeout)
	}
	return time.Unix(0, sc.active.Load()).Add(sc.m.cfg.ConnectionLifetime)
}

// touch records traffic and pushes the idle deadline back, also for a
// read already blocked.
func (sc *streamConn) touch() {
	now := time.Now()
	sc.active.Store(now.UnixNano())
	if sc.gotMsg.Load() {
		_ = sc.raw.Conn.SetReadDeadline(now.Add(sc.m.cfg.ConnectionLifetime))
	}
}

func (sc *streamConn) popLen() int {
	if len(sc.lens) == 0 {
		return 0
	}
	n := sc.lens[0]
	sc.lens = sc.lens[1:]
	if len(sc.lens) == 0 {
		sc.lens = sc.lens[:0:0]
	}
	return n
}

// write sends bytes on the connection.
func (sc *streamConn) write(data []byte) error {
	if sc.app == nil {
		return sc.writeWS(data)
	}
	_ = sc.app.SetWriteDeadline(time.Now().Add(sc.m.cfg.SendTimeout))
	if _, err := sc.app.Write(data); err != nil {
		// A partial write leaves the stream unusable.
		_ = sc.app.Close()
		return err
	}
	return nil
}

// writeWS sends one WebSocket text frame through sipgo's connection (it
// owns the framing, and serialises it with its own writes). The
// connection is taken from sipgo's pool once and its reference kept for
// the life of the connection: releasing it after each write races with
// sipgo's close (its reference count goes negative).
func (sc *streamConn) writeWS(data []byte) error {
	wc := sc.ws.Load()
	if wc == nil {
		pool := sc.m.tpl.Pool(sc.proto)
		if pool == nil {
			return ErrNoConnection
		}
		c := pool.Get(sc.key.addr.String())
		if c == nil {
			return ErrNoConnection
		}
		w, ok := c.(*sip.WSConnection)
		if !ok || w.RemoteAddr().String() != sc.key.addr.String() {
			_, _ = c.TryClose()
			return ErrNoConnection
		}
		if !sc.ws.CompareAndSwap(nil, w) {
			_, _ = c.TryClose() // another writer keeps its reference
		}
		wc = sc.ws.Load()
	}
	_ = wc.SetWriteDeadline(time.Now().Add(sc.m.cfg.SendTimeout))
	if _, err := wc.Write(data); err != nil {
		_ = wc.Close()
		return err
	}
	sc.touch()
	return nil
}

// tconn wraps every TCP connection: read deadlines (first-message and idle
// timeouts), activity on write, and the connection table on close.
type tconn struct {
	net.Conn
	sc *streamConn
}

func (c *tconn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(c.sc.readDeadline())
	return c.Conn.Read(b)
}

func (c *tconn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 && c.sc.gotMsg.Load() {
		c.sc.touch()
	}
	return n, err
}

func (c *tconn) Close() error {
	err := c.Conn.Close()
	c.sc.once.Do(func() { c.sc.m.conns.forget(c.sc) })
	return err
}

// connTable holds the live connections and enforces the caps.
type connTable struct {
	mu    sync.Mutex
	byKey map[connKey]*streamConn
	all   map[*streamConn]struct{}
	perIP map[netip.Addr]int
	total int
}

func (t *connTable) init() {
	t.byKey = make(map[connKey]*streamConn)
	t.all = make(map[*streamConn]struct{})
	t.perIP = make(map[netip.Addr]int)
}

// acquire takes a connection slot (and a slot of ip for an accepted one).
func (t *connTable) acquire(ip netip.Addr, inbound bool, max, maxPerIP int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total >= max {
		return ErrConnLimit
	}
	if inbound {
		if t.perIP[ip] >= maxPerIP {
			return fmt.Errorf("%w: %d connections from %s", ErrConnLimit, maxPerIP, ip)
		}
		t.perIP[ip]++
	}
	t.total++
	return nil
}

func (t *connTable) release(ip netip.Addr, inbound bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.releaseLocked(ip, inbound)
}

func (t *connTable) releaseLocked(ip netip.Addr, inbound bool) {
	t.total--
	if inbound {
		if t.perIP[ip]--; t.perIP[ip] <= 0 {
			delete(t.perIP, ip)
		}
	}
}

// add registers a connection whose slot is already acquired.
func (t *connTable) add(sc *streamConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byKey[sc.key] = sc
	t.all[sc] = struct{}{}
}

// forget unregisters a closed connection and gives its slot back.
func (t *connTable) forget(sc *streamConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey[sc.key] == sc {
		delete(t.byKey, sc.key)
	}
	delete(t.all, sc)
	t.releaseLocked(sc.key.addr.Addr(), sc.inbound)
}

func (t *connTable) get(k connKey) *streamConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[k]
}

func (t *connTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

func (t *connTable) closeAll() {
	t.mu.Lock()
	all := make([]*streamConn, 0, len(t.all))
	for sc := range t.all {
		all = append(all, sc)
	}
	t.mu.Unlock()
	for _, sc := range all {
		_ = sc.raw.Close()
	}
}

// lookupNet finds the connection of a sipgo read (transport label and
// remote address).
func (t *connTable) lookupNet(transport string, ra net.Addr) *streamConn {
	ta, ok := ra.(*net.TCPAddr)
	if !ok {
		return nil
	}
	ap := ta.AddrPort()
	return t.get(connKey{kindOf(transport), netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())})
}

// lookupSrc finds the connection of a message sipgo delivered (transport
// label and source "ip:port").
func (t *connTable) lookupSrc(transport, src string) *streamConn {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return nil
	}
	return t.get(connKey{kindOf(transport), netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())})
}

// newConn wraps a TCP connection whose slot is acquired.
func (m *Manager) newConn(c net.Conn, sock *sr.Socket, proto string, inbound bool) *streamConn {
	ra, _ := c.RemoteAddr().(*net.TCPAddr)
	la, _ := c.LocalAddr().(*net.TCPAddr)
	var rap, lap netip.AddrPort
	if ra != nil {
		rap = ra.AddrPort()
		rap = netip.AddrPortFrom(rap.Addr().Unmap(), rap.Port())
	}
	if la != nil {
		lap = la.AddrPort()
		lap = netip.AddrPortFrom(lap.Addr().Unmap(), lap.Port())
	}
	now := time.Now()
	sc := &streamConn{
		m:       m,
		key:     connKey{kindOf(proto), rap},
		proto:   proto,
		sock:    sock,
		laddr:   lap,
		inbound: inbound,
		born:    now,
		fr:      newFramer(m.cfg.MaxStreamSize),
	}
	sc.active.Store(now.UnixNano())
	sc.gotMsg.Store(!inbound) // the first-message timeout is for accepted connections
	sc.raw = &tconn{Conn: c, sc: sc}
	return sc
}

// admit applies the caps to an accepted connection: it returns the
// connection, holding a slot, for the caller to complete and add to the
// table; or nil after closing it.
func (m *Manager) admit(c net.Conn, sock *sr.Socket) *streamConn {
	var ip netip.Addr
	if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip = ra.AddrPort().Addr().Unmap()
	}
	if err := m.conns.acquire(ip, true, m.cfg.MaxConnections, m.cfg.MaxConnectionsPerIP); err != nil {
		_ = c.Close()
		m.st.connRejected.Add(1)
		if m.logLimit.allow(ip, time.Now()) {
			m.log.Warn("connection refused", "socket", sock.String(), "src", c.RemoteAddr().String(), "error", err)
		}
		return nil
	}
	m.st.accepted.Add(1)
	return m.newConn(c, sock, sock.Proto, true)
}

// streamListener is what sipgo's Serve loops accept from: it applies the
// caps, wraps connections, and for TLS starts the server side. For ws/wss
// it hands over only connections whose HTTP upgrade request has fully
// arrived (read, and the TLS handshake done, on a goroutine per
// connection): sipgo upgrades in its accept loop, where one slow client
// would stall every other.
type streamListener struct {
	m     *Manager
	ln    *net.TCPListener
	sock  *sr.Socket
	ready chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newStreamListener(m *Manager, ln *net.TCPListener, sock *sr.Socket) *streamListener {
	return &streamListener{m: m, ln: ln, sock: sock, ready: make(chan net.Conn), done: make(chan struct{})}
}

func (l *streamListener) isWS() bool {
	return l.sock.Proto == sr.ProtoWS || l.sock.Proto == sr.ProtoWSS
}

// Accept implements net.Listener for sipgo.
func (l *streamListener) Accept() (net.Conn, error) {
	if l.isWS() {
		select {
		case c := <-l.ready:
			return c, nil
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	for {
		c, err := l.acceptRaw()
		if err != nil {
			return nil, err
		}
		sc := l.m.admit(c, l.sock)
		if sc == nil {
			continue
		}
		if l.sock.Proto == sr.ProtoTLS {
			tc := tls.Server(sc.raw, l.m.cfg.TLS)
			sc.app = tc
			l.m.conns.add(sc)
			return tc, nil
		}
		sc.app = sc.raw
		l.m.conns.add(sc)
		return sc.raw, nil
	}
}

// acceptRaw accepts a TCP connection, riding out transient errors (e.g.
// EMFILE) with a backoff: sipgo's Serve loop ends on the first error.
func (l *streamListener) acceptRaw() (net.Conn, error) {
	backoff := time.Duration(0)
	for {
		c, err := l.ln.Accept()
		if err == nil {
			return c, nil
		}
		select {
		case <-l.done:
			return nil, net.ErrClosed
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		if l.m.logLimit.allow(netip.Addr{}, time.Now()) {
			l.m.log.Warn("accept error", "socket", l.sock.String(), "error", err)
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		select {
		case <-l.done:
			return nil, net.ErrClosed
		case <-time.After(backoff):
		}
	}
}

// acceptWS is the accept loop of a ws/wss socket.
func (l *streamListener) acceptWS() {
	defer l.m.wg.Done()
	for {
		c, err := l.acceptRaw()
		if err != nil {
			return
		}
		sc := l.m.admit(c, l.sock)
		if sc == nil {
			continue
		}
		l.m.conns.add(sc) // app stays nil: sipgo frames WebSocket writes
		l.m.wg.Add(1)
		go l.gate(sc)
	}
}

// gate waits (under the first-message deadline) for the TLS handshake of
// a wss connection and the whole HTTP upgrade request, then queues the
// connection for sipgo.
func (l *streamListener) gate(sc *streamConn) {
	defer l.m.wg.Done()
	var c net.Conn = sc.raw
	if l.sock.Proto == sr.ProtoWSS {
		tc := tls.Server(sc.raw, l.m.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			_ = tc.Close()
			return
		}
		c = tc
	}
	head, err := readHTTPHead(c, 8192)
	if err != nil {
		_ = c.Close()
		return
	}
	pc := &prefixConn{Conn: c, buf: head}
	select {
	case l.ready <- pc:
	case <-l.done:
		_ = pc.Close()
	}
}

// readHTTPHead reads until the end of an HTTP request head, at most max
// bytes.
func readHTTPHead(c net.Conn, max int) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if bytes.Contains(buf, []byte("\r\n\r\n")) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) > max {
			return nil, errors.New("HTTP request head too large")
		}
	}
}

// prefixConn replays bytes already read before reading the connection.
type prefixConn struct {
	net.Conn
	buf []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

func (l *streamListener) Close() error {
	l.close()
	return nil
}

func (l *streamListener) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.ln.Close()
	})
}

func (l *streamListener) Addr() net.Addr { return l.ln.Addr() }

// chanListener feeds sipgo the connections this package dialed, so that
// sipgo reads them like accepted ones.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) push(c net.Conn) error {
	select {
	case l.ch <- c:
		return nil
	case <-l.done:
		return ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.close()
	return nil
}

func (l *chanListener) close()         { l.once.Do(func() { close(l.done) }) }
func (l *chanListener) Addr() net.Addr { return l.addr }

// startStreams builds sipgo's transport layer (no transaction layer) and
// starts its Serve loops on our listeners.
func (m *Manager) startStreams() {
	logger := slog.New(sipgoHandler{m.log.Handler()})
	m.tpl = sip.NewTransportLayer(m.cfg.Resolver, m.streamParser, nil,
		sip.WithTransportLayerLogger(logger),
		sip.WithTransportLayerReadFilter(m.streamFilter),
	)
	m.tpl.OnMessage(m.streamMessage)
	serve := func(f func() error) {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			_ = f()
		}()
	}
	for _, l := range m.listeners {
		switch l.sock.Proto {
		case sr.ProtoTCP:
			serve(func() error { return m.tpl.ServeTCP(l) })
		case sr.ProtoTLS:
			serve(func() error { return m.tpl.ServeTLS(l) })
		case sr.ProtoWS:
			serve(func() error { return m.tpl.ServeWS(l) })
			m.wg.Add(1)
			go l.acceptWS()
		case sr.ProtoWSS:
			serve(func() error { return m.tpl.ServeWSS(l) })
			m.wg.Add(1)
			go l.acceptWS()
		}
		// One adoption listener per dialable transport.
		if p := l.sock.Proto; (p == sr.ProtoTCP || p == sr.ProtoTLS) && m.dialLs[p] == nil {
			cl := newChanListener(l.Addr())
			m.dialLs[p] = cl
			if p == sr.ProtoTCP {
				serve(func() error { return m.tpl.ServeTCP(cl) })
			} else {
				serve(func() error { return m.tpl.ServeTLS(cl) })
			}
		}
	}
}

// streamFilter is sipgo's read filter: it sees the bytes of every read
// of every connection before sipgo's parser.
func (m *Manager) streamFilter(p sip.TransportReadProps, data []byte) (out []byte, err error) {
	defer func() {
		if m.panicked(recover(), "stream filter", netip.AddrPort{}) {
			out, err = nil, errors.New("panic in read filter")
		}
	}()
	sc := m.conns.lookupNet(p.Transport, p.RemoteAddr)
	if sc == nil {
		return nil, errUnknownConn
	}
	if sc.key.kind == kindWS || sc.key.kind == kindWSS {
		// One read is one WebSocket message.
		if isKeepAlive(data) {
			return data, nil
		}
		if bareLF(data) {
			m.st.framing.Add(1)
			return nil, errBareLF
		}
		sc.lastLen = len(data)
		return data, nil
	}
	if err := sc.fr.feed(data, &sc.lens); err != nil {
		m.st.framing.Add(1)
		if m.logLimit.allow(sc.key.addr.Addr(), time.Now()) {
			m.log.Info("connection closed: framing error", "proto", sc.proto, "src", sc.key.addr, "error", err)
		}
		return nil, err
	}
	return data, nil
}

// streamMessage is sipgo's message handler: one message of a connection,
// on that connection's reader goroutine.
func (m *Manager) streamMessage(msg sip.Message) {
	sc := m.conns.lookupSrc(msg.Transport(), msg.Source())
	if sc == nil {
		m.st.dropped.Add(1)
		return
	}
	defer m.recoverPanic("stream receive", sc.key.addr)
	m.st.streamIn.Add(1)
	n := sc.lastLen
	if sc.key.kind == kindTCP || sc.key.kind == kindTLS {
		n = sc.popLen()
	}
	sc.gotMsg.Store(true)
	sc.touch()
	rcv := sc.recvInfo()
	m.apply(examineParsed(msg, rcv.Src), rcv, n)
}

// sendStream writes data on the connection to dst, dialing one for
// tcp/tls when there is none.
func (m *Manager) sendStream(dst sr.Dest, data []byte) error {
	if m.tpl == nil {
		return errNoSocket
	}
	sc := m.conns.get(connKey{kindOf(dst.Proto), dst.Addr})
	if sc == nil {
		if dst.Proto == sr.ProtoWS || dst.Proto == sr.ProtoWSS {
			return ErrNoConnection
		}
		var err error
		if sc, err = m.dial(dst); err != nil {
			return err
		}
	}
	return sc.write(data)
}

type dialCall struct {
	done chan struct{}
	sc   *streamConn
	err  error
}

// dial opens one connection to dst, however many senders ask at once.
func (m *Manager) dial(dst sr.Dest) (*streamConn, error) {
	key := connKey{kindOf(dst.Proto), dst.Addr}
	m.dialMu.Lock()
	if c, ok := m.dialing[key]; ok {
		m.dialMu.Unlock()
		<-c.done
		return c.sc, c.err
	}
	if sc := m.conns.get(key); sc != nil {
		m.dialMu.Unlock()
		return sc, nil
	}
	c := &dialCall{done: make(chan struct{})}
	m.dialing[key] = c
	m.dialMu.Unlock()

	c.sc, c.err = m.doDial(dst)

	m.dialMu.Lock()
	delete(m.dialing, key)
	m.dialMu.Unlock()
	close(c.done)
	return c.sc, c.err
}

func (m *Manager) doDial(dst sr.Dest) (*streamConn, error) {
	sock := m.SocketFor(dst, dst.Socket)
	if sock == nil {
		return nil, errNoSocket
	}
	cl := m.dialLs[dst.Proto]
	if cl == nil {
		return nil, errNoSocket
	}
	if err := m.conns.acquire(netip.Addr{}, false, m.cfg.MaxConnections, 0); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.ConnectTimeout)
	defer cancel()
	d := net.Dialer{}
	if a := sock.Addr.Addr(); !a.IsUnspecified() {
		d.LocalAddr = &net.TCPAddr{IP: a.AsSlice()}
	}
	c, err := d.DialContext(ctx, tcpNet(dst.Addr.Addr()), dst.Addr.String())
	if err != nil {
		m.conns.release(netip.Addr{}, false)
		return nil, err
	}
	sc := m.newConn(c, sock, dst.Proto, false)
	var app net.Conn = sc.raw
	if dst.Proto == sr.ProtoTLS {
		tc := tls.Client(sc.raw, m.clientTLS(dst.Addr.Addr()))
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = sc.raw.Close() // gives the slot back
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		app = tc
	}
	sc.app = app
	m.conns.add(sc)
	if err := cl.push(app); err != nil {
		_ = app.Close()
		return nil, err
	}
	m.st.dialed.Add(1)
	return sc, nil
}

// clientTLS is the configuration of an outgoing TLS connection to ip.
func (m *Manager) clientTLS(ip netip.Addr) *tls.Config {
	cfg := m.cfg.TLSClient
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = ip.String()
	}
	return cfg
}

// panicked reports (and counts and logs) a recovered panic value.
func (m *Manager) panicked(r any, where string, src netip.AddrPort) bool {
	if r == nil {
		return false
	}
	m.logPanic(r, where, src)
	return true
}
