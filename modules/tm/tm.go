// Package tm is the tm module: SIP transactions (RFC 3261 §17) under the
// routing script — stateful relaying with parallel and serial forking,
// retransmissions and timers, CANCEL and ACK handling, failure, branch
// and onreply routes — and the Go API other modules (acc, tmx) use.
package tm

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

// TM is the module instance. Its exported fields are the parameters;
// its methods are the Go API other modules use (see api.go).
type TM struct {
	// FrTimer is the time a branch may go without a final reply, in ms
	// (values of 120 or less are seconds, as in 1.x configs).
	FrTimer int `modparam:"fr_timer" min:"1"`
	// FrInvTimer is the time an INVITE branch may go without a final
	// reply once it got a provisional one, in ms (≤ 120: seconds).
	FrInvTimer int `modparam:"fr_inv_timer" min:"1"`
	// WtTimer is how long a completed transaction stays to absorb
	// retransmissions, in ms.
	WtTimer int `modparam:"wt_timer" min:"0"`
	// RetrTimer1 is T1, the first retransmission interval, in ms.
	RetrTimer1 int `modparam:"retr_timer1" min:"1"`
	// RetrTimer2 is T2, the longest retransmission interval, in ms.
	RetrTimer2 int `modparam:"retr_timer2" min:"1"`
	// MaxInvLifetime bounds the time an INVITE transaction may go
	// without a final reply, in ms.
	MaxInvLifetime int `modparam:"max_inv_lifetime" min:"1"`
	// MaxNoninvLifetime is the same for other methods.
	MaxNoninvLifetime int `modparam:"max_noninv_lifetime" min:"1"`
	// RestartFrOnEachReply restarts fr_inv_timer on every provisional reply.
	RestartFrOnEachReply int `modparam:"restart_fr_on_each_reply" min:"0" max:"1"`
	// AutoInv100 makes t_relay answer INVITEs with 100 Trying at once.
	AutoInv100 int `modparam:"auto_inv_100" min:"0" max:"1"`
	// AutoInv100Reason is the reason phrase of that 100.
	AutoInv100Reason string `modparam:"auto_inv_100_reason"`
	// UnmatchedCancel says what t_relay does with a CANCEL without its
	// INVITE transaction: 0 relay it statefully, 1 statelessly, 2 drop it.
	UnmatchedCancel int `modparam:"unmatched_cancel" min:"0" max:"2"`
	// FailureReplyMode says which replies compete for the best one after
	// serial forking: 0 all; 1..3 those of the newest round when it has
	// any.
	FailureReplyMode int `modparam:"failure_reply_mode" min:"0" max:"3"`
	// CancelBMethod says how to cancel a branch that has not answered yet.
	CancelBMethod int `modparam:"cancel_b_method" min:"0" max:"2"`
	// AggregateChallenges gathers the challenges of several 401/407
	// branches into the reply that goes upstream.
	AggregateChallenges int `modparam:"aggregate_challenges" min:"0" max:"1"`
	// Remap503 turns a final 503 relayed upstream into a 500.
	Remap503 int `modparam:"remap_503_500" min:"0" max:"1"`
	// FrTimerAVP and FrInvTimerAVP name AVPs whose values, when set,
	// override fr_timer and fr_inv_timer for a new transaction.
	FrTimerAVP    string `modparam:"fr_timer_avp"`
	FrInvTimerAVP string `modparam:"fr_inv_timer_avp"`
	// MaxTransactions caps the live transactions: above it new requests
	// get 503 with Retry-After.
	MaxTransactions int `modparam:"max_transactions" min:"1"`
	// RetryAfter is the Retry-After of that 503, in seconds.
	RetryAfter int `modparam:"retry_after" min:"0"`
	// TimerWorkers is the number of goroutines that run timeouts, which
	// may run failure_route.
	TimerWorkers int `modparam:"timer_workers" min:"1" max:"256"`

	log  *slog.Logger
	tbl  *table
	wh   *wheel
	core sr.Core

	// Durations derived from the parameters at Init.
	t1, t2, frD, frInvD, wtD, maxInvD, maxNoninvD time.Duration
	secWarn                                       []string

	frAVP, frInvAVP sr.Getter

	idSeq atomic.Uint64
	stats stats

	cbMu sync.Mutex
	cbs  atomic.Pointer[[]func(*Completion)]
}

