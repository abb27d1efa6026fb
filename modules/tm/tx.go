package tm

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// Tx is a transaction: the server side (the request as received, the
// replies sent upstream) and one client branch per destination it was
// relayed to. Every field is guarded by mu, except the immutable
// identity fields (m, id, key, alias, rfc2543, method, invite, reqTag, callID,
// cseq, created).
//
// Tx implements sr.Transaction, so modules that do not import tm (sl's
// send_reply, auth's challenges) reply statefully through c.Tx().
type Tx struct {
	// localRport: add_local_rport() was called; our Via gets rport.
	localRport bool
	mu         sync.Mutex

	m       *TM
	id      uint64
	key     string
	alias   string // dialogKey of an INVITE, "" when not indexed
	rfc2543 bool
	method  string
	invite  bool
	reqTag  string // To tag of the request (RFC 2543 matching)
	callID  string
	cseq    uint32
	created time.Time

	req      *sip.Request // private copy of the request
	origRURI string       // Request-URI as received ($ou)
	ruri     string       // Request-URI when last relayed (failure_route starts from it)
	rcv      sr.RecvInfo
	core     sr.Core
	log      *slog.Logger
	replyCtx *sr.Ctx // carries rcv for Core.SendReply

	// Upstream (server transaction) state.
	status    int           // code of the last reply sent upstream, 0 for none
	lastReply *sip.Response // resent on request retransmissions
	finalTag  string        // To tag of the final reply (RFC 2543 ACK matching)
	replyIv   time.Duration // Timer G interval
	ackWait   bool          // final non-2xx to an INVITE sent, waiting for the ACK (Timer H)
	acked     bool
	ending    bool // the wait timer is counting down to deletion
	canceled  bool // a CANCEL arrived for it
	got2xx    bool
	reported  bool // completion callbacks ran
	released  bool
	expired   bool // max lifetime reached: no new branches
	dead      bool // removed from the table

	// Client side.
	branches  []*branch
	leg       int  // serial forking round of the newest branches
	inFailure bool // failure_route is running
	dropMode  byte // t_drop_replies() in the running failure_route

	// Script state carried by the transaction.
	onFailure, onReply, onBranch string
	flags                        uint32
	avps                         *sr.AVPList
	hooks                        []sr.BeforeSend
	fr, frInv                    time.Duration // 0: module default

	tReplyRetr, tWait, tLife timer
}

// Cancel states of a branch.
const (
	cancelNone    = iota
	cancelPending // CANCEL requested before a provisional reply: send it when one comes
	cancelSent
)

// branch is one client transaction of a Tx.
type branch struct {
	idx      int
	leg      int
	uri      string
	req      *sip.Request // as sent, with our Via
	dst      sr.Dest
	reliable bool
	bflags   uint32

	status      int           // code of the last reply received (or faked)
	reply       *sip.Response // last reply received; nil for a faked final
	provisional bool          // a 1xx arrived
	replied     bool          // any reply arrived
	final       bool
	fake        bool // the final status was generated here (timeout, cancel)
	timedOut    bool
	abandoned   bool // given up when the transaction completed (non-INVITE)
	dropped     bool // t_drop_replies(): not a candidate for the best reply

	retrIv    time.Duration
	cancel    int
	cancelReq *sip.Request
	cancelIv  time.Duration
	cancelAt  time.Time

	tRetr, tFR, tCancel timer
}

var (
	errFinalSent = errors.New("a final reply was already sent")
	errDead      = errors.New("transaction is gone")
	errBusy      = errors.New("transaction busy")
)

// reliable reports whether a transport delivers reliably (no
// retransmissions needed).
func reliableProto(proto string) bool {
	switch strings.ToLower(proto) {
	case "", sr.ProtoUDP:
		return false
	}
	return true
}

// held marks a Ctx whose goroutine holds the transaction's mutex while a
// route runs (failure, branch, onreply, onsend), so that tm functions
// called from that route do not lock again.
type heldKey struct{}

// lockFor locks the transaction unless c runs under its lock already,
// and returns the matching unlock.
func (t *Tx) lockFor(c *sr.Ctx) func() {
	if c != nil && c.Value(heldKey{}) == any(t) {
		return func() {}
	}
	t.mu.Lock()
	return t.mu.Unlock
}

