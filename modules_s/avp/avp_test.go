package avp_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules_s/avp"
	"sip-router.org/modules_s/avp/serattr"
)

const invite = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: "Alice" <sip:alice@example.org>;tag=ft
To: <sip:bob@example.com>
Call-ID: cid
CSeq: 1 INVITE
Remote-Party-ID: <sip:old@example.org>
X-Info: a=1, b="two words", c=x3, d=-4, e=
X-Arr: a=1,2,3; b="s"
`

// run loads a route and runs it over the INVITE; logs go to the returned
// buffer.
func run(t *testing.T, route string) (*sr.Ctx, *bytes.Buffer) {
	t.Helper()
	s := siptest.NewScript(t, "loadmodule \"avp\"\nroute {\n"+route+"\n}\n")
	c := s.Ctx(siptest.Request(t, invite), "", "")
	var buf bytes.Buffer
	c.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c, &buf
}

// values lists the values of an attribute in search order.
func values(c *sr.Ctx, name string, flags sr.AVPFlags) string {
	var out []string
	for _, a := range serattr.Values(c.AVPs, serattr.Name(name), flags) {
		if a.Val.K == sr.Int {
			out = append(out, fmt.Sprintf("int:%d", a.Val.I))
		} else {
			out = append(out, a.Val.S)
		}
	}
	return strings.Join(out, "|")
}

type want struct {
	name  string
	flags sr.AVPFlags
	vals  string
}

func TestSetAndDelete(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route string
		rc    int
		want  []want
	}{
		{"set_sattr adds, older values stay", `set_sattr("called", "1234"); set_attr("called", "5678"); $var(rc) = set_attr("fu.pref", @from.uri.user);`,
			1, []want{{"called", 0, "5678|1234"}, {"pref", serattr.GroupFromUser, "alice"}, {"pref", serattr.GroupFromURI, ""}}},
		{"set_iattr", `$var(rc) = set_iattr("t.timer", "60");`, 1, []want{{"timer", sr.AVPTrackTo, "int:60"}}},
		{"set_iattr from an attribute", `$src = "42"; $var(rc) = set_iattr("n", $src);`, 1, []want{{"n", 0, "int:42"}}},
		{"set_iattr refuses text", `$src = "x"; $var(rc) = set_iattr("n", $src);`, -1, []want{{"n", 0, ""}}},
		{"the name given by an attribute", `$which = "tu.target"; $var(rc) = set_sattr("$which", "v");`,
			1, []want{{"target", serattr.GroupToUser, "v"}, {"which", 0, "tu.target"}}},
		{"del_attr removes every value", `$x = "1"; set_sattr("x", "2"); $fu.x = "3"; $var(rc) = del_attr("$x");`,
			1, []want{{"x", 0, ""}}},
		{"del_attr keeps other tracks", `$t.x = "to"; $f.x = "from"; $var(rc) = del_attr("$f.x");`,
			1, []want{{"x", sr.AVPTrackTo, "to"}, {"x", sr.AVPTrackFrom, ""}}},
		{"del_attrs removes a group", `$fu.a = "1"; $fu.b = "2"; $tu.a = "3"; $fr.a = "4"; $var(rc) = del_attrs("$fu");`,
			1, []want{{"a", serattr.GroupFromUser, ""}, {"b", serattr.GroupFromUser, ""}, {"a", serattr.GroupToUser, "3"}, {"a", serattr.GroupFromURI, "4"}}},
		{"flags2attr", `setflag(1); setflag(3); $var(rc) = flags2attr("$flags");`, 1, []want{{"flags", 0, "int:10"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := run(t, tc.route)
			if c.Vars["rc"].I != tc.rc {
				t.Errorf("result %v, want %d", c.Vars["rc"], tc.rc)
			}
			for _, w := range tc.want {
				if got := values(c, w.name, w.flags); got != w.vals {
					t.Errorf("%s (flags %#x) = %q, want %q", w.name, w.flags, got, w.vals)
				}
			}
		})
	}
}

func TestTests(t *testing.T) {
	for _, tc := range []struct {
		route string
		rc    int
	}{
		{`$x = "a"; set_sattr("x", "b"); $var(rc) = attr_equals("x", "a");`, 1},
		{`$x = "a"; $var(rc) = attr_equals("x", "A");`, -1},
		{`set_iattr("n", "7"); $var(rc) = attr_equals("n", "7");`, 1},
		{`$var(rc) = attr_equals("x", "a");`, -1},
		{`$x = ""; $var(rc) = attr_exists("x");`, 1},
		{`$var(rc) = attr_exists("x");`, -1},
		{`$tu.x = "v"; $var(rc) = attr_exists("fu.x");`, -1},
		{`$x = "bob"; $var(rc) = attr_equals_xl("$x", "%@ruri.user");`, 1},
		{`$x = "alice"; $var(rc) = attr_equals_xl("$x", "%@ruri.user");`, -1},
		{`$x = "1"; $var(rc) = print_attr("$x");`, 1},
		{`$var(rc) = print_attr("$x");`, -1},
		{`$var(rc) = dump_attrs();`, 1},
		{`$fu.x = 1; $var(rc) = dump_attrs("$fu");`, 1},
	} {
		c, _ := run(t, tc.route)
		if c.Vars["rc"].I != tc.rc {
			t.Errorf("%s: %v, want %d", tc.route, c.Vars["rc"], tc.rc)
		}
	}
	_, log := run(t, `$tu.x = "v"; $g.y = 5; dump_attrs(); print_attr("$tu.x");`)
	for _, w := range []string{`track=TO class=USER: AVP[\"x\"]=\"v\"`, `class=GLOBAL: AVP[\"y\"]=5`, `track=FROM class=URI: no AVP present`, `AVP: '$tu.x'='v'`} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %s:\n%s", w, log)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route string
		rc    int
		want  []want
	}{
		{"xlset_attr", `$asserted_id = "4930123"; $var(rc) = xlset_attr("$rpidheader", "<sip:%$asserted_id@%@ruri.host>;screen=yes");`,
			1, []want{{"rpidheader", 0, "<sip:4930123@example.com>;screen=yes"}}},
		{"xlset_attr of nothing fails", `$var(rc) = xlset_attr("$x", "%$missing");`, -1, []want{{"x", 0, ""}}},
		{"xlfix_attr", `$x = "to %@ruri.user at %@ruri.host"; $var(rc) = xlfix_attr("$x");`, 1, []want{{"x", 0, "to bob at example.com"}}},
		{"xlfix_attr of a number", `$x = 5; $var(rc) = xlfix_attr("$x");`, -1, []want{{"x", 0, "int:5"}}},
		{"subst_attr", `$x = "sip:alice@example.org"; $var(rc) = subst_attr("$x", "/^sip:([^@]+)@.*$/tel:\1/");`,
			1, []want{{"x", 0, "tel:alice"}}},
		{"subst_attr global, ignore case", `$x = "aXbxc"; $var(rc) = subst_attr("$x", "/x/-/gi");`, 1, []want{{"x", 0, "a-b-c"}}},
		{"subst_attr without match", `$x = "abc"; $var(rc) = subst_attr("$x", "/z/y/");`, -1, []want{{"x", 0, "abc"}}},
		{"subst_attr keeps the place", `$x = "a"; set_sattr("x", "b"); $var(rc) = subst_attr("$x", "/b/c/");`, 1, []want{{"x", 0, "c|a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := run(t, tc.route)
			if c.Vars["rc"].I != tc.rc {
				t.Errorf("result %v, want %d", c.Vars["rc"], tc.rc)
			}
			for _, w := range tc.want {
				if got := values(c, w.name, w.flags); got != w.vals {
					t.Errorf("%s = %q, want %q", w.name, got, w.vals)
				}
			}
		})
	}
}

