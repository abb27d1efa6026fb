package textops_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/textops"
)

const invite = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@example.com>
From: Alice <sip:alice@example.org>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.example.org
CSeq: 314159 INVITE
Subject: hi
Contact: <sip:alice@192.0.2.10>
Content-Type: application/sdp

v=0
o=alice 2890844526 2890844526 IN IP4 192.0.2.10
s=-
`

const register = `REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:bob@example.com>;tag=r1
Call-ID: reg1@192.0.2.10
CSeq: 1 REGISTER
m: <sip:bob@192.0.2.10>
`

// smuggle carries one header name spelled three ways, as in the
// CVE-2020-28361 class of attacks on header stripping.
const smuggle = `OPTIONS sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsm1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:alice@example.org>;tag=s1
Call-ID: sm1@192.0.2.10
CSeq: 1 OPTIONS
X-Internal : 1
x-internal: 2
X-INTERNAL	: 3
X-Other: keep
s: compact subject
`

// script loads a config whose main route is body, with the given first
// line ("#!KAMAILIO" or "" for max-compat mode).
func script(t *testing.T, header, body string) *siptest.Script {
	t.Helper()
	return siptest.NewScript(t, header+"\nloadmodule \"textops.so\"\nroute {\n"+body+"\n}\n")
}

// run runs body over msg and returns the context; c.RC is the code of the
// last call.
func run(t *testing.T, header, body, msg string) *sr.Ctx {
	t.Helper()
	s := script(t, header, body)
	return s.Run(t, msg)
}

func values(msg sip.Message, name string) []string {
	var out []string
	for _, h := range sipmsg.Headers(msg, name) {
		out = append(out, h.Value())
	}
	return out
}

func names(msg sip.Message) []string {
	var out []string
	for _, h := range msg.(*sip.Request).Headers() {
		out = append(out, h.Name())
	}
	return out
}

func TestRemoveHFCanonicalNames(t *testing.T) {
	for _, tc := range []struct {
		name, call string
		gone       []string
		kept       []string
		rc         int
	}{
		{"three spellings", `remove_hf("X-Internal");`, []string{"X-Internal"}, []string{"X-Other", "Subject"}, 1},
		{"lower-case argument", `remove_hf("x-internal");`, []string{"X-Internal"}, []string{"X-Other"}, 1},
		{"compact form by long name", `remove_hf("Subject");`, []string{"Subject"}, []string{"X-Internal"}, 1},
		{"long form by compact name", `remove_hf("s");`, []string{"Subject"}, []string{"X-Internal"}, 1},
		{"absent", `remove_hf("X-Nothing");`, nil, []string{"X-Internal", "X-Other"}, -1},
		{"regex", `remove_hf_re("^x-int");`, []string{"X-Internal"}, []string{"X-Other"}, 1},
		{"regex on the canonical name", `remove_hf_re("^subject$");`, []string{"Subject"}, []string{"X-Other"}, 1},
		{"regex no match", `remove_hf_re("^Y-");`, nil, []string{"X-Internal"}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := run(t, "", tc.call, smuggle)
			if c.RC != tc.rc {
				t.Errorf("rc %d, want %d", c.RC, tc.rc)
			}
			for _, n := range tc.gone {
				if sipmsg.Has(c.Req, n) {
					t.Errorf("%s still present:\n%s", n, c.Req)
				}
			}
			for _, n := range tc.kept {
				if !sipmsg.Has(c.Req, n) {
					t.Errorf("%s was removed:\n%s", n, c.Req)
				}
			}
			if len(tc.gone) > 0 && tc.gone[0] == "X-Internal" && strings.Contains(strings.ToLower(c.Req.String()), "internal") {
				t.Errorf("the rendered message still carries the header:\n%s", c.Req)
			}
		})
	}
}

func TestIsPresentHF(t *testing.T) {
	for _, tc := range []struct {
		call, msg string
		rc        int
	}{
		{`is_present_hf("Max-Forwards");`, invite, 1},
		{`is_present_hf("max-forwards ");`, invite, 1},
		{`is_present_hf("X-Nope");`, invite, -1},
		{`is_present_hf("Contact");`, register, 1}, // written "m:"
		{`is_present_hf("X-Internal");`, smuggle, 1},
		{`is_present_hf_re("^X-Oth");`, smuggle, 1},
		{`is_present_hf_re("^contact$");`, register, 1},
		{`is_present_hf_re("^Y-");`, smuggle, -1},
	} {
		t.Run(tc.call, func(t *testing.T) {
			if c := run(t, "", tc.call, tc.msg); c.RC != tc.rc {
				t.Errorf("rc %d, want %d", c.RC, tc.rc)
			}
		})
	}
}

func TestAppendInsertHF(t *testing.T) {
	for _, tc := range []struct {
		name, header, call string
		rc                 int
		// want lists header names that must appear in this order (the
		// new ones and their neighbours); empty when the message must be
		// unchanged.
		want []string
		// check verifies values.
		check map[string][]string
	}{
		{name: "append with CRLF", call: `append_hf("P-hint: outbound\r\n");`, rc: 1,
			want: []string{"Content-Length", "P-hint"}, check: map[string][]string{"P-hint": {"outbound"}}},
		{name: "append without CRLF", call: `append_hf("P-hint: outbound");`, rc: 1,
			want: []string{"P-hint"}, check: map[string][]string{"P-hint": {"outbound"}}},
		{name: "several lines", call: `append_hf("X-A: 1\r\nX-B: 2\r\n");`, rc: 1,
			want: []string{"X-A", "X-B"}, check: map[string][]string{"X-A": {"1"}, "X-B": {"2"}}},
		{name: "folded line", call: `append_hf("X-A: 1\r\n 2\r\n");`, rc: 1,
			check: map[string][]string{"X-A": {"1 2"}}},
		{name: "after a header", call: `append_hf("X-A: 1\r\n", "Call-ID");`, rc: 1,
			want: []string{"Call-ID", "X-A", "CSeq"}},
		{name: "after a missing header goes last", call: `append_hf("X-A: 1\r\n", "X-None");`, rc: 1,
			want: []string{"Content-Length", "X-A"}},
		{name: "insert first", call: `insert_hf("X-A: 1\r\n");`, rc: 1,
			want: []string{"X-A", "Via"}},
		{name: "insert before a header", call: `insert_hf("X-A: 1\r\n", "cseq");`, rc: 1,
			want: []string{"Call-ID", "X-A", "CSeq"}},
		{name: "typed header", call: `append_hf("Route: <sip:p1.example.net;lr>\r\n");`, rc: 1,
			check: map[string][]string{"Route": {"<sip:p1.example.net;lr>"}}},
		{name: "kamailio PV format", header: "#!KAMAILIO", call: `append_hf("X-User: $rU@$rd\r\n");`, rc: 1,
			check: map[string][]string{"X-User": {"bob@example.com"}}},
		{name: "ser xl format", call: `append_hf("X-URI: %ru\r\n");`, rc: 1,
			check: map[string][]string{"X-URI": {"sip:bob@example.com"}}},
		{name: "percent is literal in kamailio mode", header: "#!KAMAILIO", call: `append_hf("X-Rate: 100%\r\n");`, rc: 1,
			check: map[string][]string{"X-Rate": {"100%"}}},
		{name: "bare LF refused", call: `append_hf("X-A: 1\nX-Evil: 2\r\n");`, rc: -1},
		{name: "bare CR refused", call: `append_hf("X-A: 1\rX-Evil: 2\r\n");`, rc: -1},
		{name: "empty name refused", call: `append_hf(": value\r\n");`, rc: -1},
		{name: "blank name refused", call: `append_hf(" : value\r\n");`, rc: -1},
		{name: "name with a blank refused", call: `append_hf("X Evil: value\r\n");`, rc: -1},
		{name: "empty line refused", call: `append_hf("X-A: 1\r\n\r\nbody\r\n");`, rc: -1},
		{name: "no colon refused", call: `append_hf("garbage\r\n");`, rc: -1},
		{name: "content-length refused", call: `append_hf("Content-Length: 10\r\n");`, rc: -1},
		{name: "unparsable typed header refused", call: `append_hf("CSeq: x y z\r\n");`, rc: -1},
		{name: "empty text refused", call: `append_hf("");`, rc: -1},
		{name: "url header", call: `append_urihf("X-URI: <", ">\r\n");`, rc: 1,
			check: map[string][]string{"X-URI": {"<sip:bob@example.com>"}}},
		{name: "url header refused", call: `append_urihf("X-URI: <", ">\nX-Evil: 1");`, rc: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := siptest.Request(t, invite).String()
			c := run(t, tc.header, tc.call, invite)
			if c.RC != tc.rc {
				t.Fatalf("rc %d, want %d\n%s", c.RC, tc.rc, c.Req)
			}
			if tc.rc < 0 {
				if got := c.Req.String(); got != before {
					t.Errorf("refused call changed the message:\n%s", got)
				}
				if sipmsg.Has(c.Req, "X-Evil") {
					t.Error("X-Evil was injected")
				}
				return
			}
			got := names(c.Req)
			if len(tc.want) > 0 && !inOrder(got, tc.want) {
				t.Errorf("headers %q, want the run %q", got, tc.want)
			}
			for n, vs := range tc.check {
				if g := values(c.Req, n); strings.Join(g, "|") != strings.Join(vs, "|") {
					t.Errorf("%s = %q, want %q", n, g, vs)
				}
			}
			if tc.name == "typed header" && c.Req.Route() == nil {
				t.Error("the appended Route is not a typed Route header")
			}
		})
	}
}

// inOrder reports whether want appears in got as consecutive names.
func inOrder(got, want []string) bool {
	for i := 0; i+len(want) <= len(got); i++ {
		ok := true
		for j := range want {
			if !sipmsg.Same(got[i+j], want[j]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestTextLevel(t *testing.T) {
	for _, tc := range []struct {
		name, call string
		rc         int
		check      func(t *testing.T, req *sip.Request)
	}{
		{name: "search hit", call: `search("^CSeq: 314159 INVITE");`, rc: 1},
		{name: "search ignores case", call: `search("cseq: 314159");`, rc: 1},
		{name: "search sees the first line", call: `search("^INVITE sip:bob");`, rc: 1},
		{name: "search miss", call: `search("nomatch");`, rc: -1},
		{name: "search dot stops at line end", call: `search("Subject: hi.Contact");`, rc: -1},
		{name: "search_append", call: `search_append("^Subject: hi", " there");`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if v := values(req, "Subject"); len(v) != 1 || v[0] != "hi there" {
					t.Errorf("Subject %q", v)
				}
			}},
		{name: "search_append skips the first line", call: `search_append("^INVITE", "X");`, rc: -1},
		{name: "replace", call: `replace("Alice", "Carol");`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if f := req.From(); f == nil || f.DisplayName != "Carol" {
					t.Errorf("From %v", f)
				}
				if req.Contact().Address.User != "alice" {
					t.Error("replace changed more than the first match")
				}
			}},
		{name: "replace_all", call: `replace_all("example\.org", "example.net");`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if req.From().Address.Host != "example.net" || !strings.HasSuffix(req.CallID().Value(), "example.net") {
					t.Errorf("not every match replaced:\n%s", req)
				}
			}},
		{name: "replace in the body fixes Content-Length", call: `replace("s=-", "s=session");`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if !strings.Contains(string(req.Body()), "s=session") {
					t.Errorf("body %q", req.Body())
				}
				if cl := req.ContentLength(); cl == nil || int(*cl) != len(req.Body()) {
					t.Errorf("Content-Length %v for a body of %d bytes", cl, len(req.Body()))
				}
			}},
		{name: "replace that breaks a header refused", call: `replace("^To:", "");`, rc: -1},
		{name: "replace with a bare LF refused", call: `replace("Alice", "x\nX-Evil: 1");`, rc: -1},
		{name: "replace_all of the empty string refused", call: `replace_all("z*", "y");`, rc: -1},
		{name: "subst with groups", call: `subst('/^(Subject:) hi/\1 hello/');`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if v := values(req, "Subject"); len(v) != 1 || v[0] != "hello" {
					t.Errorf("Subject %q", v)
				}
			}},
		{name: "subst with the R-URI", call: `subst('/^(Subject:) hi/\1 \u/');`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if v := values(req, "Subject"); len(v) != 1 || v[0] != "sip:bob@example.com" {
					t.Errorf("Subject %q", v)
				}
			}},
		{name: "subst is case-sensitive without i", call: `subst('/^subject: hi/Subject: x/');`, rc: -1},
		{name: "subst i flag", call: `subst('/^subject: hi/Subject: x/i');`, rc: 1},
		{name: "subst first match only", call: `subst('/alice/ALICE/');`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if req.From().Address.User != "ALICE" || req.Contact().Address.User != "alice" {
					t.Errorf("From %s Contact %s", req.From().Address.User, req.Contact().Address.User)
				}
			}},
		{name: "subst g flag", call: `subst('/alice/ALICE/g');`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if req.From().Address.User != "ALICE" || req.Contact().Address.User != "ALICE" {
					t.Errorf("From %s Contact %s", req.From().Address.User, req.Contact().Address.User)
				}
			}},
		{name: "subst that breaks the message refused", call: `subst('/^(Subject: hi).*$/\1/');`, rc: -1},
		{name: "subst_uri", call: `subst_uri('/^sip:([a-z]+)@(.*)$/sip:\1-x@\2;orig=\0/');`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if got := req.Recipient.String(); got != "sip:bob-x@example.com;orig=sip:bob@example.com" {
					t.Errorf("R-URI %s", got)
				}
			}},
		{name: "subst_uri no match", call: `subst_uri('/^tel:/sip:/');`, rc: -1},
		{name: "subst_uri to garbage refused", call: `subst_uri('/^sip:.*$/x y/');`, rc: -1},
		{name: "subst_user", call: `subst_user('/^bob$/robert/');`, rc: 1,
			check: func(t *testing.T, req *sip.Request) {
				if req.Recipient.User != "robert" || req.Recipient.Host != "example.com" {
					t.Errorf("R-URI %s", req.Recipient.String())
				}
			}},
		{name: "subst_user no match", call: `subst_user('/^alice$/x/');`, rc: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := siptest.Request(t, invite).String()
			c := run(t, "", tc.call, invite)
			if c.RC != tc.rc {
				t.Fatalf("rc %d, want %d\n%s", c.RC, tc.rc, c.Req)
			}
			if tc.rc < 0 && c.Req.String() != before {
				t.Errorf("failed call changed the message:\n%s", c.Req)
			}
			if sipmsg.Has(c.Req, "X-Evil") {
				t.Error("X-Evil was injected")
			}
			if tc.check != nil {
				tc.check(t, c.Req)
			}
		})
	}
}

func TestIsMethodHasBodyStrings(t *testing.T) {
	for _, tc := range []struct {
		header, call, msg string
		rc                int
	}{
		{"", `is_method("INVITE");`, invite, 1},
		{"", `is_method("invite");`, invite, 1},
		{"", `is_method("REGISTER|INVITE");`, invite, 1},
		{"", `is_method("BYE|CANCEL");`, invite, -1},
		{"", `is_method("REGISTER");`, register, 1},
		{"", `has_body();`, invite, 1},
		{"", `has_body();`, register, -1},
		{"", `has_body("application/sdp");`, invite, 1},
		{"", `has_body("Application/SDP");`, invite, 1},
		{"", `has_body("text/plain");`, invite, -1},
		{"#!KAMAILIO", `cmp_str("$rU", "bob");`, invite, 1},
		{"#!KAMAILIO", `cmp_str("$rU", "BOB");`, invite, -1},
		{"", `cmp_str("a", "b");`, invite, -2},
		{"", `cmp_str("b", "a");`, invite, -1},
		{"#!KAMAILIO", `cmp_istr("$rU", "BOB");`, invite, 1},
		{"", `cmp_istr("A", "b");`, invite, -2},
		{"#!KAMAILIO", `starts_with("$rU", "bo");`, invite, 1},
		{"#!KAMAILIO", `starts_with("$rU", "x");`, invite, -2},
		{"#!KAMAILIO", `starts_with("$rU", "a");`, invite, -1},
		{"", `starts_with("ab", "abc");`, invite, -1},
		{"", `starts_with("%ru", "sip:");`, invite, 1},
	} {
		t.Run(tc.header+" "+tc.call, func(t *testing.T) {
			if c := run(t, tc.header, tc.call, tc.msg); c.RC != tc.rc {
				t.Errorf("rc %d, want %d", c.RC, tc.rc)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	s := siptest.NewScript(t, `
