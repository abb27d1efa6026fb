// Package kex is Kamailio's kex module: the script functions that the SER
// core of sip-router does not have — branch flags, script flags, the
// destination URI, pv_printf and km_append_branch.
package kex

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

type kex struct{}

type fn = module.Func[*kex]

const rtReqFail = sr.RouteRequest | sr.RouteFailure

func init() {
	module.Register(module.Spec[*kex]{
		Name:    "kex",
		Tree:    "modules_k",
		Summary: "Kamailio core extensions: branch and script flags, destination URI, pv_printf",
		New:     func() *kex { return &kex{} },
		Funcs: []fn{
			{Name: "setsflag", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFlags, Call: sflag(opSet)},
			{Name: "resetsflag", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFlags, Call: sflag(opReset)},
			{Name: "issflagset", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFlags, Call: sflag(opIs)},
			{Name: "setbflag", Args: []int{1, 2}, Routes: sr.RouteAny, Fixup: fixFlags, Call: bflag(opSet)},
			{Name: "resetbflag", Args: []int{1, 2}, Routes: sr.RouteAny, Fixup: fixFlags, Call: bflag(opReset)},
			{Name: "isbflagset", Args: []int{1, 2}, Routes: sr.RouteAny, Fixup: fixFlags, Call: bflag(opIs)},
			{Name: "km_append_branch", Args: []int{0, 1, 2}, Routes: rtReqFail, Fixup: fixAppendBranch, Call: (*kex).appendBranch},
			{Name: "setdsturi", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFormat, Call: (*kex).setDstURI},
			{Name: "resetdsturi", Routes: sr.RouteAny, Call: (*kex).resetDstURI},
			{Name: "isdsturiset", Routes: sr.RouteAny, Call: (*kex).isDstURISet},
			{Name: "pv_printf", Args: []int{2}, Routes: sr.RouteAny, Fixup: fixPrintf, Call: (*kex).pvPrintf},
			{Name: "avp_printf", Args: []int{2}, Routes: sr.RouteAny, Fixup: fixPrintf, Call: (*kex).pvPrintf},
			{Name: "is_myself", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFormat, Call: (*kex).isMyself},
		},
	})
}

// intArg is a number fixed at load time or read from a pseudo-variable per
// message, as Kamailio's "igp" fixups take flags and branch indexes.
type intArg struct {
	n   int
	get sr.Getter
}

func (a intArg) value(c *sr.Ctx) (int, bool) {
	if a.get == nil {
		return a.n, true
	}
	return a.get.Get(c).AsInt()
}

func isPV(a module.Arg) bool {
	return a.Kind == module.ArgPV || strings.HasPrefix(strings.TrimSpace(a.S), "$")
}

// fixFlags reads a flag (0..31, a string holding it, a #!define that
// expands to it, a SER flag name, or a pseudo-variable) and an optional
// branch index (0 is the Request-URI branch).
func fixFlags(_ *kex, fx *module.Fixup, args []module.Arg) ([]any, error) {
	p := make([]any, len(args))
	for i, a := range args {
		if isPV(a) {
			g, err := fx.Getter(a)
			if err != nil {
				return nil, err
			}
			p[i] = intArg{get: g}
			continue
		}
		var n int
		var err error
		if i == 0 {
			n, err = fx.Flag(a)
		} else {
			n, err = fx.Int(a)
			if err == nil && n < 0 {
				err = fx.Errorf(a, "%s: branch index %d is negative", fx.Func, n)
			}
		}
		if err != nil {
			return nil, err
		}
		p[i] = intArg{n: n}
	}
	return p, nil
}

type op int

const (
	opSet op = iota
	opReset
	opIs
)

// apply runs a flag operation on a flag word.
func apply(flags *uint32, f int, o op) int {
	bit := uint32(1) << uint(f)
	switch o {
	case opSet:
		*flags |= bit
	case opReset:
		*flags &^= bit
	default:
		if *flags&bit == 0 {
			return -1
		}
	}
	return 1
}

func flagOf(c *sr.Ctx, a any) (int, bool) {
	f, ok := a.(intArg).value(c)
	if !ok || f < 0 || f > 31 {
		logf(c, slog.LevelError, "flag value out of range 0..31 or not a number")
		return 0, false
	}
	return f, true
}

func sflag(o op) func(*kex, *sr.Ctx, []any) int {
	return func(_ *kex, c *sr.Ctx, p []any) int {
		f, ok := flagOf(c, p[0])
		if !ok {
			return -1
		}
		return apply(&c.ScriptFlags, f, o)
	}
}

// branchFlags returns the flags of branch idx: 0 is the Request-URI branch,
// n is the n-th branch added (append_branch, lookup).
func branchFlags(c *sr.Ctx, idx int) *uint32 {
	switch {
	case idx == 0:
		return &c.BranchFlags
	case idx > 0 && idx <= len(c.Branches):
		return &c.Branches[idx-1].Flags
	}
	return nil
}

