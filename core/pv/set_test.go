package pv

import (
	"errors"
	"strings"
	"testing"

	"sip-router.org/core/sr"
)

func set(t *testing.T, r *Registry, c *sr.Ctx, text string, v sr.Value) {
	t.Helper()
	s, err := r.ParseSetter(text, Kamailio)
	if err != nil {
		t.Fatalf("ParseSetter(%q): %v", text, err)
	}
	if err := s.Set(c, v); err != nil {
		t.Fatalf("%s = %s: %v", text, show(v), err)
	}
}

func get(t *testing.T, r *Registry, c *sr.Ctx, text string) sr.Value {
	t.Helper()
	return mustParse(t, r, text, Kamailio).Get(c)
}

func TestSetRequestURI(t *testing.T) {
	r := newTestRegistry(t)
	t.Run("whole", func(t *testing.T) {
		c := reqCtx(t, inviteText)
		set(t, r, c, "$ru", str("sip:bob@example.net"))
		if got := c.Req.Recipient.String(); got != "sip:bob@example.net" {
			t.Errorf("Recipient = %q", got)
		}
		checkValue(t, "$rU", get(t, r, c, "$rU"), str("bob"))
		checkValue(t, "$rd", get(t, r, c, "$rd"), str("example.net"))
		checkValue(t, "$ou", get(t, r, c, "$ou"), str("sip:alice@atlanta.example.com;transport=tcp"))
		if !strings.HasPrefix(c.Req.String(), "INVITE sip:bob@example.net SIP/2.0\r\n") {
			t.Errorf("request line not rewritten: %q", strings.SplitN(c.Req.String(), "\r\n", 2)[0])
		}
	})
	t.Run("alias $ruri and tel", func(t *testing.T) {
		c := reqCtx(t, inviteText)
		set(t, r, c, "$ruri", str("tel:+15550100"))
		checkValue(t, "$ru", get(t, r, c, "$ru"), str("tel:+15550100"))
		checkValue(t, "$rz", get(t, r, c, "$rz"), str("tel"))
		checkValue(t, "$rp", get(t, r, c, "$rp"), null)
		s, _ := r.ParseSetter("$rU", Kamailio)
		if err := s.Set(c, str("x")); err == nil || !strings.Contains(err.Error(), "not a SIP URI") {
			t.Errorf("$rU on a tel URI: %v", err)
		}
	})
	t.Run("parts", func(t *testing.T) {
		c := reqCtx(t, inviteText)
		set(t, r, c, "$rU", str("carol"))
		set(t, r, c, "$rd", str("10.1.2.3"))
		set(t, r, c, "$rp", num(5080))
		checkValue(t, "$ru", get(t, r, c, "$ru"), str("sip:carol@10.1.2.3:5080;transport=tcp"))
		set(t, r, c, "$rp", str("5090"))
		checkValue(t, "$rp", get(t, r, c, "$rp"), str("5090"))
		set(t, r, c, "$rp", null)
		checkValue(t, "$rp after $null", get(t, r, c, "$rp"), str("5060"))
		set(t, r, c, "$rU", null)
		checkValue(t, "$ru", get(t, r, c, "$ru"), str("sip:10.1.2.3;transport=tcp"))
		checkValue(t, "$rU", get(t, r, c, "$rU"), null)
		set(t, r, c, "$rd", str("[2001:db8::5]"))
		checkValue(t, "$rd", get(t, r, c, "$rd"), str("[2001:db8::5]"))
	})
	t.Run("errors", func(t *testing.T) {
		c := reqCtx(t, inviteText)
		tests := []struct {
			pv   string
			v    sr.Value
			want string
		}{
			{"$ru", str("not a uri"), `$ru: invalid URI "not a uri"`},
			{"$ru", str("sip:"), `$ru: invalid URI "sip:"`},
			{"$ru", str(""), "$ru: cannot assign an empty URI"},
			{"$ru", null, "$ru: cannot assign $null"},
			{"$ru", str("sip:a@b c"), "$ru: invalid URI"},
			{"$rU", str("a@b"), `$rU: invalid character '@'`},
			{"$rd", str(""), "$rd: cannot set an empty host"},
			{"$rd", str("a;b"), `$rd: invalid host "a;b"`},
			{"$rd", str("h:5060"), `$rd: invalid host "h:5060"`},
			{"$rp", str("x"), `$rp: invalid port "x"`},
			{"$rp", num(70000), `$rp: invalid port "70000"`},
		}
		for _, tc := range tests {
			s, err := r.ParseSetter(tc.pv, Kamailio)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Set(c, tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s = %s: error %v, want %q", tc.pv, show(tc.v), err, tc.want)
			}
		}
		if got := c.Req.Recipient.String(); got != "sip:alice@atlanta.example.com;transport=tcp" {
			t.Errorf("failed assignments changed the R-URI to %q", got)
		}
	})
	t.Run("invalid URI wraps the parser error", func(t *testing.T) {
		c := reqCtx(t, inviteText)
		s, _ := r.ParseSetter("$ru", Kamailio)
		err := s.Set(c, str("sip:h:notaport"))
		if err == nil || errors.Unwrap(err) == nil {
			t.Errorf("error %v does not wrap a cause", err)
		}
	})
	t.Run("reply", func(t *testing.T) {
		c := replyCtx(t)
		s, _ := r.ParseSetter("$ru", Kamailio)
		if err := s.Set(c, str("sip:x@y")); err == nil {
			t.Error("setting $ru in a reply route succeeded")
		}
	})
}

