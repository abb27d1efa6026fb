package registrar

import (
	"errors"
	"strings"
	"time"

	"sip-router.org/core/location"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/usrloc"
)

// validAOR is SER's VALID_AOR: with a filter, only the contacts
// registered for that address of record count.
func validAOR(c *usrloc.Contact, filter string, filtered bool) bool {
	return !filtered || strings.EqualFold(c.AOR, filter)
}

// contactHeader is the Contact header line (without CRLF) of a REGISTER's
// reply, as SER's build_contact writes it: every valid binding (of the
// filter's AOR) with its q, its remaining time and its received
// parameter; "" when there is none. A permanent binding has no expires
// parameter.
func (m *registrar) contactHeader(cs []usrloc.Contact, filter string, filtered bool, now time.Time) string {
	var b strings.Builder
	for i := range cs {
		c := &cs[i]
		if !c.Valid(now) || !validAOR(c, filter, filtered) {
			continue
		}
		location.AppendBinding(&b, location.Binding{URI: c.URI, Q: c.Q, Permanent: c.Permanent(),
			Expires: c.Expires.Unix() - now.Unix(), Received: c.Received, ReceivedParam: m.ReceivedParam})
	}
	return b.String()
}

var errNoCore = errors.New("no core to send the reply")

// sendReply answers the request with header lines added: through its
// transaction when it has one, statelessly otherwise. The lines go into
// the reply the way append_to_reply's do, for this reply only.
func (m *registrar) sendReply(c *sr.Ctx, code int, reason string, hdrs ...string) error {
	saved := c.ReplyHeaders
	extra := make([]string, 0, len(saved)+len(hdrs))
	extra = append(extra, saved...)
	for _, h := range hdrs {
		if h != "" {
			extra = append(extra, h+"\r\n")
		}
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
