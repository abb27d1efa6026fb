// Package sl is the sl module: stateless replies (sl_send_reply,
// sl_reply_error), replies that go through the transaction when there is
// one (send_reply), and the absorption of the ACKs that answer this
// server's own stateless negative replies to INVITEs.
//
// Other modules reply through it (sanity, siputils' options_reply, as
// Kamailio's modules bind the SL API): they declare modules/sl as a
// dependency, take the instance from InitEnv.Dep and assert it to an
// interface with the StatelessReply method.
package sl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

type sl struct {
	// DefaultCode is the reply code used when the code argument does not
	// evaluate to a number.
	DefaultCode int `modparam:"default_code" min:"100" max:"699"`
	// DefaultReason is the reason used when the reason evaluates to an
	// empty text.
	DefaultReason string `modparam:"default_reason"`
	// BindTM lets send_reply() reply through the transaction.
	BindTM bool `modparam:"bind_tm"`

	stats stats
	acks  *sentTags
}

func init() {
	module.Register(module.Spec[*sl]{
		Name:    "sl",
		Tree:    "modules",
		Summary: "Stateless replies",
		New: func() *sl {
			return &sl{DefaultCode: 500, DefaultReason: "Internal Server Error", BindTM: true, acks: newSentTags()}
		},
		Funcs: []module.Func[*sl]{
			{Name: "sl_send_reply", Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupReply, Call: (*sl).slSendReply},
			// SER's name for sl_send_reply.
			{Name: "sl_reply", Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupReply, Call: (*sl).slSendReply},
			{
				Name: "send_reply", Args: []int{2}, Routes: sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure,
				Fixup: fixupReply, Call: (*sl).sendReply,
			},
			// Kamailio allows request_route only; failure_route is allowed too
			// because the core checks sub-routes against every route type
			// that calls them, and SER's default configuration calls
			// sl_reply_error() in route[FORWARD], which its failure route
			// calls.
			{Name: "sl_reply_error", Routes: sr.RouteRequest | sr.RouteFailure, Call: (*sl).slReplyError},
		},
		RPCs: []module.RPC[*sl]{
			{Name: "sl.stats", Doc: "Counters of the stateless replies sent and of the ACKs absorbed.", Call: (*sl).rpcStats},
		},
	})
}

// intArg is an argument that yields a number: a constant, a
// pseudo-variable, or a text with variables that expands to a number.
type intArg struct {
	n int
	g sr.Getter
	f sr.Format
}

func (a intArg) value(c *sr.Ctx) (int, bool) {
	switch {
	case a.g != nil:
		return a.g.Get(c).AsInt()
	case a.f != nil:
		n, err := strconv.Atoi(strings.TrimSpace(a.f.Expand(c)))
		return n, err == nil
	}
	return a.n, true
}

// fixupReply prepares (code, reason): the code is a number, a string
// holding one, a pseudo-variable or a text with variables; the reason is
// a text with variables (xl format in SER scripts when it holds '%').
func fixupReply(_ *sl, fx *module.Fixup, args []module.Arg) ([]any, error) {
	code, err := fixupCode(fx, args[0])
	if err != nil {
		return nil, err
	}
	reason, err := fx.TextFormat(args[1])
	if err != nil {
		return nil, err
	}
	return []any{code, reason}, nil
}

func fixupCode(fx *module.Fixup, a module.Arg) (intArg, error) {
	if a.Kind == module.ArgPV {
		g, err := fx.Getter(a)
		return intArg{g: g}, err
	}
	n, err := fx.Int(a)
	if err == nil {
		if n < 100 || n > 699 {
			return intArg{}, fx.Errorf(a, "%s: reply code %d is out of range 100..699", fx.Func, n)
		}
		return intArg{n: n}, nil
	}
	if strings.ContainsAny(a.S, "$%") {
		f, ferr := fx.TextFormat(a)
		return intArg{f: f}, ferr
	}
	return intArg{}, err
}

// args evaluates the prepared (code, reason) for a message.
func (m *sl) args(c *sr.Ctx, p []any) (int, string) {
	code, ok := p[0].(intArg).value(c)
	if !ok {
		c.Log.Warn("sl: reply code does not evaluate to a number; using default_code", "code", m.DefaultCode)
		code = m.DefaultCode
	}
	reason := p[1].(sr.Format).Expand(c)
	if reason == "" {
		reason = m.DefaultReason
	}
	return code, reason
}

