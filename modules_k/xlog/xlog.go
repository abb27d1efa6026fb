// Package xlog is Kamailio's xlog module: log lines built from
// pseudo-variable formats ("$rm from $fu\n") at a chosen level, and the
// $C(xy) colour variable.
package xlog

import (
	"fmt"
	"log/slog"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
	"sip-router.org/core/srlog"
)

type xlog struct {
	// BufSize caps the length of a log line, in bytes.
	BufSize int `modparam:"buf_size" min:"64"`
	// ForceColor (non-zero) makes $C(xy) print terminal colours.
	ForceColor int `modparam:"force_color"`
	// Prefix starts every line.
	Prefix string `modparam:"prefix"`
	// LogFacility is the syslog facility of xlog lines (LOG_LOCAL0 …).
	LogFacility string `modparam:"log_facility"`
}

type fn = module.Func[*xlog]

// xlog is allowed in every route, as Kamailio's ANY_ROUTE.
func init() {
	module.Register(module.Spec[*xlog]{
		Name:    "xlog",
		Tree:    "modules_k",
		Summary: "log lines with pseudo-variables, at a chosen level",
		New:     func() *xlog { return &xlog{BufSize: 4096, Prefix: "<script>: "} },
		Funcs: []fn{
			{Name: "xlog", Args: []int{1, 2}, Routes: sr.RouteAny, Fixup: fixXlog, Call: (*xlog).log},
			{Name: "xdbg", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LDbg), Call: (*xlog).log},
			{Name: "xinfo", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LInfo), Call: (*xlog).log},
			{Name: "xnotice", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LNotice), Call: (*xlog).log},
			{Name: "xwarn", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LWarn), Call: (*xlog).log},
			{Name: "xerr", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LErr), Call: (*xlog).log},
			{Name: "xbug", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LBug), Call: (*xlog).log},
			{Name: "xcrit", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LCrit), Call: (*xlog).log},
			{Name: "xalert", Args: []int{1}, Routes: sr.RouteAny, Fixup: fixFixed(srlog.LAlert), Call: (*xlog).log},
		},
		PVs: []module.PV[*xlog]{
			{Name: "C", Inner: true, Parse: parseColor, Get: (*xlog).color},
		},
	})
}

// Configure checks the facility name, as Kamailio's mod_init does.
func (x *xlog) Configure(*module.ConfigEnv) error {
	if x.LogFacility != "" && !validFacility(x.LogFacility) {
		return fmt.Errorf("log_facility: unknown syslog facility %q", x.LogFacility)
	}
	return nil
}

// level is a fixed Kamailio level or one read from a pseudo-variable.
type level struct {
	k   int
	get sr.Getter
}

// fixXlog prepares xlog(fmt) (at L_ERR) and xlog(level, fmt).
func fixXlog(_ *xlog, fx *module.Fixup, args []module.Arg) ([]any, error) {
	lv := level{k: srlog.LErr}
	if len(args) == 2 {
		var err error
		if lv, err = levelArg(fx, args[0]); err != nil {
			return nil, err
		}
	}
	f, err := fx.Format(args[len(args)-1])
	if err != nil {
		return nil, err
	}
	return []any{lv, f}, nil
}

func fixFixed(k int) func(*xlog, *module.Fixup, []module.Arg) ([]any, error) {
	return func(_ *xlog, fx *module.Fixup, args []module.Arg) ([]any, error) {
		f, err := fx.Format(args[0])
		if err != nil {
			return nil, err
		}
		return []any{level{k: k}, f}, nil
	}
}

