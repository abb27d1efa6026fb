package sipmsg

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// AddReceived applies RFC 3261 §18.2.1 and RFC 3581 §4 to the top Via of a
// request that arrived from src:
//
//   - received=<source IP> is added when the sent-by host is a name or an
//     IP address other than the source, and always when the Via has an
//     rport parameter (RFC 3581 requires it then, even if identical);
//   - an empty rport parameter is filled with the source port.
//
// A received parameter the sender put there itself is overwritten. IPv6
// addresses go into received without brackets (RFC 3261 ABNF). It does
// nothing when the request has no Via or src is invalid.
func AddReceived(req *sip.Request, src netip.AddrPort) {
	if req == nil || !src.IsValid() {
		return
	}
	addReceivedVia(req.Via(), src)
}

func addReceivedVia(via *sip.ViaHeader, src netip.AddrPort) {
	if via == nil || !src.IsValid() {
		return
	}
	ip := src.Addr().Unmap()
	rport, hasRport := via.Params.Get("rport")
	differs := true
	if a, err := netip.ParseAddr(strings.Trim(via.Host, "[]")); err == nil && a.Unmap() == ip {
		differs = false
	}
	if differs || hasRport {
		via.Params.Add("received", ip.WithZone("").String())
	}
	if hasRport && rport == "" {
		via.Params.Add("rport", strconv.Itoa(int(src.Port())))
	}
}

// ForceRport adds an empty rport parameter to the top Via of req when it
// has none (force_rport()), so AddReceived fills it with the source port.
func ForceRport(req *sip.Request) {
	if req == nil {
		return
	}
	if v := req.Via(); v != nil && v.Params != nil {
		if _, ok := v.Params.Get("rport"); !ok {
			v.Params.Add("rport", "")
		}
	}
}

// ReplyDest returns where a reply to a request with this top Via goes,
// per RFC 3261 §18.2.2 and RFC 3581 §4, for the given transport (udp, tcp,
// tls, ws, wss, sctp):
//
//   - unreliable transports with a maddr parameter: maddr and the sent-by
//     port (or the default port);
//   - else the received address if present, else the sent-by host;
//   - the port is rport when it has a value, else the sent-by port, else
//     the default port of the transport (DefaultPort).
//
// Over reliable transports the caller should first try the connection the
// request arrived on; this is the fallback. The host is returned without
// brackets; it is a name only when the Via had neither received nor
// maddr. ReplyDest does not decide whether the address is safe to send to:
// the transport refuses broadcast, multicast and unspecified addresses.
func ReplyDest(via *sip.ViaHeader, proto string) (host string, port int) {
	if via == nil {
		return "", 0
	}
	proto = strings.ToLower(proto)
	port = via.Port
	if port <= 0 || port > 65535 {
		port = DefaultPort(proto)
	}
	host = strings.Trim(via.Host, "[]")
	if proto == "udp" || proto == "" {
		if maddr, ok := via.Params.Get("maddr"); ok && maddr != "" {
			return strings.Trim(maddr, "[]"), port
		}
	}
	if rcv, ok := via.Params.Get("received"); ok && rcv != "" {
		host = strings.Trim(rcv, "[]")
	}
	if rp, ok := via.Params.Get("rport"); ok && rp != "" {
		if p, err := strconv.Atoi(rp); err == nil && p > 0 && p <= 65535 {
			port = p
		}
	}
	return host, port
}

// DefaultPort is the port a SIP URI or Via without one means for a
// transport: 5061 for tls, 80 for ws and 443 for wss (RFC 7118), 5060
// otherwise.
func DefaultPort(proto string) int {
	switch strings.ToLower(proto) {
	case "tls":
		return 5061
	case "ws":
		return 80
	case "wss":
		return 443
	}
	return 5060
}
