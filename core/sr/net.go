package sr

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Protocol names as the script writes them.
const (
	ProtoUDP  = "udp"
	ProtoTCP  = "tcp"
	ProtoTLS  = "tls"
	ProtoWS   = "ws"
	ProtoWSS  = "wss"
	ProtoSCTP = "sctp"
)

// Socket is a listening socket of the server (a listen= line).
type Socket struct {
	// Proto is udp, tcp, tls, ws or wss.
	Proto string
	// Addr is the bound address and port.
	Addr netip.AddrPort
	// Name is the address as written in listen= (an IP, or a host name
	// that resolved to Addr); it is what goes into Via and Record-Route
	// unless Advertise is set.
	Name string
	// Advertise is the host[:port] to announce instead (advertised_address).
	Advertise string
}

// String formats the socket the way Kamailio prints it: proto:ip:port.
func (s *Socket) String() string {
	if s == nil {
		return ""
	}
	return s.Proto + ":" + hostport(s.Addr.Addr(), int(s.Addr.Port()))
}

// Host is the host to announce in headers: the advertised host, the
// listen name, or the IP (IPv6 in brackets).
func (s *Socket) Host() string {
	if s.Advertise != "" {
		h, _ := splitHostPort(s.Advertise)
		return h
	}
	if s.Name != "" {
		return s.Name
	}
	if s.Addr.Addr().Is6() {
		return "[" + s.Addr.Addr().String() + "]"
	}
	return s.Addr.Addr().String()
}

// Port is the port to announce in headers.
func (s *Socket) Port() int {
	if s.Advertise != "" {
		if _, p := splitHostPort(s.Advertise); p > 0 {
			return p
		}
	}
	return int(s.Addr.Port())
}

func hostport(ip netip.Addr, port int) string {
	if ip.Is6() && !ip.Is4In6() {
		return "[" + ip.String() + "]:" + strconv.Itoa(port)
	}
	return ip.Unmap().String() + ":" + strconv.Itoa(port)
}

func splitHostPort(s string) (string, int) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return s, 0
		}
		host := s[:end+1]
		if p, err := strconv.Atoi(strings.TrimPrefix(s[end+1:], ":")); err == nil {
			return host, p
		}
		return host, 0
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.Count(s, ":") == 1 {
		if p, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i], p
		}
	}
	return s, 0
}

// RecvInfo says how a message arrived: over which socket, from where.
type RecvInfo struct {
	// Proto is the transport: udp, tcp, tls, ws, wss.
	Proto string
	// Src is the sender's address and port.
	Src netip.AddrPort
	// Dst is the local address and port the message arrived on.
	Dst netip.AddrPort
	// Socket is the listening socket that received it.
	Socket *Socket
	// Len is the size of the message as received, in bytes (msg:len, $ml).
	Len int
}

// Dest is where a message is sent: a transport, an address and port, and
// optionally the socket to send from.
type Dest struct {
	Proto string
	Addr  netip.AddrPort
	// Socket to send from; nil lets the transport choose.
	Socket *Socket
}

// String formats the destination as proto:ip:port.
func (d Dest) String() string { return d.Proto + ":" + hostport(d.Addr.Addr(), int(d.Addr.Port())) }

// Core is what the running server offers to modules through Ctx.Core: the
// transports and the script runtime. The server package implements it.
type Core interface {
	// Send writes a message to a destination as it is (no Via handling).
	Send(msg sip.Message, dst Dest) error
	// Resolve turns a SIP URI (the next hop) into a destination: transport
	// from the URI, address through DNS when it is a name, default port by
	// scheme and transport.
	Resolve(uri string) (Dest, error)
	// Myself reports whether host[:port] names this server (a listen
	// address or an alias). Port 0 matches any of our ports.
	Myself(host string, port int) bool
	// Sockets lists the listening sockets.
	Sockets() []*Socket
	// SocketFor picks the socket to send to dst from: a forced one if
	// given, else one of the same transport and address family.
	SocketFor(dst Dest, forced *Socket) *Socket
	// Reply builds a reply to the request of c as this server sends it:
	// RFC 3261 §8.2.6 headers (the request's top Via gets received/rport
	// first), a To tag when the request has none (toTag, or a
	// deterministic one when empty), the Server header and the headers
	// added with append_to_reply.
	Reply(c *Ctx, code int, reason, toTag string) *sip.Response
	// SendReply sends a reply back along the request's path: over the
	// connection it came on for TCP/TLS/WS, else to the top Via's
	// received/rport address (RFC 3261 §18.2.2, RFC 3581), from the socket
	// the request arrived on.
	SendReply(c *Ctx, res *sip.Response) error
	// ServerHeader is the Server header line to put in local replies, "" for none.
	ServerHeader() string
	// UserAgentHeader is the User-Agent line for locally generated requests.
	UserAgentHeader() string
	// RunRoute runs a route block of the script on c (failure_route,
	// onreply_route, branch_route … by name) and returns its code. An
	// unknown route returns 1 and does nothing.
	RunRoute(c *Ctx, t RouteType, name string) int
}