func TestURIs(t *testing.T) {
	for _, tc := range []struct {
		route     string
		rc        int
		ruri, dst string
	}{
		{`$fwd = "sip:carol@example.net;transport=tcp"; $var(rc) = attr2uri("$fwd");`, 1, "sip:carol@example.net;transport=tcp", ""},
		{`$gw_ip = "192.0.2.7"; $var(rc) = attr2uri("$gw_ip", "domain");`, 1, "sip:bob@192.0.2.7", ""},
		{`$hp = "gw.example.net:5080"; $var(rc) = attr2uri("$hp", "hostport");`, 1, "sip:bob@gw.example.net:5080", ""},
		{`$p = 5070; $var(rc) = attr2uri("$p", "port");`, 1, "sip:bob@example.com:5070", ""},
		{`$u = "carol"; $var(rc) = attr2uri("$u", "user");`, 1, "sip:carol@example.com", ""},
		{`$u = "00"; $var(rc) = attr2uri("$u", "prefix");`, 1, "sip:00bob@example.com", ""},
		{`$n = 1; $var(rc) = attr2uri("$n", "strip");`, 1, "sip:ob@example.com", ""},
		{`$n = "2"; $var(rc) = attr2uri("$n", "strip_tail");`, 1, "sip:b@example.com", ""},
		{`$u = "bad user"; $var(rc) = attr2uri("$u", "user");`, -1, "sip:bob@example.com", ""},
		{`$fwd = "not a uri"; $var(rc) = attr2uri("$fwd");`, -1, "sip:bob@example.com", ""},
		{`$var(rc) = attr2uri("$missing");`, -1, "sip:bob@example.com", ""},
		{`$d = "\"GW\" <sip:192.0.2.9:5060;lr>"; $var(rc) = attr_destination("$d");`, 1, "sip:bob@example.com", "sip:192.0.2.9:5060;lr"},
		{`$d = 5; $var(rc) = attr_destination("$d");`, -1, "sip:bob@example.com", ""},
		{`$var(rc) = xlset_destination("sip:%@ruri.user@192.0.2.9");`, 1, "sip:bob@example.com", "sip:bob@192.0.2.9"},
	} {
		c, _ := run(t, tc.route)
		if c.Vars["rc"].I != tc.rc || c.Req.Recipient.String() != tc.ruri || c.DstURI != tc.dst {
			t.Errorf("%s: rc %v, R-URI %s, $du %q; want %d, %s, %q", tc.route, c.Vars["rc"], c.Req.Recipient.String(), c.DstURI, tc.rc, tc.ruri, tc.dst)
		}
	}
}

