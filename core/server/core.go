package server

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/script"
	"sip-router.org/core/sr"
	"sip-router.org/core/stats"
	"sip-router.org/core/transport"
)

// Server is a running server: the loaded configuration, the transports
// and the workers' shared state. It implements sr.Core for the modules.
type Server struct {
	loaded *Loaded
	tp     *transport.Manager
	log    *slog.Logger
	script *script.Script

	serverHeader string
	uaHeader     string

	rpc            *rpc.Registry
	stats          *stats.Registry
	started        time.Time
	flavor         *flavor.Flavor
	replyHandlers  []module.ReplyHandler
	requestFilters []module.RequestFilter
	vars           sync.Pool
}

var _ sr.Core = (*Server)(nil)

// Send writes a message as it is.
func (s *Server) Send(msg sip.Message, dst sr.Dest) error { return s.tp.Send(msg, dst) }

// Resolve turns a next-hop URI into a destination.
func (s *Server) Resolve(uri string) (sr.Dest, error) { return s.tp.Resolve(uri) }

// Myself reports whether host[:port] is this server: one of its sockets or
// aliases, or a host a module claims (domain's register_myself).
func (s *Server) Myself(host string, port int) bool {
	if s.tp.Myself(host, port) {
		return true
	}
	return s.loaded != nil && s.loaded.Modules.Myself(host, port)
}

// Sockets lists the listening sockets.
func (s *Server) Sockets() []*sr.Socket { return s.tp.Sockets() }

// SocketFor picks the socket to send to dst from.
func (s *Server) SocketFor(dst sr.Dest, forced *sr.Socket) *sr.Socket {
	return s.tp.SocketFor(dst, forced)
}

// ServerHeader is the Server header line for local replies.
func (s *Server) ServerHeader() string { return s.serverHeader }

// UserAgentHeader is the User-Agent line for local requests.
func (s *Server) UserAgentHeader() string { return s.uaHeader }

// RunRoute runs a named route block over c.
func (s *Server) RunRoute(c *sr.Ctx, t sr.RouteType, name string) int {
	return s.script.Run(c, t, name)
}

// Transport returns the transport manager (for modules' tests and RPCs).
func (s *Server) Transport() *transport.Manager { return s.tp }

// Script returns the compiled script.
func (s *Server) Script() *script.Script { return s.script }

// newCtx prepares the context of an incoming message.
func (s *Server) newCtx(in *transport.Incoming) *sr.Ctx {
	rcv := in.Rcv
	rcv.Len = in.Len
	c := &sr.Ctx{
		Rcv:  rcv,
		Log:  s.log,
		Core: s,
		Q:    sr.QUnset,
		AVPs: sr.NewAVPList(),
		RC:   1,
	}
	if v, ok := s.vars.Get().(sr.Vars); ok {
		c.Vars = v
	} else {
		c.Vars = s.loaded.PVs.NewVars()
	}
	switch m := in.Msg.(type) {
	case *sip.Request:
		c.Req = m
		c.OrigRURI = m.Recipient.String()
	case *sip.Response:
		c.Resp = m
	}
	return c
}

func (s *Server) done(c *sr.Ctx) {
	s.vars.Put(c.Vars)
}

// handle is the transports' handler: it runs on a worker goroutine.
func (s *Server) handle(in *transport.Incoming) {
	c := s.newCtx(in)
	defer s.done(c)
	defer c.RunDone()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic while processing a message; message dropped", "panic", r, "src", c.Rcv.Src.String())
		}
	}()
	if c.Req != nil {
		c.RouteType = sr.RouteRequest
		for _, f := range s.requestFilters {
			if f.FilterRequest(c) {
				return
			}
		}
		s.script.Run(c, sr.RouteRequest, "")
		return
	}
	s.handleReply(c)
}

// handleReply runs the unnamed onreply_route, offers the reply to the
// modules that own transactions (tm), and otherwise forwards it
// statelessly when the top Via is ours.
func (s *Server) handleReply(c *sr.Ctx) {
	c.RouteType = sr.RouteOnReply
	if s.script.Has(sr.RouteOnReply, "") {
		s.script.Run(c, sr.RouteOnReply, "")
		if c.Dropped {
			return
		}
	}
	for _, h := range s.replyHandlers {
		if h.HandleReply(c) {
			return
		}
	}
	s.forwardReply(c)
}

// forwardReply sends a reply to the previous hop: our Via must be on top;
// it is taken off and the reply goes where the next Via says (RFC 3261
// §18.2.2 with received/rport, RFC 3581).
func (s *Server) forwardReply(c *sr.Ctx) {
	res := c.Resp
	top := res.Via()
	if top == nil || !s.tp.Myself(top.Host, top.Port) {
		s.log.Debug("reply not for us dropped", "src", c.Rcv.Src.String())
		return
	}
	res.RemoveHeader("Via")
	next := res.Via()
	if next == nil {
		s.log.Debug("reply with only our Via dropped", "src", c.Rcv.Src.String())
		return
	}
	dst, err := s.viaDest(next, strings.ToLower(next.Transport))
	if err != nil {
		s.log.Debug("reply destination unresolvable", "via", next.Value(), "error", err)
		return
	}
	dst.Socket = s.tp.SocketFor(dst, nil)
	if err := s.tp.Send(res, dst); err != nil {
		s.log.Debug("reply forward failed", "dst", dst.String(), "error", err)
	}
}
