package tm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules/tm"
)

const inviteText = `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=BRANCH
From: <sip:alice@example.com>;tag=ft
To: <sip:bob@example.com>
Call-ID: CALLID
CSeq: 1 INVITE
Max-Forwards: 70
`

func invite(branch, callID string) string {
	return strings.NewReplacer("BRANCH", branch, "CALLID", callID).Replace(inviteText)
}

func tmOf(t testing.TB, s *siptest.Script) *tm.TM {
	t.Helper()
	i, ok := s.Loaded.Modules.Get("tm")
	if !ok {
		t.Fatal("tm not loaded")
	}
	return i.Value.(*tm.TM)
}

func sentRequests(s *siptest.Script) []*sip.Request {
	var out []*sip.Request
	for _, m := range s.Core.Sent() {
		if r, ok := m.Msg.(*sip.Request); ok {
			out = append(out, r)
		}
	}
	return out
}

// t_newtran + t_reply: the reply is stateful, a retransmission gets it
// again and stops the script (t_newtran returns 0).
func TestNewtranRetransmission(t *testing.T) {
	for _, branch := range []string{"z9hG4bK-nt1", "rfc2543-nt1"} {
		t.Run(branch, func(t *testing.T) {
			s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	if (!t_newtran()) { exit; }
	$var(n) = $var(n) + 1;
	t_reply("486", "Busy $var(n)");
}
`)
			c := s.Run(t, invite(branch, "nt-"+branch))
			if c.Tx() == nil {
				t.Fatal("no transaction attached to the message")
			}
			reps := s.Core.Replies()
			if len(reps) != 1 || reps[0].StatusCode != 486 || reps[0].Reason != "Busy 1" {
				t.Fatalf("replies %v", reps)
			}
			s.Run(t, invite(branch, "nt-"+branch))
			reps = s.Core.Replies()
			if len(reps) != 2 || reps[1].Reason != "Busy 1" {
				t.Fatalf("retransmission answered %v, want the first 486 again", reps)
			}
		})
	}
}

// sl-style stateful replies through sr.Transaction.
func TestTransactionInterface(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route { t_newtran(); }
`)
	c := s.Run(t, invite("z9hG4bK-if1", "if1"))
	tx := c.Tx()
	if tx == nil {
		t.Fatal("no transaction")
	}
	if err := tx.Reply(c, 401, "Unauthorized"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Reply(c, 200, "OK"); err == nil {
		t.Error("a second final reply was accepted")
	}
	if reps := s.Core.Replies(); len(reps) != 1 || reps[0].StatusCode != 401 {
		t.Errorf("replies %v", reps)
	}
}

// t_relay errors: an unresolvable destination leaves 478 for
// sl_reply_error and no transaction behind.
func TestRelayErrors(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	if (!t_relay()) { $var(failed) = 1; }
}
`)
	c := s.Ctx(siptest.Request(t, strings.Replace(invite("z9hG4bK-e1", "e1"), "sip:bob@example.com SIP", "sip:bob@unresolvable.invalid SIP", 1)), "", "")
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	if code, _ := c.ReplyError(); code != 478 {
		t.Errorf("reply error %d, want 478", code)
	}
	if c.Tx() != nil {
		t.Error("a failed relay left its transaction on the message")
	}
	if st := tmOf(t, s).Stats(); st.Current != 0 {
		t.Errorf("%d transactions live after a failed relay", st.Current)
	}
}

// branch_route runs per branch with $ru the branch URI; drop kills the
// branch. onsend_route sees each branch too.
func TestBranchRouteDrop(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	rewritehostport("127.0.0.1:5070");
	append_branch("sip:carol@127.0.0.1:5080");
	append_branch("sip:dave@127.0.0.1:5090");
	t_on_branch("B");
	t_relay();
}
branch_route[B] {
	if (uri =~ "5080") { drop; }
}
onsend_route {
	if (uri =~ "5090") { drop; }
}
`)
	s.Run(t, invite("z9hG4bK-br1", "br1"))
	var got []string
	for _, r := range sentRequests(s) {
		got = append(got, r.Recipient.String())
	}
	if len(got) != 1 || !strings.Contains(got[0], "5070") {
		t.Errorf("sent %v, want only the 5070 branch", got)
	}
}

