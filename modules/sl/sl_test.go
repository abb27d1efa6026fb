package sl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
)

const invite = `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-inv1;rport
From: "Alice" <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>
Call-ID: call-1@test
CSeq: 10 INVITE
Max-Forwards: 70
Contact: <sip:alice@192.0.2.10>
`

// ack is the ACK of a negative reply to invite, with the To tag to fill.
const ack = `
ACK sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-inv1;rport
From: "Alice" <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>;tag=TOTAG
Call-ID: call-1@test
CSeq: 10 ACK
Max-Forwards: 70
`

// run runs the main route over a request with c prepared by prep.
func run(t *testing.T, s *siptest.Script, text string, prep func(c *sr.Ctx)) *sr.Ctx {
	t.Helper()
	c := s.Ctx(siptest.Request(t, text), "", "")
	if prep != nil {
		prep(c)
	}
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c
}

func onlyReply(t *testing.T, s *siptest.Script) *sip.Response {
	t.Helper()
	rs := s.Core.Replies()
	if len(rs) != 1 {
		t.Fatalf("got %d replies, want 1", len(rs))
	}
	return rs[0]
}

func vr(t *testing.T, c *sr.Ctx, name string) string {
	t.Helper()
	return c.Vars[name].String()
}

func TestSendReply(t *testing.T) {
	tests := []struct {
		name       string
		route      string
		code       int
		reason     string
		noReply    bool
		wantResult string
	}{
		{"constant", `sl_send_reply("404", "Not here");`, 404, "Not here", false, ""},
		{"number argument", `sl_send_reply(486, "Busy Here");`, 486, "Busy Here", false, ""},
		{"reason with variables", `sl_send_reply("404", "No $rU at $rd");`, 404, "No bob at example.com", false, ""},
		{"code in a variable", `$var(c) = 603; sl_send_reply("$var(c)", "Decline");`, 603, "Decline", false, ""},
		{"code as unquoted variable", `$var(c) = "480"; sl_send_reply($var(c), "Later");`, 480, "Later", false, ""},
		{"code not a number uses default_code", `$var(c) = "abc"; sl_send_reply("$var(c)", "x");`, 500, "x", false, ""},
		{"empty reason uses default_reason", `$var(r) = ""; sl_send_reply("500", "$var(r)");`, 500, "Internal Server Error", false, ""},
		{"code out of range at run time", `$var(c) = 99; if (!sl_send_reply("$var(c)", "x")) { $var(res) = "refused"; }`, 0, "", true, "refused"},
		{"SER name", `sl_reply("403", "Forbidden");`, 403, "Forbidden", false, ""},
		{"returns true", `if (sl_send_reply("200", "OK")) { $var(res) = "true"; }`, 200, "OK", false, "true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"sl.so\"\nroute {\n"+tc.route+"\n}\n")
			c := run(t, s, invite, nil)
			if got := vr(t, c, "res"); tc.wantResult != "" && got != tc.wantResult {
				t.Errorf("$var(res) = %q, want %q", got, tc.wantResult)
			}
			if tc.noReply {
				if n := len(s.Core.Replies()); n != 0 {
					t.Fatalf("got %d replies, want none", n)
				}
				return
			}
			res := onlyReply(t, s)
			if res.StatusCode != tc.code || res.Reason != tc.reason {
				t.Errorf("reply %d %q, want %d %q", res.StatusCode, res.Reason, tc.code, tc.reason)
			}
		})
	}
}

// The reply is the core's: deterministic To tag, the sender's Via with
// received/rport, the Server header and the append_to_reply headers; it
// goes back to the source.
func TestReplyShape(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"sl.so\"\nroute { sl_send_reply(\"404\", \"Not here\"); }\n")
	s.Core.Server = "Server: sip-router test"
	req := siptest.Request(t, invite)
	want := sipmsg.ToTag(req)
	c := s.Ctx(req, "", "198.51.100.7:5071")
	c.ReplyHeaders = []string{"X-Reason: test\r\n"}
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	sent := s.Core.Sent()
	if len(sent) != 1 || !sent[0].Reply {
		t.Fatalf("sent %+v, want one reply", sent)
	}
	if got := sent[0].Dst.Addr.String(); got != "198.51.100.7:5071" {
		t.Errorf("reply sent to %s, want the source 198.51.100.7:5071", got)
	}
	res := sent[0].Msg.(*sip.Response)
	if tag, _ := res.To().Params.Get("tag"); tag != want {
		t.Errorf("To tag %q, want the deterministic %q", tag, want)
	}
	if h := sipmsg.Header(res, "Server"); h == nil || h.Value() != "sip-router test" {
		t.Errorf("Server header %v, want sip-router test", h)
	}
	if h := sipmsg.Header(res, "X-Reason"); h == nil || h.Value() != "test" {
		t.Errorf("append_to_reply header missing: %v", h)
	}
	v := res.Via()
	if rcv, _ := v.Params.Get("received"); rcv != "198.51.100.7" {
		t.Errorf("Via received=%q, want 198.51.100.7", rcv)
	}
	if rp, _ := v.Params.Get("rport"); rp != "5071" {
		t.Errorf("Via rport=%q, want 5071", rp)
	}
	if res.CSeq().SeqNo != 10 || res.CallID().Value() != "call-1@test" {
		t.Errorf("CSeq/Call-ID not copied: %s / %s", res.CSeq().Value(), res.CallID().Value())
	}
}

