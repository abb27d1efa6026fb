package pv

import (
	"strings"
	"testing"

	"sip-router.org/core/sr"
)

func TestAVPPushAndDelete(t *testing.T) {
	r := newTestRegistry(t)
	c := &sr.Ctx{}
	x := func(text string) *Spec { return mustParse(t, r, text, Kamailio) }
	mustSet := func(s *Spec, v sr.Value) {
		t.Helper()
		if err := s.Set(c, v); err != nil {
			t.Fatal(err)
		}
	}
	avp := x("$avp(x)")
	mustSet(avp, str("a"))
	mustSet(avp, num(2))
	mustSet(avp, str("c"))
	if c.AVPs == nil || c.AVPs.Len() != 3 {
		t.Fatalf("AVPs = %v", c.AVPs)
	}
	checkValue(t, "$avp(x)", avp.Get(c), str("c"))
	checkValue(t, "$(avp(x)[0])", x("$(avp(x)[0])").Get(c), str("c"))
	checkValue(t, "$(avp(x)[1])", x("$(avp(x)[1])").Get(c), num(2))
	checkValue(t, "$(avp(x)[2])", x("$(avp(x)[2])").Get(c), str("a"))
	checkValue(t, "$(avp(x)[3])", x("$(avp(x)[3])").Get(c), null)
	checkValue(t, "$(avp(x)[-1])", x("$(avp(x)[-1])").Get(c), str("a"))
	checkValue(t, "$(avp(x)[-3])", x("$(avp(x)[-3])").Get(c), str("c"))
	checkValue(t, "$(avp(x)[-4])", x("$(avp(x)[-4])").Get(c), null)
	checkValue(t, "$(avp(x)[*])", x("$(avp(x)[*])").Get(c), str("c, 2, a"))
	checkValue(t, "$avp(X) (names ignore case)", x("$avp(X)").Get(c), str("c"))
	checkValue(t, "$avp(s:x)", x("$avp(s:x)").Get(c), str("c"))

	mustSet(avp, null) // deletes the newest
	checkValue(t, "$(avp(x)[*]) after $null", x("$(avp(x)[*])").Get(c), str("2, a"))
	mustSet(x("$(avp(x)[*])"), str("only"))
	checkValue(t, "$(avp(x)[*]) after [*] = v", x("$(avp(x)[*])").Get(c), str("only"))
	mustSet(avp, str("more"))
	mustSet(x("$(avp(x)[*])"), null)
	checkValue(t, "$avp(x) after [*] = $null", avp.Get(c), null)
	if c.AVPs.Len() != 0 {
		t.Errorf("%d AVPs left", c.AVPs.Len())
	}
	mustSet(avp, null)                         // deleting nothing is fine
	mustSet(x("$(avp(x)[1])"), str("indexed")) // an int index pushes, as 3.0
	checkValue(t, "$avp(x)", avp.Get(c), str("indexed"))
}

func TestAVPNamesAndAliases(t *testing.T) {
	r := newTestRegistry(t)
	if err := r.AddAVPAliases("caller=i:80; dest=s:dst_uri;Plain=thing"); err != nil {
		t.Fatal(err)
	}
	c := &sr.Ctx{}
	set(t, r, c, "$avp(i:80)", str("by id"))
	checkValue(t, "$avp(caller)", get(t, r, c, "$avp(caller)"), str("by id"))
	checkValue(t, "$avp(CALLER)", get(t, r, c, "$avp(CALLER)"), str("by id"))
	checkValue(t, "$avp(s:80)", get(t, r, c, "$avp(s:80)"), null)
	set(t, r, c, "$avp(dest)", str("sip:x@y"))
	checkValue(t, "$avp(s:dst_uri)", get(t, r, c, "$avp(s:dst_uri)"), str("sip:x@y"))
	set(t, r, c, "$avp(plain)", num(1))
	checkValue(t, "$avp(thing)", get(t, r, c, "$avp(thing)"), num(1))
	// A name with ':' is never an alias.
	checkValue(t, "$avp(s:caller)", get(t, r, c, "$avp(s:caller)"), null)

	if name, flags, ok := mustParse(t, r, "$avp(caller)", Kamailio).AVP(); !ok || !name.IsID || name.ID != 80 || flags != 0 {
		t.Errorf("AVP() = %v %v %v", name, flags, ok)
	}
	if _, _, ok := mustParse(t, r, "$avp($var(n))", Kamailio).AVP(); ok {
		t.Error("AVP() of a dynamic name")
	}
	if _, _, ok := mustParse(t, r, "$ru", Kamailio).AVP(); ok {
		t.Error("AVP() of $ru")
	}

	// Dynamic names.
	c.Vars = sr.Vars{"n": str("dyn"), "i": num(80), "e": str("")}
	set(t, r, c, "$avp($var(n))", str("D"))
	checkValue(t, "$avp(s:dyn)", get(t, r, c, "$avp(s:dyn)"), str("D"))
	checkValue(t, "$avp($var(i))", get(t, r, c, "$avp($var(i))"), str("by id"))
	checkValue(t, "$avp($var(e))", get(t, r, c, "$avp($var(e))"), null)
	s, _ := r.ParseSetter("$avp($var(e))", Kamailio)
	if err := s.Set(c, str("x")); err == nil {
		t.Error("assignment to an AVP with an empty name succeeded")
	}

	for _, bad := range []string{"x", "=i:1", "a=", "a b=i:1", "a=i:z", "a=q:1", "a=fx.y"} {
		if err := NewRegistry(Config{}).AddAVPAliases(bad); err == nil {
			t.Errorf("AddAVPAliases(%q) accepted", bad)
		}
	}
	if err := r.AddAVPAliases("CALLER=i:1"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate alias: %v", err)
	}
}