// The Via of each branch names the transaction; a reply to it is taken by
// the module, others are left to the core.
func TestReplyMatching(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route { t_relay("udp:127.0.0.1:5070"); }
`)
	m := tmOf(t, s)
	s.Run(t, invite("z9hG4bK-rm1", "rm1"))
	reqs := sentRequests(s)
	if len(reqs) != 1 {
		t.Fatalf("sent %d requests", len(reqs))
	}
	out := reqs[0]
	res := sip.NewResponseFromRequest(out, 180, "Ringing", nil)
	if !m.HandleReply(siptest.NewCtx(s.Core, res, "udp", "127.0.0.1:5070")) {
		t.Fatal("reply to our branch not taken")
	}
	up := s.Core.Replies()
	if len(up) != 2 || up[1].StatusCode != 180 || len(up[1].GetHeaders("Via")) != 1 {
		t.Fatalf("upstream got %v", up)
	}
	foreign := siptest.Response(t, `
SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnotours
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx
From: <sip:alice@example.com>;tag=ft
To: <sip:bob@example.com>;tag=x
Call-ID: other
CSeq: 1 INVITE
`)
	if m.HandleReply(siptest.NewCtx(s.Core, foreign, "udp", "127.0.0.1:5070")) {
		t.Error("a reply to a stateless branch was taken")
	}
}

// The completion callback runs once, with the final reply and the flags.
func TestCompletionCallback(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route { setflag(3); t_relay("udp:127.0.0.1:5070"); }
`)
	m := tmOf(t, s)
	var got []*tm.Completion
	m.OnCompletion(func(c *tm.Completion) { got = append(got, c) })
	s.Run(t, invite("z9hG4bK-cb1", "cb1"))
	out := sentRequests(s)[0]
	for _, code := range []int{180, 200, 200} {
		res := sip.NewResponseFromRequest(out, code, "x", nil)
		m.HandleReply(siptest.NewCtx(s.Core, res, "udp", "127.0.0.1:5070"))
	}
	if len(got) != 1 {
		t.Fatalf("callback ran %d times", len(got))
	}
	ev := got[0]
	if ev.Code != 200 || !ev.Got2xx || ev.Local || ev.Flags&(1<<3) == 0 || ev.Method != "INVITE" {
		t.Errorf("completion %+v", ev)
	}
	// Both 200s went upstream (2xx retransmissions are relayed).
	n := 0
	for _, r := range s.Core.Replies() {
		if r.StatusCode == 200 {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d 200s upstream, want 2", n)
	}
}

// Config errors of the module's functions.
func TestFixupErrors(t *testing.T) {
	for _, cfg := range []string{
		`route { t_relay("udp:host:notaport"); }`,
		`route { t_relay_to_tcp("udp:1.2.3.4:5060"); }`,
		`route { t_reply("99", "x"); }`,
		`route { t_drop_replies("x"); }`,
		`route { t_is_set("request_route"); }`,
		`route { t_set_fr(-1); }`,
		`route { t_check_status("(4"); }`,
		`route { t_branch_timeout(); }`,
	} {
		if _, err := siptest.LoadErr(t, "loadmodule \"tm.so\"\n"+cfg); err == nil {
			t.Errorf("loaded: %s", cfg)
		}
	}
}

