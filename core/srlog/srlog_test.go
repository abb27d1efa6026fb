package srlog

import (
	"log/slog"
	"testing"

	"sip-router.org/core/srlog/srlogtest"
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

func TestParseLevelSER(t *testing.T) {
	for in, want := range map[string]int{
		"L_ERR": LErr, "L_NOTICE_ME": LNotice, "xxW": LWarn, " l_dbg ": LDbg, "ALERT": LErr, "L_BUG": LBug,
	} {
		if got, ok := ParseLevelSER(in); !ok || got != want {
			t.Errorf("ParseLevelSER(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "L_", "L_X", "ERROR"} {
		if _, ok := ParseLevelSER(bad); ok {
			t.Errorf("ParseLevelSER(%q) accepted", bad)
		}
	}
}

func TestScript(t *testing.T) {
	rec := &srlogtest.Recorder{Min: slog.LevelInfo}
	l := slog.New(rec)
	called := false
	Script(l, LDbg, "", 0, func() string { called = true; return "hidden" })
	if called {
		t.Error("the text of a disabled level was built")
	}
	Script(l, LErr, "<p> ", 0, func() string { return "one\r\n" }, "facility", "LOG_LOCAL0")
	Script(l, LWarn, "", 8, func() string { return "0123456789\n" })
	Script(l, LInfo, "", 0, func() string { return "two\n\n" })
	recs := rec.Records()
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for i, want := range []struct {
		level slog.Level
		msg   string
	}{{slog.LevelError, "<p> one"}, {slog.LevelWarn, "01234567"}, {slog.LevelInfo, "two\n"}} {
		if recs[i].Level != want.level || recs[i].Message != want.msg || srlogtest.Attr(recs[i], "source") != "script" {
			t.Errorf("record %d: %v %q source %q; want %v %q", i, recs[i].Level, recs[i].Message,
				srlogtest.Attr(recs[i], "source"), want.level, want.msg)
		}
	}
	if srlogtest.Attr(recs[0], "facility") != "LOG_LOCAL0" {
		t.Errorf("facility %q", srlogtest.Attr(recs[0], "facility"))
	}
}