// levelArg reads a level: L_ALERT … L_DBG (Kamailio reads the third
// letter, so L_ERROR is L_ERR), a number, or a pseudo-variable holding a
// number.
func levelArg(fx *module.Fixup, a module.Arg) (level, error) {
	s := strings.TrimSpace(a.S)
	if a.Kind == module.ArgInt {
		return level{k: a.I}, nil
	}
	if a.Kind == module.ArgPV || strings.HasPrefix(s, "$") {
		g, err := fx.Getter(a)
		if err != nil {
			return level{}, err
		}
		return level{get: g}, nil
	}
	if k, ok := srlog.ParseLevel(s); ok {
		return level{k: k}, nil
	}
	if n, err := fx.Int(a); err == nil {
		return level{k: n}, nil
	}
	return level{}, fx.Errorf(a, "%s: unknown log level %q (L_ALERT, L_BUG, L_CRIT, L_ERR, L_WARN, L_NOTICE, L_INFO, L_DBG)", fx.Func, a.S)
}

// log writes one line. A level read from a variable must be a number.
func (x *xlog) log(c *sr.Ctx, p []any) int {
	lv := p[0].(level)
	k := lv.k
	if lv.get != nil {
		v := lv.get.Get(c)
		n, ok := v.AsInt()
		if !ok {
			logger(c).Error("xlog: invalid log level value", "value", v.String())
			return -1
		}
		k = n
	}
	var attrs []any
	if x.LogFacility != "" {
		attrs = []any{"facility", x.LogFacility}
	}
	srlog.Script(c.Log, k, x.Prefix, x.BufSize, func() string { return p[1].(sr.Format).Expand(c) }, attrs...)
	return 1
}

func logger(c *sr.Ctx) *slog.Logger {
	if c.Log == nil {
		return slog.Default()
	}
	return c.Log
}

// colours are the $C(xy) letters: foreground (upper case for bold) and
// background.
const colours = "srgybpcw"

func parseColor(_ *xlog, inner string) (any, error) {
	if len(inner) != 2 {
		return nil, fmt.Errorf("$C(%s): a colour is two letters, foreground and background", inner)
	}
	fg, bg := inner[0], inner[1]
	if fg != 'x' && strings.IndexByte(colours, fg) < 0 && strings.IndexByte(strings.ToUpper(colours), fg) < 0 {
		return nil, fmt.Errorf("$C(%s): invalid foreground %q", inner, fg)
	}
	if bg != 'x' && strings.IndexByte(colours, bg) < 0 {
		return nil, fmt.Errorf("$C(%s): invalid background %q", inner, bg)
	}
	// Kamailio's sequence: ESC [ 0; or 1; (bold), 3x; (foreground),
	// 4x (background), m; x is the terminal's default colour.
	var b strings.Builder
	b.WriteString("\x1b[")
	if fg >= 'A' && fg <= 'Z' {
		b.WriteString("1;")
		fg += 'a' - 'A'
	} else {
		b.WriteString("0;")
	}
	b.WriteString(colourCode('3', fg))
	b.WriteString(";")
	b.WriteString(colourCode('4', bg))
	b.WriteString("m")
	return b.String(), nil
}

func colourCode(base, c byte) string {
	if c == 'x' {
		return string(base) + "9"
	}
	return string(base) + string('0'+byte(strings.IndexByte(colours, c)))
}

// color is $C(xy): the escape sequence when force_color is on, "" when
// colours are off.
func (x *xlog) color(_ *sr.Ctx, name any) sr.Value {
	if x.ForceColor == 0 {
		return sr.StrVal("")
	}
	s, _ := name.(string)
	return sr.StrVal(s)
}

// validFacility reports whether s names a syslog facility.
func validFacility(s string) bool {
	switch strings.ToUpper(s) {
	case "LOG_KERN", "LOG_USER", "LOG_MAIL", "LOG_DAEMON", "LOG_AUTH", "LOG_SYSLOG", "LOG_LPR",
		"LOG_NEWS", "LOG_UUCP", "LOG_CRON", "LOG_AUTHPRIV", "LOG_FTP",
		"LOG_LOCAL0", "LOG_LOCAL1", "LOG_LOCAL2", "LOG_LOCAL3",
		"LOG_LOCAL4", "LOG_LOCAL5", "LOG_LOCAL6", "LOG_LOCAL7":
		return true
	}
	return false
}