func headerValues(req *sip.Request, name string) []string {
	var out []string
	for _, h := range req.Headers() {
		if strings.EqualFold(h.Name(), name) {
			out = append(out, h.Value())
		}
	}
	return out
}

func TestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		route  string
		rc     int
		header string
		want   []string
		after  string // the header that must follow the first added one
	}{
		{"replace_attr_hf", `$rpid = "<sip:4930123@example.com>;screen=yes"; $var(rc) = replace_attr_hf("Remote-Party-ID", "$rpid");`,
			1, "Remote-Party-ID", []string{"<sip:4930123@example.com>;screen=yes"}, ""},
		{"append_attr_hf after the last one, in search order", `$x = "2"; set_sattr("x", "1"); $var(rc) = append_attr_hf("X-Info", "$x");`,
			1, "X-Info", []string{`a=1, b="two words", c=x3, d=-4, e=`, "1", "2"}, "X-Arr"},
		{"insert_attr_hf before the first one", `$x = "2"; set_sattr("x", "1"); $var(rc) = insert_attr_hf("X-Info", "$x");`,
			1, "X-Info", []string{"1", "2", `a=1, b="two words", c=x3, d=-4, e=`}, ""},
		{"one argument", `set_sattr("X-New", "v"); $var(rc) = append_attr_hf("X-New");`, 1, "X-New", []string{"v"}, ""},
		{"no value", `$var(rc) = append_attr_hf("X-New", "$missing");`, -1, "X-New", nil, ""},
		{"a CR LF in the value is refused", `$x = "a\r\nEvil: 1"; $var(rc) = append_attr_hf("X-New", "$x");`,
			-1, "X-New", nil, ""},
		{"numbers", `$n = 5; $var(rc) = append_attr_hf("X-N", "$n");`, 1, "X-N", []string{"5"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := run(t, tc.route)
			if c.Vars["rc"].I != tc.rc {
				t.Errorf("result %v, want %d", c.Vars["rc"], tc.rc)
			}
			got := headerValues(c.Req, tc.header)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("%s headers %q, want %q", tc.header, got, tc.want)
			}
			if tc.after != "" {
				hs := c.Req.Headers()
				for i, h := range hs {
					if h.Name() == tc.header && h.Value() == tc.want[len(tc.want)-1] {
						if i+1 >= len(hs) || hs[i+1].Name() != tc.after {
							t.Errorf("the added header is not followed by %s", tc.after)
						}
					}
				}
			}
			if _, ok := siptest.Parse(t, c.Req.String()).(*sip.Request); !ok {
				t.Errorf("the request does not parse any more:\n%s", c.Req.String())
			}
		})
	}
	c, _ := run(t, `$dc = "Digest realm=\"a\""; set_sattr("dc", "second"); $var(rc) = attr_to_reply("WWW-Authenticate", "$dc");`)
	if c.Vars["rc"].I != 1 || strings.Join(c.ReplyHeaders, "") != "WWW-Authenticate: Digest realm=\"a\"\r\nWWW-Authenticate: second\r\n" {
		t.Errorf("attr_to_reply: %v %q", c.Vars["rc"], c.ReplyHeaders)
	}
}

