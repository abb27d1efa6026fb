package tm

import (
	"regexp"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// Route masks, as Kamailio 3.0 declares them.
const (
	rtReqFail = sr.RouteRequest | sr.RouteFailure
	rtTM      = sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure | sr.RouteBranch
	rtArm     = rtTM
)

func init() {
	module.Register(module.Spec[*TM]{
		Name:    "tm",
		Tree:    "modules",
		Summary: "SIP transactions: stateful relaying, forking, failure routes",
		New:     newTM,
		Funcs: []module.Func[*TM]{
			{Name: "t_relay", Args: []int{0, 1, 2}, Routes: rtReqFail, Fixup: fixupRelay(""), Call: (*TM).fRelay},
			{Name: "t_relay_to_udp", Args: []int{0, 2}, Routes: rtReqFail, Fixup: fixupRelay(sr.ProtoUDP), Call: (*TM).fRelay},
			{Name: "t_relay_to_tcp", Args: []int{0, 2}, Routes: rtReqFail, Fixup: fixupRelay(sr.ProtoTCP), Call: (*TM).fRelay},
			{Name: "t_relay_to_tls", Args: []int{0, 2}, Routes: rtReqFail, Fixup: fixupRelay(sr.ProtoTLS), Call: (*TM).fRelay},
			{Name: "t_relay_to", Args: []int{0, 1, 2}, Routes: rtReqFail, Fixup: fixupRelay(""), Call: (*TM).fRelay},
			{Name: "t_relay_cancel", Routes: sr.RouteRequest, Call: (*TM).fRelayCancel},
			{Name: "t_newtran", Routes: sr.RouteRequest, Call: func(m *TM, c *sr.Ctx, _ []any) int { return m.newtran(c) }},
			{Name: "t_check_trans", Routes: sr.RouteRequest | sr.RouteOnReply | sr.RouteBranch, Call: func(m *TM, c *sr.Ctx, _ []any) int { return m.checkTrans(c) }},
			{Name: "t_lookup_request", Routes: sr.RouteRequest, Call: func(m *TM, c *sr.Ctx, _ []any) int { return m.lookupRequest(c) }},
			{Name: "t_lookup_cancel", Args: []int{0, 1}, Routes: sr.RouteRequest, Fixup: fixupOptInt, Call: (*TM).fLookupCancel},
			{Name: "t_reply", Args: []int{2}, Routes: sr.RouteRequest | sr.RouteFailure | sr.RouteOnReply, Fixup: fixupReply, Call: (*TM).fReply},
			{Name: "t_release", Routes: sr.RouteRequest, Call: (*TM).fRelease},
			{Name: "t_on_failure", Args: []int{1}, Routes: rtArm, Fixup: fixupRoute(sr.RouteFailure), Call: (*TM).fOnFailure},
			{Name: "t_on_reply", Args: []int{1}, Routes: rtArm, Fixup: fixupRoute(sr.RouteOnReply), Call: (*TM).fOnReply},
			{Name: "t_on_branch", Args: []int{1}, Routes: rtReqFail, Fixup: fixupRoute(sr.RouteBranch), Call: (*TM).fOnBranch},
			{Name: "t_check_status", Args: []int{1}, Routes: sr.RouteRequest | sr.RouteFailure | sr.RouteOnReply, Fixup: fixupStatusRe, Call: (*TM).fCheckStatus},
			{Name: "t_set_fr", Args: []int{1, 2}, Routes: rtTM, Fixup: fixupTimes, Call: (*TM).fSetFr},
			{Name: "t_reset_fr", Routes: rtTM, Call: (*TM).fResetFr},
			{Name: "t_branch_timeout", Routes: sr.RouteFailure, Call: func(m *TM, c *sr.Ctx, _ []any) int {
				return m.pickedBranch(c, func(b *branch) bool { return b.timedOut })
			}},
			{Name: "t_branch_replied", Routes: sr.RouteFailure, Call: func(m *TM, c *sr.Ctx, _ []any) int {
				return m.pickedBranch(c, func(b *branch) bool { return b.replied })
			}},
			{Name: "t_any_timeout", Routes: rtTM, Call: func(m *TM, c *sr.Ctx, _ []any) int { return m.anyBranch(c, func(b *branch) bool { return b.timedOut }) }},
			{Name: "t_any_replied", Routes: rtTM, Call: func(m *TM, c *sr.Ctx, _ []any) int { return m.anyBranch(c, func(b *branch) bool { return b.replied }) }},
			{Name: "t_is_canceled", Routes: rtTM, Call: (*TM).fIsCanceled},
			{Name: "t_is_expired", Routes: rtTM, Call: (*TM).fIsExpired},
			{Name: "t_drop_replies", Args: []int{0, 1}, Routes: sr.RouteFailure, Fixup: fixupDropMode, Call: (*TM).fDropReplies},
			{Name: "t_is_set", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixupIsSet, Call: (*TM).fIsSet},
		},
		RPCs: []module.RPC[*TM]{
			{Name: "tm.stats", Doc: "Transaction counters: current, waiting, total, replies by class, relayed, local replies.", Call: (*TM).rpcStats},
		},
	})
}

// fixupRelay prepares the destination of the t_relay family: none,
// "proto:host:port", (host, port), or for t_relay_to (address, flags).
// proto is the transport the function name forces.
func fixupRelay(proto string) func(*TM, *module.Fixup, []module.Arg) ([]any, error) {
	return func(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
		p := relayParams{proto: proto}
		addr := func(a module.Arg) error {
			s, err := fx.Str(a)
			if err != nil {
				return err
			}
			pr, host, port, err := parseHostPort(s)
			if err != nil {
				return fx.Errorf(a, "%s: %v", fx.Func, err)
			}
			if proto != "" && pr != "" && pr != proto {
				return fx.Errorf(a, "%s: the address names transport %s", fx.Func, pr)
			}
			if pr != "" {
				p.proto = pr
			}
			p.uri = destURI(p.proto, host, port)
			return nil
		}
		switch {
		case len(args) == 1 && args[0].Kind == module.ArgInt && fx.Func == "t_relay_to":
			p.no100 = args[0].I&1 != 0
		case len(args) == 1:
			if err := addr(args[0]); err != nil {
				return nil, err
			}
		case len(args) == 2 && fx.Func == "t_relay_to":
			if err := addr(args[0]); err != nil {
				return nil, err
			}
			flags, err := fx.Int(args[1])
			if err != nil {
				return nil, err
			}
			p.no100 = flags&1 != 0
		case len(args) == 2:
			host, err := fx.Str(args[0])
			if err != nil {
				return nil, err
			}
			port, err := fx.Int(args[1])
			if err != nil {
				return nil, err
			}
			if port < 0 || port > 65535 {
				return nil, fx.Errorf(args[1], "%s: bad port %d", fx.Func, port)
			}
			_, h, _, err := parseHostPort(host)
			if err != nil {
				return nil, fx.Errorf(args[0], "%s: %v", fx.Func, err)
			}
			p.uri = destURI(p.proto, h, port)
		}
		return []any{p}, nil
	}
}

func (m *TM) fRelay(c *sr.Ctx, p []any) int {
	var rp relayParams
	if len(p) > 0 {
		rp, _ = p[0].(relayParams)
	}
	return m.relay(c, rp)
}

func (m *TM) fRelayCancel(c *sr.Ctx, _ []any) int {
	if c.Req == nil || c.Req.Method != sip.CANCEL {
		return 1
	}
	ret, found := m.cancelInvite(c)
	if !found {
		return 1
	}
	if ret < 0 {
		return -1
	}
	return 0
}

// txFor is the transaction a function works on: the one attached to the
// message, or in the unnamed onreply_route the one the reply belongs to.
func (m *TM) txFor(c *sr.Ctx) *Tx {
	if t := txOf(c); t != nil {
		return t
	}
	if c.Resp != nil && m.tbl != nil {
		t, _ := m.replyTx(c.Resp)
		return t
	}
	return nil
}

func fixupOptInt(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if len(args) == 0 {
		return []any{0}, nil
	}
	n, err := fx.Int(args[0])
	if err != nil {
		return nil, err
	}
	return []any{n}, nil
}

func (m *TM) fLookupCancel(c *sr.Ctx, p []any) int {
	if c.Req == nil || c.Req.Method != sip.CANCEL {
		return -1
	}
	inv := m.lookupInvite(c.Req)
	if inv == nil {
		return -1
	}
	if len(p) > 0 && p[0].(int) != 0 {
		inv.mu.Lock()
		c.Flags = inv.flags
		inv.mu.Unlock()
	}
	return 1
}

// intArg is an argument that is a constant number or a variable.
type intArg struct {
	n int
	g sr.Getter
}

func (a intArg) value(c *sr.Ctx) (int, bool) {
	if a.g == nil {
		return a.n, true
	}
	return a.g.Get(c).AsInt()
}

func fixIntArg(fx *module.Fixup, a module.Arg) (intArg, error) {
	if a.Kind == module.ArgPV || (a.Kind == module.ArgStr && len(a.S) > 0 && (a.S[0] == '$' || a.S[0] == '@')) {
		g, err := fx.Getter(a)
		if err != nil {
			return intArg{}, err
		}
		return intArg{g: g}, nil
	}
	n, err := fx.Int(a)
	if err != nil {
		return intArg{}, err
	}
	return intArg{n: n}, nil
}

func fixupReply(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
	code, err := fixIntArg(fx, args[0])
	if err != nil {
		return nil, err
	}
	if code.g == nil && (code.n < 100 || code.n > 699) {
		return nil, fx.Errorf(args[0], "%s: reply code %d is out of range 100..699", fx.Func, code.n)
	}
	reason, err := fx.TextFormat(args[1])
	if err != nil {
		return nil, err
	}
	return []any{code, reason}, nil
}

func (m *TM) fReply(c *sr.Ctx, p []any) int {
	code, ok := p[0].(intArg).value(c)
	if !ok || code < 100 || code > 699 {
		c.Log.Error("t_reply: bad reply code")
		return -1
	}
	reason := p[1].(sr.Format).Expand(c)
	if c.Resp == nil && c.Req != nil && c.Req.Method == sip.ACK {
		return -1
	}
	tx := m.txFor(c)
	if tx == nil {
		c.Log.Error("t_reply: the message has no transaction (call t_newtran first)")
		return -1
	}
	if err := tx.Reply(c, code, reason); err != nil {
		c.Log.Error("t_reply failed", "code", code, "error", err)
		return -1
	}
	return 1
}

func (m *TM) fRelease(c *sr.Ctx, _ []any) int {
	tx := txOf(c)
	if tx == nil {
		return 1
	}
	unlock := tx.lockFor(c)
	tx.release()
	unlock()
	c.SetValue(sr.TransactionKey{}, nil)
	return 1
}

// fixupRoute checks the route name of t_on_*; "" and "0" disarm.
func fixupRoute(t sr.RouteType) func(*TM, *module.Fixup, []module.Arg) ([]any, error) {
	return func(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
		s, err := fx.Str(args[0])
		if err != nil {
			return nil, err
		}
		if s == "" || s == "0" {
			return []any{""}, nil
		}
		name, err := fx.RouteName(args[0], t)
		if err != nil {
			return nil, err
		}
		return []any{name}, nil
	}
}

func (m *TM) arm(c *sr.Ctx, name string, set func(a *armed), setTx func(t *Tx)) int {
	set(armedOf(c))
	if tx := m.txFor(c); tx != nil {
		unlock := tx.lockFor(c)
		setTx(tx)
		unlock()
	}
	return 1
}

func (m *TM) fOnFailure(c *sr.Ctx, p []any) int {
	n := p[0].(string)
	return m.arm(c, n, func(a *armed) { a.failure, a.setFailure = n, true }, func(t *Tx) { t.onFailure = n })
}

func (m *TM) fOnReply(c *sr.Ctx, p []any) int {
	n := p[0].(string)
	return m.arm(c, n, func(a *armed) { a.reply, a.setReply = n, true }, func(t *Tx) { t.onReply = n })
}

func (m *TM) fOnBranch(c *sr.Ctx, p []any) int {
	n := p[0].(string)
	return m.arm(c, n, func(a *armed) { a.branch, a.setBranch = n, true }, func(t *Tx) { t.onBranch = n })
}

// statusRe is the argument of t_check_status: a compiled expression, or
// a variable holding one.
type statusRe struct {
	re *regexp.Regexp
	f  sr.Format
}

func fixupStatusRe(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
	a := args[0]
	if a.Kind == module.ArgPV {
		f, err := fx.Format(a)
		if err != nil {
			return nil, err
		}
		return []any{statusRe{f: f}}, nil
	}
	re, err := fx.Regex(a, true)
	if err != nil {
		return nil, err
	}
	return []any{statusRe{re: re}}, nil
}

// statusFor is the status t_check_status looks at: the reply being
// processed in reply routes, the winning reply in failure_route, the last
// reply sent upstream in request routes.
func (m *TM) statusFor(c *sr.Ctx) (int, bool) {
	if c.Resp != nil {
		return c.Resp.StatusCode, true
	}
	if pk, _ := c.Value(pickKey{}).(*pick); pk != nil {
		return pk.code, true
	}
	tx := txOf(c)
	if tx == nil {
		return 0, false
	}
	unlock := tx.lockFor(c)
	defer unlock()
	return tx.status, true
}

func (m *TM) fCheckStatus(c *sr.Ctx, p []any) int {
	code, ok := m.statusFor(c)
	if !ok {
		return -1
	}
	sre := p[0].(statusRe)
	re := sre.re
	if re == nil {
		var err error
		if re, err = regexp.Compile("(?i)" + sre.f.Expand(c)); err != nil {
			c.Log.Error("t_check_status: bad regular expression", "error", err)
			return -1
		}
	}
	if re.MatchString(strconv.Itoa(code)) {
		return 1
	}
	return -1
}

func fixupTimes(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		v, err := fixIntArg(fx, a)
		if err != nil {
			return nil, err
		}
		if v.g == nil && v.n < 0 {
			return nil, fx.Errorf(a, "%s: negative timer value %d", fx.Func, v.n)
		}
		out[i] = v
	}
	return out, nil
}

