package sr

import (
	"log/slog"

	"github.com/emiago/sipgo/sip"
)

// Ctx is the state of one message while the script runs over it: the
// message, where it came from, flags, AVPs, script variables and branches.
// Everything a route touches lives here; there is no global per-message
// state, so many messages run in parallel, each with its own Ctx.
type Ctx struct {
	// Req is the request being processed, or the request of the
	// transaction in failure and branch routes. Nil in reply routes
	// without a transaction.
	Req *sip.Request
	// Resp is the reply being processed (reply routes), or nil.
	Resp *sip.Response
	// Rcv says how the message arrived.
	Rcv RecvInfo

	// RouteType is the kind of route block running now.
	RouteType RouteType
	// Log is the logger for this message.
	Log *slog.Logger
	// Core reaches the running server (transports, script runtime).
	Core Core

	// OrigRURI is the Request-URI as received ($ou, revert_uri()).
	OrigRURI string
	// DstURI is the next hop set by the script ($du); empty means "use
	// the Request-URI".
	DstURI string
	// Q is the q value of the Request-URI branch in thousandths, or
	// QUnset.
	Q int
	// Path is the Path vector of the Request-URI branch (from a lookup).
	Path string
	// BranchFlags are the flags of the Request-URI branch ($bf).
	BranchFlags uint32
	// ForceSocket is the socket requests must leave from ($fs), or nil.
	ForceSocket *Socket
	// ForceRport is set by force_rport(): the sender's Via gets rport, so
	// replies (forwarded and local) go to the source port (RFC 3581).
	ForceRport bool
	// LocalRport is set by add_local_rport(): this server's Via on the
	// requests it sends carries an empty rport parameter.
	LocalRport bool
	// Branches are the extra branches added by append_branch or lookup,
	// besides the Request-URI itself.
	Branches []Branch

	// Flags are the message (transaction) flags 0..31.
	Flags uint32
	// ScriptFlags are the script flags ($sf), which do not travel with the
	// transaction.
	ScriptFlags uint32
	// AVPs are the attribute-value pairs of the message (they move to the
	// transaction when one is created).
	AVPs *AVPList
	// Vars are the script variables ($var), private to the worker and
	// kept between messages, as in Kamailio.
	Vars Vars

	// RC is the return code of the last action ($rc, $?).
	RC int
	// ReplyHeaders are header lines added with append_to_reply, each with
	// its CRLF, for the next reply this server generates.
	ReplyHeaders []string
	// ReplyBody is the body of the next reply this server generates
	// (set_reply_body); its Content-Type goes into ReplyHeaders.
	ReplyBody []byte
	// Snd is where the message is being sent, in onsend_route.
	Snd *Dest

	// Dropped is set by drop: the request is not relayed, a reply is
	// discarded, a branch is not sent.
	Dropped bool

	// beforeSend are run on every request derived from this one just
	// before it is sent (record_route adds its Record-Route there, once
	// the outgoing socket is known).
	beforeSend []BeforeSend
	done       []func(c *Ctx)

	ext []extSlot
}

// OnDone registers fn to run when the server has finished with the
// message: after the request route, or after a reply was handled. tm
// releases transactions the script neither relayed nor answered.
func (c *Ctx) OnDone(fn func(c *Ctx)) { c.done = append(c.done, fn) }

// RunDone runs the OnDone functions, last registered first; the server
// calls it once per message.
func (c *Ctx) RunDone() {
	for i := len(c.done) - 1; i >= 0; i-- {
		c.done[i](c)
	}
	c.done = nil
}

// BeforeSend changes an outgoing copy of the request just before it is
// sent to dst from dst.Socket (the copy already carries this server's Via).
type BeforeSend func(c *Ctx, out *sip.Request, dst Dest)

// OnBeforeSend registers a hook for every copy of this request that will be
// sent (stateless forward, each tm branch). Hooks run in registration order.
func (c *Ctx) OnBeforeSend(fn BeforeSend) { c.beforeSend = append(c.beforeSend, fn) }

