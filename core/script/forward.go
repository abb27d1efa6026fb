package script

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// nextHop returns the URI a request goes to: $du when set, else the
// Request-URI.
func nextHop(c *sr.Ctx) string {
	if c.DstURI != "" {
		return c.DstURI
	}
	return c.Req.Recipient.String()
}

// destURI builds the next-hop URI of forward(host, port) and friends.
func destURI(proto, host string, port int) string {
	var b strings.Builder
	b.WriteString("sip:")
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	if port > 0 {
		b.WriteString(":" + strconv.Itoa(port))
	}
	if proto != "" && proto != sr.ProtoUDP {
		b.WriteString(";transport=" + proto)
	}
	return b.String()
}

// errDropped is returned when onsend_route dropped the message.
var errDropped = errors.New("dropped in onsend_route")

// ForwardRequest sends the request of c statelessly to uri (the next hop),
// forcing the transport when proto is not empty: it marks the sender's Via
// with received/rport (RFC 3261 §18.2.1, RFC 3581), and sends a copy with
// this server's Via on top (branch derived from the request, RFC 3261
// §16.11) after the before-send hooks (record_route) and onsend_route ran
// on it. The request itself keeps no trace, so it can be forwarded again.
func (s *Script) ForwardRequest(c *sr.Ctx, uri, proto string) error {
	if c.Req == nil {
		return errors.New("forward: no request")
	}
	dst, err := c.Core.Resolve(uri)
	if err != nil {
		return fmt.Errorf("forward to %s: %w", uri, err)
	}
	if proto != "" {
		dst.Proto = proto
		if dst.Addr.Port() == 0 {
			dst.Addr = netipWithPort(dst, sipmsg.DefaultPort(proto))
		}
	}
	sock := c.Core.SocketFor(dst, c.ForceSocket)
	if sock == nil {
		return fmt.Errorf("forward to %s: no listening socket for %s", uri, dst.Proto)
	}
	dst.Socket = sock
	req := c.Req
	if c.Rcv.Src.IsValid() {
		if c.ForceRport {
			sipmsg.ForceRport(req)
		}
		sipmsg.AddReceived(req, c.Rcv.Src)
	}
	out := req.Clone()
	via := &sip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0",
		Transport: strings.ToUpper(dst.Proto),
		Host:      sock.Host(), Port: sock.Port(),
		Params: sip.NewParams(),
	}
	via.Params.Add("branch", sipmsg.Branch(req, dst.String()))
	if c.LocalRport {
		via.Params.Add("rport", "")
	}
	out.PrependHeader(via)
	c.RunBeforeSend(out, dst)

	if s.Has(sr.RouteOnSend, "") {
		orig := c.Req
		c.Req, c.Snd = out, &dst
		prevDrop := c.Dropped
		c.Dropped = false
		s.Run(c, sr.RouteOnSend, "")
		dropped := c.Dropped
		c.Req, c.Dropped, c.Snd = orig, prevDrop, nil
		if dropped {
			return errDropped
		}
	}
	return c.Core.Send(out, dst)
}

func netipWithPort(d sr.Dest, port int) netip.AddrPort {
	return netip.AddrPortFrom(d.Addr.Addr(), uint16(port))
}