// fSetFr is t_set_fr(fr_inv[, fr]): timers in ms for the transaction of
// the message; 0 means the module's value.
func (m *TM) fSetFr(c *sr.Ctx, p []any) int {
	v, _ := c.Value(frKey{}).(frValues)
	inv, ok := p[0].(intArg).value(c)
	if !ok || inv < 0 {
		return -1
	}
	v.frInv = time.Duration(inv) * time.Millisecond
	if len(p) > 1 {
		fr, ok := p[1].(intArg).value(c)
		if !ok || fr < 0 {
			return -1
		}
		v.fr = time.Duration(fr) * time.Millisecond
	}
	return m.setFr(c, v)
}

func (m *TM) fResetFr(c *sr.Ctx, _ []any) int { return m.setFr(c, frValues{}) }

func (m *TM) setFr(c *sr.Ctx, v frValues) int {
	c.SetValue(frKey{}, v)
	if tx := m.txFor(c); tx != nil {
		unlock := tx.lockFor(c)
		tx.fr, tx.frInv = v.fr, v.frInv
		unlock()
	}
	return 1
}

// pickedBranch tests the branch whose reply failure_route is about.
func (m *TM) pickedBranch(c *sr.Ctx, test func(b *branch) bool) int {
	tx := txOf(c)
	pk, _ := c.Value(pickKey{}).(*pick)
	if tx == nil || pk == nil {
		return -1
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if pk.idx >= 0 && pk.idx < len(tx.branches) && test(tx.branches[pk.idx]) {
		return 1
	}
	return -1
}

// anyBranch tests whether some branch passes.
func (m *TM) anyBranch(c *sr.Ctx, test func(b *branch) bool) int {
	tx := m.txFor(c)
	if tx == nil {
		return -1
	}
	unlock := tx.lockFor(c)
	defer unlock()
	for _, b := range tx.branches {
		if test(b) {
			return 1
		}
	}
	return -1
}

func (m *TM) fIsCanceled(c *sr.Ctx, _ []any) int {
	tx := m.txFor(c)
	if tx == nil {
		return -1
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if tx.canceled {
		return 1
	}
	return -1
}

func (m *TM) fIsExpired(c *sr.Ctx, _ []any) int {
	tx := m.txFor(c)
	if tx == nil {
		return -1
	}
	if time.Since(tx.created) > tx.lifetime() {
		return 1
	}
	return -1
}

func fixupDropMode(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if len(args) == 0 {
		return []any{byte('a')}, nil
	}
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	switch s {
	case "a", "l", "n":
		return []any{s[0]}, nil
	}
	return nil, fx.Errorf(args[0], "%s: mode must be \"a\", \"l\" or \"n\", not %q", fx.Func, s)
}

func (m *TM) fDropReplies(c *sr.Ctx, p []any) int {
	tx := txOf(c)
	if tx == nil {
		return -1
	}
	unlock := tx.lockFor(c)
	defer unlock()
	if mode := p[0].(byte); mode != 'n' {
		tx.dropMode = mode
	} else {
		tx.dropMode = 0
	}
	return 1
}

func fixupIsSet(_ *TM, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	switch s {
	case "failure_route", "onreply_route", "branch_route":
		return []any{s}, nil
	}
	return nil, fx.Errorf(args[0], "%s: expected failure_route, onreply_route or branch_route, not %q", fx.Func, s)
}

// fIsSet is t_is_set(target): whether a route of that kind is armed.
func (m *TM) fIsSet(c *sr.Ctx, p []any) int {
	var name string
	if tx := m.txFor(c); tx != nil {
		unlock := tx.lockFor(c)
		switch p[0].(string) {
		case "failure_route":
			name = tx.onFailure
		case "onreply_route":
			name = tx.onReply
		default:
			name = tx.onBranch
		}
		unlock()
	} else if a, _ := c.Value(armedKey{}).(*armed); a != nil {
		switch p[0].(string) {
		case "failure_route":
			name = a.failure
		case "onreply_route":
			name = a.reply
		default:
			name = a.branch
		}
	}
	if name != "" {
		return 1
	}
	return -1
}
