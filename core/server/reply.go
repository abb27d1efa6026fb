package server

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

// Reply builds a local reply to the request of c.
func (s *Server) Reply(c *sr.Ctx, code int, reason, toTag string) *sip.Response {
	return BuildReply(c, code, reason, toTag, s.serverHeader)
}

// BuildReply builds a local reply to the request of c with the given
// Server header line ("" for none); see sr.Core.Reply.
func BuildReply(c *sr.Ctx, code int, reason, toTag, serverHeader string) *sip.Response {
	if c.ForceRport {
		sipmsg.ForceRport(c.Req)
	}
	sipmsg.AddReceived(c.Req, c.Rcv.Src)
	res := sipmsg.NewReply(c.Req, code, reason, toTag)
	if serverHeader != "" {
		addHeaderLines(res, serverHeader)
	}
	for _, h := range c.ReplyHeaders {
		addHeaderLines(res, h)
	}
	if len(c.ReplyBody) > 0 {
		res.SetBody(c.ReplyBody)
	}
	return res
}

// addHeaderLines adds "Name: value" lines (CRLF or LF separated) to msg.
func addHeaderLines(msg sip.Message, text string) {
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			continue
		}
		msg.AppendHeader(sip.NewHeader(strings.TrimSpace(name), strings.TrimSpace(value)))
	}
}

var errNoVia = errors.New("reply has no Via")

// SendReply sends a reply back along the request's path.
func (s *Server) SendReply(c *sr.Ctx, res *sip.Response) error {
	proto := strings.ToLower(c.Rcv.Proto)
	if proto != "" && proto != sr.ProtoUDP && c.Rcv.Src.IsValid() {
		err := s.tp.Send(res, sr.Dest{Proto: proto, Addr: c.Rcv.Src, Socket: c.Rcv.Socket})
		if err == nil {
			return nil
		}
		s.log.Debug("reply over the request's connection failed; trying its Via", "error", err)
	}
	dst, err := s.viaDest(res.Via(), proto)
	if err != nil {
		return err
	}
	if dst.Proto == c.Rcv.Proto && c.Rcv.Socket != nil {
		dst.Socket = c.Rcv.Socket
	} else {
		dst.Socket = s.tp.SocketFor(dst, nil)
	}
	return s.tp.Send(res, dst)
}

// viaDest is where a reply with this top Via goes.
func (s *Server) viaDest(via *sip.ViaHeader, proto string) (sr.Dest, error) {
	if via == nil {
		return sr.Dest{}, errNoVia
	}
	if proto == "" {
		proto = strings.ToLower(via.Transport)
	}
	host, port := sipmsg.ReplyDest(via, proto)
	if ip, err := netip.ParseAddr(host); err == nil {
		return sr.Dest{Proto: proto, Addr: netip.AddrPortFrom(ip.Unmap(), uint16(port))}, nil
	}
	uri := "sip:" + host + ":" + strconv.Itoa(port)
	if proto != sr.ProtoUDP {
		uri += ";transport=" + proto
	}
	dst, err := s.tp.Resolve(uri)
	if err != nil {
		return sr.Dest{}, fmt.Errorf("reply to %s: %w", via.Value(), err)
	}
	return dst, nil
}
