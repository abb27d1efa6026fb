// Package tmx is the tmx module of the Kamailio tree: extra transaction
// functions and the $T_* pseudo-variables, on top of tm's Go API.
package tmx

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
	"sip-router.org/modules/tm"
)

type tmx struct {
	tm  *tm.TM
	reg *pv.Registry
	pre *pretran
}

func init() {
	module.Register(module.Spec[*tmx]{
		Name:    "tmx",
		Tree:    "modules_k",
		Deps:    []string{"modules/tm"},
		Summary: "Transaction extensions: pre-transaction check, reply by Call-ID, $T_* variables",
		New:     func() *tmx { return &tmx{} },
		Funcs: []module.Func[*tmx]{
			{Name: "t_precheck_trans", Routes: sr.RouteRequest, Call: (*tmx).precheck},
			{Name: "t_reply_callid", Args: []int{4}, Routes: sr.RouteRequest | sr.RouteFailure | sr.RouteOnReply | sr.RouteBranch, Fixup: fixupReplyCallID, Call: (*tmx).replyCallID},
			{Name: "t_flush_flags", Routes: sr.RouteRequest | sr.RouteBranch, Call: (*tmx).flushFlags},
			{Name: "t_cancel_branches", Args: []int{1}, Routes: sr.RouteOnReply, Fixup: fixupWhich, Call: (*tmx).cancelBranches},
			{Name: "t_is_failure_route", Routes: sr.RouteAny, Call: routeIs(sr.RouteFailure)},
			{Name: "t_is_branch_route", Routes: sr.RouteAny, Call: routeIs(sr.RouteBranch)},
			{Name: "t_is_reply_route", Routes: sr.RouteAny, Call: routeIs(sr.RouteOnReply)},
			{Name: "t_is_request_route", Routes: sr.RouteAny, Call: routeIs(sr.RouteRequest)},
		},
		PVs: []module.PV[*tmx]{
			{Name: "T_branch_idx", Get: (*tmx).branchIdx},
			{Name: "T_reply_code", Get: (*tmx).replyCode},
			{Name: "T_reply_reason", Get: (*tmx).replyReason},
			{Name: "T_req", Inner: true, Parse: (*tmx).parseInner, Get: (*tmx).getReq},
			{Name: "T_rpl", Inner: true, Parse: (*tmx).parseInner, Get: (*tmx).getRpl},
			{Name: "T_inv", Inner: true, Parse: (*tmx).parseInner, Get: (*tmx).getInv},
		},
	})
}

var (
	_ module.Configurer = (*tmx)(nil)
	_ module.Initer     = (*tmx)(nil)
)

// Configure keeps the pseudo-variable registry for $T_req(...) and friends.
func (m *tmx) Configure(env *module.ConfigEnv) error {
	m.reg, _ = env.PVs.(*pv.Registry)
	return nil
}

// Init binds tm.
func (m *tmx) Init(env *module.InitEnv) error {
	dep, err := env.Dep("modules/tm")
	if err != nil {
		return err
	}
	t, ok := dep.(*tm.TM)
	if !ok {
		return fmt.Errorf("tmx: modules/tm is a %T, not *tm.TM", dep)
	}
	m.tm = t
	m.pre = newPretran(pretranLifetime, pretranMax)
	return nil
}

// The pre-transaction set: a request is marked for pretranLifetime. It is
// shorter than T1, so a client's real retransmission (T1 = 500 ms later
// at the earliest) is never taken for a copy being processed.
const (
	pretranLifetime = 250 * time.Millisecond
	pretranMax      = 65536
)

type pretranEntry struct {
	owner *sr.Ctx
	at    time.Time
}

// pretran is the set of requests being processed, keyed as Kamailio's
// tmx keys it: Call-ID, CSeq number and method, From tag, top Via branch.
type pretran struct {
	mu    sync.Mutex
	m     map[string]pretranEntry
	order []string // insertion order, for expiry
	life  time.Duration
	max   int
	now   func() time.Time
}

func newPretran(life time.Duration, max int) *pretran {
	return &pretran{m: make(map[string]pretranEntry), life: life, max: max, now: time.Now}
}

// check marks the request of c and reports whether another message with
// the same key is being processed (marked less than life ago).
func (p *pretran) check(key string, c *sr.Ctx) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// Forget expired marks, oldest first, and the oldest beyond max.
	for len(p.order) > 0 {
		k := p.order[0]
		e, ok := p.m[k]
		if ok && now.Sub(e.at) < p.life && len(p.order) <= p.max {
			break
		}
		delete(p.m, k)
		p.order = p.order[1:]
	}
	if e, ok := p.m[key]; ok && e.owner != c && now.Sub(e.at) < p.life {
		return true
	}
	if _, ok := p.m[key]; !ok {
		p.order = append(p.order, key)
	}
	p.m[key] = pretranEntry{owner: c, at: now}
	return false
}

func pretranKey(req *sip.Request) (string, bool) {
	callID, cseq, via := req.CallID(), req.CSeq(), req.Via()
	if callID == nil || cseq == nil || via == nil {
		return "", false
	}
	var fromTag string
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	branch, _ := via.Params.Get("branch")
	return string(*callID) + "\x00" + strconv.FormatUint(uint64(cseq.SeqNo), 10) + "\x00" +
		string(req.Method) + "\x00" + fromTag + "\x00" + branch, true
}

// precheck is t_precheck_trans(): true when a copy of this request is
// being processed right now. ACK and CANCEL are never reported.
func (m *tmx) precheck(c *sr.Ctx, _ []any) int {
	req := c.Req
	if req == nil || c.Resp != nil || req.Method == sip.ACK || req.Method == sip.CANCEL {
		return -1
	}
	key, ok := pretranKey(req)
	if !ok {
		return -1
	}
	if m.pre.check(key, c) {
		return 1
	}
	return -1
}