// Challenges of several branches are merged into the 401/407 that goes
// upstream; a final 503 goes up as 500.
func TestAggregateAndRemap(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	rewritehostport("127.0.0.1:5070");
	append_branch("sip:carol@127.0.0.1:5080");
	t_relay();
}
`)
	m := tmOf(t, s)
	run := func(callID string, replies ...func(out *sip.Request) *sip.Response) *sip.Response {
		s.Core.Reset()
		s.Run(t, invite("z9hG4bK-"+callID, callID))
		reqs := sentRequests(s)
		if len(reqs) != 2 {
			t.Fatalf("sent %d branches", len(reqs))
		}
		for i, mk := range replies {
			m.HandleReply(siptest.NewCtx(s.Core, mk(reqs[i]), "udp", "127.0.0.1:5070"))
		}
		r := s.Core.Replies()
		return r[len(r)-1]
	}
	challenge := func(code int, hdr, realm string) func(*sip.Request) *sip.Response {
		return func(out *sip.Request) *sip.Response {
			res := sip.NewResponseFromRequest(out, code, "Auth", nil)
			res.AppendHeader(sip.NewHeader(hdr, `Digest realm="`+realm+`", nonce="n"`))
			return res
		}
	}
	got := run("ag1", challenge(401, "WWW-Authenticate", "a"), challenge(407, "Proxy-Authenticate", "b"))
	if got.StatusCode != 401 || len(got.GetHeaders("WWW-Authenticate")) != 1 || len(got.GetHeaders("Proxy-Authenticate")) != 1 {
		t.Errorf("aggregated reply:\n%s", got)
	}
	plain := func(code int) func(*sip.Request) *sip.Response {
		return func(out *sip.Request) *sip.Response { return sip.NewResponseFromRequest(out, code, "x", nil) }
	}
	if got := run("rm1", plain(503), plain(503)); got.StatusCode != 500 {
		t.Errorf("503 relayed as %d, want 500", got.StatusCode)
	}
	if got := run("rm2", plain(503), plain(486)); got.StatusCode != 486 {
		t.Errorf("best of 503/486 is %d, want 486", got.StatusCode)
	}
}

// t_check_trans: retransmission (0), new request (-1), CANCEL with and
// without its INVITE, the end-to-end ACK of a relayed 2xx (1).
func TestCheckTrans(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	$var(ct) = 9;
	t_check_trans();
	$var(ct) = $rc;
	if ($var(ct) == -1 && method == "INVITE") { t_relay("udp:127.0.0.1:5070"); }
}
`)
	m := tmOf(t, s)
	rc := func(c *sr.Ctx) int { v, _ := c.Vars["ct"].AsInt(); return v }
	if c := s.Run(t, invite("z9hG4bK-ct1", "ct1")); rc(c) != -1 {
		t.Errorf("new INVITE: t_check_trans = %d, want -1", rc(c))
	}
	if c := s.Run(t, invite("z9hG4bK-ct1", "ct1")); rc(c) != 9 {
		t.Errorf("retransmission: the script went on (ct=%d)", rc(c))
	}
	cancel := strings.Replace(strings.Replace(invite("z9hG4bK-ct1", "ct1"), "INVITE sip", "CANCEL sip", 1), "1 INVITE", "1 CANCEL", 1)
	if c := s.Run(t, cancel); rc(c) != 1 {
		t.Errorf("CANCEL of a live INVITE: %d, want 1", rc(c))
	}
	if c := s.Run(t, strings.Replace(cancel, "ct1", "nope", -1)); rc(c) != -1 {
		t.Errorf("CANCEL without INVITE: %d, want -1", rc(c))
	}
	out := sentRequests(s)[0]
	ok := sip.NewResponseFromRequest(out, 200, "OK", nil)
	m.HandleReply(siptest.NewCtx(s.Core, ok, "udp", "127.0.0.1:5070"))
	ack := strings.NewReplacer("INVITE sip", "ACK sip", "1 INVITE", "1 ACK", "z9hG4bK-ct1", "z9hG4bK-ct1-ack",
		"To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=x").Replace(invite("z9hG4bK-ct1", "ct1"))
	if c := s.Run(t, ack); rc(c) != 1 {
		t.Errorf("end-to-end ACK of the relayed 200: %d, want 1", rc(c))
	}
}

