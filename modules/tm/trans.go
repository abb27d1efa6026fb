package tm

import (
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// armedKey holds the routes armed with t_on_failure/t_on_reply/
// t_on_branch before the message has a transaction.
type armedKey struct{}

type armed struct {
	failure, reply, branch          string
	setFailure, setReply, setBranch bool
}

// frKey holds t_set_fr values given before the message has a transaction.
type frKey struct{}

type frValues struct{ fr, frInv time.Duration }

// armedOf returns the armed routes of c, creating them.
func armedOf(c *sr.Ctx) *armed {
	a, _ := c.Value(armedKey{}).(*armed)
	if a == nil {
		a = &armed{}
		c.SetValue(armedKey{}, a)
	}
	return a
}

// absorb takes over what the script set on the message: armed routes,
// t_set_fr values, flags, AVPs and before-send hooks.
func (t *Tx) absorb(c *sr.Ctx) {
	if a, _ := c.Value(armedKey{}).(*armed); a != nil {
		if a.setFailure {
			t.onFailure = a.failure
		}
		if a.setReply {
			t.onReply = a.reply
		}
		if a.setBranch {
			t.onBranch = a.branch
		}
	}
	if v, ok := c.Value(frKey{}).(frValues); ok {
		t.fr, t.frInv = v.fr, v.frInv
	}
	t.flags = c.Flags
	t.localRport = t.localRport || c.LocalRport
	if c.AVPs != nil {
		t.avps = c.AVPs
	}
	t.hooks = c.BeforeSendHooks()
}

// newTx builds the transaction of the request of c (not yet in the table).
func (m *TM) newTx(c *sr.Ctx, k reqKey) *Tx {
	req := c.Req
	if c.Rcv.Src.IsValid() {
		if c.ForceRport {
			sipmsg.ForceRport(req)
		}
		sipmsg.AddReceived(req, c.Rcv.Src)
	}
	core := c.Core
	if core == nil {
		core = m.core
	}
	log := c.Log
	if log == nil {
		log = m.log
	}
	method := string(req.Method)
	var callID string
	var cseq uint32
	if h := req.CallID(); h != nil {
		callID = string(*h)
	}
	if h := req.CSeq(); h != nil {
		cseq = h.SeqNo
	}
	t := &Tx{
		m:        m,
		id:       m.nextID(),
		key:      k.key,
		rfc2543:  k.rfc2543,
		method:   method,
		invite:   req.Method == sip.INVITE,
		reqTag:   toTag(req),
		callID:   callID,
		cseq:     cseq,
		created:  time.Now(),
		req:      req.Clone(),
		origRURI: c.OrigRURI,
		ruri:     req.Recipient.String(),
		rcv:      c.Rcv,
		core:     core,
		log:      log,
	}
	t.replyCtx = &sr.Ctx{Rcv: c.Rcv, Log: log, Core: core, Q: sr.QUnset}
	t.tReplyRetr.init(tReplyRetr, t, nil)
	t.tWait.init(tWait, t, nil)
	t.tLife.init(tLife, t, nil)
	t.absorb(c)
	if m.frAVP != nil {
		t.fr = avpTimer(m.frAVP.Get(c))
	}
	if m.frInvAVP != nil {
		t.frInv = avpTimer(m.frInvAVP.Get(c))
	}
	return t
}

// avpTimer reads a timer value from an AVP: milliseconds, or seconds
// when 120 or less (as the parameters); 0 when unset or not a number.
func avpTimer(v sr.Value) time.Duration {
	n, ok := v.AsInt()
	if !ok || n <= 0 {
		return 0
	}
	if n <= 120 {
		n *= 1000
	}
	return time.Duration(n) * time.Millisecond
}

// ensureTx returns the transaction of the request of c, creating it (the
// t_newtran semantics). When it returns nil, ret is the script result: 0
// when a retransmission was absorbed or the request was refused with 503
// (both already answered), -1 on error.
func (m *TM) ensureTx(c *sr.Ctx) (tx *Tx, created bool, ret int) {
	if t := txOf(c); t != nil {
		return t, false, 1
	}
	req := c.Req
	k, ok := serverKey(req, "")
	if !ok {
		c.SetReplyError(400, "Bad Request - no Via or CSeq")
		c.Log.Debug("tm: request lacks the headers of a transaction key")
		return nil, false, -1
	}
	if old := m.tbl.get(k.key); old != nil && (!k.rfc2543 || old.reqTag == toTag(req)) {
		old.mu.Lock()
		old.resendLast()
		old.mu.Unlock()
		return nil, false, 0
	}
	if req.Method != sip.CANCEL && m.tbl.live.Load() >= int64(m.MaxTransactions) {
		m.reject503(c)
		return nil, false, 0
	}
	t := m.newTx(c, k)
	if t.invite {
		if dk, ok := dialogKey(req); ok {
			t.alias = dk
		}
	}
	if old := m.tbl.insert(t); old != nil {
		old.mu.Lock()
		old.resendLast()
		old.mu.Unlock()
		return nil, false, 0
	}
	if t.alias != "" && !m.tbl.putAlias(t.alias, t) {
		t.alias = ""
	}
	m.stats.created.Add(1)
	m.wh.set(&t.tLife, t.lifetime())
	c.SetValue(sr.TransactionKey{}, t)
	return t, true, 1
}

// reject503 answers a request statelessly with 503 and Retry-After when
// the transaction table is full.
func (m *TM) reject503(c *sr.Ctx) {
	m.stats.rejected.Add(1)
	c.SetReplyError(503, "Service Unavailable")
	res := c.Core.Reply(c, 503, "Service Unavailable", "")
	if m.RetryAfter > 0 {
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(m.RetryAfter)))
	}
	if err := c.Core.SendReply(c, res); err != nil {
		c.Log.Debug("tm: sending 503 failed", "error", err)
	}
	c.Log.Warn("tm: transaction table full; request refused with 503", "max_transactions", m.MaxTransactions)
}