#!KAMAILIO
loadmodule "textops.so"
onreply_route {
	if (is_method("INVITE")) {
		append_hf("X-Seen: yes\r\n");
	}
	if (has_body()) {
		remove_hf("X-Drop");
	}
}
`)
	res := siptest.Response(t, `SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds
To: Bob <sip:bob@example.com>;tag=a6c85cf
From: Alice <sip:alice@example.org>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.example.org
CSeq: 314159 INVITE
X-Drop: 1
Content-Type: application/sdp

v=0
`)
	c := s.Ctx(res, "", "")
	s.Loaded.Script.Run(c, sr.RouteOnReply, "")
	if v := values(c.Resp, "X-Seen"); len(v) != 1 || v[0] != "yes" {
		t.Errorf("X-Seen %q (is_method on a reply reads the CSeq method)", v)
	}
	if sipmsg.Has(c.Resp, "X-Drop") {
		t.Error("X-Drop still present")
	}
}

func TestFailureRouteEditsTheRequest(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "textops.so"
route { }
failure_route[F] {
	append_hf("X-Retry: 1\r\n");
}
`)
	c := s.Ctx(siptest.Request(t, invite), "", "")
	c.Resp = siptest.Response(t, `SIP/2.0 486 Busy Here
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds
To: Bob <sip:bob@example.com>;tag=x
From: Alice <sip:alice@example.org>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.example.org
CSeq: 314159 INVITE
`)
	s.Loaded.Script.Run(c, sr.RouteFailure, "F")
	if !sipmsg.Has(c.Req, "X-Retry") || sipmsg.Has(c.Resp, "X-Retry") {
		t.Errorf("failure_route must change the request:\nrequest:\n%s\nreply:\n%s", c.Req, c.Resp)
	}
}

func TestReplyHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, header, body string
		want               []string
		rc                 int
	}{
		{"kamailio text", "#!KAMAILIO", `append_to_reply("X-Reason: $rU busy\r\n");`, []string{"X-Reason: bob busy\r\n"}, 1},
		{"two lines", "", `append_to_reply("X-A: 1\r\nX-B: 2");`, []string{"X-A: 1\r\n", "X-B: 2\r\n"}, 1},
		{"ser attribute in xl format", "",
			`$digest_challenge = "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\"\r\n";` +
				` append_to_reply("%$digest_challenge");`,
			[]string{"WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\"\r\n"}, 1},
		{"bare LF refused", "", `append_to_reply("X-A: 1\nX-Evil: 2");`, nil, -1},
		{"missing attribute refused", "", `append_to_reply("%$nothing");`, nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := run(t, tc.header, tc.body, invite)
			if c.RC != tc.rc {
				t.Fatalf("rc %d, want %d", c.RC, tc.rc)
			}
			if strings.Join(c.ReplyHeaders, "|") != strings.Join(tc.want, "|") {
				t.Errorf("reply headers %q, want %q", c.ReplyHeaders, tc.want)
			}
		})
	}
}

func TestLocalReplyCarriesAppendedHeaders(t *testing.T) {
	c := run(t, "", `append_to_reply("X-Reason: test\r\n"); append_time();`, invite)
	core := siptest.NewCore()
	res := core.Reply(c, 486, "Busy Here", "")
	if v := values(res, "X-Reason"); len(v) != 1 || v[0] != "test" {
		t.Errorf("X-Reason %q in\n%s", v, res)
	}
	d := values(res, "Date")
	if len(d) != 1 {
		t.Fatalf("Date %q in\n%s", d, res)
	}
	when, err := time.Parse(time.RFC1123, d[0])
	if err != nil || !strings.HasSuffix(d[0], " GMT") {
		t.Fatalf("Date %q: %v", d[0], err)
	}
	if age := time.Since(when); age < -time.Minute || age > time.Minute {
		t.Errorf("Date %q is not now", d[0])
	}
}