func TestSetDstURI(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	set(t, r, c, "$du", str("sip:10.0.0.5:5070;transport=tcp"))
	if c.DstURI != "sip:10.0.0.5:5070;transport=tcp" {
		t.Errorf("DstURI = %q", c.DstURI)
	}
	checkValue(t, "$du", get(t, r, c, "$du"), str("sip:10.0.0.5:5070;transport=tcp"))
	checkValue(t, "$duri", get(t, r, c, "$duri"), str("sip:10.0.0.5:5070;transport=tcp"))
	checkValue(t, "$dd", get(t, r, c, "$dd"), str("10.0.0.5"))
	checkValue(t, "$dp", get(t, r, c, "$dp"), str("5070"))
	checkValue(t, "$dP", get(t, r, c, "$dP"), str("tcp"))
	set(t, r, c, "$duri", str("sips:gw.example.com"))
	checkValue(t, "$dp", get(t, r, c, "$dp"), str("5061"))
	checkValue(t, "$dP", get(t, r, c, "$dP"), str("udp"))
	for _, bad := range []sr.Value{str("gw.example.com"), str("tel:+1555"), str("sip:")} {
		s, _ := r.ParseSetter("$du", Kamailio)
		if err := s.Set(c, bad); err == nil {
			t.Errorf("$du = %s accepted", show(bad))
		}
	}
	set(t, r, c, "$du", null)
	if c.DstURI != "" {
		t.Errorf("$du = $null left %q", c.DstURI)
	}
	checkValue(t, "$du", get(t, r, c, "$du"), null)
}