// relay is t_relay and its variants in request and failure routes.
func (m *TM) relay(c *sr.Ctx, p relayParams) int {
	if c.Req == nil || c.Resp != nil {
		return -1
	}
	if c.RouteType == sr.RouteFailure {
		return m.relayFailure(c, p)
	}
	switch c.Req.Method {
	case sip.ACK:
		return m.relayACK(c, p)
	case sip.CANCEL:
		if ret, found := m.cancelInvite(c); found {
			return ret
		}
		switch m.UnmatchedCancel {
		case 1:
			return m.forwardStateless(c, p)
		case 2:
			return 0
		}
	}
	tx, created, ret := m.ensureTx(c)
	if tx == nil {
		return ret
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if tx.dead {
		return -1
	}
	if tx.status >= 200 {
		c.Log.Warn("tm: t_relay on a transaction already answered")
		return -1
	}
	tx.absorb(c)
	if !created && len(tx.branches) == 0 {
		// Changes made since t_newtran go into the transaction's copy.
		tx.req = c.Req.Clone()
	}
	tx.ruri = c.Req.Recipient.String()
	if tx.invite && m.AutoInv100 != 0 && !p.no100 && tx.status < 100 {
		_ = tx.localReply(c, 100, m.AutoInv100Reason)
	}
	n, err := tx.forward(c, c.Req, p)
	if n > 0 {
		return 1
	}
	code, reason := replyFor(err)
	c.SetReplyError(code, reason)
	c.Log.Error("tm: t_relay failed", "error", err)
	if created && len(tx.branches) == 0 && tx.status < 200 {
		// Nothing was sent: forget the transaction, the script answers
		// (sl_reply_error) statelessly.
		tx.delete()
		c.SetValue(sr.TransactionKey{}, nil)
	}
	return -1
}

// relayFailure is t_relay in failure_route: new branches on the
// transaction (serial forking).
func (m *TM) relayFailure(c *sr.Ctx, p relayParams) int {
	tx := txOf(c)
	if tx == nil {
		return -1
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if tx.dead || tx.status >= 200 {
		return -1
	}
	n, err := tx.forward(c, tx.req, p)
	if n > 0 {
		return 1
	}
	c.SetReplyError(replyFor(err))
	c.Log.Error("tm: t_relay in failure_route failed", "error", err)
	return -1
}

// relayACK absorbs the ACK of a negative final reply and forwards any
// other ACK statelessly (ACK for 2xx is end to end).
func (m *TM) relayACK(c *sr.Ctx, p relayParams) int {
	if m.absorbACK(c.Req) {
		return 0
	}
	return m.forwardStateless(c, p)
}

// e2eACK reports whether an ACK is the end-to-end ACK of a 2xx an INVITE
// transaction relayed.
func (m *TM) e2eACK(req *sip.Request) bool {
	dk, ok := dialogKey(req)
	if !ok {
		return false
	}
	tx := m.tbl.get(dk)
	if tx == nil {
		return false
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return !tx.dead && tx.got2xx
}

// absorbACK reports whether an ACK belongs to an INVITE transaction that
// sent a final non-2xx reply, and absorbs it then.
func (m *TM) absorbACK(req *sip.Request) bool {
	k, ok := serverKey(req, "")
	if !ok {
		return false
	}
	tx := m.tbl.get(k.key)
	if tx == nil {
		return false
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.dead || !tx.invite || tx.status < 300 || (k.rfc2543 && toTag(req) != tx.finalTag) {
		return false
	}
	tx.ackReceived()
	return true
}

// cancelInvite handles a CANCEL whose INVITE transaction exists: the
// CANCEL gets its own transaction (retransmissions absorbed) and a 200,
// and the INVITE's pending branches are cancelled hop by hop. found is
// false when there is no INVITE transaction.
func (m *TM) cancelInvite(c *sr.Ctx) (ret int, found bool) {
	inv := m.lookupInvite(c.Req)
	if inv == nil || inv == txOf(c) {
		return 0, false
	}
	ctx, _, r := m.ensureTx(c)
	if ctx == nil {
		return r, true
	}
	unlock := ctx.lockFor(c)
	if ctx.status < 200 {
		_ = ctx.localReply(c, 200, "canceling")
	}
	unlock()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.dead {
		return 1, true
	}
	if inv.status >= 200 {
		return 1, true // answered already: the CANCEL changes nothing
	}
	if !inv.canceled {
		m.stats.canceled.Add(1)
	}
	inv.cancelPending(true)
	if len(inv.branches) == 0 {
		// Not relayed (t_newtran only): the INVITE ends here.
		_ = inv.localReply(nil, 487, reasonFor(487))
		return 1, true
	}
	inv.checkAllFinal(c)
	return 1, true
}

// newtran is t_newtran: the request gets its transaction; a
// retransmission is answered with the last reply and returns 0.
func (m *TM) newtran(c *sr.Ctx) int {
	if c.Req == nil {
		return -1
	}
	if c.Req.Method == sip.ACK {
		if m.absorbACK(c.Req) {
			return 0
		}
		return 1
	}
	tx, _, ret := m.ensureTx(c)
	if tx == nil {
		return ret
	}
	return 1
}

// checkTrans is t_check_trans.
func (m *TM) checkTrans(c *sr.Ctx) int {
	if c.Resp != nil {
		if tx, _ := m.replyTx(c.Resp); tx != nil {
			return 1
		}
		return -1
	}
	req := c.Req
	if req == nil {
		return -1
	}
	switch req.Method {
	case sip.CANCEL:
		if m.lookupInvite(req) != nil {
			return 1
		}
		return -1
	case sip.ACK:
		if m.absorbACK(req) {
			return 0
		}
		if m.e2eACK(req) {
			return 1 // ACK of a 2xx of a known transaction (end to end)
		}
		return -1
	}
	k, ok := serverKey(req, "")
	if !ok {
		return -1
	}
	tx := m.tbl.get(k.key)
	if tx == nil || (k.rfc2543 && tx.reqTag != toTag(req)) {
		return -1
	}
	if tx == txOf(c) {
		return 1
	}
	tx.mu.Lock()
	tx.resendLast()
	tx.mu.Unlock()
	return 0
}

// lookupRequest is t_lookup_request: whether the request has a
// transaction, without side effects.
func (m *TM) lookupRequest(c *sr.Ctx) int {
	if txOf(c) != nil {
		return 1
	}
	k, ok := serverKey(c.Req, "")
	if !ok {
		return -1
	}
	if tx := m.tbl.get(k.key); tx != nil && (!k.rfc2543 || tx.reqTag == toTag(c.Req)) {
		return 1
	}
	return -1
}
