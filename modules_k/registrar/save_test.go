package registrar_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/textops"
	_ "sip-router.org/modules/tm"
	_ "sip-router.org/modules_k/kex"
	_ "sip-router.org/modules_k/registrar"
	_ "sip-router.org/modules_k/usrloc"
)

// harness runs a registrar config over messages with the fake core.
type harness struct {
	t *testing.T
	s *siptest.Script
}

const modules = `
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "kex.so"
loadmodule "textops.so"
`

// defaultRoute saves REGISTERs (with the flags in SAVEARGS) and looks
// the others up; $var(rc) keeps the code, or stays stopped when the
// function ended the script.
const defaultRoute = `
route {
	$var(rc) = 99;
	if (method == "REGISTER") {
		save("location"SAVEARGS);
		$var(rc) = $rc;
		exit;
	}
	lookup("location");
	$var(rc) = $rc;
}
`

func newHarness(t *testing.T, params string) *harness {
	return newHarnessRoute(t, params, strings.Replace(defaultRoute, "SAVEARGS", "", 1))
}

func newHarnessRoute(t *testing.T, params, route string) *harness {
	t.Helper()
	return &harness{t: t, s: siptest.NewScript(t, modules+params+"\n"+route)}
}

// run runs a message and returns its context, its code ($var(rc)) and
// the reply sent, if any.
func (h *harness) run(msg string) (*sr.Ctx, int, *sip.Response) {
	h.t.Helper()
	h.s.Core.Reset()
	c := h.s.Run(h.t, msg)
	rc, _ := c.Vars["rc"].AsInt()
	var res *sip.Response
	if rs := h.s.Core.Replies(); len(rs) > 0 {
		if len(rs) > 1 {
			h.t.Errorf("%d replies sent, want at most 1", len(rs))
		}
		res = rs[len(rs)-1]
	}
	return c, rc, res
}

// stopped is $var(rc) when save ended the script (0 after its error
// reply).
const stopped = 99

var cseqs = map[string]int{}

// register builds a REGISTER for user with its own Call-ID (a new CSeq
// each time), with extra header lines.
func register(user string, lines ...string) string {
	return registerCall(user, "reg-"+user, lines...)
}

func registerCall(user, callID string, lines ...string) string {
	cseqs[callID]++
	return registerCSeq(user, callID, cseqs[callID], lines...)
}

func registerCSeq(user, callID string, cseq int, lines ...string) string {
	return fmt.Sprintf(`REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-%s-%d
From: <sip:%s@example.com>;tag=f1
To: <sip:%s@example.com>
Call-ID: %s
CSeq: %d REGISTER
Max-Forwards: 70
%s
`, callID, cseq, user, user, callID, cseq, strings.Join(lines, "\n"))
}

func invite(ruri string, lines ...string) string {
	return fmt.Sprintf(`INVITE %s SIP/2.0
Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-inv
From: <sip:bob@example.com>;tag=b1
To: <%s>
Call-ID: inv-1@test
CSeq: 1 INVITE
Max-Forwards: 70
%s
`, ruri, ruri, strings.Join(lines, "\n"))
}

var contactRe = regexp.MustCompile(`<([^>]*)>((?:;[^,]*)?)`)

// bindings reads the Contact list of a 200 OK: URI → its parameters.
func bindings(t *testing.T, res *sip.Response) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range sipmsg.Headers(res, "Contact") {
		for _, m := range contactRe.FindAllStringSubmatch(h.Value(), -1) {
			out[m[1]] = m[2]
		}
	}
	return out
}