// heldBy returns the transaction whose lock the route of c runs under.
func heldBy(c *sr.Ctx) *Tx {
	if c == nil {
		return nil
	}
	t, _ := c.Value(heldKey{}).(*Tx)
	return t
}

// hold marks c as running under t's lock until the returned func runs.
func hold(c *sr.Ctx, t *Tx) func() {
	prev := c.Value(heldKey{})
	c.SetValue(heldKey{}, t)
	return func() { c.SetValue(heldKey{}, prev) }
}

// txOf returns the transaction attached to c, or nil.
func txOf(c *sr.Ctx) *Tx {
	if c == nil {
		return nil
	}
	t, _ := c.Value(sr.TransactionKey{}).(*Tx)
	return t
}

// pending counts the branches without a final reply.
func (t *Tx) pending() int {
	n := 0
	for _, b := range t.branches {
		if !b.final {
			n++
		}
	}
	return n
}

// frTimeout is the no-final-reply timeout of a new branch.
func (t *Tx) frTimeout() time.Duration {
	if t.fr > 0 {
		return t.fr
	}
	return t.m.frD
}

// frInvTimeout is the timeout of an INVITE branch after a provisional.
func (t *Tx) frInvTimeout() time.Duration {
	if t.frInv > 0 {
		return t.frInv
	}
	return t.m.frInvD
}

// lifetime is the longest the transaction may go without a final reply.
func (t *Tx) lifetime() time.Duration {
	if t.invite {
		return t.m.maxInvD
	}
	return t.m.maxNoninvD
}

// Reply sends a reply to the transaction's request statefully (the
// sr.Transaction interface): it is kept for retransmissions, a final
// non-2xx to an INVITE is retransmitted over UDP until the ACK, and a
// final reply cancels the branches still pending.
func (t *Tx) Reply(c *sr.Ctx, code int, reason string) error {
	if code < 100 || code > 699 {
		return errors.New("tm: reply code out of range 100..699")
	}
	if held := heldBy(c); held != nil && held != t {
		// A route of another transaction: never wait on a second
		// transaction lock there (two such calls crossing would deadlock).
		for i := 0; !t.mu.TryLock(); i++ {
			if i == 100 {
				return errBusy
			}
			time.Sleep(time.Millisecond)
		}
		defer t.mu.Unlock()
	} else {
		unlock := t.lockFor(c)
		defer unlock()
	}
	if t.dead {
		return errDead
	}
	if c != nil && txOf(c) == t && c.RouteType == sr.RouteRequest && c.Resp == nil {
		t.flags = c.Flags
	}
	return t.localReply(c, code, reason)
}

// Method is the method of the transaction's request.
func (t *Tx) Method() string { return t.method }

// ID is the transaction's identifier (it appears in its branches' Via).
func (t *Tx) ID() uint64 { return t.id }

// newCtx builds the context of a route tm runs on the transaction's
// request (failure_route), or of a reply built from it. prev lends its
// script variables when the route runs on a worker.
func (t *Tx) newCtx(prev *sr.Ctx, rt sr.RouteType) *sr.Ctx {
	c := &sr.Ctx{
		Req:       t.req,
		Rcv:       t.rcv,
		RouteType: rt,
		Log:       t.log,
		Core:      t.core,
		OrigRURI:  t.origRURI,
		Q:         sr.QUnset,
		AVPs:      t.avps,
		Flags:     t.flags,
		RC:        1,
	}
	if c.AVPs == nil {
		c.AVPs = sr.NewAVPList()
		t.avps = c.AVPs
	}
	if prev != nil && prev.Vars != nil {
		c.Vars = prev.Vars
	} else {
		c.Vars = sr.Vars{}
	}
	c.SetBeforeSendHooks(t.hooks)
	c.SetValue(sr.TransactionKey{}, t)
	c.SetValue(heldKey{}, t)
	return c
}