func TestAttributesReplaceAndIndex(t *testing.T) {
	r := newTestRegistry(t)
	c := &sr.Ctx{}
	acc := mustParse(t, r, "$account", MaxCompat)
	if acc.Kind() != KindAttr {
		t.Fatalf("$account kind = %v", acc.Kind())
	}
	for _, v := range []sr.Value{str("a"), str("b"), num(3)} {
		if err := acc.Set(c, v); err != nil {
			t.Fatal(err)
		}
	}
	if c.AVPs.Len() != 1 {
		t.Fatalf("attribute assignment kept %d values, want 1", c.AVPs.Len())
	}
	checkValue(t, "$account", acc.Get(c), num(3))
	// Values pushed with $avp share the attribute.
	set(t, r, c, "$avp(s:account)", str("pushed"))
	checkValue(t, "$account", acc.Get(c), str("pushed"))
	for text, want := range map[string]sr.Value{
		"$account[1]":  num(3),
		"$account[2]":  str("pushed"),
		"$account[3]":  null,
		"$account[-1]": str("pushed"),
		"$account[-2]": num(3),
		"$account[-3]": null,
		"$account[]":   str("pushed, 3"),
		"$account[*]":  str("pushed, 3"),
	} {
		checkValue(t, text, mustParse(t, r, text, MaxCompat).Get(c), want)
	}
	// Assigning replaces both.
	if err := acc.Set(c, str("yes")); err != nil {
		t.Fatal(err)
	}
	checkValue(t, "$(avp(s:account)[*])", get(t, r, c, "$(avp(s:account)[*])"), str("yes"))
	if err := mustParse(t, r, "$account[1]", MaxCompat).Set(c, str("again")); err != nil {
		t.Fatal(err)
	}
	checkValue(t, "$account[*] after indexed assignment", mustParse(t, r, "$account[*]", MaxCompat).Get(c), str("again"))
	if err := acc.Set(c, null); err != nil {
		t.Fatal(err)
	}
	checkValue(t, "$account after $null", acc.Get(c), null)
	if c.AVPs.Len() != 0 {
		t.Errorf("%d AVPs left", c.AVPs.Len())
	}
}

func TestAttributeTracksAndClasses(t *testing.T) {
	r := newTestRegistry(t)
	c := &sr.Ctx{}
	p := func(text string) *Spec { return mustParse(t, r, text, MaxCompat) }
	setA := func(text string, v sr.Value) {
		t.Helper()
		if err := p(text).Set(c, v); err != nil {
			t.Fatal(err)
		}
	}
	setA("$fu.uid", str("from-user"))
	setA("$tu.uid", str("to-user"))
	setA("$fd.uid", str("from-domain"))
	setA("$g.uid", str("global"))
	tests := []struct {
		text string
		want sr.Value
	}{
		{"$fu.uid", str("from-user")},
		{"$tu.uid", str("to-user")},
		{"$fd.uid", str("from-domain")},
		{"$td.uid", null},
		{"$fr.uid", null},
		{"$tr.uid", null},
		{"$g.uid", str("global")},
		{"$f.uid", str("from-user")}, // user class comes before domain
		{"$t.uid", str("to-user")},
		{"$uid", str("from-user")},
		{"$avp(uid)", str("from-user")},
		{"$avp(tu.uid)", str("to-user")},
		{"$f.uid[*]", str("from-user, from-domain, global")},
		{"$t.uid[*]", str("to-user, global")},
	}
	for _, tc := range tests {
		checkValue(t, tc.text, p(tc.text).Get(c), tc.want)
	}
	// A write to a bare name goes to the from-track URI class, which is
	// searched first.
	setA("$fr.uid", str("from-uri"))
	checkValue(t, "$uid", p("$uid").Get(c), str("from-uri"))
	checkValue(t, "$t.uid", p("$t.uid").Get(c), str("to-user"))
	// Replacing the from-track name deletes every class of the from track
	// (and the global one), not the to track.
	setA("$f.uid", str("replaced"))
	checkValue(t, "$f.uid[*]", p("$f.uid[*]").Get(c), str("replaced"))
	checkValue(t, "$fr.uid", p("$fr.uid").Get(c), str("replaced"))
	checkValue(t, "$t.uid", p("$t.uid").Get(c), str("to-user"))
	checkValue(t, "$g.uid", p("$g.uid").Get(c), null)
	// A narrow replace keeps the other classes.
	setA("$fd.uid", str("dom"))
	setA("$fu.uid", str("usr"))
	setA("$fu.uid", str("usr2"))
	checkValue(t, "$f.uid[*]", p("$f.uid[*]").Get(c), str("replaced, usr2, dom"))
	// Global values are seen from both tracks.
	setA("$g.gw_ip", str("10.0.0.1"))
	checkValue(t, "$t.gw_ip", p("$t.gw_ip").Get(c), str("10.0.0.1"))
	checkValue(t, "$gw_ip", p("$gw_ip").Get(c), str("10.0.0.1"))

	// AVPs added by modules without class or track bits count as
	// from-track URI class.
	c.AVPs.Add(sr.AVPName{S: "raw"}, str("bare"), 0)
	checkValue(t, "$fr.raw", p("$fr.raw").Get(c), str("bare"))
	checkValue(t, "$t.raw", p("$t.raw").Get(c), null)
	setA("$raw", str("new"))
	checkValue(t, "$raw[*]", p("$raw[*]").Get(c), str("new"))

	if name, flags, ok := p("$tu.uid").AVP(); !ok || name.S != "uid" || flags != sr.AVPTrackTo|sr.AVPClassUser {
		t.Errorf("AVP() = %v %v %v", name, flags, ok)
	}
}