func bflag(o op) func(*kex, *sr.Ctx, []any) int {
	return func(_ *kex, c *sr.Ctx, p []any) int {
		f, ok := flagOf(c, p[0])
		if !ok {
			return -1
		}
		idx := 0
		if len(p) == 2 {
			if idx, ok = p[1].(intArg).value(c); !ok || idx < 0 {
				logf(c, slog.LevelError, "branch index is not a number or is negative")
				return -1
			}
		}
		flags := branchFlags(c, idx)
		if flags == nil {
			return -1
		}
		return apply(flags, f, o)
	}
}

func fixFormat(_ *kex, fx *module.Fixup, args []module.Arg) ([]any, error) {
	f, err := fx.Format(args[0])
	if err != nil {
		return nil, err
	}
	return []any{f}, nil
}

// parseQ reads a q value (0 to 1) into thousandths.
func parseQ(s string) (int, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v > 1 {
		return 0, false
	}
	return int(v*1000 + 0.5), true
}

func fixAppendBranch(_ *kex, fx *module.Fixup, args []module.Arg) ([]any, error) {
	p := []any{nil, sr.QUnset}
	if len(args) >= 1 {
		f, err := fx.Format(args[0])
		if err != nil {
			return nil, err
		}
		p[0] = f
	}
	if len(args) == 2 {
		q, ok := parseQ(args[1].S)
		if !ok {
			return nil, fx.Errorf(args[1], "%s: q must be between 0 and 1, not %s", fx.Func, args[1].S)
		}
		p[1] = q
	}
	return p, nil
}

// appendBranch is km_append_branch([uri[, q]]): without a URI the
// Request-URI branch (with its destination URI, path, flags and forced
// socket) becomes a new branch and those are reset, as Kamailio does; with
// one, a branch to that URI is added carrying the current destination URI,
// path, branch flags and socket.
func (k *kex) appendBranch(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	b := sr.Branch{DstURI: c.DstURI, Path: c.Path, Q: p[1].(int), Flags: c.BranchFlags, Socket: c.ForceSocket}
	if f, ok := p[0].(sr.Format); ok {
		b.URI = f.Expand(c)
		var u sip.Uri
		if err := sip.ParseUri(b.URI, &u); err != nil || strings.ContainsAny(b.URI, "\r\n") {
			logf(c, slog.LevelError, "km_append_branch: bad URI", "uri", b.URI)
			return -1
		}
		c.Branches = append(c.Branches, b)
		return 1
	}
	b.URI = c.Req.Recipient.String()
	c.Branches = append(c.Branches, b)
	c.DstURI, c.Path, c.BranchFlags, c.ForceSocket = "", "", 0, nil
	return 1
}

func (k *kex) setDstURI(c *sr.Ctx, p []any) int {
	uri := strings.TrimSpace(p[0].(sr.Format).Expand(c))
	var u sip.Uri
	if uri == "" || strings.ContainsAny(uri, "\r\n") || sip.ParseUri(uri, &u) != nil {
		logf(c, slog.LevelError, "setdsturi: bad URI", "uri", uri)
		return -1
	}
	c.DstURI = uri
	return 1
}

func (k *kex) resetDstURI(c *sr.Ctx, _ []any) int {
	c.DstURI = ""
	return 1
}

func (k *kex) isDstURISet(c *sr.Ctx, _ []any) int {
	if c.DstURI == "" {
		return -1
	}
	return 1
}

func fixPrintf(_ *kex, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Setter(args[0])
	if err != nil {
		return nil, err
	}
	f, err := fx.Format(args[1])
	if err != nil {
		return nil, err
	}
	return []any{s, f}, nil
}

// pvPrintf is pv_printf(pv, format) and avp_printf: the expanded format is
// assigned to the pseudo-variable as a string.
func (k *kex) pvPrintf(c *sr.Ctx, p []any) int {
	if err := p[0].(sr.Setter).Set(c, sr.StrVal(p[1].(sr.Format).Expand(c))); err != nil {
		logf(c, slog.LevelError, "pv_printf: assignment failed", "error", err)
		return -1
	}
	return 1
}

// isMyself is is_myself(uri): true when the host and port of the URI (or
// of a plain host[:port]) are one of this server's addresses or aliases.
func (k *kex) isMyself(c *sr.Ctx, p []any) int {
	if c.Core == nil {
		return -1
	}
	s := strings.TrimSpace(p[0].(sr.Format).Expand(c))
	host, port := s, 0
	var u sip.Uri
	lower := strings.ToLower(s)
	if strings.HasPrefix(lower, "sip:") || strings.HasPrefix(lower, "sips:") {
		if sip.ParseUri(s, &u) != nil {
			return -1
		}
		host, port = u.Host, u.Port
	} else if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.HasSuffix(s, "]") {
		if n, err := strconv.Atoi(s[i+1:]); err == nil {
			host, port = s[:i], n
		}
	}
	if host == "" {
		return -1
	}
	if c.Core.Myself(host, port) {
		return 1
	}
	return -1
}

func logf(c *sr.Ctx, level slog.Level, msg string, args ...any) {
	l := c.Log
	if l == nil {
		l = slog.Default()
	}
	l.Log(context.Background(), level, msg, args...)
}