// RunBeforeSend runs the hooks on an outgoing copy. Every code that sends a
// request derived from c.Req must call it, after adding its Via.
func (c *Ctx) RunBeforeSend(out *sip.Request, dst Dest) {
	for _, fn := range c.beforeSend {
		fn(c, out, dst)
	}
}

// BeforeSendHooks returns the registered hooks, for code that keeps them
// with a transaction to run them on later branches.
func (c *Ctx) BeforeSendHooks() []BeforeSend { return c.beforeSend }

// SetBeforeSendHooks replaces the hooks (tm restores a transaction's hooks
// in failure_route).
func (c *Ctx) SetBeforeSendHooks(h []BeforeSend) { c.beforeSend = h }

// TransactionKey is the Ctx.Value key under which the tm module keeps the
// transaction of the message, as a Transaction.
type TransactionKey struct{}

// Transaction is what other modules may do with the transaction of a
// message without importing tm: reply statefully (send_reply, auth
// challenges after t_newtran).
type Transaction interface {
	// Reply sends a reply statefully (absorbing retransmissions, resending
	// a final reply over UDP until the ACK for an INVITE).
	Reply(c *Ctx, code int, reason string) error
}

// replyErrorKey holds the last internal error's reply (sl_reply_error()).
type replyErrorKey struct{}

type replyError struct {
	code   int
	reason string
}

// SetReplyError records the reply that describes the last internal error
// (a relay that could not resolve its destination: 478 Unresolvable
// destination …), for sl_reply_error().
func (c *Ctx) SetReplyError(code int, reason string) {
	c.SetValue(replyErrorKey{}, replyError{code, reason})
}

// ReplyError returns the reply recorded by SetReplyError, or 500 Server
// Internal Error.
func (c *Ctx) ReplyError() (int, string) {
	if e, ok := c.Value(replyErrorKey{}).(replyError); ok {
		return e.code, e.reason
	}
	return 500, "Server Internal Error"
}

// Tx returns the transaction of the message, or nil.
func (c *Ctx) Tx() Transaction {
	t, _ := c.Value(TransactionKey{}).(Transaction)
	return t
}

// QUnset marks an unset q value.
const QUnset = -1

type extSlot struct {
	key any
	val any
}

// Value returns a value a module attached to this message (tm keeps its
// transaction here), or nil.
func (c *Ctx) Value(key any) any {
	for _, s := range c.ext {
		if s.key == key {
			return s.val
		}
	}
	return nil
}

// SetValue attaches a value to this message under key. Keys should be
// unexported types of the module that owns them, as with context.Context.
func (c *Ctx) SetValue(key, val any) {
	for i := range c.ext {
		if c.ext[i].key == key {
			c.ext[i].val = val
			return
		}
	}
	c.ext = append(c.ext, extSlot{key, val})
}

// IsRequest reports whether the message being processed is a request.
func (c *Ctx) IsRequest() bool { return c.Resp == nil && c.Req != nil }

// Msg returns the message being processed: the reply in reply routes,
// otherwise the request.
func (c *Ctx) Msg() sip.Message {
	if c.Resp != nil {
		return c.Resp
	}
	if c.Req != nil {
		return c.Req
	}
	return nil
}

// SetFlag sets message flag n (0..31).
func (c *Ctx) SetFlag(n int) {
	if n >= 0 && n < 32 {
		c.Flags |= 1 << uint(n)
	}
}

// ResetFlag clears message flag n.
func (c *Ctx) ResetFlag(n int) {
	if n >= 0 && n < 32 {
		c.Flags &^= 1 << uint(n)
	}
}

// IsFlagSet reports whether message flag n is set.
func (c *Ctx) IsFlagSet(n int) bool {
	return n >= 0 && n < 32 && c.Flags&(1<<uint(n)) != 0
}

// Branch is one destination of a request besides the Request-URI.
type Branch struct {
	URI    string
	DstURI string
	// Q is in thousandths, or QUnset.
	Q      int
	Path   string
	Flags  uint32
	Socket *Socket
}

// Vars is a worker's set of script variables.
type Vars map[string]Value