func TestSetFlagsAndBranches(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	set(t, r, c, "$mf", num(5))
	set(t, r, c, "$bf", str("7"))
	set(t, r, c, "$sF", num(0x10))
	if c.Flags != 5 || c.BranchFlags != 7 || c.ScriptFlags != 16 {
		t.Errorf("flags = %d %d %d", c.Flags, c.BranchFlags, c.ScriptFlags)
	}
	checkValue(t, "$mF", get(t, r, c, "$mF"), str("00000005"))
	for in, want := range map[string]uint32{"2a": 42, "0x2A": 42, "0000002a": 42, "ffffffff": 1<<32 - 1} {
		set(t, r, c, "$mF", str(in))
		if c.Flags != want {
			t.Errorf("$mF = %q: flags %d, want %d", in, c.Flags, want)
		}
	}
	set(t, r, c, "$bF", get(t, r, c, "$bF")) // round trip
	if c.BranchFlags != 7 {
		t.Errorf("$bF = $bF changed the flags to %d", c.BranchFlags)
	}
	set(t, r, c, "$sF", num(3))
	set(t, r, c, "$mf", str("10"))
	if c.ScriptFlags != 3 || c.Flags != 10 {
		t.Errorf("flags = %d %d", c.ScriptFlags, c.Flags)
	}
	for _, pv := range []string{"$mf", "$bF", "$sf", "$mF"} {
		s, _ := r.ParseSetter(pv, Kamailio)
		if err := s.Set(c, str("many")); err == nil || !strings.Contains(err.Error(), "is not a number") {
			t.Errorf("%s = \"many\": %v", pv, err)
		}
		if err := s.Set(c, null); err == nil {
			t.Errorf("%s = $null accepted", pv)
		}
	}

	set(t, r, c, "$br", str("sip:first@example.com"))
	if len(c.Branches) != 1 || c.Branches[0].URI != "sip:first@example.com" || c.Branches[0].Q != sr.QUnset {
		t.Fatalf("branches = %+v", c.Branches)
	}
	set(t, r, c, "$br", str("sip:changed@example.com"))
	checkValue(t, "$br", get(t, r, c, "$br"), str("sip:changed@example.com"))
	if len(c.Branches) != 1 {
		t.Errorf("$br added a branch: %+v", c.Branches)
	}
	c.Branches = append(c.Branches, sr.Branch{URI: "sip:second@example.com", Q: sr.QUnset})
	set(t, r, c, "$(branch(uri)[1])", str("sip:2nd@example.com"))
	set(t, r, c, "$(branch(q)[1])", num(300))
	set(t, r, c, "$branch(flags)", num(9))
	set(t, r, c, "$branch(dst_uri)", str("sip:10.0.0.7"))
	set(t, r, c, "$branch(path)", str("<sip:p1>"))
	set(t, r, c, "$branch(socket)", str("udp:10.0.0.10:5060"))
	checkValue(t, "$bR", get(t, r, c, "$bR"), str("sip:changed@example.com, <sip:2nd@example.com>;q=0.3"))
	b := c.Branches[0]
	if b.Flags != 9 || b.DstURI != "sip:10.0.0.7" || b.Path != "<sip:p1>" || b.Socket == nil {
		t.Errorf("branch 0 = %+v", b)
	}
	set(t, r, c, "$(branch(q)[1])", null)
	checkValue(t, "q after $null", get(t, r, c, "$(branch(q)[1])"), null)
	set(t, r, c, "$branch(socket)", null)
	checkValue(t, "socket after $null", get(t, r, c, "$branch(socket)"), null)
	errs := []struct {
		pv string
		v  sr.Value
	}{
		{"$br", null}, {"$br", str("nope")}, {"$(branch(uri)[5])", str("sip:x@y")},
		{"$(branch(uri)[*])", str("sip:x@y")}, {"$branch(q)", num(2000)}, {"$branch(flags)", str("x")},
		{"$branch(socket)", str("udp:192.0.2.1:5060")}, {"$branch(uri)", str("bad uri")},
		{"$branch(dst_uri)", str("bad uri")},
	}
	for _, e := range errs {
		s, err := r.ParseSetter(e.pv, Kamailio)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set(c, e.v); err == nil {
			t.Errorf("%s = %s accepted", e.pv, show(e.v))
		}
	}
}

