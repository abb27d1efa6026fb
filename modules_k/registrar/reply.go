package registrar

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/location"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/modules_k/usrloc"
)

// dateFormat is RFC 1123 with GMT, as SIP's Date header (RFC 3261 §20.17).
const dateFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// okHeaders are the header lines of a REGISTER's 200 OK: one Contact
// header listing every current binding with its remaining time (and its
// q and received parameters), the Path when the client supports it, and
// the Date.
func (m *registrar) okHeaders(msg sip.Message, cs []usrloc.Contact, path string, now time.Time) []string {
	var hdrs []string
	var b strings.Builder
	for i := range cs {
		c := &cs[i]
		if !c.Valid(now) {
			continue
		}
		location.AppendBinding(&b, location.Binding{URI: c.URI, Q: c.Q, Permanent: c.Permanent(),
			Expires: c.Expires.Unix() - now.Unix(), Received: c.Received, ReceivedParam: m.ReceivedParam})
	}
	if b.Len() > 0 {
		hdrs = append(hdrs, b.String())
	}
	if path != "" && m.PathMode != pathOff && listHas(msg, "Supported", "path") {
		hdrs = append(hdrs, "Path: "+path)
	}
	hdrs = append(hdrs, "Date: "+now.UTC().Format(dateFormat))
	return hdrs
}

// sendError replies a failed REGISTER: the code, P-Registrar-Error, and
// Retry-After on 5xx when retry_after is set.
func (m *registrar) sendError(c *sr.Ctx, e *regError) error {
	hdrs := append([]string{"P-Registrar-Error: " + e.info}, e.extra...)
	if e.code >= 500 && m.RetryAfter > 0 {
		hdrs = append(hdrs, "Retry-After: "+strconv.Itoa(m.RetryAfter))
	}
	return m.sendReply(c, e.code, e.reason, hdrs)
}

var errNoCore = errors.New("no core to send the reply")

// sendReply answers the request with header lines added: through its
// transaction when it has one, statelessly otherwise. The lines go into
// the reply the way append_to_reply's do, for this reply only.
func (m *registrar) sendReply(c *sr.Ctx, code int, reason string, hdrs []string) error {
	saved := c.ReplyHeaders
	extra := make([]string, 0, len(saved)+len(hdrs))
	extra = append(extra, saved...)
	for _, h := range hdrs {
		extra = append(extra, h+"\r\n")
	}
	c.ReplyHeaders = extra
	defer func() { c.ReplyHeaders = saved }()
	if tx := c.Tx(); tx != nil {
		return tx.Reply(c, code, reason)
	}
	if c.Core == nil {
		return errNoCore
	}
	return c.Core.SendReply(c, c.Core.Reply(c, code, reason, ""))
}

// socketOf is the socket a binding is reached through: with sock_flag
// set on the message, the local socket named by the sock_hdr_name header
// (added by add_sock_hdr on a front proxy), else the socket the message
// came in on.
func (m *registrar) socketOf(c *sr.Ctx, msg sip.Message) string {
	if m.SockFlag >= 0 && c.IsFlagSet(m.SockFlag) && m.SockHdrName != "" {
		if h := sipmsg.Header(msg, m.SockHdrName); h != nil {
			if s := localSocket(c, h.Value()); s != nil {
				return s.String()
			}
			if c.Log != nil {
				c.Log.Warn("registrar: socket header names no local socket", "value", h.Value())
			}
		}
	}
	if c.Rcv.Socket != nil {
		return c.Rcv.Socket.String()
	}
	return ""
}

// localSocket finds the listening socket written proto:host:port.
func localSocket(c *sr.Ctx, s string) *sr.Socket {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || c.Core == nil {
		return nil
	}
	for _, sock := range c.Core.Sockets() {
		if sock.String() == s {
			return sock
		}
		if sock.Proto+":"+strings.ToLower(sock.Name)+":"+strconv.Itoa(int(sock.Addr.Port())) == s {
			return sock
		}
	}
	return nil
}
