package transport

import (
	"net"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sr"
)

// Connection returns a sip.Connection that writes to dst through Send. It
// is for sipgo's transaction objects (sip.NewServerTx, sip.NewClientTx),
// should the core's tm use them: their replies and retransmissions then
// leave from the listening sockets, with the same checks, like everything
// else, and sipgo's own UDP writer (and its UDPMTUSize) is never involved.
// Closing it does nothing: the connection, if any, belongs to the Manager.
func (m *Manager) Connection(dst sr.Dest) sip.Connection {
	return &destConn{m: m, dst: dst}
}

type destConn struct {
	m   *Manager
	dst sr.Dest
}

func (c *destConn) LocalAddr() net.Addr {
	s := c.m.SocketFor(c.dst, c.dst.Socket)
	if s == nil {
		return nil
	}
	if s.Proto == sr.ProtoUDP {
		return net.UDPAddrFromAddrPort(s.Addr)
	}
	return net.TCPAddrFromAddrPort(s.Addr)
}

func (c *destConn) WriteMsg(msg sip.Message) error { return c.m.Send(msg, c.dst) }
func (c *destConn) Ref(int) int                    { return 1 }
func (c *destConn) TryClose() (int, error)         { return 1, nil }
func (c *destConn) Close() error                   { return nil }