func newTM() *TM {
	return &TM{
		FrTimer:              30000,
		FrInvTimer:           120000,
		WtTimer:              5000,
		RetrTimer1:           500,
		RetrTimer2:           4000,
		MaxInvLifetime:       180000,
		MaxNoninvLifetime:    32000,
		RestartFrOnEachReply: 1,
		AutoInv100:           1,
		AutoInv100Reason:     "trying -- your call is important to us",
		CancelBMethod:        1,
		AggregateChallenges:  1,
		Remap503:             1,
		MaxTransactions:      100000,
		RetryAfter:           5,
		TimerWorkers:         4,
	}
}

var (
	_ module.ReplyHandler = (*TM)(nil)
	_ module.Initer       = (*TM)(nil)
	_ module.Destroyer    = (*TM)(nil)
	_ module.Configurer   = (*TM)(nil)
	_ sr.Transaction      = (*Tx)(nil)
)

// Configure applies Kamailio's compatibility rule for 1.x configs (timer
// values of 120 or less are seconds) and compiles the timer AVP names.
func (m *TM) Configure(env *module.ConfigEnv) error {
	for _, p := range []struct {
		name string
		v    *int
	}{{"fr_timer", &m.FrTimer}, {"fr_inv_timer", &m.FrInvTimer}} {
		if *p.v <= 120 {
			m.secWarn = append(m.secWarn, fmt.Sprintf("%s=%d is taken as seconds (%d ms)", p.name, *p.v, *p.v*1000))
			*p.v *= 1000
		}
	}
	reg, _ := env.PVs.(*pv.Registry)
	for _, a := range []struct {
		name, text string
		dst        *sr.Getter
	}{{"fr_timer_avp", m.FrTimerAVP, &m.frAVP}, {"fr_inv_timer_avp", m.FrInvTimerAVP, &m.frInvAVP}} {
		if a.text == "" || reg == nil {
			continue
		}
		spec, err := reg.Parse(avpSpec(a.text), pv.MaxCompat)
		if err != nil {
			return fmt.Errorf("%s %q: %w", a.name, a.text, err)
		}
		*a.dst = spec
	}
	return nil
}

// avpSpec accepts the bare forms 1.x configs give timer AVPs in
// ("i:24", "s:fr") besides a full "$avp(...)".
func avpSpec(s string) string {
	if len(s) > 0 && s[0] != '$' {
		return "$avp(" + s + ")"
	}
	return s
}

// Init starts the timer and the transaction table.
func (m *TM) Init(env *module.InitEnv) error {
	m.log = env.Log
	m.core = env.Core
	for _, w := range m.secWarn {
		m.log.Warn("tm: " + w)
	}
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	m.t1, m.t2 = ms(m.RetrTimer1), ms(m.RetrTimer2)
	if m.t2 < m.t1 {
		m.t2 = m.t1
	}
	m.frD, m.frInvD, m.wtD = ms(m.FrTimer), ms(m.FrInvTimer), ms(m.WtTimer)
	m.maxInvD, m.maxNoninvD = ms(m.MaxInvLifetime), ms(m.MaxNoninvLifetime)
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return fmt.Errorf("tm: seeding transaction ids: %w", err)
	}
	m.idSeq.Store(binary.LittleEndian.Uint64(seed[:]) >> 8)
	m.tbl = newTable()
	m.wh = newWheel(m.fire, m.TimerWorkers)
	return nil
}

// Destroy stops the timers and forgets every transaction.
func (m *TM) Destroy() {
	if m.wh != nil {
		m.wh.close()
	}
	if m.tbl != nil {
		for _, tx := range m.tbl.clear() {
			tx.mu.Lock()
			tx.dead = true
			tx.mu.Unlock()
		}
	}
}

