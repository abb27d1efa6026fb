package pv

import (
	"errors"
	"strings"
	"testing"

	"sip-router.org/core/sr"
)

// trTest applies "$(var(x)<tr>)" to in.
type trTest struct {
	tr   string
	in   sr.Value
	want sr.Value
}

func runTransforms(t *testing.T, cases []trTest) {
	t.Helper()
	r := newTestRegistry(t)
	for _, tc := range cases {
		name := tc.tr + " of " + show(tc.in)
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, r, "$(var(x)"+tc.tr+")", Kamailio)
			c := &sr.Ctx{Vars: sr.Vars{"x": tc.in, "n": num(2), "name": str("b")}}
			if tc.in.IsNull() {
				s = mustParse(t, r, "$(null"+tc.tr+")", Kamailio)
			}
			checkValue(t, name, s.Get(c), tc.want)
		})
	}
}

func TestStringTransforms(t *testing.T) {
	runTransforms(t, []trTest{
		{"{s.len}", str("hello"), num(5)},
		{"{s.len}", str(""), num(0)},
		{"{s.len}", str("héllo"), num(6)}, // bytes, as Kamailio
		{"{s.len}", num(-123), num(4)},
		{"{s.len}", null, null},
		{"{s.int}", str("42"), num(42)},
		{"{s.int}", str("-7"), num(-7)},
		{"{s.int}", num(9), num(9)},
		{"{s.int}", str("12abc"), null},
		{"{s.int}", str(""), null},
		{"{s.md5}", str("abc"), str("900150983cd24fb0d6963f7d28e17f72")},
		{"{s.md5}", str(""), str("d41d8cd98f00b204e9800998ecf8427e")},
		{"{s.substr,1,3}", str("abcdef"), str("bcd")},
		{"{s.substr,0,0}", str("abcdef"), str("abcdef")},
		{"{s.substr,2,0}", str("abcdef"), str("cdef")},
		{"{s.substr,4,10}", str("abcdef"), str("ef")},
		{"{s.substr,-2,0}", str("abcdef"), str("ef")},
		{"{s.substr,-4,2}", str("abcdef"), str("cd")},
		{"{s.substr,-2,5}", str("abcdef"), str("ef")},
		{"{s.substr,6,1}", str("abcdef"), null},
		{"{s.substr,-7,1}", str("abcdef"), null},
		{"{s.substr,0,-1}", str("abcdef"), null},
		{"{s.substr,0,1}", str(""), null},
		{"{s.substr,1,$var(n)}", str("abcdef"), str("bc")},
		{"{s.substr, 1 , 2 }", str("abcdef"), str("bc")},
		{"{s.substr,0,2}", num(12345), str("12")},
		{"{s.select,0,;}", str("a;b;c"), str("a")},
		{"{s.select,2,;}", str("a;b;c"), str("c")},
		{"{s.select,3,;}", str("a;b;c"), str("")},
		{"{s.select,-1,;}", str("a;b;c"), str("c")},
		{"{s.select,-3,;}", str("a;b;c"), str("a")},
		{"{s.select,-4,;}", str("a;b;c"), str("")},
		{"{s.select,1,,}", str("x,y,z"), str("y")},
		{"{s.select,1,\\s}", str("x \ty"), str("")},
		{"{s.select,2,\\s}", str("x \ty"), str("y")},
		{"{s.select,1,\\w}", str("x y"), str("y")},
		{"{s.select,0,;}", str(""), str("")},
		{"{s.select,$var(n),.}", str("a.b.c"), str("c")},
		{"{s.tolower}", str("HeLLo Ünï"), str("hello Ünï")},
		{"{s.toupper}", str("HeLLo ünï"), str("HELLO üNï")}, // ASCII letters only
		{"{s.toupper}", str("ABC"), str("ABC")},
		{"{s.toupper}", num(5), str("5")},
		{"{s.encode.hexa}", str("a\x00é"), str("6100c3a9")},
		{"{s.encode.hexa}", str(""), str("")},
		{"{s.decode.hexa}", str("6100c3a9"), str("a\x00é")},
		{"{s.decode.hexa}", str("414"), str("A")},
		{"{s.decode.hexa}", str("4G"), null},
		{"{s.encode.hexa}{s.decode.hexa}", str("round trip"), str("round trip")},
		{"{s.escape.common}", str(`it's "q" \ ` + "\x00"), str(`it\'s \"q\" \\ \0`)},
		{"{s.escape.common}", str("plain"), str("plain")},
		{"{s.unescape.common}", str(`it\'s \"q\" \\ \0 \x`), str(`it's "q" \ ` + "\x00" + ` \x`)},
		{"{s.unescape.common}", str(`end\`), str(`end\`)},
		{"{s.escape.common}{s.unescape.common}", str("a'b\"c\\d\x00"), str("a'b\"c\\d\x00")},
		{"{s.escape.user}", str("alice smith@x/y"), str("alice%20smith%40x%2fy")},
		{"{s.escape.user}", str("a-_.!~*'()&=+$,;?z"), str("a-_.!~*'()&=+$,;?z")},
		{"{s.escape.user}", str("josé"), str("jos%c3%a9")},
		{"{s.escape.user}", str("\x00\n"), str("%00%0a")},
		{"{s.unescape.user}", str("alice%20smith%40x"), str("alice smith@x")},
		{"{s.unescape.user}", str("jos%C3%A9"), str("josé")},
		{"{s.unescape.user}", str("a%00b"), null},
		{"{s.unescape.user}", str("a%0d%0ab"), null},
		{"{s.unescape.user}", str("a%7fb"), null},
		{"{s.unescape.user}", str("a%4"), null},
		{"{s.unescape.user}", str("a%"), null},
		{"{s.unescape.user}", str("a%zz"), null},
		{"{s.escape.param}", str("a b;c=d[x]/:&+$"), str("a%20b%3bc%3dd[x]/:&+$")},
		{"{s.unescape.param}", str("a%20b%3bc"), str("a b;c")},
		{"{s.escape.param}{s.unescape.param}", str("ü;=?"), str("ü;=?")},
	})
}

func TestURITransforms(t *testing.T) {
	u := str("sip:bob:secret@[2001:db8::1]:5070;transport=TCP;lr;ttl=5;user=phone;maddr=10.0.0.1;method=INVITE;r2=on;x=Y?Subject=hi&p=1")
	runTransforms(t, []trTest{
		{"{uri.user}", u, str("bob")},
		{"{uri.passwd}", u, str("secret")},
		{"{uri.host}", u, str("[2001:db8::1]")},
		{"{uri.domain}", u, str("[2001:db8::1]")},
		{"{uri.port}", u, num(5070)},
		{"{uri.params}", u, str("transport=TCP;lr;ttl=5;user=phone;maddr=10.0.0.1;method=INVITE;r2=on;x=Y")},
		{"{uri.param,x}", u, str("Y")},
		{"{uri.param,X}", u, str("Y")},
		{"{uri.param,lr}", u, str("")},
		{"{uri.param,nope}", u, str("")},
		{"{uri.param,$var(name)}", str("sip:h;b=2"), str("2")},
		{"{uri.headers}", u, str("Subject=hi&p=1")},
		{"{uri.transport}", u, str("TCP")},
		{"{uri.ttl}", u, str("5")},
		{"{uri.uparam}", u, str("phone")},
		{"{uri.maddr}", u, str("10.0.0.1")},
		{"{uri.method}", u, str("INVITE")},
		{"{uri.lr}", u, str("")},
		{"{uri.r2}", u, str("on")},
		{"{uri.user}", str("sip:example.com"), str("")},
		{"{uri.port}", str("sip:example.com"), str("")},
		{"{uri.transport}", str("sip:example.com"), str("")},
		{"{uri.host}", str("sips:h.example.com;"), str("h.example.com")},
		{"{uri.user}", str("tel:+1-555-0100;phone-context=x"), str("+1-555-0100")},
		{"{uri.params}", str("tel:+1-555-0100;phone-context=x"), str("phone-context=x")},
		{"{uri.user}", str("sip:üser@h"), str("üser")},
		{"{uri.user}", str("not a uri"), null},
		{"{uri.user}", str("http://example.com"), null},
		{"{uri.host}", str("sip:"), null},
		{"{uri.host}", str("sip:u@"), null},
		{"{uri.host}", str("sip:[::1"), null},
		{"{uri.port}", str("sip:h:99999"), null},
		{"{uri.port}", str("sip:h:x"), null},
		{"{uri.host}", str("sip:h junk"), str("h junk")},
		{"{uri.user}", str(""), null},
		{"{uri.user}", num(5), null},
		{"{uri.user}", null, null},
	})
}

func TestParamTransforms(t *testing.T) {
	p := str("a=1;b=2; c = 3 ;flag;q=\"x;y\";")
	runTransforms(t, []trTest{
		{"{param.value,a}", p, str("1")},
		{"{param.value,B}", p, str("2")},
		{"{param.value,c}", p, str("3")},
		{"{param.value,flag}", p, str("")},
		{"{param.value,q}", p, str("x;y")},
		{"{param.value,zz}", p, str("")},
		{"{param.value,$var(name)}", p, str("2")},
		{"{param.valueat,0}", p, str("1")},
		{"{param.valueat,4}", p, str("x;y")},
		{"{param.valueat,-1}", p, str("x;y")},
		{"{param.valueat,5}", p, str("")},
		{"{param.name,2}", p, str("c")},
		{"{param.name,-2}", p, str("flag")},
		{"{param.count}", p, num(5)},
		{"{param.count}", str("one"), num(1)},
		{"{param.count,&}", str("a=1&b=2&c"), num(3)},
		{"{param.value,b,&}", str("a=1&b=2&c"), str("2")},
		{"{param.name,1,&}", str("a=1&b=2"), str("b")},
		{"{param.count}", str(";;"), null},
		{"{param.count}", str(""), null},
		{"{param.value,a}", str("=x"), null},
		{"{param.value,a}", str(`a="open`), null},
		{"{param.count}", num(3), null},
	})
}

func TestNameAddrAndToBodyTransforms(t *testing.T) {
	na := str(`"Alice Smith" <sip:alice@example.com;transport=tcp>;tag=abc;x=1`)
	runTransforms(t, []trTest{
		{"{nameaddr.name}", na, str(`"Alice Smith"`)},
		{"{nameaddr.uri}", na, str("sip:alice@example.com;transport=tcp")},
		{"{nameaddr.len}", na, num(len(`"Alice Smith" <sip:alice@example.com;transport=tcp>`))},
		{"{nameaddr.uri}", str("sip:bare@example.com"), str("sip:bare@example.com")},
		{"{nameaddr.name}", str("sip:bare@example.com"), str("")},
		{"{nameaddr.uri}", str(`"a<b" <sip:q@h>`), str("sip:q@h")},
		{"{nameaddr.uri}", str("<sip:open@h"), null},
		{"{nameaddr.uri}{uri.user}", na, str("alice")},
		{"{tobody.uri}", na, str("sip:alice@example.com;transport=tcp")},
		{"{tobody.display}", na, str("Alice Smith")},
		{"{tobody.display}", str(`"A \"B\"" <sip:a@h>`), str(`A "B"`)},
		{"{tobody.display}", str(`Plain Name <sip:a@h>`), str("Plain Name")},
		{"{tobody.tag}", na, str("abc")},
		{"{tobody.user}", na, str("alice")},
		{"{tobody.host}", na, str("example.com")},
		{"{tobody.params}", na, str("tag=abc;x=1")},
		{"{tobody.uri}", str("sip:bare@h;tag=9"), str("sip:bare@h")},
		{"{tobody.tag}", str("sip:bare@h;tag=9"), str("9")},
		{"{tobody.tag}", str("<sip:a@h>"), str("")},
		{"{tobody.display}", str("<sip:a@h>"), str("")},
		{"{tobody.uri}", str("<notauri>"), null},
		{"{tobody.uri}", str(`"unterminated <sip:a@h>`), null},
		{"{tobody.uri}", str("<sip:a@h> junk"), null},
		{"{tobody.uri}", str("<sip:a@h"), null},
	})
}

func TestTransformChains(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	tests := []struct {
		pv   string
		want sr.Value
	}{
		{"$(ru{uri.user})", str("alice")},
		{"$(ru{uri.user}{s.toupper})", str("ALICE")},
		{"$(ru{uri.user} {s.toupper} {s.len})", num(5)},
		{"$(hdr(From){tobody.uri}{uri.host})", str("biloxi.example.com")},
		{"$(hdr(From){tobody.tag}{s.len})", num(10)},
		{"$(fu{uri.port})", num(5070)},
		{"$(hdr(X-Multi)[-1]{s.toupper})", str("THREE")},
		{"$(ct{nameaddr.uri}{uri.host})", str("192.0.2.4")},
		{"$(rU{s.substr,1,2}{s.toupper})", str("LI")},
		{"$(tt{s.len})", null},
		{"$(cl{s.len})", num(1)},
	}
	for _, tc := range tests {
		t.Run(tc.pv, func(t *testing.T) {
			checkValue(t, tc.pv, mustParse(t, r, tc.pv, Kamailio).Get(c), tc.want)
		})
	}
}

func TestTransformParseErrors(t *testing.T) {
	r := newTestRegistry(t)
	tests := []struct {
		text string
		want string
		is   error
	}{
		{"$(ru{s.foo})", "$(ru{s.foo}): unknown transformation {s.foo}", ErrUnknownTransformation},
		{"$(ru{uri.user", "$(ru{uri.user: missing ')'", ErrSyntax},
		{"$(ru{uri.user)", "$(ru{uri.user): missing '}' in \"{uri.user\"", ErrSyntax},
		{"$(ru{s.substr,1})", "$(ru{s.substr,1}): transformation {s.substr,1} takes 2 argument(s)", ErrSyntax},
		{"$(ru{s.len,1})", "$(ru{s.len,1}): transformation {s.len,1} takes no arguments", ErrSyntax},
		{"$(ru{s.substr,a,1})", "$(ru{s.substr,a,1}): transformation {s.substr,a,1}: argument 1 (\"a\") is not a number", ErrSyntax},
		{"$(ru{s.select,1,ab})", `must be one character`, ErrSyntax},
		{"$(ru{param.value,a,;;})", `must be one character`, ErrSyntax},
		{"$(ru{s.substr,$foo,1})", "unknown pseudo-variable $foo", ErrUnknown},
		{"$(ru{uri.user}x)", `$(ru{uri.user}x): unexpected "x" after the transformations`, ErrSyntax},
		{"$(ru{})", "unknown transformation {}", ErrUnknownTransformation},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			_, err := r.Parse(tc.text, Kamailio)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}