func TestSetForceSocket(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	for _, v := range []string{"udp:10.0.0.10:5060", "10.0.0.10", "10.0.0.10:5060", "UDP:10.0.0.10"} {
		c.ForceSocket = nil
		set(t, r, c, "$fs", str(v))
		checkValue(t, "$fs after "+v, get(t, r, c, "$fs"), str("udp:10.0.0.10:5060"))
	}
	set(t, r, c, "$fs", null)
	if c.ForceSocket != nil {
		t.Error("$fs = $null did not clear the socket")
	}
	s, _ := r.ParseSetter("$fs", Kamailio)
	for v, want := range map[string]string{
		"tcp:10.0.0.10:5060": "no listening socket matches",
		"10.0.0.10:x":        "bad port",
		"udp:[::1":           "missing ']'",
		"10.0.0.10:":         "empty port",
		"udp:":               "no host",
	} {
		if err := s.Set(c, str(v)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("$fs = %q: %v, want %q", v, err, want)
		}
	}
	noLookup := NewRegistry(Config{})
	s2, _ := noLookup.ParseSetter("$fs", Kamailio)
	if err := s2.Set(c, str("udp:10.0.0.10:5060")); err == nil || !strings.Contains(err.Error(), "no socket lookup") {
		t.Errorf("$fs without a lookup: %v", err)
	}
}

func TestSplitSocket(t *testing.T) {
	tests := []struct {
		in          string
		proto, host string
		port        int
		ok          bool
	}{
		{"udp:1.2.3.4:5060", "udp", "1.2.3.4", 5060, true},
		{"tls:[2001:db8::1]:5061", "tls", "2001:db8::1", 5061, true},
		{"[2001:db8::1]", "", "2001:db8::1", 0, true},
		{"sip.example.com", "", "sip.example.com", 0, true},
		{"tcp:sip.example.com:5080", "tcp", "sip.example.com", 5080, true},
		{"[::1]x", "", "", 0, false},
		{"1.2.3.4:0", "", "", 0, false},
		{"", "", "", 0, false},
	}
	for _, tc := range tests {
		p, h, n, err := splitSocket(tc.in)
		if (err == nil) != tc.ok || p != tc.proto || h != tc.host || n != tc.port {
			t.Errorf("splitSocket(%q) = %q %q %d %v", tc.in, p, h, n, err)
		}
	}
}