// expiresOf is a binding's expires parameter in a 200 OK.
func expiresOf(t *testing.T, res *sip.Response, uri string) int {
	t.Helper()
	params, ok := bindings(t, res)[uri]
	if !ok {
		t.Fatalf("no binding %s in\n%s", uri, res)
	}
	m := regexp.MustCompile(`;expires=(\d+)`).FindStringSubmatch(params)
	if m == nil {
		t.Fatalf("binding %s without expires: %q", uri, params)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func header(res *sip.Response, name string) string {
	if h := sipmsg.Header(res, name); h != nil {
		return h.Value()
	}
	return ""
}

// expectReply checks a reply's code and, for errors, its
// P-Registrar-Error.
func expectReply(t *testing.T, res *sip.Response, code int, info string) {
	t.Helper()
	if res == nil {
		t.Fatalf("no reply, want %d", code)
	}
	if res.StatusCode != code {
		t.Fatalf("reply %d %s, want %d:\n%s", res.StatusCode, res.Reason, code, res)
	}
	if info != "" && header(res, "P-Registrar-Error") != info {
		t.Errorf("P-Registrar-Error %q, want %q", header(res, "P-Registrar-Error"), info)
	}
}

// A first REGISTER adds its binding (code 1); the 200 OK lists it with
// its expiry and carries a Date; a refresh updates it (2), an expires=0
// removes it (3), a REGISTER without Contact lists the bindings (4).
func TestSaveBasics(t *testing.T) {
	h := newHarness(t, "")
	_, rc, res := h.run(register("alice", "Contact: <sip:alice@192.0.2.10:5060>;expires=600"))
	expectReply(t, res, 200, "")
	if rc != 1 {
		t.Errorf("first REGISTER: code %d, want 1", rc)
	}
	if e := expiresOf(t, res, "sip:alice@192.0.2.10:5060"); e != 600 {
		t.Errorf("expires %d, want 600", e)
	}
	date, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", header(res, "Date"))
	if err != nil || time.Since(date) > time.Minute || time.Until(date) > time.Minute {
		t.Errorf("Date %q: %v", header(res, "Date"), err)
	}
	if header(res, "P-Registrar-Error") != "" {
		t.Error("200 OK with P-Registrar-Error")
	}

	_, rc, res = h.run(register("alice", "Contact: <sip:alice@192.0.2.10:5060>;expires=300",
		"Contact: <sip:alice@192.0.2.11:5060>"))
	expectReply(t, res, 200, "")
	if rc != 1 || len(bindings(t, res)) != 2 {
		t.Errorf("second REGISTER: code %d, bindings %v", rc, bindings(t, res))
	}
	if e := expiresOf(t, res, "sip:alice@192.0.2.11:5060"); e != 3600 {
		t.Errorf("default_expires: %d", e)
	}
	_, rc, res = h.run(register("alice", "Contact: <sip:alice@192.0.2.10:5060>;expires=900"))
	if rc != 2 || expiresOf(t, res, "sip:alice@192.0.2.10:5060") != 900 {
		t.Errorf("refresh: code %d\n%s", rc, res)
	}
	_, rc, res = h.run(register("alice"))
	if rc != 4 || len(bindings(t, res)) != 2 {
		t.Errorf("fetch: code %d, bindings %v", rc, bindings(t, res))
	}
	_, rc, res = h.run(register("alice", "Contact: <sip:alice@192.0.2.10:5060>;expires=0"))
	if rc != 3 || len(bindings(t, res)) != 1 {
		t.Errorf("removal: code %d, bindings %v", rc, bindings(t, res))
	}
	// A REGISTER for an unknown AOR without Contact: 200, no binding.
	_, rc, res = h.run(register("nobody"))
	expectReply(t, res, 200, "")
	if rc != 4 || header(res, "Contact") != "" {
		t.Errorf("fetch of nobody: %d\n%s", rc, res)
	}
}

// Expiry: the contact's parameter over the Expires header over
// default_expires; max_expires caps; below min_expires is 423 with
// Min-Expires.
func TestExpiresRules(t *testing.T) {
	h := newHarness(t, `
modparam("registrar", "default_expires", 1200)
modparam("registrar", "min_expires", 120)
modparam("registrar", "max_expires", 1800)
`)
	for _, tc := range []struct {
		name  string
		lines []string
		want  int
	}{
		{"param over header", []string{"Expires: 600", "Contact: <sip:a@1>;expires=300"}, 300},
		{"header", []string{"Expires: 600", "Contact: <sip:a@1>"}, 600},
		{"default", []string{"Contact: <sip:a@1>"}, 1200},
		{"capped", []string{"Contact: <sip:a@1>;expires=7200"}, 1800},
		{"bad param takes the default", []string{"Contact: <sip:a@1>;expires=soon"}, 1200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, res := h.run(register("exp", tc.lines...))
			expectReply(t, res, 200, "")
			if e := expiresOf(t, res, "sip:a@1"); e != tc.want {
				t.Errorf("expires %d, want %d", e, tc.want)
			}
		})
	}
	_, rc, res := h.run(register("exp", "Contact: <sip:b@1>;expires=60"))
	expectReply(t, res, 423, "Expires too low")
	if header(res, "Min-Expires") != "120" || rc != stopped {
		t.Errorf("423: Min-Expires %q, code %d", header(res, "Min-Expires"), rc)
	}
	_, _, res = h.run(register("exp", "Expires: 30", "Contact: <sip:b@1>"))
	expectReply(t, res, 423, "")
	if _, found := bindings(t, res)["sip:b@1"]; found {
		t.Error("the 423'd contact was saved")
	}
	_, _, res = h.run(register("exp", "Expires: 3x", "Contact: <sip:b@1>"))
	expectReply(t, res, 400, "Expires parse error")
	// Expiry 0 is a removal, never too brief.
	_, rc, res = h.run(register("exp", "Contact: <sip:a@1>;expires=0"))
	expectReply(t, res, 200, "")
	if rc != 3 {
		t.Errorf("removal code %d", rc)
	}
}

// The star removes every binding, with Expires: 0 only and alone.
func TestStar(t *testing.T) {
	h := newHarness(t, "")
	h.run(register("star", "Contact: <sip:a@1>", "Contact: <sip:b@1>"))
	for _, tc := range []struct {
		lines []string
		info  string
	}{
		{[]string{"Contact: *", "Expires: 3600"}, "* used in contact and expires is not zero"},
		{[]string{"Contact: *"}, "* used in contact and expires is not zero"},
		{[]string{"Contact: *", "Contact: <sip:c@1>", "Expires: 0"}, "* used in contact and more than 1 contact"},
		{[]string{"Contact: <sip:c@1>", "Contact: *", "Expires: 0"}, "* used in contact and more than 1 contact"},
	} {
		_, rc, res := h.run(register("star", tc.lines...))
		expectReply(t, res, 400, tc.info)
		if rc != stopped {
			t.Errorf("%q: code %d", tc.lines, rc)
		}
	}
	_, _, res := h.run(register("star"))
	if len(bindings(t, res)) != 2 {
		t.Fatalf("the refused stars removed bindings: %v", bindings(t, res))
	}
	_, rc, res := h.run(register("star", "Contact: *", "Expires: 0"))
	expectReply(t, res, 200, "")
	if rc != 3 || header(res, "Contact") != "" {
		t.Errorf("star: code %d\n%s", rc, res)
	}
	_, _, res = h.run(register("star"))
	if len(bindings(t, res)) != 0 {
		t.Errorf("bindings left after the star: %v", bindings(t, res))
	}
}

// q values are stored and printed; lookup takes the highest q as R-URI
// and appends the others as branches in q order.
func TestQAndBranches(t *testing.T) {
	h := newHarness(t, "")
	_, _, res := h.run(register("q", "Contact: <sip:low@192.0.2.1>;q=0.1", "Contact: <sip:high@192.0.2.2>;q=1.0",
		"Contact: <sip:mid@192.0.2.3>;q=0.5", "Contact: <sip:none@192.0.2.4>"))
	expectReply(t, res, 200, "")
	bs := bindings(t, res)
	if !strings.Contains(bs["sip:low@192.0.2.1"], ";q=0.1;") || !strings.Contains(bs["sip:high@192.0.2.2"], ";q=1;") ||
		strings.Contains(bs["sip:none@192.0.2.4"], "q=") {
		t.Errorf("q in the 200 OK: %v", bs)
	}
	c, rc, _ := h.run(invite("sip:q@example.com"))
	if rc != 1 || c.Req.Recipient.String() != "sip:high@192.0.2.2" || c.Q != 1000 {
		t.Fatalf("lookup: code %d, R-URI %s, q %d", rc, c.Req.Recipient.String(), c.Q)
	}
	var got []string
	for _, b := range c.Branches {
		got = append(got, fmt.Sprintf("%s/%d", b.URI, b.Q))
	}
	if strings.Join(got, " ") != "sip:mid@192.0.2.3/500 sip:low@192.0.2.1/100 sip:none@192.0.2.4/-1" {
		t.Errorf("branches %q", got)
	}
	_, _, res = h.run(register("q", "Contact: <sip:bad@1>;q=1.5"))
	expectReply(t, res, 400, "Invalid q param in contact")
	_, _, res = h.run(register("q", "Contact: <sip:bad@1>;q=x"))
	expectReply(t, res, 400, "Invalid q param in contact")

	// default_q, and no branches with append_branches 0.
	h = newHarness(t, `
modparam("registrar", "append_branches", 0)
modparam("registrar", "default_q", 300)
`)
	_, _, res = h.run(register("q", "Contact: <sip:a@192.0.2.1>", "Contact: <sip:b@192.0.2.2>;q=0.9"))
	if !strings.Contains(bindings(t, res)["sip:a@192.0.2.1"], ";q=0.3;") {
		t.Errorf("default_q: %v", bindings(t, res))
	}
	c, rc, _ = h.run(invite("sip:q@example.com"))
	if rc != 1 || c.Req.Recipient.String() != "sip:b@192.0.2.2" || len(c.Branches) != 0 {
		t.Errorf("lookup without branches: %d %s %v", rc, c.Req.Recipient.String(), c.Branches)
	}
}

// Call-ID and CSeq ordering: an older CSeq of the same Call-ID is
// refused; the same CSeq is a retransmission (nothing changes); another
// Call-ID may carry any CSeq.
func TestCSeqOrdering(t *testing.T) {
	h := newHarness(t, "")
	_, _, res := h.run(registerCSeq("cs", "call-a", 10, "Contact: <sip:a@192.0.2.1>;expires=600"))
	expectReply(t, res, 200, "")
	_, rc, res := h.run(registerCSeq("cs", "call-a", 9, "Contact: <sip:a@192.0.2.1>;expires=900"))
	expectReply(t, res, 400, "Invalid CSeq number")
	if rc != stopped {
		t.Errorf("older CSeq: code %d", rc)
	}
	_, _, res = h.run(registerCSeq("cs", "call-a", 10, "Contact: <sip:a@192.0.2.1>;expires=900"))
	expectReply(t, res, 200, "")
	if e := expiresOf(t, res, "sip:a@192.0.2.1"); e != 600 {
		t.Errorf("a retransmission changed the binding: expires %d", e)
	}
	_, _, res = h.run(registerCSeq("cs", "call-a", 11, "Contact: <sip:a@192.0.2.1>;expires=900"))
	if e := expiresOf(t, res, "sip:a@192.0.2.1"); e != 900 {
		t.Errorf("newer CSeq: expires %d", e)
	}
	_, _, res = h.run(registerCSeq("cs", "call-b", 1, "Contact: <sip:a@192.0.2.1>;expires=1200"))
	expectReply(t, res, 200, "")
	if e := expiresOf(t, res, "sip:a@192.0.2.1"); e != 1200 {
		t.Errorf("another Call-ID: expires %d", e)
	}
}

// max_contacts bounds an AOR: the REGISTER over it gets 503 (with
// Retry-After when retry_after is set) and changes nothing.
func TestMaxContacts(t *testing.T) {
	h := newHarness(t, `
modparam("registrar", "max_contacts", 2)
modparam("registrar", "retry_after", 30)
`)
	_, _, res := h.run(register("mc", "Contact: <sip:a@1>", "Contact: <sip:b@1>", "Contact: <sip:c@1>"))
	expectReply(t, res, 503, "Too many registered contacts")
	if header(res, "Retry-After") != "30" {
		t.Errorf("Retry-After %q", header(res, "Retry-After"))
	}
	_, _, res = h.run(register("mc", "Contact: <sip:a@1>", "Contact: <sip:b@1>"))
	expectReply(t, res, 200, "")
	_, _, res = h.run(register("mc", "Contact: <sip:c@1>"))
	expectReply(t, res, 503, "")
	// Replacing one is fine.
	_, _, res = h.run(register("mc", "Contact: <sip:a@1>;expires=0", "Contact: <sip:c@1>"))
	expectReply(t, res, 200, "")
	if bs := bindings(t, res); len(bs) != 2 || bs["sip:c@1"] == "" {
		t.Errorf("after the swap: %v", bs)
	}
}

// save's flags: 0x02 sends no reply, 0x04 keeps the one registered
// contact.
func TestSaveFlags(t *testing.T) {
	route := func(args string) string { return strings.Replace(defaultRoute, "SAVEARGS", args, 1) }
	h := newHarnessRoute(t, "", route(`, "0x02"`))
	_, rc, res := h.run(register("nr", "Contact: <sip:a@1>"))
	if res != nil || rc != 1 {
		t.Errorf("no-reply save: code %d, reply %v", rc, res)
	}
	if c, rc, _ := h.run(invite("sip:nr@example.com")); rc != 1 || c.Req.Recipient.String() != "sip:a@1" {
		t.Errorf("binding of a no-reply save: %d", rc)
	}

	h = newHarnessRoute(t, "", route(`, "4"`))
	h.run(register("one", "Contact: <sip:a@1>", "Contact: <sip:b@1>"))
	_, _, res = h.run(register("one", "Contact: <sip:c@1>"))
	if bs := bindings(t, res); len(bs) != 1 || bs["sip:c@1"] == "" {
		t.Errorf("single-contact save kept %v", bs)
	}
	_, _, res = h.run(register("one", "Contact: <sip:c@1>;expires=100"))
	if bs := bindings(t, res); len(bs) != 1 || expiresOf(t, res, "sip:c@1") != 100 {
		t.Errorf("single-contact refresh: %v", bs)
	}
}

// Malformed REGISTERs get 400 and no panic, whatever header is missing.
func TestMalformed(t *testing.T) {
	h := newHarness(t, "")
	full := register("mal", "Contact: <sip:a@1>")
	drop := func(name string) string {
		var out []string
		for _, l := range strings.Split(full, "\n") {
			if !strings.HasPrefix(l, name+":") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	for _, tc := range []struct{ msg, info string }{
		{drop("To"), "To header not found"},
		{drop("Call-ID"), "Call-ID header not found"},
		{drop("CSeq"), "CSeq header not found"},
		{strings.Replace(full, "To: <sip:mal@example.com>", "To: <sip:example.com>", 1), "No username in To URI"},
		{strings.Replace(full, "To: <sip:mal@example.com>", "To: <sip:m%zzl@example.com>", 1), "Error while unescaping username"},
		{strings.Replace(full, "To: <sip:mal@example.com>", "To: <sip:"+strings.Repeat("u", 65)+"@example.com>", 1), "Address Of Record too long"},
		{strings.Replace(full, "Contact: <sip:a@1>", "Contact: <sip:"+strings.Repeat("c", 260)+"@1>", 1), "Contact/received too long"},
		{strings.Replace(full, "Call-ID: reg-mal", "Call-ID: "+strings.Repeat("i", 300), 1), "Callid too long"},
		{strings.Replace(full, "Contact: <sip:a@1>", "Contact: <sip:a@1>;methods=\"INVITE,B@D\"", 1), "Message parse error"},
	} {
		_, rc, res := h.run(tc.msg)
		code := 400
		if tc.info == "Address Of Record too long" {
			code = 500
		}
		expectReply(t, res, code, tc.info)
		if rc != stopped {
			t.Errorf("%s: code %d", tc.info, rc)
		}
	}
}

// Errors go through the core's reply builder: append_to_reply headers
// are in them, and so in the 200 OK.
func TestAppendToReply(t *testing.T) {
	h := newHarnessRoute(t, "", `
route {
	append_to_reply("X-Extra: yes\r\n");
	save("location");
}
`)
	_, _, res := h.run(register("atr", "Contact: <sip:a@1>"))
	if header(res, "X-Extra") != "yes" {
		t.Errorf("200 OK without the append_to_reply header:\n%s", res)
	}
	_, _, res = h.run(register("atr", "Contact: <sip:a@1>;q=7"))
	expectReply(t, res, 400, "")
	if header(res, "X-Extra") != "yes" {
		t.Errorf("400 without the append_to_reply header:\n%s", res)
	}
}

// A REGISTER inside a transaction (t_newtran) is answered through it.
func TestReplyThroughTransaction(t *testing.T) {
	h := newHarnessRoute(t, "loadmodule \"tm.so\"\nloadmodule \"sl.so\"\n", `
route {
	t_newtran();
	save("location");
	$var(rc) = $rc;
}
`)
	c, rc, res := h.run(register("tx", "Contact: <sip:a@1>"))
	expectReply(t, res, 200, "")
	if rc != 1 || c.Tx() == nil {
		t.Errorf("code %d, transaction %v", rc, c.Tx())
	}
	if len(bindings(t, res)) != 1 {
		t.Errorf("200 OK through the transaction without its Contact:\n%s", res)
	}
}

// loadErr loads a config with the registrar's modules, for config errors.
func loadErr(t *testing.T, cfg string) (any, error) {
	t.Helper()
	return siptest.LoadErr(t, modules+cfg)
}

// In onreply_route, save() stores the bindings of an upstream registrar's
// 200 OK, without replying; aor_avp overrides the To URI.
func TestSaveReplyAndAORAVP(t *testing.T) {
	h := newHarnessRoute(t, `modparam("registrar", "aor_avp", "$avp(s:aor)")`, `
route {
	if (method == "REGISTER") {
		$avp(s:aor) = "sip:other@example.com";
		save("location");
		exit;
	}
	lookup("location");
	$var(rc) = $rc;
}
onreply_route {
	save("location");
}
`)
	res := siptest.Response(t, `
SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-up
From: <sip:up@example.com>;tag=f1
To: <sip:up@example.com>;tag=t1
Call-ID: up-1@test
CSeq: 1 REGISTER
Contact: <sip:up@192.0.2.7>;expires=120
`)
	c := h.s.Ctx(res, "", "")
	h.s.Core.Reset()
	h.s.Loaded.Script.Run(c, sr.RouteOnReply, "")
	if n := len(h.s.Core.Sent()); n != 0 {
		t.Errorf("save in onreply_route sent %d messages", n)
	}
	if c, rc, _ := h.run(invite("sip:up@example.com")); rc != 1 || c.Req.Recipient.String() != "sip:up@192.0.2.7" {
		t.Errorf("binding from the reply: %d", rc)
	}
	_, _, r := h.run(register("alice", "Contact: <sip:a@192.0.2.8>"))
	expectReply(t, r, 200, "")
	if _, rc, _ := h.run(invite("sip:other@example.com")); rc != 1 {
		t.Errorf("aor_avp's AOR not found: %d", rc)
	}
	if _, rc, _ := h.run(invite("sip:alice@example.com")); rc != -1 {
		t.Errorf("the To AOR was used despite aor_avp: %d", rc)
	}
}

// The default configs call sl_reply_error() when save() fails: save has
// replied and ended the script, so the REGISTER gets one reply. With 0x02
// (no reply) the script goes on and sl_reply_error sends save's error.
func TestSaveThenReplyError(t *testing.T) {
	for _, tc := range []struct{ args, want string }{{"", "423"}, {`, "0x02"`, "423"}} {
		s := siptest.NewScript(t, modules+`loadmodule "sl.so"
route {
	if (!save("location"`+tc.args+`)) {
		sl_reply_error();
	}
}
`)
		s.Run(t, register("sre", "Contact: <sip:a@1>;expires=5"))
		rs := s.Core.Replies()
		if len(rs) != 1 || fmt.Sprint(rs[0].StatusCode) != tc.want {
			for _, r := range rs {
				t.Logf("%d %s", r.StatusCode, r.Reason)
			}
			t.Errorf("save(%s): %d replies, want one %s", tc.args, len(rs), tc.want)
		}
	}
}
