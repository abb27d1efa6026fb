package tmx_test

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules/tm"
	_ "sip-router.org/modules_k/tmx"
)

const inviteText = `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=BRANCH
From: <sip:alice@example.com>;tag=ft
To: <sip:bob@example.com>
Call-ID: CALLID
CSeq: 1 INVITE
Max-Forwards: 70
X-Q: request-value
`

func invite(branch, callID string) string {
	return strings.NewReplacer("BRANCH", branch, "CALLID", callID).Replace(inviteText)
}

func tmOf(t *testing.T, s *siptest.Script) *tm.TM {
	t.Helper()
	i, ok := s.Loaded.Modules.Get("tm")
	if !ok {
		t.Fatal("tm not loaded")
	}
	return i.Value.(*tm.TM)
}

func lastRequest(t *testing.T, s *siptest.Script, method string) *sip.Request {
	t.Helper()
	var out *sip.Request
	for _, m := range s.Core.Sent() {
		if r, ok := m.Msg.(*sip.Request); ok && string(r.Method) == method {
			out = r
		}
	}
	if out == nil {
		t.Fatalf("no %s sent", method)
	}
	return out
}

func reply(t *testing.T, s *siptest.Script, req *sip.Request, code int, reason string, extra ...string) {
	t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, e := range extra {
		n, v, _ := strings.Cut(e, ":")
		res.AppendHeader(sip.NewHeader(n, strings.TrimSpace(v)))
	}
	if !tmOf(t, s).HandleReply(siptest.NewCtx(s.Core, res, "udp", "127.0.0.1:5070")) {
		t.Fatalf("reply %d not taken by tm", code)
	}
}

func lastReply(t *testing.T, s *siptest.Script) *sip.Response {
	t.Helper()
	r := s.Core.Replies()
	if len(r) == 0 {
		t.Fatal("no reply sent upstream")
	}
	return r[len(r)-1]
}

// The $T_* variables in failure_route: the winning reply, its branch, the
// transaction's request.
func TestFailureRouteVariables(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
loadmodule "tmx.so"
route { t_on_failure("F"); t_relay("udp:127.0.0.1:5070"); }
failure_route[F] {
	if (t_is_failure_route()) {
		t_reply("480", "$T_reply_code $T_reply_reason idx=$T_branch_idx q=$T_req($hdr(X-Q)) r=$T_rpl($hdr(X-R))");
	}
}
`)
	s.Run(t, invite("z9hG4bK-fv1", "fv1"))
	reply(t, s, lastRequest(t, s, "INVITE"), 486, "Busy Here", "X-R: reply-value")
	got := lastReply(t, s)
	want := "486 Busy Here idx=0 q=request-value r=reply-value"
	if got.StatusCode != 480 || got.Reason != want {
		t.Errorf("upstream got %d %q, want 480 %q", got.StatusCode, got.Reason, want)
	}
}

// $T_branch_idx in branch_route, $T_req in onreply_route.
func TestBranchAndReplyVariables(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
loadmodule "tmx.so"
route {
	rewritehostport("127.0.0.1:5070");
	append_branch("sip:carol@127.0.0.1:5080");
	t_on_branch("B");
	t_on_reply("R");
	t_relay();
}
branch_route[B] {
	if ($T_branch_idx == 1 && t_is_branch_route()) { drop; }
}
onreply_route[R] {
	if ($T_req($hdr(X-Q)) == "request-value" && $T_reply_code == 183 && t_is_reply_route()) { drop; }
}
`)
	s.Run(t, invite("z9hG4bK-bv1", "bv1"))
	n := 0
	for _, m := range s.Core.Sent() {
		if r, ok := m.Msg.(*sip.Request); ok && r.Method == sip.INVITE {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d branches sent, want 1 (branch 1 dropped)", n)
	}
	inv := lastRequest(t, s, "INVITE")
	reply(t, s, inv, 183, "Progress")
	reply(t, s, inv, 180, "Ringing")
	var codes []int
	for _, r := range s.Core.Replies() {
		codes = append(codes, r.StatusCode)
	}
	if len(codes) != 2 || codes[0] != 100 || codes[1] != 180 {
		t.Errorf("upstream got %v, want [100 180] (183 dropped in onreply_route)", codes)
	}
}