func TestSetBody(t *testing.T) {
	c := run(t, "", `set_body("hello", "text/plain");`, register)
	if c.RC != 1 || string(c.Req.Body()) != "hello" {
		t.Fatalf("rc %d body %q", c.RC, c.Req.Body())
	}
	if v := values(c.Req, "Content-Type"); len(v) != 1 || v[0] != "text/plain" {
		t.Errorf("Content-Type %q", v)
	}
	if cl := c.Req.ContentLength(); cl == nil || *cl != 5 {
		t.Errorf("Content-Length %v", cl)
	}
	// The result goes out as a message that parses back the same.
	m, err := sipmsg.NewParser(0).ParseSIP([]byte(c.Req.String()))
	if err != nil || string(m.Body()) != "hello" {
		t.Fatalf("rendered message: %v\n%s", err, c.Req)
	}

	c = run(t, "", `set_body("x", "text/plain\r\nX-Evil: 1");`, register)
	if c.RC != -1 || sipmsg.Has(c.Req, "X-Evil") || len(c.Req.Body()) != 0 {
		t.Errorf("content type with a line end accepted: rc %d\n%s", c.RC, c.Req)
	}

}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{`search("(");`, "bad regular expression"},
		{`is_method("");`, "list of method names"},
		{`has_body("sdp");`, "MIME type"},
		{`subst('/a/b/x');`, "unknown flag"},
		{`subst('/a/b');`, "missing separator"},
		{`remove_hf("");`, "not a valid header name"},
		{`remove_hf("X Y");`, "not a valid header name"},
		{`append_hf_value("X[*]", "a");`, "[*] is not allowed"},
		{`append_hf_value("X.p", "a");`, "parameter is not allowed"},
		{`include_hf_value("X[1]", "a");`, "neither an index"},
		{`remove_hf_value("X[-11]");`, "cannot be below"},
		{`remove_hf_value("X[");`, "optionally followed by .param"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			_, err := siptest.LoadErr(t, "loadmodule \"textops.so\"\nroute {\n"+tc.body+"\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRouteMasks(t *testing.T) {
	for _, cfg := range []string{
		"onreply_route { append_urihf(\"X: \", \"\"); }",
		"onreply_route { append_to_reply(\"X: 1\"); }",
		"onreply_route { append_time(); }",
		"onreply_route { set_reply_body(\"x\", \"text/plain\"); }",
	} {
		t.Run(cfg, func(t *testing.T) {
			if _, err := siptest.LoadErr(t, "loadmodule \"textops.so\"\n"+cfg+"\n"); err == nil ||
				!strings.Contains(err.Error(), "not allowed") {
				t.Errorf("error %v, want \"not allowed\"", err)
			}
		})
	}
	// The functions that work on replies load there.
	siptest.Load(t, `
loadmodule "textops.so"
onreply_route {
	search("x"); replace("a", "b"); append_hf("X: 1\r\n"); remove_hf("X");
	is_method("INVITE"); has_body(); set_body("x", "text/plain");
	append_hf_value("X", "1"); hf_value_exists("X", "1");
}
`)
}

// set_reply_body gives the next local reply a body and one Content-Type;
// a second call replaces both.
func TestSetReplyBody(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "textops.so"
route {
	set_reply_body("first", "text/plain");
	set_reply_body("to $tU", "text/html");
}`)
	c := s.Run(t, register)
	if string(c.ReplyBody) != "to bob" {
		t.Errorf("body %q", c.ReplyBody)
	}
	// The reply the core builds for this message (what sl_send_reply and
	// t_reply send) carries them.
	r := s.Core.Reply(c, 200, "OK", "")
	if string(r.Body()) != "to bob" || len(sipmsg.Headers(r, "Content-Type")) != 1 || r.ContentType().Value() != "text/html" {
		t.Errorf("local reply:\n%s", r)
	}
	c = run(t, "", `set_reply_body("x", "text/plain\r\nX-Evil: 1");`, register)
	if c.RC != -1 || c.ReplyBody != nil {
		t.Errorf("set_reply_body accepted a content type with a line end")
	}
}
