package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sr"
)

// Errors of Send.
var (
	// ErrForbiddenDest: the destination is a broadcast, multicast or
	// unspecified address, or port 0; nothing is ever sent there (R4).
	ErrForbiddenDest = errors.New("forbidden destination")
	// ErrTooLarge: the message does not fit in one UDP datagram of at
	// most MaxUDPSize bytes (sipgo's UDPMTUSize plays no part: UDP is
	// written by this package).
	ErrTooLarge = errors.New("message too large for UDP")
	// ErrNoConnection: no WebSocket connection to the destination (they
	// are never opened from this side).
	ErrNoConnection = errors.New("no connection to destination")
	// ErrUnsupported: the transport is not supported.
	ErrUnsupported = errors.New("unsupported transport")

	errNoSocket = errors.New("no listening socket for this transport and address family")
)

// Send writes msg to dst as it is (no Via or Content-Length handling
// besides sipgo's rendering): UDP from a listening socket (dst.Socket when
// it fits, so the source port is the listen port), TCP/TLS over the
// existing connection to dst or a new one dialed from the socket's
// address, WS/WSS over the existing connection only.
func (m *Manager) Send(msg sip.Message, dst sr.Dest) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if msg == nil {
		return errors.New("transport: nil message")
	}
	dst.Proto = normProto(dst.Proto)
	dst.Addr = netip.AddrPortFrom(dst.Addr.Addr().Unmap(), dst.Addr.Port())
	if err := m.checkDest(dst.Addr); err != nil {
		m.st.sendErrors.Add(1)
		return fmt.Errorf("send to %s: %w", dst, err)
	}
	buf := m.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<16 {
			m.bufs.Put(buf)
		}
	}()
	msg.StringWrite(buf)
	data := buf.Bytes()

	switch dst.Proto {
	case sr.ProtoUDP:
		if len(data) > m.cfg.MaxUDPSize {
			m.st.sendErrors.Add(1)
			return fmt.Errorf("send to %s: %w: %d bytes, limit %d", dst, ErrTooLarge, len(data), m.cfg.MaxUDPSize)
		}
	case sr.ProtoTCP, sr.ProtoTLS, sr.ProtoWS, sr.ProtoWSS:
	default:
		m.st.sendErrors.Add(1)
		return fmt.Errorf("send to %s: %w", dst, ErrUnsupported)
	}
	var err error
	switch {
	case m.sendHook != nil:
		err = m.sendHook(msg, dst, data)
	case dst.Proto == sr.ProtoUDP:
		err = m.sendUDP(data, dst.Addr, dst.Socket)
	default:
		err = m.sendStream(dst, data)
	}
	if err != nil {
		m.st.sendErrors.Add(1)
		return fmt.Errorf("send to %s: %w", dst, err)
	}
	return nil
}

// checkDest refuses the addresses nothing may ever be sent to: invalid,
// port 0, unspecified (0.0.0.0/8, ::), multicast (224.0.0.0/4, ff00::/8),
// the limited broadcast 255.255.255.255 and the directed broadcast
// addresses of the local networks.
func (m *Manager) checkDest(ap netip.AddrPort) error {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		return fmt.Errorf("%w: no address", ErrForbiddenDest)
	case ap.Port() == 0:
		return fmt.Errorf("%w: port 0", ErrForbiddenDest)
	case a.IsUnspecified(), a.Is4() && a.As4()[0] == 0:
		return fmt.Errorf("%w: unspecified address %s", ErrForbiddenDest, a)
	case a.IsMulticast():
		return fmt.Errorf("%w: multicast address %s", ErrForbiddenDest, a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}), m.bcast[a]:
		return fmt.Errorf("%w: broadcast address %s", ErrForbiddenDest, a)
	}
	return nil
}