// t_reply_callid answers another transaction; $T_inv reads a CANCEL's
// INVITE.
func TestReplyCallIDAndInvite(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
loadmodule "tmx.so"
route {
	if (method == "MESSAGE") {
		t_reply_callid("$hdr(X-Call)", "1", "486", "Busy from $rm");
		exit;
	}
	if (method == "CANCEL") {
		if ($T_inv($hdr(X-Q)) == "request-value") { t_reply_callid("$ci", "1", "487", "seen"); }
		exit;
	}
	t_newtran();
}
`)
	s.Run(t, invite("z9hG4bK-rc1", "rc1"))
	s.Run(t, `
MESSAGE sip:x@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-msg1
From: <sip:a@example.com>;tag=m1
To: <sip:x@example.com>
Call-ID: other
CSeq: 5 MESSAGE
X-Call: rc1
`)
	got := lastReply(t, s)
	if got.StatusCode != 486 || got.Reason != "Busy from MESSAGE" || got.CallID().Value() != "rc1" {
		t.Errorf("got %d %q for %s", got.StatusCode, got.Reason, got.CallID().Value())
	}

	s.Run(t, invite("z9hG4bK-rc2", "rc2"))
	s.Run(t, strings.Replace(strings.Replace(invite("z9hG4bK-rc2", "rc2"), "INVITE sip", "CANCEL sip", 1), "1 INVITE", "1 CANCEL", 1))
	got = lastReply(t, s)
	if got.StatusCode != 487 || got.CallID().Value() != "rc2" {
		t.Errorf("$T_inv did not read the INVITE: last reply %d for %s", got.StatusCode, got.CallID().Value())
	}
}

// t_precheck_trans sees a copy arriving while the first is fresh.
func TestPrecheck(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
loadmodule "tmx.so"
route {
	if (t_precheck_trans()) { $var(dup) = 1; exit; }
	$var(dup) = 0;
}
`)
	c1 := s.Run(t, invite("z9hG4bK-pc1", "pc1"))
	c2 := s.Run(t, invite("z9hG4bK-pc1", "pc1"))
	c3 := s.Run(t, invite("z9hG4bK-pc2", "pc1"))
	for i, c := range []*sr.Ctx{c1, c2, c3} {
		want := []int{0, 1, 0}[i]
		if v, _ := c.Vars["dup"].AsInt(); v != want {
			t.Errorf("request %d: dup=%v, want %d", i+1, c.Vars["dup"], want)
		}
	}
}

// t_flush_flags and t_cancel_branches.
func TestFlagsAndCancelBranches(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "tm.so"
loadmodule "tmx.so"
route {
	t_on_reply("R");
	t_relay("udp:127.0.0.1:5070");
	setflag(5);
	t_flush_flags();
}
onreply_route[R] {
	if (status == "180") { t_cancel_branches("all"); }
}
`)
	m := tmOf(t, s)
	var flags uint32
	m.OnCompletion(func(c *tm.Completion) { flags = c.Flags })
	s.Run(t, invite("z9hG4bK-fl1", "fl1"))
	inv := lastRequest(t, s, "INVITE")
	reply(t, s, inv, 180, "Ringing")
	can := lastRequest(t, s, "CANCEL")
	if can.Via().Value() != inv.Via().Value() {
		t.Errorf("CANCEL Via %q, want %q", can.Via().Value(), inv.Via().Value())
	}
	reply(t, s, inv, 487, "Request Terminated")
	if flags&(1<<5) == 0 {
		t.Errorf("completion flags %b lack flag 5 set after t_relay", flags)
	}
}