// intArg is a number or a variable holding one.
type intArg struct {
	n int
	g sr.Getter
}

func fixupReplyCallID(_ *tmx, fx *module.Fixup, args []module.Arg) ([]any, error) {
	callID, err := fx.TextFormat(args[0])
	if err != nil {
		return nil, err
	}
	cseq, err := fx.TextFormat(args[1])
	if err != nil {
		return nil, err
	}
	var code intArg
	if args[2].Kind == module.ArgPV {
		if code.g, err = fx.Getter(args[2]); err != nil {
			return nil, err
		}
	} else {
		if code.n, err = fx.Int(args[2]); err != nil {
			return nil, err
		}
		if code.n < 100 || code.n > 699 {
			return nil, fx.Errorf(args[2], "%s: reply code %d is out of range 100..699", fx.Func, code.n)
		}
	}
	reason, err := fx.TextFormat(args[3])
	if err != nil {
		return nil, err
	}
	return []any{callID, cseq, code, reason}, nil
}

// replyCallID is t_reply_callid(callid, cseq, code, reason): a stateful
// reply to another transaction, found by Call-ID and CSeq number.
func (m *tmx) replyCallID(c *sr.Ctx, p []any) int {
	callID := p[0].(sr.Format).Expand(c)
	seq, ok := tm.ParseCSeq(p[1].(sr.Format).Expand(c))
	if !ok {
		c.Log.Error("t_reply_callid: bad CSeq number")
		return -1
	}
	ca := p[2].(intArg)
	code := ca.n
	if ca.g != nil {
		if code, ok = ca.g.Get(c).AsInt(); !ok {
			return -1
		}
	}
	tx := m.tm.LookupCallID(callID, seq)
	if tx == nil {
		return -1
	}
	if err := tx.Reply(c, code, p[3].(sr.Format).Expand(c)); err != nil {
		c.Log.Error("t_reply_callid failed", "error", err)
		return -1
	}
	return 1
}

func (m *tmx) flushFlags(c *sr.Ctx, _ []any) int {
	if m.tm.FlushFlags(c) {
		return 1
	}
	return -1
}

func fixupWhich(_ *tmx, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	switch s {
	case "all", "others", "this":
		return []any{s}, nil
	}
	return nil, fx.Errorf(args[0], "%s: expected all, others or this, not %q", fx.Func, s)
}

// cancelBranches is t_cancel_branches(which) in an onreply_route.
func (m *tmx) cancelBranches(c *sr.Ctx, p []any) int {
	if n := m.tm.CancelBranches(c, p[0].(string)); n >= 0 {
		return 1
	}
	return -1
}

func routeIs(t sr.RouteType) func(*tmx, *sr.Ctx, []any) int {
	return func(_ *tmx, c *sr.Ctx, _ []any) int {
		if c.RouteType == t {
			return 1
		}
		return -1
	}
}

func (m *tmx) branchIdx(c *sr.Ctx, _ any) sr.Value {
	if i, ok := m.tm.BranchIndex(c); ok {
		return sr.IntVal(i)
	}
	return sr.IntVal(0)
}

func (m *tmx) replyCode(c *sr.Ctx, _ any) sr.Value {
	if code, _, _, ok := m.tm.ReplyInfo(c); ok {
		return sr.IntVal(code)
	}
	return sr.IntVal(0)
}

func (m *tmx) replyReason(c *sr.Ctx, _ any) sr.Value {
	if _, reason, _, ok := m.tm.ReplyInfo(c); ok {
		return sr.StrVal(reason)
	}
	return sr.NullVal
}

var errNoRegistry = errors.New("the pseudo-variable registry is not available")

// parseInner compiles the variable inside $T_req(...), $T_rpl(...),
// $T_inv(...).
func (m *tmx) parseInner(inner string) (any, error) {
	if m.reg == nil {
		return nil, errNoRegistry
	}
	spec, err := m.reg.Parse(inner, pv.MaxCompat)
	if err != nil {
		return nil, fmt.Errorf("inner variable %q: %w", inner, err)
	}
	return spec, nil
}

// view is a context for reading another message of the transaction.
func view(c *sr.Ctx, req *sip.Request, res *sip.Response, rcv sr.RecvInfo) *sr.Ctx {
	return &sr.Ctx{Req: req, Resp: res, Rcv: rcv, Log: c.Log, Core: c.Core, Q: sr.QUnset,
		AVPs: c.AVPs, Vars: c.Vars, Flags: c.Flags, RouteType: c.RouteType, RC: 1}
}

func (m *tmx) getReq(c *sr.Ctx, name any) sr.Value {
	v := sr.NullVal
	m.tm.WithRequest(c, func(req *sip.Request, rcv sr.RecvInfo) {
		v = name.(sr.Getter).Get(view(c, req, nil, rcv))
	})
	return v
}

func (m *tmx) getInv(c *sr.Ctx, name any) sr.Value {
	v := sr.NullVal
	m.tm.WithInvite(c, func(req *sip.Request, rcv sr.RecvInfo) {
		v = name.(sr.Getter).Get(view(c, req, nil, rcv))
	})
	return v
}

func (m *tmx) getRpl(c *sr.Ctx, name any) sr.Value {
	_, _, res, ok := m.tm.ReplyInfo(c)
	if !ok || res == nil {
		return sr.NullVal
	}
	return name.(sr.Getter).Get(view(c, nil, res, c.Rcv))
}
