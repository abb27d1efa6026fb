package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// Defaults of Config (Kamailio's where it has one).
const (
	DefaultMaxUDPSize          = 65507 // the largest IPv4 UDP payload
	DefaultMaxStreamSize       = 16384 // Kamailio tcp_rd_buf_size / MSG_MAX_SIZE
	DefaultMaxConnections      = 2048  // tcp_max_connections
	DefaultMaxConnectionsPerIP = 256
	DefaultFirstMessageTimeout = 10 * time.Second
	DefaultConnectionLifetime  = 120 * time.Second // tcp_connection_lifetime
	DefaultConnectTimeout      = 10 * time.Second  // tcp_connect_timeout
	DefaultSendTimeout         = 10 * time.Second  // tcp_send_timeout
	DefaultDNSTimeout          = 5 * time.Second
	DefaultChildren            = 8 // children
	DefaultWorkersPerChild     = 4
	DefaultQueueLen            = 256
	DefaultUDPReaders          = 2
	DefaultUDPReadBuffer       = 4 << 20
)

// ListenSpec is one listen= entry: a transport, an address and a port.
type ListenSpec struct {
	// Proto is udp, tcp, tls, ws or wss.
	Proto string
	// Host is an IP address (IPv6 with or without brackets), a host name
	// (every address it resolves to is bound) or "*" for every local
	// address (one socket per address, as Kamailio does).
	Host string
	// Port is the port; 0 binds a free port (read it back from Sockets).
	Port int
	// Advertise is the host[:port] announced in Via and Record-Route
	// instead of the socket address (advertised_address), or "".
	Advertise string
}

// String formats the spec as listen= writes it: proto:host:port.
func (l ListenSpec) String() string {
	h := l.Host
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		h = "[" + h + "]"
	}
	return l.Proto + ":" + h + ":" + strconv.Itoa(l.Port)
}

// ParseListen parses a listen= value: [proto:]host[:port] [advertise
// host[:port]]. The transport defaults to udp and the port to the
// transport's default (5060, 5061 for tls, 80 for ws, 443 for wss).
func ParseListen(s string) (ListenSpec, error) {
	var l ListenSpec
	s = strings.TrimSpace(s)
	if main, adv, ok := strings.Cut(s, " advertise "); ok {
		s = strings.TrimSpace(main)
		l.Advertise = strings.TrimSpace(adv)
		if l.Advertise == "" {
			return l, fmt.Errorf("listen %q: empty advertise", s)
		}
	}
	l.Proto = sr.ProtoUDP
	if i := strings.IndexByte(s, ':'); i > 0 {
		switch p := strings.ToLower(s[:i]); p {
		case sr.ProtoUDP, sr.ProtoTCP, sr.ProtoTLS, sr.ProtoWS, sr.ProtoWSS:
			l.Proto = p
			s = s[i+1:]
		case sr.ProtoSCTP:
			return l, fmt.Errorf("listen %q: sctp is not supported", s)
		}
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return l, fmt.Errorf("listen %q: %w", s, err)
	}
	if port < 0 {
		port = sipmsg.DefaultPort(l.Proto)
	}
	l.Host, l.Port = host, port
	return l, nil
}

// splitHostPort splits host[:port] where host may be a bracketed IPv6
// address. A missing port is returned as -1.
func splitHostPort(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("empty address")
	}
	host, portStr := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, errors.New("missing ']'")
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, fmt.Errorf("junk after ']': %q", rest)
			}
			portStr = rest[1:]
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if strings.Count(s, ":") > 1 {
			// A bare IPv6 address: no port.
			host = s
		} else {
			host, portStr = s[:i], s[i+1:]
		}
	}
	if host == "" {
		return "", 0, errors.New("empty host")
	}
	if portStr == "" {
		if strings.HasSuffix(s, ":") {
			return "", 0, errors.New("empty port")
		}
		return host, -1, nil
	}
	p, err := strconv.Atoi(portStr)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, p, nil
}

// Alias is a host (and optional port; 0 = any) the server answers for
// besides its listen addresses (alias=).
type Alias struct {
	Host string
	Port int
}

// ParseAlias parses an alias= value: host[:port].
func ParseAlias(s string) (Alias, error) {
	h, p, err := splitHostPort(strings.TrimSpace(s))
	if err != nil {
		return Alias{}, fmt.Errorf("alias %q: %w", s, err)
	}
	if p < 0 {
		p = 0
	}
	return Alias{Host: h, Port: p}, nil
}

// Incoming is a message that passed the receive path, as the handler gets
// it.
type Incoming struct {
	// Msg is the parsed message: *sip.Request or *sip.Response.
	Msg sip.Message
	// Rcv says where it came from and on which socket.
	Rcv sr.RecvInfo
	// Len is the size of the message in bytes as received: the whole
	// datagram over UDP (bytes after the first message included), the
	// message framed in the stream over TCP/TLS, the frame over WS.
	Len int
}

// Request returns the message as a request, or nil.
func (in *Incoming) Request() *sip.Request {
	r, _ := in.Msg.(*sip.Request)
	return r
}

// Response returns the message as a response, or nil.
func (in *Incoming) Response() *sip.Response {
	r, _ := in.Msg.(*sip.Response)
	return r
}

