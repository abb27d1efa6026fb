package transport

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// udpSock is one UDP listening socket: it reads requests and replies and
// is the socket every datagram to a peer of its family leaves from.
type udpSock struct {
	sock *sr.Socket
	conn *net.UDPConn
	io   *udpIO
}

// readUDP is one reader goroutine of a UDP socket. Several readers share a
// socket: the kernel hands each datagram to one of them, and they parse in
// parallel.
func (m *Manager) readUDP(u *udpSock) {
	defer m.wg.Done()
	// One byte more than the limit: a datagram that fills the buffer is
	// over the limit (or truncated by the kernel), and dropped.
	buf := make([]byte, m.cfg.MaxUDPSize+1)
	p := sipmsg.NewParser(m.cfg.MaxUDPSize) // this reader's own (see examine)
	backoff := time.Duration(0)
	for {
		n, src, err := u.io.readFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || m.closed.Load() {
				return
			}
			// Transient errors (ICMP errors reported on the socket, ENOBUFS):
			// log rate-limited, back off when they repeat.
			if m.logLimit.allow(netip.Addr{}, time.Now()) {
				m.log.Warn("UDP read error", "socket", u.sock.String(), "error", err)
			}
			backoff = min(max(2*backoff, time.Millisecond), 100*time.Millisecond)
			select {
			case <-m.done:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		m.handleDatagram(u, p, buf[:n], src)
	}
}

// handleDatagram runs the receive path on one datagram.
func (m *Manager) handleDatagram(u *udpSock, p *sip.Parser, data []byte, src netip.AddrPort) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	defer m.recoverPanic("udp receive", src)
	m.st.udpIn.Add(1)
	rcv := sr.RecvInfo{Proto: sr.ProtoUDP, Src: src, Dst: u.sock.Addr, Socket: u.sock}
	v := examine(p, data, src, m.cfg.MaxUDPSize)
	m.apply(v, rcv, len(data))
}

// sendUDP writes data to dst from the listening socket forced (when it is
// a UDP socket of dst's family) or the one SocketFor picks.
func (m *Manager) sendUDP(data []byte, dst netip.AddrPort, forced *sr.Socket) error {
	s := m.SocketFor(sr.Dest{Proto: sr.ProtoUDP, Addr: dst}, forced)
	u := m.udpBySock[s]
	if u == nil {
		return errNoSocket
	}
	return u.io.writeTo(data, dst)
}
