package tm

import (
	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// branchIdxKey holds, in branch, onreply and failure routes, the index
// of the branch concerned ($T_branch_idx).
type branchIdxKey struct{}

// pickKey holds, in failure_route, the reply that would go upstream.
type pickKey struct{}

type pick struct {
	idx    int
	code   int
	reason string
	reply  *sip.Response
}

// HandleReply takes a reply after the unnamed onreply_route ran (the
// module.ReplyHandler interface). A reply whose top Via carries one of
// our branches is matched to its transaction and branch; anything else
// is left to the core, which forwards it statelessly.
func (m *TM) HandleReply(c *sr.Ctx) bool {
	res := c.Resp
	if res == nil {
		return false
	}
	tx, br := m.replyTx(res)
	if tx == nil {
		return false
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.dead {
		return false
	}
	if br >= len(tx.branches) {
		return true // names a branch we never created: absorb
	}
	b := tx.branches[br]
	m.stats.rplReceived.Add(1)
	switch sipmsg.CSeqMethod(res) {
	case "CANCEL":
		// The reply to our hop-by-hop CANCEL ends its retransmissions.
		m.wh.stopTimer(&b.tCancel)
		return true
	case tx.method:
	default:
		return true
	}
	tx.branchReply(c, b, res)
	return true
}

// replyTx finds the transaction and branch index a reply names in its
// top Via.
func (m *TM) replyTx(res *sip.Response) (*Tx, int) {
	via := res.Via()
	if via == nil {
		return nil, 0
	}
	v, _ := via.Params.Get("branch")
	id, idx, ok := parseBranch(v)
	if !ok {
		return nil, 0
	}
	tx := m.tbl.getID(id)
	if tx == nil {
		return nil, 0
	}
	return tx, idx
}

// branchReply processes a reply on a branch, with the lock held.
func (t *Tx) branchReply(c *sr.Ctx, b *branch, res *sip.Response) {
	code := res.StatusCode
	if code < 100 || code > 699 {
		return
	}
	b.replied = true
	if b.final {
		switch {
		case t.invite && code < 300 && code >= 200:
			// A 2xx retransmission, or a 2xx after we ended the branch:
			// 2xx always go upstream.
			t.runOnReply(c, b)
			t.relayReply(b, res)
		case t.invite && code >= 300:
			t.sendAck(b, res) // our ACK was lost: send it again
		}
		return
	}
	if code < 200 {
		if code >= b.status {
			b.status = code
		}
		b.reply = res
		first := !b.provisional
		b.provisional = true
		if t.invite {
			t.m.wh.stopTimer(&b.tRetr)
			if b.cancel != cancelSent && (first || t.m.RestartFrOnEachReply != 0) {
				t.m.wh.set(&b.tFR, t.frInvTimeout())
			}
			if b.cancel == cancelPending {
				t.sendCancel(b)
			}
		}
		if t.runOnReply(c, b) {
			return // drop in the named onreply_route discards a provisional reply
		}
		if code > 100 && t.status < 200 {
			t.relayReply(b, res)
		}
		return
	}

	t.endBranch(b, code, res)
	if t.invite && code >= 300 {
		t.sendAck(b, res)
	}
	t.runOnReply(c, b)
	if code < 300 {
		t.got2xx = true
		t.relayReply(b, res)
		return
	}
	if t.invite && code >= 600 && t.status < 200 {
		// RFC 3261 §16.7 step 6: a 6xx cancels the other branches.
		t.cancelPending(false)
	}
	t.checkAllFinal(c)
}

// runOnReply runs the named onreply_route armed with t_on_reply over a
// reply of the transaction, with the transaction's flags and AVPs. It
// reports whether the route ran drop.
func (t *Tx) runOnReply(c *sr.Ctx, b *branch) bool {
	if t.onReply == "" {
		return false
	}
	sReq, sAVPs, sFlags, sDrop := c.Req, c.AVPs, c.Flags, c.Dropped
	sTx, sIdx := c.Value(sr.TransactionKey{}), c.Value(branchIdxKey{})
	c.Req, c.AVPs, c.Flags, c.Dropped = t.req, t.avps, t.flags, false
	c.SetValue(sr.TransactionKey{}, t)
	c.SetValue(branchIdxKey{}, b.idx)
	unhold := hold(c, t)
	t.core.RunRoute(c, sr.RouteOnReply, t.onReply)
	unhold()
	dropped := c.Dropped
	t.flags = c.Flags
	c.Req, c.AVPs, c.Flags, c.Dropped = sReq, sAVPs, sFlags, sDrop
	c.SetValue(sr.TransactionKey{}, sTx)
	c.SetValue(branchIdxKey{}, sIdx)
	return dropped
}

// relayReply sends a reply received on branch b upstream: our Via off,
// a final 503 turned into 500 (RFC 3261 §16.7 step 6, remap_503_500),
// the challenges of every 401/407 branch gathered into a 401/407
// (aggregate_challenges).
func (t *Tx) relayReply(b *branch, res *sip.Response) {
	if v := res.Via(); v != nil {
		if br, _ := v.Params.Get("branch"); br == branchValue(t.id, b.idx) {
			res.RemoveHeader("Via")
		}
	}
	if res.Via() == nil {
		t.log.Debug("tm: reply without a Via for upstream dropped", "code", res.StatusCode)
		return
	}
	code := res.StatusCode
	if code == 503 && t.m.Remap503 != 0 {
		res.StatusCode, res.Reason = 500, reasonFor(500)
	}
	if (code == 401 || code == 407) && t.m.AggregateChallenges != 0 {
		t.aggregateChallenges(b, res)
	}
	if t.sendUpstream(res, false) == nil {
		t.m.stats.relayed.Add(1)
	}
}

// aggregateChallenges adds to res the WWW-Authenticate and
// Proxy-Authenticate headers of the other branches' 401/407 replies
// (RFC 3261 §16.7 step 7).
func (t *Tx) aggregateChallenges(b *branch, res *sip.Response) {
	for _, o := range t.branches {
		if o == b || o.reply == nil || !o.final || o.dropped || (o.status != 401 && o.status != 407) {
			continue
		}
		for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
			for _, h := range sipmsg.Headers(o.reply, name) {
				if !hasSameHeader(res, name, h.Value()) {
					res.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
				}
			}
		}
	}
}

func hasSameHeader(m sip.Message, name, value string) bool {
	for _, h := range sipmsg.Headers(m, name) {
		if h.Value() == value {
			return true
		}
	}
	return false
}

// checkAllFinal acts once every branch has a final reply and nothing
// went upstream yet: failure_route if armed, else the best reply goes
// upstream. c lends its script variables to failure_route.
func (t *Tx) checkAllFinal(c *sr.Ctx) {
	if len(t.branches) == 0 || t.pending() > 0 || t.status >= 200 || t.released || t.inFailure || t.dead {
		return
	}
	best := t.pick()
	if t.onFailure != "" {
		route := t.onFailure
		t.onFailure = "" // armed again with t_on_failure for the next round
		if t.runFailure(c, route, best) {
			return
		}
		best = t.pick()
	}
	t.relayBest(best)
}

// runFailure runs failure_route over the transaction's request. It
// reports whether the transaction goes on by itself: a reply was sent
// from the route, or new branches are pending.
func (t *Tx) runFailure(prev *sr.Ctx, route string, best int) bool {
	if t.ruri != "" {
		var u sip.Uri
		if sip.ParseUri(t.ruri, &u) == nil {
			t.req.Recipient = u
		}
	}
	fc := t.newCtx(prev, sr.RouteFailure)
	fc.SetValue(consumedKey{}, ruriMark{t.req.Recipient.String(), ""})
	if best >= 0 {
		b := t.branches[best]
		p := &pick{idx: best, code: b.status, reason: reasonFor(b.status), reply: b.reply}
		if b.reply != nil && !b.fake {
			p.reason = b.reply.Reason
		}
		fc.SetValue(pickKey{}, p)
		fc.SetValue(branchIdxKey{}, best)
	}
	before := len(t.branches)
	t.inFailure = true
	t.dropMode = 0
	t.core.RunRoute(fc, sr.RouteFailure, route)
	t.inFailure = false
	t.flags = fc.Flags
	added := len(t.branches) > before
	if added {
		t.leg++
		switch t.dropMode {
		case 'a':
			for _, b := range t.branches[:before] {
				b.dropped = true
			}
		case 'l':
			for _, b := range t.branches[:before] {
				if b.leg == t.leg-1 {
					b.dropped = true
				}
			}
		}
	}
	t.dropMode = 0
	if t.status >= 200 {
		return true
	}
	return t.pending() > 0
}

// prio orders final replies for the choice of the one that goes upstream
// (RFC 3261 §16.7 step 6, as Kamailio ranks them): 6xx first, then the
// lowest class; within 4xx, 401, 407, 415, 420 and 484 come first. The
// lowest value wins.
func prio(code int) int {
	class, xx := code/100, code%100
	switch class {
	case 6:
		return 1000 + xx
	case 3:
		return 3000 + xx
	case 4:
		switch xx {
		case 1, 7, 15, 20, 84:
			return 4000 + xx
		}
		return 4100 + xx
	case 5:
		return 5000 + xx
	}
	return 32000 + code
}

// pick returns the index of the branch whose final reply goes upstream,
// or -1. With failure_reply_mode other than 0, the replies of earlier
// serial-forking rounds do not count while the newest round has some.
func (t *Tx) pick() int {
	best, bestPrio := -1, 0
	for pass := 0; pass < 2; pass++ {
		for i, b := range t.branches {
			if !b.final || b.abandoned || b.dropped || b.status < 300 {
				continue
			}
			if pass == 0 && t.m.FailureReplyMode != 0 && b.leg != t.leg {
				continue
			}
			if p := prio(b.status); best < 0 || p < bestPrio {
				best, bestPrio = i, p
			}
		}
		if best >= 0 || t.m.FailureReplyMode == 0 {
			break
		}
	}
	return best
}

// relayBest sends the chosen final reply upstream: the branch's reply, or
// a reply generated here when the branch's status was (408, 487); 500
// when there is nothing to choose from.
func (t *Tx) relayBest(idx int) {
	if idx < 0 {
		_ = t.localReply(nil, 500, reasonFor(500))
		return
	}
	b := t.branches[idx]
	if b.reply != nil && !b.fake {
		t.relayReply(b, b.reply)
		return
	}
	_ = t.localReply(nil, b.status, reasonFor(b.status))
}