// A CANCEL of an INVITE that has a transaction but no branch: 200 for the
// CANCEL, 487 for the INVITE.
func TestCancelWithoutBranches(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	if (method == "CANCEL") { t_relay_cancel(); exit; }
	t_newtran();
}
`)
	s.Run(t, invite("z9hG4bK-cn1", "cn1"))
	s.Run(t, strings.Replace(strings.Replace(invite("z9hG4bK-cn1", "cn1"), "INVITE sip", "CANCEL sip", 1), "1 INVITE", "1 CANCEL", 1))
	var got []string
	for _, r := range s.Core.Replies() {
		got = append(got, fmt.Sprintf("%d %s", r.StatusCode, r.CSeq().MethodName))
	}
	if strings.Join(got, ",") != "200 CANCEL,487 INVITE" {
		t.Errorf("replies %v, want 200 to the CANCEL and 487 to the INVITE", got)
	}
}

// Forms older and newer configs use load.
func TestConfigForms(t *testing.T) {
	for _, cfg := range []string{
		`route { t_set_fr("$t.fr_inv_timer", "$t.fr_timer"); t_set_fr(10000); t_reset_fr(); }`,
		`route { if (!t_relay_cancel()) { drop; } }`,
		`route { t_relay_to("udp:192.0.2.1:5060", "1"); t_relay_to(1); t_relay_to_tcp(); t_relay("192.0.2.1", "5060"); t_relay_to_udp("192.0.2.1", 5070); }`,
		`modparam("tm", "failure_reply_mode", 3)
		 modparam("tm", "fr_timer", 30)
		 route { if (!t_is_set("failure_route")) { t_on_failure("F"); } t_relay(); }
		 failure_route[F] { if (t_is_canceled()) { exit; } t_drop_replies(); t_drop_replies("l"); t_on_branch("0"); }`,
		`route { t_on_failure("1"); t_relay(); } failure_route[1] { t_reply("500", "x"); }`,
		`route { t_newtran(); t_reply("$var(code)", "$var(reason)"); t_release(); t_lookup_request(); t_lookup_cancel("1"); }`,
		`onreply_route { if (t_check_trans() && t_check_status("2[0-9][0-9]")) { t_on_failure("0"); } }`,
	} {
		if _, err := siptest.LoadErr(t, "loadmodule \"tm.so\"\n"+cfg); err != nil {
			t.Errorf("does not load: %s\n%v", cfg, err)
		}
	}
}

// Requests and replies missing any header do not break the module.
func TestMissingHeaders(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	t_check_trans();
	t_lookup_request();
	t_lookup_cancel();
	t_relay_cancel();
	if (t_newtran()) {
		t_reply("404", "x");
	}
	t_relay("udp:127.0.0.1:5070");
}
`)
	m := tmOf(t, s)
	full := []string{
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-mh",
		"From: <sip:alice@example.com>;tag=ft",
		"To: <sip:bob@example.com>",
		"Call-ID: mh@test",
		"CSeq: 1 METHOD",
	}
	for _, method := range []string{"INVITE", "ACK", "CANCEL", "OPTIONS"} {
		for skip := range full {
			var b strings.Builder
			b.WriteString(method + " sip:bob@example.com SIP/2.0\n")
			for i, h := range full {
				if i != skip {
					b.WriteString(strings.Replace(h, "METHOD", method, 1) + "\n")
				}
			}
			s.Run(t, b.String())
		}
	}
	for skip := range full {
		var b strings.Builder
		b.WriteString("SIP/2.0 486 Busy\n")
		for i, h := range full {
			if i != skip {
				b.WriteString(strings.Replace(strings.Replace(h, "METHOD", "INVITE", 1), "z9hG4bK-mh", "z9hG4bKTm1.0", 1) + "\n")
			}
		}
		m.HandleReply(siptest.NewCtx(s.Core, siptest.Response(t, b.String()), "udp", "127.0.0.1:5070"))
	}
}

// Replies to a real branch, each missing one header.
func TestReplyMissingHeaders(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route { t_on_failure("F"); t_relay("udp:127.0.0.1:5070"); }
failure_route[F] { t_reply("500", "F"); }
`)
	m := tmOf(t, s)
	for i, h := range []string{"From", "To", "Call-ID", "CSeq", "Via"} {
		s.Core.Reset()
		id := fmt.Sprintf("rmh%d", i)
		s.Run(t, invite("z9hG4bK-"+id, id))
		out := sentRequests(s)[0]
		for _, code := range []int{180, 486} {
			res := sip.NewResponseFromRequest(out, code, "x", nil)
			if h == "Via" {
				res.RemoveHeader("Via") // keep ours, drop the client's
				res.RemoveHeader("Via")
				res.PrependHeader(sip.HeaderClone(out.Via()))
			} else {
				sipmsg.Remove(res, h)
			}
			m.HandleReply(siptest.NewCtx(s.Core, res, "udp", "127.0.0.1:5070"))
		}
	}
}

// force_rport() marks the caller's Via with rport (filled with the source
// port), and add_local_rport() puts rport in our own Via, on stateful
// branches as on stateless forwards.
func TestRport(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
route {
	force_rport();
	add_local_rport();
	t_relay("udp:127.0.0.1:5070");
}
`)
	s.Run(t, invite("z9hG4bK-rp1", "rp1"))
	reqs := sentRequests(s)
	if len(reqs) != 1 {
		t.Fatalf("%d requests sent", len(reqs))
	}
	vias := reqs[0].GetHeaders("Via")
	if len(vias) != 2 {
		t.Fatalf("%d Vias", len(vias))
	}
	if _, ok := vias[0].(*sip.ViaHeader).Params.Get("rport"); !ok {
		t.Errorf("our Via lacks rport: %s", vias[0].Value())
	}
	if rp, _ := vias[1].(*sip.ViaHeader).Params.Get("rport"); rp != "5060" {
		t.Errorf("caller's Via rport=%q, want the source port 5060: %s", rp, vias[1].Value())
	}
}
