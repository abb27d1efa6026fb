// Package xlog is SER's xlog module: log lines built from xl formats
// ("%rm from %fu, attr %$uid, select %@ruri.host") at a level the call
// names. SER configs also load it for the xl formats other modules (textops,
// avp) take; in this implementation those formats are part of the core, so
// loading it is all they need.
package xlog

import (
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
	k, ok := srlog.ParseLevelSER(s)
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

func (x *xlog) log(c *sr.Ctx, p []any) int {
	srlog.Script(c.Log, p[0].(int), "", x.BufSize, func() string { return p[1].(sr.Format).Expand(c) })
	return 1
}
