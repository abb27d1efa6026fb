// Package srlog maps Kamailio's log levels (debug=N, L_ERR, L_DBG …) onto
// log/slog levels and sets up the server's logger (stderr or syslog).
package srlog

import (
	"context"
	"log/slog"
	"strings"
)

// Kamailio log levels.
const (
	LAlert  = -5
	LBug    = -4
	LCrit2  = -3
	LCrit   = -2
	LErr    = -1
	LWarn   = 0
	LNotice = 1
	LInfo   = 2
	LDbg    = 3
)

// Level returns the slog level for a Kamailio level. Levels above L_DBG
// (debug=4 and up, log(…) without a level) are more verbose debug levels.
func Level(k int) slog.Level {
	switch {
	case k <= LAlert:
		return slog.LevelError + 4
	case k == LBug:
		return slog.LevelError + 3
	case k == LCrit2 || k == LCrit:
		return slog.LevelError + 2
	case k == LErr:
		return slog.LevelError
	case k == LWarn:
		return slog.LevelWarn
	case k == LNotice:
		return slog.LevelInfo + 2
	case k == LInfo:
		return slog.LevelInfo
	case k == LDbg:
		return slog.LevelDebug
	}
	return slog.LevelDebug - slog.Level(k-LDbg)
}

// ParseLevel reads a level name as xlog takes it (L_ALERT, L_BUG, L_CRIT,
// L_ERR, L_WARN, L_NOTICE, L_INFO, L_DBG). Like Kamailio and SER, a longer
// spelling is read by its third letter (L_ERROR, L_WARNING, L_DEBUG).
func ParseLevel(s string) (int, bool) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if lv, ok := levelByName(name); ok {
		return lv, true
	}
	if !strings.HasPrefix(name, "L_") {
		return 0, false
	}
	return levelByLetter(name)
}

// ParseLevelSER reads a level as SER's xlog does: a name ParseLevel
// reads, or any other of three characters or more by its third letter,
// with or without "L_".
func ParseLevelSER(s string) (int, bool) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if lv, ok := levelByName(name); ok {
		return lv, true
	}
	return levelByLetter(name)
}

// levelByLetter reads a level name by its third letter (the one after
// "L_").
func levelByLetter(name string) (int, bool) {
	if len(name) < 3 {
		return 0, false
	}
	switch name[2] {
	case 'A':
		return LAlert, true
	case 'B':
		return LBug, true
	case 'C':
		return LCrit, true
	case 'E':
		return LErr, true
	case 'W':
		return LWarn, true
	case 'N':
		return LNotice, true
	case 'I':
		return LInfo, true
	case 'D':
		return LDbg, true
	}
	return 0, false
}

// Script writes a line of the script (xlog and the like) at Kamailio
// level k to l (slog.Default when nil), when l lets that level through:
// text is only called then. The line loses one trailing newline (LF or
// CRLF), gets prefix in front and is cut to max bytes (0: no limit); it
// carries source=script and attrs.
func Script(l *slog.Logger, k int, prefix string, max int, text func() string, attrs ...any) {
	if l == nil {
		l = slog.Default()
	}
	sl := Level(k)
	ctx := context.Background()
	if !l.Enabled(ctx, sl) {
		return
	}
	line := strings.TrimSuffix(text(), "\n")
	line = prefix + strings.TrimSuffix(line, "\r")
	if max > 0 && len(line) > max {
		line = line[:max]
	}
	l.Log(ctx, sl, line, append([]any{"source", "script"}, attrs...)...)
}

func levelByName(name string) (int, bool) {
	switch name {
	case "L_ALERT":
		return LAlert, true
	case "L_BUG":
		return LBug, true
	case "L_CRIT":
		return LCrit, true
	case "L_ERR":
		return LErr, true
	case "L_WARN":
		return LWarn, true
	case "L_NOTICE":
		return LNotice, true
	case "L_INFO":
		return LInfo, true
	case "L_DBG":
		return LDbg, true
	}
	return 0, false
}
