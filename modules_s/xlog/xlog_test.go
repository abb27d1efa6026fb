package xlog_test

import (
	"log/slog"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/core/srlog/srlogtest"
	_ "sip-router.org/modules/textops"
	_ "sip-router.org/modules_s/xlog"
)

const invite = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsx1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:alice@example.org>;tag=s1
Call-ID: sx1@192.0.2.10
CSeq: 1 INVITE
`

func run(t *testing.T, cfg string, min slog.Level) (*sr.Ctx, []slog.Record) {
	t.Helper()
	s := siptest.NewScript(t, cfg)
	rec := &srlogtest.Recorder{Min: min}
	c := s.Ctx(siptest.Request(t, invite), "", "")
	c.Log = slog.New(rec)
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c, rec.Records()
}

func TestXLFormats(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		level       slog.Level
		msg         string
	}{
		{"request fields", `xlog("L_ERR", "method %rm uri %ru from %fu\n");`,
			slog.LevelError, "method INVITE uri sip:bob@example.com from sip:alice@example.org"},
		{"attribute", `$uid = "u-17"; xlog("L_INFO", "uid %$uid");`, slog.LevelInfo, "uid u-17"},
		{"select", `xlog("L_WARN", "host %@ruri.host");`, slog.LevelWarn, "host example.com"},
		{"third letter counts", `xlog("L_NOTICE_ME", "n");`, slog.LevelInfo + 2, "n"},
		{"xdbg", `xdbg("to %tu\n");`, slog.LevelDebug, "to sip:bob@example.com"},
		{"percent", `xlog("L_ERR", "100%% done");`, slog.LevelError, "100% done"},
		{"dollar is literal text", `xlog("L_ERR", "cost $5");`, slog.LevelError, "cost $5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, recs := run(t, "loadmodule \"xlog\"\nroute {\n"+tc.route+"\n}\n", slog.LevelDebug)
			if c.RC != 1 || len(recs) != 1 {
				t.Fatalf("rc %d, %d records", c.RC, len(recs))
			}
			if recs[0].Level != tc.level || recs[0].Message != tc.msg {
				t.Errorf("got %v %q, want %v %q", recs[0].Level, recs[0].Message, tc.level, tc.msg)
			}
		})
	}
}

func TestBufSize(t *testing.T) {
	_, recs := run(t, "loadmodule \"xlog\"\nmodparam(\"xlog\", \"buf_size\", 64)\nroute {\nxlog(\"L_ERR\", \""+
		strings.Repeat("y", 80)+"\");\n}\n", slog.LevelDebug)
	if len(recs) != 1 || recs[0].Message != strings.Repeat("y", 64) {
		t.Errorf("records %v", recs)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`route { xlog("L_XYZ", "x"); }`, "unknown log level"},
		{`route { xlog("x"); }`, "wrong number of arguments"},
		{`route { xlog("L_ERR", "%zz"); }`, "unknown specifier"},
		{`route { xlog("L_ERR", "50%"); }`, "lone %"},
	} {
		t.Run(tc.cfg, func(t *testing.T) {
			_, err := siptest.LoadErr(t, "loadmodule \"xlog\"\n"+tc.cfg+"\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// ser-3.0.3.cfg loads xlog next to textops, whose append_to_reply reads
// the xl format "%$digest_challenge"; the module path names the SER tree.
func TestSERConfigFragment(t *testing.T) {
	s := siptest.NewScript(t, `
loadpath "/usr/lib/ser/modules:/usr/lib/ser/modules_s"
loadmodule "xlog"
loadmodule "textops"
route {
	$digest_challenge = "WWW-Authenticate: Digest realm=\"example.com\"\r\n";
	if ($digest_challenge != "") {
		append_to_reply("%$digest_challenge");
	}
	append_hf("P-hint: outbound\r\n");
	xlog("L_INFO", "challenged %ru\n");
}
onreply_route {
	xdbg("reply %rs\n");
}
`)
	c := s.Run(t, invite)
	if len(c.ReplyHeaders) != 1 || c.ReplyHeaders[0] != "WWW-Authenticate: Digest realm=\"example.com\"\r\n" {
		t.Errorf("reply headers %q", c.ReplyHeaders)
	}
}
