package pv

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// fuzzRegistry has a module PV so that the module path is fuzzed too.
func fuzzRegistry(t testing.TB) *Registry {
	r := newTestRegistry(t)
	if err := r.AddPV("mod", true, module.PVImpl{
		Get: func(c *sr.Ctx, name any) sr.Value { return str(name.(string)) },
		Set: func(c *sr.Ctx, name any, v sr.Value) error { return nil },
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddAVPAliases("al=i:5"); err != nil {
		t.Fatal(err)
	}
	r.SetCfgVar("g", "v", str("cfg"))
	return r
}

// FuzzParse compiles arbitrary text in every mode; what compiles is read
// and assigned on a real request whose variables and AVPs hold the fuzzed
// value. Nothing may panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"$ru", "$(ru{uri.user})", "$(hdr(Via)[-1]{s.len})", "$avp(s:x)", "$(avp(x)[*])", "$f.did",
		"$t.fr_timer[1]", "$account[]", "@from.uri.host", `@msg.header["X"]`, "$(var(x){s.substr,1,$var(n)})",
		"$(var(x){s.select,-1,\\s}{uri.param,transport})", "$(var(x){param.value,a,&})", "$(var(x){tobody.tag})",
		"$(var(x){nameaddr.len}{s.int})", "$mod(a(b)c)", "$sel(cfg_get.g.v)", "$branch(q)", "$(branch(uri)[-1])",
		"$hdr($var(x))", "$avp($var(x))", "$$", "$?", "$(", "$((((", "$x[", "@via[", "$(ru{{{",
	} {
		f.Add(s, byte(0), "sip:bob@example.com;transport=tcp")
		f.Add(s, byte(1), `"A" <sip:a@h:5070;lr>;tag=1`)
		f.Add(s, byte(2), "a=1;b=2")
	}
	r := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, text string, mode byte, value string) {
		m := Compat(mode % 3)
		s, err := r.Parse(text, m)
		if _, n, perr := r.ParsePrefix(text, m); perr == nil && (n <= 0 || n > len(text)) {
			t.Fatalf("ParsePrefix(%q) took %d bytes", text, n)
		}
		if err != nil {
			if s != nil {
				t.Fatal("a spec with an error")
			}
			return
		}
		c := reqCtx(t, inviteText)
		c.Vars = sr.Vars{"x": str(value), "n": num(len(value) % 7)}
		c.AVPs.Add(sr.AVPName{S: "x"}, str(value), 0)
		c.Branches = []sr.Branch{{URI: value, Q: len(value)}}
		_ = s.Get(c)
		_ = s.Get(&sr.Ctx{})
		if s.Writable() {
			_ = s.Set(c, str(value))
			_ = s.Set(c, num(len(value)))
			_ = s.Set(c, null)
			_ = s.Get(c)
		}
	})
}

// FuzzFormat compiles arbitrary Kamailio and xl formats and expands
// what compiles. Nothing may panic, and a static format expands to its
// text.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{
		"From $fu to $(ru{uri.user})\n", "cost $$5", "$ru{uri.user}", "x $", "%ru %fu %$attr %@ruri.host %%",
		"%{X-Multi[*]} %<a[1]> %Crx %$t.x[-1]", "%", `\`, "%C", "%$", "%@", "%{", "$(hdr(X)[*])",
		"$account. $f.did[1]", "%Ts %Tx %Hn", "%[1-2]ru",
	} {
		f.Add(s, byte(0), false)
		f.Add(s, byte(2), true)
	}
	r := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, s string, mode byte, xl bool) {
		var (
			fm  sr.Format
			err error
		)
		if xl {
			fm, err = r.ParseXLFormat(s)
		} else {
			fm, err = r.ParseFormat(s, Compat(mode%3))
		}
		if err != nil {
			return
		}
		c := reqCtx(t, inviteText)
		out := fm.Expand(c)
		_ = fm.Expand(&sr.Ctx{})
		if text, ok := fm.Static(); ok && text != out {
			t.Fatalf("static format %q expands to %q", text, out)
		}
		if !xl && !strings.Contains(s, "$") && out != s {
			t.Fatalf("format without $ %q expands to %q", s, out)
		}
	})
}

// FuzzHelpers feeds arbitrary text to the hand-written parsers of
// credentials, URIs, name-addrs and parameter lists, and checks the
// escape transformations round-trip.
func FuzzHelpers(f *testing.F) {
	for _, s := range []string{
		`Digest username="a@b", realm="r", uri="sip:x"`, `Digest username="unterminated`, "sip:u:p@[::1]:5060;a=b?h=v",
		`"N" <sip:a@h>;tag=1`, "a=1;b=\"x;y\";c", "jos%c3%a9%00", "tel:+1;x=y", "<sip:a@h", "\x00\xff%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseDigest(s)
		if u, ok := splitURI(s); ok {
			for _, part := range []string{u.scheme, u.user, u.passwd, u.host, u.port, u.params, u.headers} {
				if !strings.Contains(s, part) {
					t.Fatalf("splitURI(%q) part %q is not in the input", s, part)
				}
			}
		}
		var su sip.Uri
		if sip.ParseUri(s, &su) == nil {
			if got, want := uriString(&su), su.String(); got != want {
				t.Fatalf("uriString(%q) = %q, sipgo says %q", s, got, want)
			}
		}
		parseToBody(s)
		splitNameAddr(s)
		if a := firstAddress(s); !strings.HasPrefix(s, a) {
			t.Fatalf("firstAddress(%q) = %q, not a prefix", s, a)
		}
		paramList(s, ';')
		unquote(s)
		for _, safe := range []string{userSafe, paramSafe} {
			esc := escapeURIPart(s, safe)
			back, ok := unescapePercent(esc)
			hasCtl := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
			if !hasCtl && (!ok || back != s) {
				t.Fatalf("escape/unescape of %q gave %q, %v", s, back, ok)
			}
		}
		esc, _ := escapeCommon(s)
		if back, _ := unescapeCommon(esc); back != s {
			t.Fatalf("escape.common round trip of %q gave %q", s, back)
		}
	})
}