func TestSetVarAndShv(t *testing.T) {
	r := newTestRegistry(t)
	if err := r.AddVarSet("preset=s:hello"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddShvSet("limit=i:10"); err != nil {
		t.Fatal(err)
	}
	c := &sr.Ctx{}
	checkValue(t, "$var(preset)", get(t, r, c, "$var(preset)"), str("hello"))
	checkValue(t, "$var(x)", get(t, r, c, "$var(x)"), num(0))
	set(t, r, c, "$var(x)", str("v"))
	if c.Vars == nil || !sameValue(c.Vars["x"], str("v")) {
		t.Errorf("Vars = %v", c.Vars)
	}
	set(t, r, c, "$var(x)", num(3))
	checkValue(t, "$var(x)", get(t, r, c, "$var(x)"), num(3))
	set(t, r, c, "$var(x)", null)
	checkValue(t, "$var(x) after $null", get(t, r, c, "$var(x)"), num(0))
	set(t, r, c, "$var(preset)", str("changed"))
	checkValue(t, "$var(preset)", get(t, r, c, "$var(preset)"), str("changed"))
	if v := r.NewVars(); !sameValue(v["preset"], str("hello")) || len(v) != 1 {
		t.Errorf("NewVars = %v", v)
	}

	checkValue(t, "$shv(limit)", get(t, r, c, "$shv(limit)"), num(10))
	set(t, r, c, "$shv(limit)", str("x"))
	other := &sr.Ctx{}
	checkValue(t, "$shv(limit) from another message", get(t, r, other, "$shv(limit)"), str("x"))
	set(t, r, c, "$shv(limit)", null)
	checkValue(t, "$shv(limit) after $null", get(t, r, c, "$shv(limit)"), num(0))
	if v, ok := r.SHV().Get("limit"); !ok || !sameValue(v, num(0)) {
		t.Errorf("SHV().Get = %v %v", v, ok)
	}
	if _, ok := r.SHV().Get("nope"); ok {
		t.Error("SHV().Get of an unknown variable")
	}
	if names := r.SHV().Names(); len(names) != 1 || names[0] != "limit" {
		t.Errorf("SHV().Names() = %v", names)
	}
}

func TestVarSetErrors(t *testing.T) {
	r := newTestRegistry(t)
	for _, spec := range []string{"x", "=i:1", "x=1", "x=i:abc", "x=f:1.5"} {
		if err := r.AddVarSet(spec); err == nil {
			t.Errorf("AddVarSet(%q) accepted", spec)
		}
		if err := r.AddShvSet(spec); err == nil {
			t.Errorf("AddShvSet(%q) accepted", spec)
		}
	}
	if err := r.AddVarSet("s=s:a:b"); err != nil {
		t.Errorf("AddVarSet with a colon in the value: %v", err)
	}
	c := &sr.Ctx{}
	checkValue(t, "$var(s)", get(t, r, c, "$var(s)"), str("a:b"))
}

// TestShvConcurrent has many goroutines read and write shared variables
// (run with -race).
func TestShvConcurrent(t *testing.T) {
	r := newTestRegistry(t)
	counter := mustParse(t, r, "$shv(counter)", Kamailio)
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func(g int) {
			c := &sr.Ctx{}
			own, _ := r.ParseSetter("$shv(g"+string(rune('0'+g))+")", Kamailio)
			for i := 0; i < 500; i++ {
				if err := counter.Set(c, num(i)); err != nil {
					t.Error(err)
				}
				if v := counter.Get(c); v.K != sr.Int {
					t.Errorf("$shv(counter) = %s", show(v))
				}
				if err := own.Set(c, num(i)); err != nil {
					t.Error(err)
				}
				r.SHV().Set("direct", str("x"))
				r.SHV().Get("direct")
			}
			done <- true
		}(g)
	}
	for g := 0; g < 8; g++ {
		<-done
	}
	for g := 0; g < 8; g++ {
		v, ok := r.SHV().Get("g" + string(rune('0'+g)))
		if !ok || !sameValue(v, num(499)) {
			t.Errorf("$shv(g%d) = %s", g, show(v))
		}
	}
}

func TestReadOnly(t *testing.T) {
	r := newTestRegistry(t)
	for _, pv := range []string{"$fu", "$tu", "$ci", "$hdr(Via)", "$rm", "$si", "$null", "$rc", "$ou", "$bR", "$Ts", "$sel(ruri)", "@ruri", "$$"} {
		t.Run(pv, func(t *testing.T) {
			_, err := r.ParseSetter(pv, Kamailio)
			if err == nil || !errors.Is(err, ErrReadOnly) {
				t.Fatalf("ParseSetter(%q) = %v", pv, err)
			}
			if want := "read-only pseudo-variable " + pv; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			s := mustParse(t, r, pv, Kamailio)
			if s.Writable() {
				t.Error("Writable")
			}
			if err := s.Set(&sr.Ctx{}, str("x")); !errors.Is(err, ErrReadOnly) {
				t.Errorf("Set: %v", err)
			}
		})
	}
	_, err := r.ParseSetter("$(ru{uri.user})", Kamailio)
	if err == nil || !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "transformations") {
		t.Errorf("transformation setter: %v", err)
	}
	for _, pv := range []string{"$ru", "$rU", "$rd", "$rp", "$du", "$br", "$bf", "$mf", "$sf", "$fs", "$avp(x)", "$var(x)", "$shv(x)", "$(avp(x)[*])", "$branch(uri)"} {
		if s, err := r.ParseSetter(pv, Kamailio); err != nil || !s.Writable() {
			t.Errorf("ParseSetter(%q): %v", pv, err)
		}
	}
	if err := mustParse(t, r, "$ru", Kamailio).Set(nil, str("sip:a@b")); err == nil {
		t.Error("Set with a nil context succeeded")
	}
}
