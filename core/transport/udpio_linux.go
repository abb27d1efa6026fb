package transport

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"
)

// udpIO reads and writes one UDP socket with raw recvfrom and sendto
// system calls inside the socket's RawConn, so that the netpoller still
// parks a reader on an empty socket and a writer on a full one.
//
// Both calls never block (the socket is non-blocking), so they need not
// tell the scheduler they enter a system call: with the net package's
// ReadFromUDPAddrPort and WriteToUDPAddrPort, a sendto over loopback (which
// delivers the datagram to the receiver in the same call) often outlasts
// sysmon's 20 µs, which then hands the goroutine's P to another thread,
// waking it: at thousands of messages per second these hand-offs cost more
// CPU than the system calls themselves.
type udpIO struct {
	rc  syscall.RawConn
	six bool // an AF_INET6 socket
}

func newUDPIO(c *net.UDPConn) (*udpIO, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	la, _ := c.LocalAddr().(*net.UDPAddr)
	six := la != nil && la.IP.To4() == nil
	return &udpIO{rc: rc, six: six}, nil
}

// sockaddr is large enough for a sockaddr_in6.
type sockaddr [syscall.SizeofSockaddrInet6]byte

// put writes ap as the socket's family wants it and returns the length.
func (s *sockaddr) put(ap netip.AddrPort, six bool) uintptr {
	*s = sockaddr{}
	a := ap.Addr()
	if !six {
		binary.NativeEndian.PutUint16(s[0:2], syscall.AF_INET)
		binary.BigEndian.PutUint16(s[2:4], ap.Port())
		b := a.As4()
		copy(s[4:8], b[:])
		return syscall.SizeofSockaddrInet4
	}
	binary.NativeEndian.PutUint16(s[0:2], syscall.AF_INET6)
	binary.BigEndian.PutUint16(s[2:4], ap.Port())
	b := a.As16() // an IPv4 address becomes v4-mapped
	copy(s[8:24], b[:])
	if z := a.Zone(); z != "" {
		if n, err := strconv.Atoi(z); err == nil {
			binary.NativeEndian.PutUint32(s[24:28], uint32(n))
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			binary.NativeEndian.PutUint32(s[24:28], uint32(ifi.Index))
		}
	}
	return syscall.SizeofSockaddrInet6
}

// get reads the address recvfrom wrote.
func (s *sockaddr) get() netip.AddrPort {
	port := binary.BigEndian.Uint16(s[2:4])
	switch binary.NativeEndian.Uint16(s[0:2]) {
	case syscall.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(s[4:8])), port)
	case syscall.AF_INET6:
		a := netip.AddrFrom16([16]byte(s[8:24]))
		if id := binary.NativeEndian.Uint32(s[24:28]); id != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(id), 10))
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

// readFrom reads one datagram into b.
func (u *udpIO) readFrom(b []byte) (int, netip.AddrPort, error) {
	var sa sockaddr
	var n int
	var errno syscall.Errno
	err := u.rc.Read(func(fd uintptr) bool {
		for {
			salen := uint32(len(sa))
			r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd,
				uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0,
				uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&salen)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if errno != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: errno}
	}
	return n, sa.get(), nil
}

// writeTo sends b to dst as one datagram.
func (u *udpIO) writeTo(b []byte, dst netip.AddrPort) error {
	var sa sockaddr
	salen := sa.put(dst, u.six)
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	var errno syscall.Errno
	err := u.rc.Write(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
				uintptr(p), uintptr(len(b)), 0, uintptr(unsafe.Pointer(&sa[0])), salen)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			errno = e
			return true
		}
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(dst), Err: errno}
	}
	return nil
}