// Config configures a Manager. Zero values take the defaults above.
type Config struct {
	// Listen lists the sockets to open. At least one is required.
	Listen []ListenSpec
	// Aliases are other names of this server, for Myself.
	Aliases []Alias
	// TLS is the server configuration of tls and wss sockets (required
	// when there is one).
	TLS *tls.Config
	// TLSClient is the configuration of outgoing TLS connections. Nil
	// uses an empty config (system roots, TLS 1.2+), the server name being
	// the destination IP.
	TLSClient *tls.Config

	// MaxUDPSize is the largest UDP datagram accepted or sent.
	MaxUDPSize int
	// MaxStreamSize is the largest message over TCP, TLS or WS; a larger
	// one closes the connection.
	MaxStreamSize int

	// MaxConnections caps the TCP/TLS/WS connections, both ways.
	MaxConnections int
	// MaxConnectionsPerIP caps the accepted connections of one source IP.
	MaxConnectionsPerIP int
	// FirstMessageTimeout closes an accepted connection that has not
	// delivered a complete first SIP message (TLS and WebSocket handshakes
	// included) in that time: silent and slowloris connections.
	FirstMessageTimeout time.Duration
	// ConnectionLifetime closes a connection idle for that long, idle
	// meaning no complete message received and nothing sent (Kamailio's
	// tcp_connection_lifetime, refreshed by traffic).
	ConnectionLifetime time.Duration
	// ConnectTimeout bounds an outgoing TCP/TLS connect and handshake.
	ConnectTimeout time.Duration
	// SendTimeout bounds one write on a connection.
	SendTimeout time.Duration

	// Children is Kamailio's children: the base number of workers.
	Children int
	// Workers is the number of worker goroutines running Handler; 0 means
	// Children × DefaultWorkersPerChild.
	Workers int
	// QueueLen is the queue length of each worker; a message arriving for
	// a full queue is dropped and counted.
	QueueLen int
	// UDPReaders is the number of goroutines reading each UDP socket.
	UDPReaders int
	// UDPReadBuffer is the receive buffer asked for each UDP socket, in
	// bytes (the kernel caps it at net.core.rmem_max); 0 keeps the
	// system's default.
	UDPReadBuffer int

	// Handler receives every message that passes the receive path, on a
	// worker goroutine. Required.
	Handler func(*Incoming)
	// Logger receives the transport's logs (and sipgo's, demoted to
	// debug). Nil discards them.
	Logger *slog.Logger
	// Resolver is used by Resolve; nil uses net.DefaultResolver.
	Resolver *net.Resolver
	// NoSRV disables DNS SRV lookups in Resolve.
	NoSRV bool
	// DNSTimeout bounds one Resolve.
	DNSTimeout time.Duration
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	def := func(v *int, x int) {
		if *v <= 0 {
			*v = x
		}
	}
	defDur := func(v *time.Duration, x time.Duration) {
		if *v <= 0 {
			*v = x
		}
	}
	def(&d.MaxUDPSize, DefaultMaxUDPSize)
	def(&d.MaxStreamSize, DefaultMaxStreamSize)
	def(&d.MaxConnections, DefaultMaxConnections)
	def(&d.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	defDur(&d.FirstMessageTimeout, DefaultFirstMessageTimeout)
	defDur(&d.ConnectionLifetime, DefaultConnectionLifetime)
	defDur(&d.ConnectTimeout, DefaultConnectTimeout)
	defDur(&d.SendTimeout, DefaultSendTimeout)
	defDur(&d.DNSTimeout, DefaultDNSTimeout)
	def(&d.Children, DefaultChildren)
	def(&d.Workers, d.Children*DefaultWorkersPerChild)
	def(&d.QueueLen, DefaultQueueLen)
	def(&d.UDPReaders, DefaultUDPReaders)
	def(&d.UDPReadBuffer, DefaultUDPReadBuffer)
	if d.MaxUDPSize > DefaultMaxUDPSize+20 { // 65527: the IPv6 maximum
		return d, fmt.Errorf("MaxUDPSize %d is larger than a UDP datagram", d.MaxUDPSize)
	}
	if d.Handler == nil {
		return d, errors.New("transport: Config.Handler is required")
	}
	if len(d.Listen) == 0 {
		return d, errors.New("transport: no listen socket")
	}
	for _, l := range d.Listen {
		switch l.Proto {
		case sr.ProtoUDP, sr.ProtoTCP, sr.ProtoWS:
		case sr.ProtoTLS, sr.ProtoWSS:
			if d.TLS == nil {
				return d, fmt.Errorf("listen=%s: no TLS configuration", l)
			}
		default:
			return d, fmt.Errorf("listen=%s: unsupported transport %q", l, l.Proto)
		}
		if l.Port < 0 || l.Port > 65535 || l.Host == "" {
			return d, fmt.Errorf("listen=%s: bad address", l)
		}
	}
	if d.Logger == nil {
		d.Logger = slog.New(discardHandler{})
	}
	if d.Resolver == nil {
		d.Resolver = net.DefaultResolver
	}
	return d, nil
}

// parseIPHost returns the IP of an IP-literal host (brackets allowed).
func parseIPHost(h string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
