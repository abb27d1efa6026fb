package srlog

import (
	"log/slog"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]int{
		"L_ALERT": LAlert, "l_err": LErr, "L_ERROR": LErr, "L_WARNING": LWarn, "L_WARN": LWarn,
		"L_NOTICE": LNotice, " L_INFO ": LInfo, "L_DBG": LDbg, "L_DEBUG": LDbg, "L_CRIT": LCrit, "L_BUG": LBug,
	} {
		if got, ok := ParseLevel(in); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "ERR", "L_", "L_X", "debug"} {
		if _, ok := ParseLevel(bad); ok {
			t.Errorf("ParseLevel(%q) accepted", bad)
		}
	}
}

// A config's debug=N shows exactly the levels at or below N.
func TestLevelOrder(t *testing.T) {
	for cfgDebug := -1; cfgDebug <= 4; cfgDebug++ {
		min := Level(cfgDebug)
		for msg := LAlert; msg <= 4; msg++ {
			shown := Level(msg) >= min
			if shown != (msg <= cfgDebug) {
				t.Errorf("debug=%d, message level %d: shown=%v", cfgDebug, msg, shown)
			}
		}
	}
	if Level(LErr) != slog.LevelError || Level(LDbg) != slog.LevelDebug {
		t.Error("L_ERR and L_DBG do not map to slog's error and debug")
	}
}