// Errors of StatelessReply.
var (
	ErrNoRequest = errors.New("no request to reply to")
	ErrACK       = errors.New("an ACK is never answered")
	ErrCode      = errors.New("reply code out of range 100..699")
)

// StatelessReply sends a stateless reply to the request of c, built by
// the core (RFC 3261 §8.2.6 headers, deterministic To tag, Server header,
// append_to_reply headers), with the header lines of extra ("Name:
// value") added to this reply only. It refuses ACKs and codes outside
// 100..699. The reply is counted, and a negative final reply to an INVITE
// is remembered so that its ACK is absorbed before the script runs.
func (m *sl) StatelessReply(c *sr.Ctx, code int, reason string, extra ...string) error {
	req := c.Req
	if req == nil || (c.Resp != nil && c.RouteType == sr.RouteOnReply) {
		return ErrNoRequest
	}
	if req.Method == sip.ACK {
		return ErrACK
	}
	if code < 100 || code > 699 {
		return fmt.Errorf("%w: %d", ErrCode, code)
	}
	hadTag := false
	if to := req.To(); to != nil {
		_, hadTag = to.Params.Get("tag")
	}
	res := c.Core.Reply(c, code, reason, "")
	for _, line := range extra {
		addHeaderLine(res, line)
	}
	if err := c.Core.SendReply(c, res); err != nil {
		m.stats.failed.Add(1)
		return fmt.Errorf("sending %d %s: %w", code, reason, err)
	}
	m.stats.count(code)
	if code >= 300 && req.Method == sip.INVITE && !hadTag {
		if to := res.To(); to != nil {
			if tag, ok := to.Params.Get("tag"); ok && tag != "" {
				m.acks.add(tag)
			}
		}
	}
	return nil
}

// addHeaderLine adds a "Name: value" line (one header) to a reply.
func addHeaderLine(res *sip.Response, line string) {
	line = strings.TrimRight(line, "\r\n")
	name, value, ok := strings.Cut(line, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(line, "\r\n") {
		return
	}
	res.AppendHeader(sip.NewHeader(name, strings.TrimSpace(value)))
}

// slSendReply implements sl_send_reply(code, reason) and sl_reply.
func (m *sl) slSendReply(c *sr.Ctx, p []any) int {
	code, reason := m.args(c, p)
	if err := m.StatelessReply(c, code, reason); err != nil {
		c.Log.Error("sl_send_reply failed", "error", err)
		return -1
	}
	return 1
}

// slReplyError implements sl_reply_error(): the reply describing the last
// internal error (500 Server Internal Error when none was recorded).
func (m *sl) slReplyError(c *sr.Ctx, _ []any) int {
	code, reason := c.ReplyError()
	if err := m.StatelessReply(c, code, reason); err != nil {
		c.Log.Error("sl_reply_error failed", "error", err)
		return -1
	}
	return 1
}

// sendReply implements send_reply(code, reason): through the transaction
// when the message has one (and bind_tm is on), statelessly otherwise. A
// reply being processed without a transaction cannot be answered.
func (m *sl) sendReply(c *sr.Ctx, p []any) int {
	code, reason := m.args(c, p)
	if m.BindTM {
		if tx := c.Tx(); tx != nil {
			if err := tx.Reply(c, code, reason); err != nil {
				c.Log.Error("send_reply: stateful reply failed", "error", err)
				return -1
			}
			return 1
		}
	}
	if err := m.StatelessReply(c, code, reason); err != nil {
		c.Log.Error("send_reply failed", "error", err)
		return -1
	}
	return 1
}

// FilterRequest absorbs the ACK of a negative reply this module sent
// statelessly to an INVITE (Kamailio's sl_filter_ACK): its To tag is the
// one the reply carried, which is a hash of the INVITE's From tag,
// Call-ID, CSeq number and top Via branch, all of which the ACK repeats
// (RFC 3261 §17.1.1.3). The tag must also be one this module sent in the
// last 32 seconds, so the ACKs of replies sent by others (tm) pass.
func (m *sl) FilterRequest(c *sr.Ctx) bool {
	req := c.Req
	if req == nil || req.Method != sip.ACK {
		return false
	}
	to := req.To()
	if to == nil {
		return false
	}
	tag, ok := to.Params.Get("tag")
	if !ok || tag == "" || !m.acks.has(tag) || tag != toTag(req) {
		return false
	}
	m.stats.acks.Add(1)
	c.Log.Debug("sl: ACK to a local stateless reply absorbed")
	return true
}

func (m *sl) rpcStats(_ *rpc.Request) (any, error) { return m.stats.snapshot(), nil }
