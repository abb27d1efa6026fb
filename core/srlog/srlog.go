// Package srlog maps Kamailio's log levels (debug=N, L_ERR, L_DBG …) onto
// log/slog levels and sets up the server's logger (stderr or syslog).
package srlog

import (
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
	if len(name) > 2 && strings.HasPrefix(name, "L_") {
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
	}
	return 0, false
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
