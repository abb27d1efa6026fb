package xlog_test

import (
	"log/slog"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/core/srlog/srlogtest"
	_ "sip-router.org/modules_k/xlog"
)

const invite = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKxl1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:alice@example.org>;tag=x1
Call-ID: xl1@192.0.2.10
CSeq: 1 INVITE
`

// run loads cfg, runs its main route over invite with a recording logger
// that lets through min and above, and returns the context and the records.
func run(t *testing.T, cfg string, min slog.Level) (*sr.Ctx, []slog.Record) {
	t.Helper()
	s := siptest.NewScript(t, cfg)
	rec := &srlogtest.Recorder{Min: min}
	c := s.Ctx(siptest.Request(t, invite), "", "192.0.2.10:5070")
	c.Log = slog.New(rec)
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c, rec.Records()
}

func TestLevelsAndFormats(t *testing.T) {
	for _, tc := range []struct {
		name, header, params, route string
		level                       slog.Level
		msg                         string
	}{
		{"default level L_ERR", "#!KAMAILIO", "", `xlog("Malformed SIP message from $si:$sp\n");`,
			slog.LevelError, "<script>: Malformed SIP message from 192.0.2.10:5070"},
		{"named level", "#!KAMAILIO", "", `xlog("L_INFO", "$rm to $ru\n");`,
			slog.LevelInfo, "<script>: INVITE to sip:bob@example.com"},
		{"third letter counts", "#!KAMAILIO", "", `xlog("L_WARNING", "w");`, slog.LevelWarn, "<script>: w"},
		{"alert", "#!KAMAILIO", "", `xlog("L_ALERT", "ALERT: $fu\n");`,
			slog.LevelError + 4, "<script>: ALERT: sip:alice@example.org"},
		{"numeric level", "#!KAMAILIO", "", `xlog("1", "n");`, slog.LevelInfo + 2, "<script>: n"},
		{"level from a variable", "#!KAMAILIO", "", `$var(l) = 2; xlog("$var(l)", "v");`, slog.LevelInfo, "<script>: v"},
		{"xdbg", "#!KAMAILIO", "", `xdbg("new branch at $ru\n");`, slog.LevelDebug, "<script>: new branch at sip:bob@example.com"},
		{"xinfo", "#!KAMAILIO", "", `xinfo("i");`, slog.LevelInfo, "<script>: i"},
		{"xnotice", "#!KAMAILIO", "", `xnotice("n");`, slog.LevelInfo + 2, "<script>: n"},
		{"xwarn", "#!KAMAILIO", "", `xwarn("w");`, slog.LevelWarn, "<script>: w"},
		{"xerr", "#!KAMAILIO", "", `xerr("e");`, slog.LevelError, "<script>: e"},
		{"xbug", "#!KAMAILIO", "", `xbug("b");`, slog.LevelError + 3, "<script>: b"},
		{"xcrit", "#!KAMAILIO", "", `xcrit("c");`, slog.LevelError + 2, "<script>: c"},
		{"xalert", "#!KAMAILIO", "", `xalert("a");`, slog.LevelError + 4, "<script>: a"},
		{"max-compat config still uses PV formats", "", "", `xlog("L_INFO", "$rm\n");`, slog.LevelInfo, "<script>: INVITE"},
		{"missing value prints <null>", "#!KAMAILIO", "", `xlog("[$hdr(X-None)]");`, slog.LevelError, "<script>: [<null>]"},
		{"prefix", "#!KAMAILIO", `modparam("xlog", "prefix", "[cfg] ")`, `xlog("p\n");`, slog.LevelError, "[cfg] p"},
		{"no prefix", "#!KAMAILIO", `modparam("xlog", "prefix", "")`, `xlog("p\n");`, slog.LevelError, "p"},
		{"buf_size truncates", "#!KAMAILIO", `modparam("xlog", "buf_size", 64) modparam("xlog", "prefix", "")`,
			`xlog("` + strings.Repeat("x", 100) + `");`, slog.LevelError, strings.Repeat("x", 64)},
		{"colours off", "#!KAMAILIO", "", `xlog("$C(rx)red$C(xx)");`, slog.LevelError, "<script>: red"},
		{"colours forced", "#!KAMAILIO", `modparam("xlog", "force_color", 1)`, `xlog("$C(rx)red$C(Gb)G$C(xx)");`,
			slog.LevelError, "<script>: \x1b[0;31;49mred\x1b[1;32;44mG\x1b[0;39;49m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.header + "\nloadmodule \"xlog.so\"\n" + tc.params + "\nroute {\n" + tc.route + "\n}\n"
			c, recs := run(t, cfg, slog.LevelDebug-10)
			if c.RC != 1 {
				t.Errorf("rc %d", c.RC)
			}
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			if r.Level != tc.level || r.Message != tc.msg {
				t.Errorf("got %v %q, want %v %q", r.Level, r.Message, tc.level, tc.msg)
			}
			if srlogtest.Attr(r, "source") != "script" {
				t.Errorf("source attribute %q", srlogtest.Attr(r, "source"))
			}
		})
	}
}

func TestDisabledLevelsAreSkipped(t *testing.T) {
	c, recs := run(t, "#!KAMAILIO\nloadmodule \"xlog.so\"\nroute {\nxdbg(\"quiet\");\nxlog(\"L_INFO\", \"shown\");\n}\n", slog.LevelInfo)
	if len(recs) != 1 || recs[0].Message != "<script>: shown" || c.RC != 1 {
		t.Errorf("records %v rc %d", recs, c.RC)
	}
}

func TestBadLevelVariable(t *testing.T) {
	c, recs := run(t, "#!KAMAILIO\nloadmodule \"xlog.so\"\nroute {\n$var(l) = \"loud\";\nxlog(\"$var(l)\", \"x\");\n}\n", slog.LevelDebug)
	if c.RC != -1 {
		t.Errorf("rc %d, want -1", c.RC)
	}
	for _, r := range recs {
		if strings.Contains(r.Message, "x") && srlogtest.Attr(r, "source") == "script" {
			t.Errorf("logged %q with an invalid level", r.Message)
		}
	}
}

func TestFacility(t *testing.T) {
	_, recs := run(t, "#!KAMAILIO\nloadmodule \"xlog.so\"\nmodparam(\"xlog\", \"log_facility\", \"LOG_LOCAL3\")\nroute {\nxlog(\"f\");\n}\n", slog.LevelDebug)
	if len(recs) != 1 || srlogtest.Attr(recs[0], "facility") != "LOG_LOCAL3" {
		t.Errorf("records %v", recs)
	}
	if _, err := siptest.LoadErr(t, "loadmodule \"xlog.so\"\nmodparam(\"xlog\", \"log_facility\", \"LOG_NOPE\")\n"); err == nil ||
		!strings.Contains(err.Error(), "log_facility") {
		t.Errorf("unknown facility: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ route, want string }{
		{`xlog("L_XYZ", "x");`, "unknown log level"},
		{`xlog("loud", "x");`, "unknown log level"},
		{`xlog("$C(q)");`, "two letters"},
		{`xlog("$C(qx)");`, "invalid foreground"},
		{`xlog("$C(rR)");`, "invalid background"},
		{`xlog("$nosuchpv");`, "nosuchpv"},
	} {
		t.Run(tc.route, func(t *testing.T) {
			_, err := siptest.LoadErr(t, "#!KAMAILIO\nloadmodule \"xlog.so\"\nroute {\n"+tc.route+"\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Every route type takes xlog.
	siptest.Load(t, `#!KAMAILIO
loadmodule "xlog.so"
route { xlog("r"); }
onreply_route { xdbg("incoming reply\n"); }
failure_route[F] { xlog("L_WARN", "f"); }
branch_route[B] { xdbg("new branch at $ru\n"); }
onsend_route { xinfo("s"); }
`)
}