// fire runs an expired timer. Light timers never wait for a busy
// transaction: they come back 10 ms later.
func (m *TM) fire(f fired) {
	tx := f.t.tx
	if f.t.kind.heavy() {
		tx.mu.Lock()
	} else if !tx.mu.TryLock() {
		m.wh.retry(f, 10*time.Millisecond)
		return
	}
	defer tx.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("tm: panic in a timer handler", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if tx.dead || !m.wh.valid(f) {
		return
	}
	switch f.t.kind {
	case tRetr:
		tx.retransmit(f.t.br)
	case tFR:
		tx.branchTimeout(f.t.br)
	case tCancelRetr:
		tx.retransmitCancel(f.t.br)
	case tReplyRetr:
		tx.retransmitReply()
	case tWait:
		tx.waitFired()
	case tLife:
		tx.lifetimeExpired()
	}
}

// nextID returns a fresh transaction id.
func (m *TM) nextID() uint64 { return m.idSeq.Add(1) }

// stats are the module's counters.
type stats struct {
	created, freed, waiting, branches, relayed     atomic.Int64
	localReplies                                   atomic.Int64
	rplReceived, statelessACKs, rejected, canceled atomic.Int64
	byClass                                        [7]atomic.Int64
}

func (s *stats) countReply(code int) {
	if c := code / 100; c >= 1 && c <= 6 {
		s.byClass[c].Add(1)
	}
}

// Stats is a snapshot of the module's counters.
type Stats struct {
	// Current is the number of live transactions, Waiting those among
	// them that completed and wait for deletion.
	Current, Waiting int64
	// Total is the number of transactions created since start; Created
	// is the same, Freed those deleted.
	Total, Created, Freed int64
	// Branches counts the branches relayed, Relayed the replies relayed
	// upstream, LocalReplies the replies generated here.
	Branches, Relayed, LocalReplies int64
	// Replied counts the replies sent upstream per class (index 1..6).
	Replied [7]int64
	// Received counts the replies received on branches.
	Received int64
	// Canceled counts the CANCELs that found their INVITE transaction;
	// Rejected the requests refused with 503 at max_transactions;
	// StatelessACKs the ACKs relayed without a transaction.
	Canceled, Rejected, StatelessACKs int64
	// Timers is the number of scheduled timers.
	Timers int
}

// Stats returns the module's counters. It takes no transaction lock, so
// it may be called from anywhere, completion callbacks included.
func (m *TM) Stats() Stats {
	s := Stats{
		Created:       m.stats.created.Load(),
		Freed:         m.stats.freed.Load(),
		Branches:      m.stats.branches.Load(),
		Relayed:       m.stats.relayed.Load(),
		LocalReplies:  m.stats.localReplies.Load(),
		Received:      m.stats.rplReceived.Load(),
		Canceled:      m.stats.canceled.Load(),
		Rejected:      m.stats.rejected.Load(),
		StatelessACKs: m.stats.statelessACKs.Load(),
	}
	s.Total = s.Created
	for i := range s.Replied {
		s.Replied[i] = m.stats.byClass[i].Load()
	}
	s.Waiting = m.stats.waiting.Load()
	if m.tbl != nil {
		s.Current = m.tbl.live.Load()
	}
	if m.wh != nil {
		s.Timers = m.wh.pending()
	}
	return s
}

// rpcStats is the tm.stats control command.
func (m *TM) rpcStats(*rpc.Request) (any, error) {
	s := m.Stats()
	return map[string]any{
		"current":       s.Current,
		"waiting":       s.Waiting,
		"total":         s.Total,
		"created":       s.Created,
		"freed":         s.Freed,
		"branches":      s.Branches,
		"relayed":       s.Relayed,
		"local_replies": s.LocalReplies,
		"rpl_received":  s.Received,
		"1xx":           s.Replied[1],
		"2xx":           s.Replied[2],
		"3xx":           s.Replied[3],
		"4xx":           s.Replied[4],
		"5xx":           s.Replied[5],
		"6xx":           s.Replied[6],
		"canceled":      s.Canceled,
		"rejected_503":  s.Rejected,
		"stateless_ack": s.StatelessACKs,
	}, nil
}
