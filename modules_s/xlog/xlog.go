// Package xlog is SER's xlog module: log lines built from xl formats
// ("%rm from %fu, attr %$uid, select %@ruri.host") at a level the call
// names. SER configs also load it for the xl formats other modules (textops,
// avp) take; in this implementation those formats are part of the core, so
// loading it is all they need.
package xlog

import (
	"context"
	"log/slog"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
	"sip-router.org/core/srlog"
)

type xlog struct {
	// BufSize caps the length of a log line, in bytes.
	BufSize int `modparam:"buf_size" min:"64"`
}

type fn = module.Func[*xlog]

const routes = sr.RouteRequest | sr.RouteFailure | sr.RouteOnReply | sr.RouteBranch | sr.RouteOnSend

func init() {
	module.Register(module.Spec[*xlog]{
		Name:    "xlog",
		Tree:    "modules_s",
		Summary: "log lines in SER xl format (%ru, %$attr, %@select)",
		New:     func() *xlog { return &xlog{BufSize: 4096} },
		Funcs: []fn{
			{Name: "xlog", Args: []int{2}, Routes: routes, Fixup: fixXlog, Call: (*xlog).log},
			{Name: "xdbg", Args: []int{1}, Routes: routes, Fixup: fixXdbg, Call: (*xlog).log},
		},
	})
}

// fixXlog prepares xlog(level, format). The level is L_ALERT, L_CRIT,
// L_ERR, L_WARN, L_NOTICE, L_INFO or L_DBG; as SER, only the third letter
// counts.
func fixXlog(_ *xlog, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	k, ok := parseLevel(s)
	if !ok {
		return nil, fx.Errorf(args[0], "%s: unknown log level %q (L_ALERT, L_CRIT, L_ERR, L_WARN, L_NOTICE, L_INFO, L_DBG)", fx.Func, s)
	}
	f, err := fx.XLFormat(args[1])
	if err != nil {
		return nil, err
	}
	return []any{k, f}, nil
}

func fixXdbg(_ *xlog, fx *module.Fixup, args []module.Arg) ([]any, error) {
	f, err := fx.XLFormat(args[0])
	if err != nil {
		return nil, err
	}
	return []any{srlog.LDbg, f}, nil
}

func parseLevel(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if k, ok := srlog.ParseLevel(s); ok {
		return k, true
	}
	u := strings.ToUpper(s)
	if len(u) < 3 {
		return 0, false
	}
	switch u[2] {
	case 'A':
		return srlog.LAlert, true
	case 'B':
		return srlog.LBug, true
	case 'C':
		return srlog.LCrit, true
	case 'E':
		return srlog.LErr, true
	case 'W':
		return srlog.LWarn, true
	case 'N':
		return srlog.LNotice, true
	case 'I':
		return srlog.LInfo, true
	case 'D':
		return srlog.LDbg, true
	}
	return 0, false
}

func (x *xlog) log(c *sr.Ctx, p []any) int {
	l := c.Log
	if l == nil {
		l = slog.Default()
	}
	sl := srlog.Level(p[0].(int))
	ctx := context.Background()
	if !l.Enabled(ctx, sl) {
		return 1
	}
	text := strings.TrimSuffix(p[1].(sr.Format).Expand(c), "\n")
	text = strings.TrimSuffix(text, "\r")
	if x.BufSize > 0 && len(text) > x.BufSize {
		text = text[:x.BufSize]
	}
	l.Log(ctx, sl, text, "source", "script")
	return 1
}
