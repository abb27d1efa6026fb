package tm

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sr"
)

// This file is the Go API of tm for other modules (acc, tmx). A module
// gets the instance in its Init with env.Dep("modules/tm") and asserts it
// to *tm.TM. Functions that take a *sr.Ctx work from any route, including
// the routes tm runs itself while it holds the transaction's lock.

// Completion describes a transaction that ended: its final reply went
// upstream (a CANCELled INVITE ends with its 487).
type Completion struct {
	// Request is the transaction's copy of the request.
	Request *sip.Request
	Method  string
	// Code and Reason are those of the final reply sent upstream.
	Code   int
	Reason string
	// Reply is the relayed reply, nil when tm generated it (Local).
	Reply *sip.Response
	Local bool
	// Flags are the transaction's message flags when it completed, AVPs
	// its attribute list.
	Flags uint32
	AVPs  *sr.AVPList
	// Got2xx says whether some branch answered 2xx; Canceled whether a
	// CANCEL came for it.
	Got2xx, Canceled bool
	// Source says where the request came from.
	Source  sr.RecvInfo
	Created time.Time
}

// OnCompletion registers fn to run once per transaction, when its first
// final reply is sent upstream. fn runs with the transaction locked, on
// whatever goroutine sent the reply: it must be quick and must not call
// tm for the same transaction. Register from Init.
func (m *TM) OnCompletion(fn func(*Completion)) {
	m.cbMu.Lock()
	defer m.cbMu.Unlock()
	var list []func(*Completion)
	if old := m.cbs.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, fn)
	m.cbs.Store(&list)
}

func (m *TM) callbacks() []func(*Completion) {
	if p := m.cbs.Load(); p != nil {
		return *p
	}
	return nil
}

// Transaction returns the transaction of the message of c: the one
// created for it (t_newtran, t_relay), the one a tm route runs for, or in
// a reply route the one the reply belongs to. Nil when there is none.
func (m *TM) Transaction(c *sr.Ctx) *Tx { return m.txFor(c) }

// BranchIndex is $T_branch_idx: the branch being created in
// branch_route, the branch of the reply in onreply_route, the branch of
// the winning reply in failure_route.
func (m *TM) BranchIndex(c *sr.Ctx) (int, bool) {
	i, ok := c.Value(branchIdxKey{}).(int)
	return i, ok
}

// ReplyInfo returns the reply code, reason and message a route sees: the
// reply itself in reply routes, the winning reply in failure_route (msg
// nil when it was generated here, like a 408 on timeout), the last reply
// sent upstream in request routes.
func (m *TM) ReplyInfo(c *sr.Ctx) (code int, reason string, msg *sip.Response, ok bool) {
	if c.Resp != nil {
		return c.Resp.StatusCode, c.Resp.Reason, c.Resp, true
	}
	if pk, _ := c.Value(pickKey{}).(*pick); pk != nil {
		return pk.code, pk.reason, pk.reply, true
	}
	tx := txOf(c)
	if tx == nil {
		return 0, "", nil, false
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if tx.lastReply == nil {
		return 0, "", nil, false
	}
	return tx.lastReply.StatusCode, tx.lastReply.Reason, tx.lastReply, true
}

// WithRequest runs fn with the transaction's request while holding its
// lock ($T_req). It reports false when the message has no transaction.
func (m *TM) WithRequest(c *sr.Ctx, fn func(req *sip.Request, rcv sr.RecvInfo)) bool {
	tx := m.txFor(c)
	if tx == nil {
		return false
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if tx.req == nil {
		return false
	}
	fn(tx.req, tx.rcv)
	return true
}

// WithInvite runs fn with the request of the INVITE transaction a CANCEL
// refers to ($T_inv). It reports false when there is none.
func (m *TM) WithInvite(c *sr.Ctx, fn func(req *sip.Request, rcv sr.RecvInfo)) bool {
	if c.Req == nil || c.Resp != nil || c.Req.Method != sip.CANCEL || m.tbl == nil {
		return false
	}
	inv := m.lookupInvite(c.Req)
	if inv == nil {
		return false
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.dead || inv.req == nil {
		return false
	}
	fn(inv.req, inv.rcv)
	return true
}

// LookupCallID finds a live transaction by Call-ID and CSeq number,
// preferring an INVITE (t_reply_callid). It scans the table without
// locking any transaction, so it is safe from tm's own routes.
func (m *TM) LookupCallID(callID string, cseq uint32) *Tx {
	if m.tbl == nil {
		return nil
	}
	var found *Tx
	m.tbl.each(func(tx *Tx) bool {
		if tx.callID == callID && tx.cseq == cseq && (found == nil || tx.invite) {
			found = tx
		}
		return found == nil || !found.invite
	})
	return found
}

// ParseCSeq reads the number of a CSeq value ("10" or "10 INVITE").
func ParseCSeq(s string) (uint32, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// FlushFlags copies the message flags of c into its transaction
// (t_flush_flags). It reports false when there is no transaction.
func (m *TM) FlushFlags(c *sr.Ctx) bool {
	tx := m.txFor(c)
	if tx == nil {
		return false
	}
	unlock := tx.lockFor(c)
	tx.flags = c.Flags
	unlock()
	return true
}

// CancelBranches cancels pending branches of the transaction of a reply
// (t_cancel_branches): "all", "others" (all but the reply's branch) or
// "this". It returns how many branches it cancelled, -1 without a
// transaction.
func (m *TM) CancelBranches(c *sr.Ctx, which string) int {
	tx := m.txFor(c)
	if tx == nil {
		return -1
	}
	idx, hasIdx := m.BranchIndex(c)
	if !hasIdx && c.Resp != nil {
		_, idx = m.replyTx(c.Resp)
		hasIdx = true
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if !tx.invite {
		return 0
	}
	n := 0
	for _, b := range tx.branches {
		if b.final {
			continue
		}
		switch which {
		case "this":
			if !hasIdx || b.idx != idx {
				continue
			}
		case "others":
			if hasIdx && b.idx == idx {
				continue
			}
		}
		tx.cancelBranch(b)
		n++
	}
	return n
}
