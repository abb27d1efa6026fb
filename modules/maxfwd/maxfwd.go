// Package maxfwd is the maxfwd module: it checks and decrements the
// Max-Forwards header of requests (RFC 3261 §16.6 step 3), so loops end.
package maxfwd

import (
	"strconv"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

type maxfwd struct {
	// MaxLimit caps the value a request may carry: a larger one is
	// lowered to it.
	MaxLimit int `modparam:"max_limit" min:"1" max:"256"`
}

func init() {
	module.Register(module.Spec[*maxfwd]{
		Name:    "maxfwd",
		Tree:    "modules",
		Summary: "Max-Forwards processing",
		New:     func() *maxfwd { return &maxfwd{MaxLimit: 256} },
		Funcs: []module.Func[*maxfwd]{
			{
				Name: "mf_process_maxfwd_header", Args: []int{1}, Routes: sr.RouteRequest,
				Fixup: fixupLimit, Call: (*maxfwd).process,
			},
			// SER's names for the same function.
			{Name: "maxfwd_process", Args: []int{1}, Routes: sr.RouteRequest, Fixup: fixupLimit, Call: (*maxfwd).process},
			{Name: "process_maxfwd", Args: []int{1}, Routes: sr.RouteRequest, Fixup: fixupLimit, Call: (*maxfwd).process},
			{
				Name: "is_maxfwd_lt", Args: []int{1}, Routes: sr.RouteRequest | sr.RouteFailure | sr.RouteBranch,
				Fixup: fixupLimit, Call: (*maxfwd).lessThan,
			},
		},
	})
}

func fixupLimit(_ *maxfwd, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := fx.Int(args[0])
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 255 {
		return nil, fx.Errorf(args[0], "%s: %d is out of range 0..255", fx.Func, n)
	}
	return []any{n}, nil
}

// process implements mf_process_maxfwd_header(n): a missing header is
// added with value n (returns 2); a value above max_limit is lowered to
// it; a positive value is decremented (returns 1); 0 returns -1 so the
// script replies 483; an unparsable value returns -2.
func (m *maxfwd) process(c *sr.Ctx, p []any) int {
	req := c.Req
	if req == nil {
		return -2
	}
	hs := sipmsg.Headers(req, "Max-Forwards")
	if len(hs) == 0 {
		v := p[0].(int)
		if v > m.MaxLimit {
			v = m.MaxLimit
		}
		mf := sip.MaxForwardsHeader(v)
		req.AppendHeader(&mf)
		return 2
	}
	val, err := strconv.Atoi(hs[0].Value())
	if err != nil || val < 0 || val > 255 {
		return -2
	}
	if val == 0 {
		return -1
	}
	if val > m.MaxLimit {
		val = m.MaxLimit
	}
	sipmsg.Remove(req, "Max-Forwards")
	mf := sip.MaxForwardsHeader(val - 1)
	req.AppendHeader(&mf)
	return 1
}

// lessThan implements is_maxfwd_lt(n): true when the header is present
// and its value is below n.
func (m *maxfwd) lessThan(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -2
	}
	h := sipmsg.Header(c.Req, "Max-Forwards")
	if h == nil {
		return -1
	}
	val, err := strconv.Atoi(h.Value())
	if err != nil {
		return -2
	}
	if val < p[0].(int) {
		return 1
	}
	return -1
}