func TestAddFlags(t *testing.T) {
	tests := map[sr.AVPFlags]sr.AVPFlags{
		0:                                 sr.AVPClassURI | sr.AVPTrackFrom,
		sr.AVPTrackTo:                     sr.AVPClassURI | sr.AVPTrackTo,
		sr.AVPClassUser:                   sr.AVPClassUser | sr.AVPTrackFrom,
		sr.AVPClassDomain | sr.AVPTrackTo: sr.AVPClassDomain | sr.AVPTrackTo,
		sr.AVPClassGlobal | avpTrackAll:   sr.AVPClassGlobal | avpTrackAll,
		sr.AVPClassURI | sr.AVPClassUser:  sr.AVPClassURI | sr.AVPTrackFrom,
		sr.AVPClassURI | avpTrackAll:      sr.AVPClassURI | sr.AVPTrackFrom,
	}
	for in, want := range tests {
		if got := addFlags(in); got != want {
			t.Errorf("addFlags(%b) = %b, want %b", in, got, want)
		}
	}
}

func TestAVPNameParsing(t *testing.T) {
	tests := []struct {
		in    string
		name  sr.AVPName
		flags sr.AVPFlags
		err   string
	}{
		{"i:10", sr.AVPName{ID: 10, IsID: true}, 0, ""},
		{"I:7", sr.AVPName{ID: 7, IsID: true}, 0, ""},
		{"s:foo", sr.AVPName{S: "foo"}, 0, ""},
		{"S:a:b", sr.AVPName{S: "a:b"}, 0, ""},
		{"foo", sr.AVPName{S: "foo"}, 0, ""},
		{"fu.uid", sr.AVPName{S: "uid"}, sr.AVPTrackFrom | sr.AVPClassUser, ""},
		{"g.x", sr.AVPName{S: "x"}, sr.AVPClassGlobal | avpTrackAll, ""},
		{"", sr.AVPName{}, 0, "empty AVP name"},
		{"i:", sr.AVPName{}, 0, "empty AVP name"},
		{"i:-1", sr.AVPName{}, 0, "not a number"},
		{"i:x", sr.AVPName{}, 0, "not a number"},
		{"q:x", sr.AVPName{}, 0, "unknown AVP name type"},
		{"zz.x", sr.AVPName{}, 0, "unknown AVP class prefix"},
		{"f.", sr.AVPName{}, 0, "no AVP name"},
		{"f.a.b", sr.AVPName{}, 0, "invalid AVP name"},
		{"a[1]", sr.AVPName{}, 0, "invalid character"},
	}
	for _, tc := range tests {
		id, err := parseAVPName(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseAVPName(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || id.name != tc.name || id.flags != tc.flags {
			t.Errorf("parseAVPName(%q) = %+v %v", tc.in, id, err)
		}
	}
}

// TestAVPDeleteMarkCollision: an AVP whose name happens to be the
// internal delete mark survives a deletion of another AVP.
func TestAVPDeleteMarkCollision(t *testing.T) {
	r := newTestRegistry(t)
	c := &sr.Ctx{AVPs: sr.NewAVPList()}
	c.AVPs.Add(sr.AVPName{S: "\x00pv:delete"}, str("keep me"), 0)
	c.AVPs.Add(sr.AVPName{S: "x"}, str("drop me"), 0)
	set(t, r, c, "$avp(x)", null)
	if c.AVPs.Len() != 1 {
		t.Fatalf("%d AVPs left, want 1", c.AVPs.Len())
	}
	if v, ok := c.AVPs.Get(sr.AVPName{S: "\x00pv:delete"}, 0, 0); !ok || !sameValue(v, str("keep me")) {
		t.Errorf("the colliding AVP is gone: %v %v", v, ok)
	}
}
