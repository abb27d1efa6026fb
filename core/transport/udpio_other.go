//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// udpIO reads and writes one UDP socket through the net package (the raw
// system calls of udpio_linux.go are Linux only).
type udpIO struct{ c *net.UDPConn }

func newUDPIO(c *net.UDPConn) (*udpIO, error) { return &udpIO{c: c}, nil }

func (u *udpIO) readFrom(b []byte) (int, netip.AddrPort, error) {
	return u.c.ReadFromUDPAddrPort(b)
}

func (u *udpIO) writeTo(b []byte, dst netip.AddrPort) error {
	_, err := u.c.WriteToUDPAddrPort(b, dst)
	return err
}