// localReply builds a reply here and sends it upstream. c supplies the
// headers added with append_to_reply when it is the transaction's own
// request context; otherwise the reply is built from the transaction's
// copy of the request.
func (t *Tx) localReply(c *sr.Ctx, code int, reason string) error {
	rc := c
	if rc == nil || rc.Req == nil || rc.Resp != nil || txOf(rc) != t {
		rc = t.newCtx(nil, sr.RouteRequest)
	}
	res := t.core.Reply(rc, code, reason, "")
	err := t.sendUpstream(res, true)
	if !errors.Is(err, errFinalSent) {
		t.m.stats.localReplies.Add(1)
	}
	return err
}

// sendUpstream sends a reply towards the client and updates the server
// transaction: provisional replies after a final one are dropped; after
// a final reply only relayed 2xx to an INVITE still go out (RFC 3261
// §16.7 step 5).
func (t *Tx) sendUpstream(res *sip.Response, local bool) error {
	code := res.StatusCode
	if t.status >= 200 {
		if local || !(t.invite && code >= 200 && code < 300) {
			return errFinalSent
		}
		t.m.stats.countReply(code)
		return t.send(res)
	}
	err := t.send(res)
	t.m.stats.countReply(code)
	t.lastReply = res
	t.status = code
	if code >= 200 {
		t.onFinal(res, local)
	}
	return err
}

func (t *Tx) send(res *sip.Response) error {
	if err := t.core.SendReply(t.replyCtx, res); err != nil {
		t.log.Debug("tm: sending reply upstream failed", "code", res.StatusCode, "dst", t.rcv.Src.String(), "error", err)
		return err
	}
	return nil
}

// resendLast answers a retransmitted request with the last reply.
func (t *Tx) resendLast() {
	if t.lastReply != nil && !t.dead {
		_ = t.send(t.lastReply)
	}
}

// onFinal runs once, when the first final reply went upstream.
func (t *Tx) onFinal(res *sip.Response, local bool) {
	code := res.StatusCode
	t.finalTag = toTag(res)
	t.m.wh.stopTimer(&t.tLife)
	if code < 300 {
		t.got2xx = true
	}
	// RFC 3261 §16.7 step 10: no branch stays pending once a final
	// reply went upstream.
	t.cancelPending(false)
	t.report(res, local)
	if t.invite && code >= 300 {
		t.ackWait = true
		if !reliableProto(t.rcv.Proto) {
			t.replyIv = t.m.t1
			t.m.wh.set(&t.tReplyRetr, t.replyIv)
		}
		t.m.wh.set(&t.tWait, 64*t.m.t1) // Timer H
		return
	}
	t.scheduleEnd(t.m.wtD)
}

// scheduleEnd starts the countdown to deletion.
func (t *Tx) scheduleEnd(d time.Duration) {
	t.ackWait = false
	t.setEnding()
	t.m.wh.stopTimer(&t.tReplyRetr)
	t.m.wh.set(&t.tWait, d)
}

// setEnding marks the transaction as waiting for deletion.
func (t *Tx) setEnding() {
	if !t.ending {
		t.ending = true
		t.m.stats.waiting.Add(1)
	}
}

// ackReceived absorbs the ACK of a final non-2xx reply.
func (t *Tx) ackReceived() {
	if !t.ackWait {
		return
	}
	t.acked = true
	d := t.m.wtD // Timer I
	if reliableProto(t.rcv.Proto) {
		d = 0
	}
	t.scheduleEnd(d)
}

// release ends a transaction the script gives up (t_release).
func (t *Tx) release() {
	if t.released || t.dead {
		return
	}
	t.released = true
	t.m.wh.stopTimer(&t.tLife)
	if t.status < 200 {
		t.cancelPending(false)
		t.scheduleEnd(t.m.wtD)
	}
}

// waitFired handles Timer H and the wait timer.
func (t *Tx) waitFired() {
	if t.ackWait { // Timer H: the ACK never came
		t.ackWait = false
		t.setEnding()
		t.m.wh.stopTimer(&t.tReplyRetr)
	}
	if !t.ending {
		return
	}
	if t.pending() > 0 {
		// Branches still wait for their final reply (a 487 after our
		// CANCEL): their timers end them; look again later.
		t.m.wh.set(&t.tWait, t.m.wtD+time.Millisecond)
		return
	}
	t.delete()
}