func TestNoReplyToACK(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"sl.so\"\nroute { if (!sl_send_reply(\"404\", \"x\")) { $var(res) = \"refused\"; } }\n")
	c := run(t, s, strings.Replace(ack, "TOTAG", "x", 1), nil)
	if n := len(s.Core.Sent()); n != 0 {
		t.Errorf("%d messages sent in answer to an ACK", n)
	}
	if got := vr(t, c, "res"); got != "refused" {
		t.Errorf("$var(res) = %q, want refused", got)
	}
}

func TestReplyError(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"sl.so\"\nroute { sl_reply_error(); }\n")
	run(t, s, invite, nil)
	if res := onlyReply(t, s); res.StatusCode != 500 || res.Reason != "Server Internal Error" {
		t.Errorf("without an error: %d %q, want 500 Server Internal Error", res.StatusCode, res.Reason)
	}
	s.Core.Reset()
	run(t, s, invite, func(c *sr.Ctx) { c.SetReplyError(478, "Unresolvable destination") })
	if res := onlyReply(t, s); res.StatusCode != 478 || res.Reason != "Unresolvable destination" {
		t.Errorf("after an error: %d %q, want 478", res.StatusCode, res.Reason)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"code below range", `sl_send_reply("99", "x");`, "out of range"},
		{"code above range", `sl_send_reply("700", "x");`, "out of range"},
		{"code not a number", `sl_send_reply("abc", "x");`, "not a number"},
		{"wrong route", "exit;\n}\nfailure_route[F] {\nsl_send_reply(\"404\", \"x\");", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := siptest.LoadErr(t, "loadmodule \"sl.so\"\nroute {\n"+tc.cfg+"\n}\n")
			if err == nil {
				t.Fatal("config loaded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

type fakeTx struct {
	code   int
	reason string
	err    error
}

func (f *fakeTx) Reply(_ *sr.Ctx, code int, reason string) error {
	f.code, f.reason = code, reason
	return f.err
}

func TestSendReplyStateful(t *testing.T) {
	const route = "route { if (send_reply(\"486\", \"Busy $rU\")) { $var(res) = \"ok\"; } else { $var(res) = \"failed\"; } }\n"
	tests := []struct {
		name       string
		params     string
		tx         *fakeTx
		stateful   bool
		stateless  bool
		wantResult string
	}{
		{"no transaction: stateless", "", nil, false, true, "ok"},
		{"transaction: through it", "", &fakeTx{}, true, false, "ok"},
		{"transaction reply fails", "", &fakeTx{err: errors.New("gone")}, true, false, "failed"},
		{"bind_tm off: stateless", "modparam(\"sl\", \"bind_tm\", 0)\n", &fakeTx{}, false, true, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, "loadmodule \"sl.so\"\n"+tc.params+route)
			c := run(t, s, invite, func(c *sr.Ctx) {
				if tc.tx != nil {
					c.SetValue(sr.TransactionKey{}, sr.Transaction(tc.tx))
				}
			})
			if got := vr(t, c, "res"); got != tc.wantResult {
				t.Errorf("$var(res) = %q, want %q", got, tc.wantResult)
			}
			if tc.stateful && (tc.tx.code != 486 || tc.tx.reason != "Busy bob") {
				t.Errorf("transaction got %d %q, want 486 Busy bob", tc.tx.code, tc.tx.reason)
			}
			if tc.tx != nil && !tc.stateful && tc.tx.code != 0 {
				t.Errorf("transaction used with bind_tm off")
			}
			if got := len(s.Core.Replies()); got != map[bool]int{true: 1, false: 0}[tc.stateless] {
				t.Errorf("%d stateless replies", got)
			}
		})
	}
}

// In a reply route without a transaction there is nothing to answer.
func TestSendReplyInReplyRoute(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"sl.so\"\nroute { exit; }\nonreply_route { if (!send_reply(\"500\", \"x\")) { $var(res) = \"refused\"; } }\n")
	res := siptest.Response(t, `
SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: call-1@test
CSeq: 10 INVITE
`)
	c := s.Ctx(res, "", "")
	s.Loaded.Script.Run(c, sr.RouteOnReply, "")
	if got := vr(t, c, "res"); got != "refused" {
		t.Errorf("$var(res) = %q, want refused", got)
	}
	if n := len(s.Core.Sent()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}

// SER scripts read a reason with '%' as an xl format.
func TestSERFormat(t *testing.T) {
	s := siptest.NewScript(t, "loadmodule \"sl\"\nroute { sl_reply(\"404\", \"%rm for %ru\"); }\n")
	run(t, s, invite, nil)
	if res := onlyReply(t, s); res.Reason != "INVITE for sip:bob@example.com" {
		t.Errorf("reason %q, want the xl format expanded", res.Reason)
	}
}

type filter interface{ FilterRequest(c *sr.Ctx) bool }

func instance(t *testing.T, s *siptest.Script) (filter, rpc.Func) {
	t.Helper()
	inst, ok := s.Loaded.Modules.Get("sl")
	if !ok {
		t.Fatal("sl not loaded")
	}
	f, ok := inst.Value.(filter)
	if !ok {
		t.Fatal("sl does not implement module.RequestFilter")
	}
	var _ module.RequestFilter = f
	m, _ := module.Lookup("sl")
	return f, m.RPCs[0].Bind(inst.Value)
}

// The ACK of a negative stateless reply to an INVITE is absorbed; other
// ACKs go on to the script.
func TestACKFilter(t *testing.T) {
	s := siptest.NewScript(t, `loadmodule "sl.so"
route {
	if (method == "INVITE" && $hdr(X-Code) != $null) {
		sl_send_reply("$hdr(X-Code)", "Reply");
	}
}
`)
	f, stats := instance(t, s)
	// Each INVITE has its own Call-ID, so its own To tag.
	replyTo := func(code, callID string, reinvite bool) string {
		s.Core.Reset()
		text := strings.Replace(invite, "Max-Forwards: 70", "Max-Forwards: 70\nX-Code: "+code, 1)
		text = strings.Replace(text, "call-1@test", callID, 1)
		if reinvite {
			text = strings.Replace(text, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=dialog1", 1)
		}
		run(t, s, text, nil)
		tag, _ := onlyReply(t, s).To().Params.Get("tag")
		return tag
	}
	ackCtx := func(tag, callID, branch string) *sr.Ctx {
		text := strings.Replace(ack, "TOTAG", tag, 1)
		text = strings.Replace(text, "call-1@test", callID, 1)
		if branch != "" {
			text = strings.Replace(text, "z9hG4bK-inv1", branch, 1)
		}
		return s.Ctx(siptest.Request(t, text), "", "")
	}
	tag404 := replyTo("404", "c404", false)
	tests := []struct {
		name string
		c    *sr.Ctx
		want bool
	}{
		{"ACK of our 404", ackCtx(tag404, "c404", ""), true},
		{"other To tag", ackCtx("someone-else", "c404", ""), false},
		{"other branch (ACK of a 2xx)", ackCtx(tag404, "c404", "z9hG4bK-ack2"), false},
		{"other Call-ID", ackCtx(tag404, "c-other", ""), false},
		{"a 200 is not remembered", ackCtx(replyTo("200", "c200", false), "c200", ""), false},
		{"a 486 to a re-INVITE keeps the dialog tag", ackCtx(replyTo("486", "c486", true), "c486", ""), false},
		{"not an ACK", s.Ctx(siptest.Request(t, invite), "", ""), false},
	}
	filtered := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.FilterRequest(tc.c); got != tc.want {
				t.Errorf("FilterRequest = %v, want %v", got, tc.want)
			}
			if tc.want {
				filtered++
			}
		})
	}
	got, err := stats(&rpc.Request{Method: "sl.stats"})
	if err != nil {
		t.Fatal(err)
	}
	st := got.(map[string]any)
	if st["filtered_acks"] != int64(filtered) {
		t.Errorf("filtered_acks = %v, want %d", st["filtered_acks"], filtered)
	}
}

func TestStats(t *testing.T) {
	s := siptest.NewScript(t, `loadmodule "sl.so"
route { sl_send_reply("$hdr(X-Code)", "R"); }
`)
	_, stats := instance(t, s)
	for _, code := range []string{"100", "180", "200", "202", "302", "404", "404", "486", "500", "603"} {
		run(t, s, strings.Replace(invite, "Max-Forwards: 70", "Max-Forwards: 70\nX-Code: "+code, 1), nil)
	}
	got, err := stats(&rpc.Request{Method: "sl.stats"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"1xx": 2, "2xx": 2, "3xx": 1, "4xx": 3, "5xx": 1, "6xx": 1,
		"200": 1, "202": 1, "302": 1, "404": 2, "500": 1, "408": 0,
		"sent": 10, "failed": 0, "filtered_acks": 0,
	}
	st := got.(map[string]any)
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s = %v, want %d", k, st[k], v)
		}
	}
}
