package pv

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

func TestCompatModes(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	c.AVPs.Add(sr.AVPName{S: "ru"}, str("attribute ru"), sr.AVPClassURI|sr.AVPTrackFrom)
	c.AVPs.Add(sr.AVPName{S: "account"}, str("yes"), sr.AVPClassURI|sr.AVPTrackFrom)
	c.AVPs.Add(sr.AVPName{S: "did"}, str("D1"), sr.AVPClassDomain|sr.AVPTrackFrom)
	c.AVPs.Add(sr.AVPName{S: "hdr"}, str("attribute hdr"), sr.AVPClassURI|sr.AVPTrackFrom)
	type result struct {
		kind Kind
		val  sr.Value
		err  string
	}
	ok := func(k Kind, v sr.Value) result { return result{kind: k, val: v} }
	fail := func(e string) result { return result{err: e} }
	ruri := str("sip:alice@atlanta.example.com;transport=tcp")
	tests := []struct {
		text                  string
		kamailio, ser, maxcom result
	}{
		{"$ru", ok(KindPV, ruri), ok(KindAttr, str("attribute ru")), ok(KindPV, ruri)},
		{"$account", fail("unknown pseudo-variable $account"), ok(KindAttr, str("yes")), ok(KindAttr, str("yes"))},
		{"$f.did", fail("unknown pseudo-variable $f.did"), ok(KindAttr, str("D1")), ok(KindAttr, str("D1"))},
		{"$fd.did", fail("unknown pseudo-variable $fd.did"), ok(KindAttr, str("D1")), ok(KindAttr, str("D1"))},
		{"$account[1]", fail("unknown pseudo-variable $account"), ok(KindAttr, str("yes")), ok(KindAttr, str("yes"))},
		{"$ru[1]", fail(`unexpected "[1]" after $ru`), ok(KindAttr, str("attribute ru")), ok(KindAttr, str("attribute ru"))},
		{"$(ru{uri.user})", ok(KindPV, str("alice")), fail("$(...) pseudo-variables do not exist in SER compatibility mode"), ok(KindPV, str("alice"))},
		{"$avp(s:account)", ok(KindPV, str("yes")), fail("$avp(s:account): $name(...) pseudo-variables do not exist in SER compatibility mode"), ok(KindPV, str("yes"))},
		{"$hdr(User-Agent)", ok(KindPV, str("TestUA/1.0")), fail("$name(...) pseudo-variables do not exist in SER compatibility mode"), ok(KindPV, str("TestUA/1.0"))},
		{"$hdr", fail("$hdr: $hdr needs a name: write $hdr(name)"), ok(KindAttr, str("attribute hdr")), ok(KindAttr, str("attribute hdr"))},
		{"$?", ok(KindPV, num(0)), ok(KindPV, num(0)), ok(KindPV, num(0))},
		{"$rc", ok(KindPV, num(0)), ok(KindAttr, null), ok(KindPV, num(0))},
		{"$foo(x)", fail("unknown pseudo-variable $foo"), fail("$name(...) pseudo-variables do not exist"), fail("unknown pseudo-variable $foo")},
		{"$err.class", fail("unknown pseudo-variable $err.class"), fail("unknown AVP class prefix"), fail("unknown AVP class prefix")},
		{"@ruri.user", ok(KindSelect, str("alice")), ok(KindSelect, str("alice")), ok(KindSelect, str("alice"))},
		{"$$", ok(KindPV, str("$")), ok(KindPV, str("$")), ok(KindPV, str("$"))},
	}
	for _, tc := range tests {
		for _, m := range []struct {
			mode Compat
			want result
		}{{Kamailio, tc.kamailio}, {SER, tc.ser}, {MaxCompat, tc.maxcom}} {
			t.Run(tc.text+"/"+m.mode.String(), func(t *testing.T) {
				s, err := r.Parse(tc.text, m.mode)
				if m.want.err != "" {
					if err == nil || !strings.Contains(err.Error(), m.want.err) {
						t.Fatalf("error %v, want %q", err, m.want.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if s.Kind() != m.want.kind {
					t.Errorf("kind %v, want %v", s.Kind(), m.want.kind)
				}
				checkValue(t, tc.text, s.Get(c), m.want.val)
				if s.String() != tc.text {
					t.Errorf("String() = %q", s.String())
				}
			})
		}
	}
	if Kamailio.String() != "KAMAILIO" || SER.String() != "SER" || MaxCompat.String() != "MAXCOMPAT" {
		t.Error("Compat.String")
	}
}

func TestParseErrors(t *testing.T) {
	r := newTestRegistry(t)
	tests := []struct {
		text string
		mode Compat
		want string
		is   error
	}{
		{"$foo", Kamailio, "unknown pseudo-variable $foo", ErrUnknown},
		{"$(foo)", MaxCompat, "unknown pseudo-variable $foo", ErrUnknown},
		{"$(foo[1])", Kamailio, "unknown pseudo-variable $foo", ErrUnknown},
		{"$ru{uri.user}", Kamailio, "$ru{uri.user}: transformations need the $(...) form", ErrSyntax},
		{"$ru{uri.user}", MaxCompat, "$ru{uri.user}: transformations need the $(...) form", ErrSyntax},
		{"$hdr(Via){s.len}", Kamailio, "$hdr(Via){s.len}: transformations need the $(...) form", ErrSyntax},
		{"$(ru{s.foo})", Kamailio, "unknown transformation {s.foo}", ErrUnknownTransformation},
		{"$", Kamailio, `"$" must be followed by a name`, ErrSyntax},
		{"$ ", Kamailio, `"$" must be followed by a name`, ErrSyntax},
		{"$ ", SER, `"$" must be followed by a name`, ErrSyntax},
		{"$ ", MaxCompat, `"$" must be followed by a name`, ErrSyntax},
		{"", Kamailio, "empty pseudo-variable", ErrSyntax},
		{"ru", Kamailio, `"ru" is not a pseudo-variable`, ErrSyntax},
		{"$ru x", Kamailio, `$ru x: unexpected " x" after $ru`, ErrSyntax},
		{"$hdr(Via", Kamailio, "$hdr(Via: missing ')'", ErrSyntax},
		{"$(hdr(Via)", Kamailio, "missing ')'", ErrSyntax},
		{"$(hdr(Via)[1)", Kamailio, "missing ']'", ErrSyntax},
		{"$(hdr(Via", Kamailio, "missing ')'", ErrSyntax},
		{"$()", Kamailio, "missing pseudo-variable name after $(", ErrSyntax},
		{"$(hdr(Via)junk)", Kamailio, `unexpected "junk" after $hdr`, ErrSyntax},
		{"$hdr()", Kamailio, "$hdr(): empty name in parentheses", ErrSyntax},
		{"$hdr(a b)", Kamailio, `invalid character ' ' in header name "a b"`, ErrSyntax},
		{"$ru(x)", Kamailio, "$ru(x): $ru does not take a name in parentheses", ErrSyntax},
		{"$(ru[1])", Kamailio, "$(ru[1]): $ru does not take an index", ErrSyntax},
		{"$(hdr(Via)[x])", Kamailio, "$(hdr(Via)[x]): invalid index [x]", ErrSyntax},
		{"$(hdr(Via)[+1])", Kamailio, "invalid index [+1]", ErrSyntax},
		{"$(hdr(Via)[$foo])", Kamailio, "unknown pseudo-variable $foo", ErrUnknown},
		{"$(avp(x)[])", Kamailio, "invalid index []", ErrSyntax},
		{"$avp(q:1)", Kamailio, "$avp(q:1): unknown AVP name type", ErrSyntax},
		{"$avp(i:x)", Kamailio, "is not a number", ErrSyntax},
		{"$avp($foo)", Kamailio, "unknown pseudo-variable $foo", ErrUnknown},
		{"$time(century)", Kamailio, `unknown time part "century"`, ErrSyntax},
		{"$branch(color)", Kamailio, `unknown branch field "color"`, ErrSyntax},
		{"$var(a b)", Kamailio, `invalid variable name "a b"`, ErrSyntax},
		{"$shv($x)", Kamailio, `invalid variable name "$x"`, ErrSyntax},
		{"$sel(nope)", Kamailio, "unknown select @nope", ErrSyntax},
		{"$(ru{uri.user})", SER, "$(...) pseudo-variables do not exist in SER compatibility mode", ErrSyntax},
		{"$x[0]", SER, "invalid attribute index [0]", ErrSyntax},
		{"$x[a]", MaxCompat, "invalid attribute index [a]", ErrSyntax},
		{"$x[1", SER, "missing ']'", ErrSyntax},
		{"$q.x", SER, `unknown AVP class prefix "q"`, ErrSyntax},
		{"$f.", SER, `$f.: unexpected "." after $f`, ErrSyntax},
		{"$f.[1]", SER, `no AVP name after "f."`, ErrSyntax},
		{"$f.a.b", SER, "invalid AVP name", ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String()+"/"+tc.text, func(t *testing.T) {
			_, err := r.Parse(tc.text, tc.mode)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
	// The exact texts the brief promises.
	for text, want := range map[string]string{
		"$foo":          "unknown pseudo-variable $foo",
		"$ru{uri.user}": "$ru{uri.user}: transformations need the $(...) form",
	} {
		if _, err := r.Parse(text, Kamailio); err == nil || err.Error() != want {
			t.Errorf("Parse(%q) = %v, want %q", text, err, want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	r := newTestRegistry(t)
	tests := []struct {
		text string
		mode Compat
		n    int
	}{
		{"$ru;", Kamailio, 3},
		{"$rU@example", Kamailio, 3},
		{"$hdr(X-(a)b)c", Kamailio, 12},
		{"$(ru{uri.user})x", Kamailio, 15},
		{"$fu.x y", MaxCompat, 5},
		{"$account[2]+1", MaxCompat, 11},
		{"$account-x", SER, 8},
		{"@from.uri.host)", Kamailio, 14},
		{`@msg.header["X-A"].`, Kamailio, 18},
		{"$$x", Kamailio, 2},
		{"$?)", Kamailio, 2},
	}
	for _, tc := range tests {
		_, n, err := r.ParsePrefix(tc.text, tc.mode)
		if err != nil || n != tc.n {
			t.Errorf("ParsePrefix(%q) = %d, %v; want %d", tc.text, n, err, tc.n)
		}
	}
}

func TestModulePVs(t *testing.T) {
	r := newTestRegistry(t)
	store := map[string]sr.Value{}
	ulc := module.PVImpl{
		Parse: func(inner string) (any, error) {
			if inner == "bad" {
				return nil, errors.New("no such field")
			}
			return strings.ToUpper(inner), nil
		},
		Get: func(c *sr.Ctx, name any) sr.Value { return str("ulc:" + name.(string)) },
	}
	if err := r.AddPV("ulc", true, ulc); err != nil {
		t.Fatal(err)
	}
	if err := r.AddPV("T_branch_idx", false, module.PVImpl{
		Get: func(c *sr.Ctx, name any) sr.Value {
			if name != nil {
				t.Errorf("name %v for a PV without an inner name", name)
			}
			return num(c.RC)
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddPV("sht", true, module.PVImpl{
		Get: func(c *sr.Ctx, name any) sr.Value {
			if v, ok := store[name.(string)]; ok {
				return v
			}
			return null
		},
		Set: func(c *sr.Ctx, name any, v sr.Value) error {
			if v.IsNull() {
				return errors.New("cannot store null")
			}
			store[name.(string)] = v
			return nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	c := &sr.Ctx{RC: 3}
	checkValue(t, "$ulc(profile=>x)", get(t, r, c, "$ulc(profile=>x)"), str("ulc:PROFILE=>X"))
	checkValue(t, "$(ulc(a){s.len})", get(t, r, c, "$(ulc(a){s.len})"), num(5))
	checkValue(t, "$T_branch_idx", get(t, r, c, "$T_branch_idx"), num(3))
	checkValue(t, "$T_branch_idx in MaxCompat", mustParse(t, r, "$T_branch_idx", MaxCompat).Get(c), num(3))
	set(t, r, c, "$sht(t=>k)", str("v"))
	checkValue(t, "$sht(t=>k)", get(t, r, c, "$sht(t=>k)"), str("v"))
	if err := mustParse(t, r, "$sht(t=>k)", Kamailio).Set(c, null); err == nil || err.Error() != "cannot store null" {
		t.Errorf("module Set error not passed through: %v", err)
	}
	if _, err := r.ParseSetter("$ulc(x)", Kamailio); !errors.Is(err, ErrReadOnly) {
		t.Errorf("$ulc(x) setter: %v", err)
	}
	for text, want := range map[string]string{
		"$ulc(bad)":          `$ulc(bad): invalid name "bad": no such field`,
		"$ulc":               "$ulc: $ulc needs a name: write $ulc(name)",
		"$T_branch_idx(x)":   "$T_branch_idx(x): $T_branch_idx does not take a name in parentheses",
		"$(T_branch_idx[1])": "$(T_branch_idx[1]): $T_branch_idx does not take an index",
	} {
		if _, err := r.Parse(text, Kamailio); err == nil || err.Error() != want {
			t.Errorf("Parse(%q) = %v, want %q", text, err, want)
		}
	}
	for _, tc := range []struct {
		name string
		impl module.PVImpl
		want string
	}{
		{"ulc", ulc, "pseudo-variable $ulc already exists"},
		{"ru", ulc, "pseudo-variable $ru already exists"},
		{"", ulc, "empty name"},
		{"a-b", ulc, "invalid character '-'"},
		{"q?", ulc, "invalid character '?'"},
		{"noget", module.PVImpl{}, "has no Get"},
	} {
		if err := r.AddPV(tc.name, false, tc.impl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddPV(%q): %v, want %q", tc.name, err, tc.want)
		}
	}
	if !r.Known("ulc") || r.Known("nope") {
		t.Error("Known")
	}
}

func TestAddModule(t *testing.T) {
	type inst struct{ prefix string }
	mod := &module.Module{Name: "demo", PVs: []*module.PVDef{{
		Name: "demo", Inner: true,
		Bind: func(i any) module.PVImpl {
			p := i.(*inst).prefix
			return module.PVImpl{Get: func(c *sr.Ctx, name any) sr.Value { return str(p + name.(string)) }}
		},
	}}}
	r := newTestRegistry(t)
	if err := r.AddModule(&module.Instance{Mod: mod, Value: &inst{prefix: "demo:"}}); err != nil {
		t.Fatal(err)
	}
	checkValue(t, "$demo(x)", get(t, r, &sr.Ctx{}, "$demo(x)"), str("demo:x"))
	err := r.AddModule(&module.Instance{Mod: mod, Value: &inst{}})
	if err == nil || err.Error() != "module demo: pseudo-variable $demo already exists" {
		t.Errorf("second AddModule: %v", err)
	}
	// Each registry is independent: no package-level state.
	if newTestRegistry(t).Known("demo") {
		t.Error("a module PV leaked into another registry")
	}
}

func ExampleRegistry_Parse() {
	r := NewRegistry(Config{})
	s, err := r.Parse("$(hdr(X-Tag){s.toupper})", Kamailio)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = r.Parse("$foo", Kamailio)
	fmt.Println(s, s.Writable(), err)
	// Output: $(hdr(X-Tag){s.toupper}) false unknown pseudo-variable $foo
}