func TestHdrBody2Attrs(t *testing.T) {
	list := func(c *sr.Ctx) string {
		var out []string
		c.AVPs.Each(func(a *sr.AVP) bool {
			v := a.Val.S
			if a.Val.K == sr.Int {
				v = fmt.Sprintf("int:%d", a.Val.I)
			}
			out = append(out, a.Name.S+"="+v)
			return true
		})
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, tc := range []struct{ route, want string }{
		{`$var(rc) = hdr_body2attrs("X-Info", "");`, "a=int:1 b=two words c=x3 d=int:-4"},
		{`$var(rc) = hdr_body2attrs("X-Info/i", "p_");`, "p_a=int:1 p_d=int:-4"},
		{`$var(rc) = hdr_body2attrs("x-info/s", "");`, "b=two words c=x3"},
		{`$var(rc) = hdr_body2attrs2("X-Arr", "");`, "a#0=int:1 a#1=int:2 a#2=int:3 b=s"},
		{`$var(rc) = hdr_body2attrs("X-Missing", "");`, ""},
	} {
		c, _ := run(t, tc.route)
		if c.Vars["rc"].I != 1 || list(c) != tc.want {
			t.Errorf("%s: %v, %q; want %q", tc.route, c.Vars["rc"], list(c), tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ route, want string }{
		{`del_attr("x");`, `"x" is not an attribute`},
		{`del_attrs("$xy");`, "not a group of attributes"},
		{`attr2uri("$x", "nowhere");`, "invalid URI part"},
		{`subst_attr("$x", "/(a/b/");`, "invalid regular expression"},
		{`subst_attr("$x", "/a/\2/");`, "groups"},
		{`hdr_body2attrs("X-Info/q", "");`, "bad field modifier"},
		{`hdr_body2attrs("#5", "");`, "header ids"},
		{`append_attr_hf("Bad Name", "$x");`, "is not a header name"},
		{`set_iattr("x", "abc");`, "not a number"},
		{`set_sattr("fx.y", "1");`, "unknown attribute class"},
		{`xlset_destination("%x");`, "unknown specifier"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"avp\"\nroute {\n"+tc.route+"\n}\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.route, err, tc.want)
		}
	}
	// onreply_route accepts the attribute functions, not attr2uri.
	if _, err := siptest.LoadErr(t, "loadmodule \"avp\"\nonreply_route { $x = 1; del_attr(\"$x\"); }\n"); err != nil {
		t.Errorf("del_attr in onreply_route: %v", err)
	}
	if _, err := siptest.LoadErr(t, "loadmodule \"avp\"\nonreply_route { attr2uri(\"$x\"); }\n"); err == nil {
		t.Error("attr2uri accepted in onreply_route")
	}
}

// Attribute arguments are SER attributes in max-compat configurations (so
// "$ru" is the attribute "ru"), AVP pseudo-variables in #!KAMAILIO ones.
func TestAttributeSyntaxByMode(t *testing.T) {
	c, _ := run(t, `$ru = "sip:carol@example.net"; set_sattr("ru", "attr"); $var(rc) = del_attr("$ru");`)
	if c.Vars["rc"].I != 1 || c.Req.Recipient.String() != "sip:carol@example.net" || values(c, "ru", 0) != "" {
		t.Errorf("max compat: rc %v, R-URI %s, $ru attribute %q", c.Vars["rc"], c.Req.Recipient.String(), values(c, "ru", 0))
	}
	s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"avp\"\nroute {\n$avp(s:x) = \"a\"; $avp(s:x) = \"b\"; $var(rc) = del_attr(\"$avp(s:x)\");\n}\n")
	c = s.Run(t, invite)
	if c.Vars["rc"].I != 1 || values(c, "x", 0) != "" {
		t.Errorf("kamailio mode: rc %v, values %q", c.Vars["rc"], values(c, "x", 0))
	}
}