// delete removes the transaction for good.
func (t *Tx) delete() {
	if t.dead {
		return
	}
	t.dead = true
	w := t.m.wh
	w.stopTimer(&t.tReplyRetr)
	w.stopTimer(&t.tWait)
	w.stopTimer(&t.tLife)
	for _, b := range t.branches {
		w.stopTimer(&b.tRetr)
		w.stopTimer(&b.tFR)
		w.stopTimer(&b.tCancel)
	}
	t.m.tbl.remove(t)
	t.m.stats.freed.Add(1)
	if t.ending {
		t.m.stats.waiting.Add(-1)
	}
}

// retransmitReply is Timer G.
func (t *Tx) retransmitReply() {
	if !t.ackWait || t.lastReply == nil {
		return
	}
	_ = t.send(t.lastReply)
	t.replyIv *= 2
	if t.replyIv > t.m.t2 {
		t.replyIv = t.m.t2
	}
	t.m.wh.set(&t.tReplyRetr, t.replyIv)
}

// lifetimeExpired ends every pending branch when the transaction lived
// max_inv_lifetime / max_noninv_lifetime without a final reply.
func (t *Tx) lifetimeExpired() {
	if t.status >= 200 || t.released {
		return
	}
	t.expired = true
	if len(t.branches) == 0 {
		// Created and never relayed nor answered: forget it.
		t.scheduleEnd(0)
		return
	}
	for _, b := range t.branches {
		if !b.final {
			t.expireBranch(b)
		}
	}
	t.checkAllFinal(nil)
}

// report runs the completion callbacks once.
func (t *Tx) report(res *sip.Response, local bool) {
	if t.reported {
		return
	}
	t.reported = true
	cbs := t.m.callbacks()
	if len(cbs) == 0 {
		return
	}
	ev := &Completion{
		Request:  t.req,
		Method:   t.method,
		Code:     res.StatusCode,
		Reason:   res.Reason,
		Local:    local,
		Flags:    t.flags,
		AVPs:     t.avps,
		Got2xx:   t.got2xx,
		Canceled: t.canceled,
		Source:   t.rcv,
		Created:  t.created,
	}
	if !local {
		ev.Reply = res
	}
	for _, fn := range cbs {
		fn(ev)
	}
}

// reasonFor is the reason phrase of a reply tm generates itself.
func reasonFor(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 200:
		return "OK"
	case 408:
		return "Request Timeout"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 487:
		return "Request Terminated"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	}
	return "Unknown"
}

// buildCancel builds the hop-by-hop CANCEL of a branch (RFC 3261 §9.1):
// Request-URI, Call-ID, To, From and CSeq number of the request being
// cancelled, only its top Via, its Route headers.
func buildCancel(src *sip.Request) *sip.Request {
	return buildHopRequest(src, sip.CANCEL, nil)
}

// buildAck builds the ACK of a final non-2xx reply on a branch (RFC 3261
// §17.1.1.3): as the CANCEL, with the To of the reply.
func buildAck(src *sip.Request, res *sip.Response) *sip.Request {
	return buildHopRequest(src, sip.ACK, res)
}

func buildHopRequest(src *sip.Request, method sip.RequestMethod, res *sip.Response) *sip.Request {
	out := sip.NewRequest(method, *src.Recipient.Clone())
	out.SipVersion = "SIP/2.0"
	if v := src.Via(); v != nil {
		out.AppendHeader(sip.HeaderClone(v))
	}
	for _, h := range sipmsg.Headers(src, "Route") {
		out.AppendHeader(sip.HeaderClone(h))
	}
	if f := src.From(); f != nil {
		out.AppendHeader(sip.HeaderClone(f))
	}
	var to sip.Header
	if res != nil && res.To() != nil {
		to = res.To()
	} else if src.To() != nil {
		to = src.To()
	}
	if to != nil {
		out.AppendHeader(sip.HeaderClone(to))
	}
	if c := src.CallID(); c != nil {
		out.AppendHeader(sip.HeaderClone(c))
	}
	var seq uint32
	if c := src.CSeq(); c != nil {
		seq = c.SeqNo
	}
	out.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	out.AppendHeader(&mf)
	out.SetBody(nil)
	return out
}
