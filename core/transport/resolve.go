package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// Resolve turns a SIP or SIPS URI (the next hop) into a destination,
// bounded by Config.DNSTimeout. See ResolveContext.
func (m *Manager) Resolve(uri string) (sr.Dest, error) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.DNSTimeout)
	defer cancel()
	return m.ResolveContext(ctx, uri)
}

// ResolveContext turns a SIP or SIPS URI into a destination, in the spirit
// of RFC 3263 without NAPTR:
//
//   - transport: the transport= parameter, else tls for sips, else udp;
//     sips with transport=tcp means tls, with ws means wss, and sips over
//     udp is an error;
//   - target: the maddr parameter if present, else the host;
//   - an IP address is used as it is, with the URI port or the default
//     port of the transport (5060, 5061 for tls, 80/443 for ws/wss);
//   - a name with an explicit port is looked up for A/AAAA;
//   - a name without port is first looked up for SRV (_sip._udp,
//     _sip._tcp, _sips._tcp; not for ws/wss; not when Config.NoSRV),
//     whose first target by priority/weight (Go's net.Resolver order) with
//     an address gives address and port; without SRV records, A/AAAA and
//     the default port.
//
// Among the addresses of a name, the first one of a family this server
// has a socket of that transport for is taken. Lookups are not cached
// here (the system resolver may).
func (m *Manager) ResolveContext(ctx context.Context, uri string) (sr.Dest, error) {
	s := strings.TrimSpace(uri)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return sr.Dest{}, fmt.Errorf("resolve %q: %w", uri, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "sip" && scheme != "sips" {
		return sr.Dest{}, fmt.Errorf("resolve %q: scheme %q is not routable", uri, u.Scheme)
	}
	proto := sr.ProtoUDP
	if scheme == "sips" {
		proto = sr.ProtoTLS
	}
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		proto = strings.ToLower(t)
		if scheme == "sips" {
			switch proto {
			case sr.ProtoTCP, sr.ProtoTLS:
				proto = sr.ProtoTLS
			case sr.ProtoWS, sr.ProtoWSS:
				proto = sr.ProtoWSS
			default:
				return sr.Dest{}, fmt.Errorf("resolve %q: sips over %s", uri, proto)
			}
		}
	}
	switch proto {
	case sr.ProtoUDP, sr.ProtoTCP, sr.ProtoTLS, sr.ProtoWS, sr.ProtoWSS:
	default:
		return sr.Dest{}, fmt.Errorf("resolve %q: %w %q", uri, ErrUnsupported, proto)
	}
	host := u.Host
	if maddr, ok := u.UriParams.Get("maddr"); ok && maddr != "" {
		host = maddr
	}
	if host == "" {
		return sr.Dest{}, fmt.Errorf("resolve %q: no host", uri)
	}
	if u.Port < 0 || u.Port > 65535 {
		return sr.Dest{}, fmt.Errorf("resolve %q: bad port", uri)
	}
	port := u.Port
	if ip, ok := parseIPHost(host); ok {
		if port == 0 {
			port = sipmsg.DefaultPort(proto)
		}
		return sr.Dest{Proto: proto, Addr: netip.AddrPortFrom(ip, uint16(port))}, nil
	}
	if port == 0 && !m.cfg.NoSRV && proto != sr.ProtoWS && proto != sr.ProtoWSS {
		d, err := m.resolveSRV(ctx, proto, host)
		if err == nil {
			return d, nil
		}
		if ctx.Err() != nil {
			return sr.Dest{}, fmt.Errorf("resolve %q: %w", uri, err)
		}
		// No SRV records (or a failing server): fall back to A/AAAA.
	}
	if port == 0 {
		port = sipmsg.DefaultPort(proto)
	}
	ip, err := m.lookupIP(ctx, proto, host)
	if err != nil {
		return sr.Dest{}, fmt.Errorf("resolve %q: %w", uri, err)
	}
	return sr.Dest{Proto: proto, Addr: netip.AddrPortFrom(ip, uint16(port))}, nil
}

func (m *Manager) resolveSRV(ctx context.Context, proto, host string) (sr.Dest, error) {
	service, p := "sip", "udp"
	switch proto {
	case sr.ProtoTCP:
		p = "tcp"
	case sr.ProtoTLS:
		service, p = "sips", "tcp"
	}
	_, recs, err := m.cfg.Resolver.LookupSRV(ctx, service, p, host)
	if err != nil {
		return sr.Dest{}, err
	}
	for _, r := range recs {
		if r.Target == "." || r.Port == 0 {
			continue
		}
		ip, err := m.lookupIP(ctx, proto, r.Target)
		if err == nil {
			return sr.Dest{Proto: proto, Addr: netip.AddrPortFrom(ip, r.Port)}, nil
		}
	}
	return sr.Dest{}, &net.DNSError{Err: "no usable SRV target", Name: host, IsNotFound: true}
}

// lookupIP resolves a name to one address, preferring a family this
// server has a socket of that transport for.
func (m *Manager) lookupIP(ctx context.Context, proto, host string) (netip.Addr, error) {
	ips, err := m.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, &net.DNSError{Err: "no address", Name: host, IsNotFound: true}
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		if m.SocketFor(sr.Dest{Proto: proto, Addr: netip.AddrPortFrom(ip, 1)}, nil) != nil {
			return ip, nil
		}
	}
	return ips[0].Unmap(), nil
}
