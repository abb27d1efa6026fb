package avpops_test

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/db_postgres"
	_ "sip-router.org/modules/db_sqlite"
	_ "sip-router.org/modules/textops"
	_ "sip-router.org/modules_k/avpops"
)

const request = `INVITE sip:bob@example.org SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-1
From: <sip:alice@example.org>;tag=a1
To: <sip:bob@example.org>
Call-ID: avpops@example.org
CSeq: 1 INVITE
`

// script builds a config whose route runs, for the case named in header
// X-Case, the setup statements and the call under test, and keeps the
// call's code in $var(rc).
func script(t *testing.T, params string, cases map[string]string) *siptest.Script {
	t.Helper()
	var b strings.Builder
	b.WriteString("loadmodule \"textops.so\"\nloadmodule \"avpops.so\"\n" + params + "\nroute {\n\t$var(rc) = 0;\n")
	for name, body := range cases {
		b.WriteString("\tif ($hdr(X-Case) == \"" + name + "\") {\n\t\t" + body + "\n\t}\n")
	}
	b.WriteString("}\n")
	return siptest.NewScript(t, b.String())
}

// run runs a case and returns its context.
func run(t *testing.T, s *siptest.Script, name string, extra ...string) *sr.Ctx {
	t.Helper()
	return s.Run(t, request+"X-Case: "+name+"\n"+strings.Join(extra, "")+"\n")
}

func rc(c *sr.Ctx) int {
	n, _ := c.Vars["rc"].AsInt()
	return n
}

// vals returns every value of an AVP of that name (s: name, or i:id),
// newest first.
func vals(c *sr.Ctx, name string) []sr.Value {
	var out []sr.Value
	n := sr.AVPName{S: name}
	if strings.HasPrefix(name, "i:") {
		var id int
		for _, ch := range name[2:] {
			id = id*10 + int(ch-'0')
		}
		n = sr.AVPName{ID: id, IsID: true}
	}
	c.AVPs.Each(func(a *sr.AVP) bool {
		if a.Name == n {
			out = append(out, a.Val)
		}
		return true
	})
	return out
}

func strs(vs ...string) []sr.Value {
	out := make([]sr.Value, len(vs))
	for i, s := range vs {
		out[i] = sr.StrVal(s)
	}
	return out
}

func ints(is ...int) []sr.Value {
	out := make([]sr.Value, len(is))
	for i, n := range is {
		out[i] = sr.IntVal(n)
	}
	return out
}

// call runs setup statements and a function call whose code lands in
// $var(rc).
func call(setup, fn string) string {
	return setup + " " + fn + "; $var(rc) = $rc;"
}

func TestDeleteCopyInsert(t *testing.T) {
	fill := `$avp(s:x) = "a"; $avp(s:x) = "b"; $avp(s:x) = 3; $avp(i:7) = 1; $avp(s:y) = "y";`
	s := script(t, "", map[string]string{
		"del1":       call(fill, `avp_delete("$avp(s:x)")`),
		"delg":       call(fill, `avp_delete("$avp(s:x)/g")`),
		"delnone":    call("", `avp_delete("$avp(s:x)")`),
		"dels":       call(fill, `avp_delete("s")`),
		"deli":       call(fill, `avp_delete("i")`),
		"dela":       call(fill, `avp_delete("a")`),
		"copy":       call(fill, `avp_copy("$avp(s:x)", "$avp(s:z)")`),
		"copyg":      call(fill, `avp_copy("$avp(s:x)", "$avp(s:z)/g")`),
		"copygd":     call(fill, `avp_copy("$avp(s:x)", "$avp(s:z)/gd")`),
		"copys":      call(fill, `avp_copy("$avp(s:x)", "$avp(s:z)/s")`),
		"copyn":      call(`$avp(s:n) = "42";`, `avp_copy("$avp(s:n)", "$avp(s:z)/n")`),
		"copynbad":   call(`$avp(s:n) = "x42";`, `avp_copy("$avp(s:n)", "$avp(s:z)/n")`),
		"copynone":   call("", `avp_copy("$avp(s:x)", "$avp(s:z)")`),
		"insert":     call(fill, `avp_insert("$avp(s:x)", "new", "1")`),
		"insertend":  call(fill, `avp_insert("$avp(s:x)", "$rm", "10")`),
		"insertint":  call(`$var(i) = 5;`, `avp_insert("$avp(s:x)", "$var(i)", "0")`),
		"insertpv":   call(fill, `avp_insert("$avp(s:x)", "new", "1")`) + ` $var(v1) = $(avp(s:x)[1]); $var(v2) = $(avp(s:x)[2]);`,
		"interop":    call(`$avp(s:x) = "a";`, `avp_copy("$avp(s:x)", "$avp(s:z)")`) + ` $var(z) = $avp(s:z); $var(n) = $(avp(s:z)[*]);`,
		"classes":    call(`$avp(s:x) = "a";`, `avp_delete("$avp(x)")`),
		"caseinsens": call(`$avp(s:Name) = "a";`, `avp_delete("$avp(s:name)")`),
	})
	for _, tc := range []struct {
		name string
		rc   int
		avp  string
		want []sr.Value
	}{
		{"del1", 1, "x", []sr.Value{sr.StrVal("b"), sr.StrVal("a")}},
		{"delg", 1, "x", nil},
		{"delnone", -1, "x", nil},
		{"dels", 1, "i:7", ints(1)},
		{"dels", 1, "x", nil},
		{"deli", 1, "i:7", nil},
		{"deli", 1, "y", strs("y")},
		{"dela", 1, "y", nil},
		{"copy", 1, "z", ints(3)},
		{"copy", 1, "x", []sr.Value{sr.IntVal(3), sr.StrVal("b"), sr.StrVal("a")}},
		{"copyg", 1, "z", []sr.Value{sr.StrVal("a"), sr.StrVal("b"), sr.IntVal(3)}},
		{"copygd", 1, "x", nil},
		{"copys", 1, "z", strs("3")},
		{"copyn", 1, "z", ints(42)},
		{"copynbad", -1, "z", nil},
		{"copynone", -1, "z", nil},
		{"insert", 1, "x", []sr.Value{sr.IntVal(3), sr.StrVal("new"), sr.StrVal("b"), sr.StrVal("a")}},
		{"insertend", 1, "x", []sr.Value{sr.IntVal(3), sr.StrVal("b"), sr.StrVal("a"), sr.StrVal("INVITE")}},
		{"insertint", 1, "x", ints(5)},
		{"classes", 1, "x", nil},
		{"caseinsens", 1, "Name", nil},
	} {
		t.Run(tc.name+" "+tc.avp, func(t *testing.T) {
			c := run(t, s, tc.name)
			if rc(c) != tc.rc {
				t.Errorf("rc = %d, want %d", rc(c), tc.rc)
			}
			got := vals(c, tc.avp)
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("$avp(%s) = %v, want %v", tc.avp, got, tc.want)
			}
		})
	}
	if c := run(t, s, "insertpv"); c.Vars["v1"] != sr.StrVal("new") || c.Vars["v2"] != sr.StrVal("b") {
		t.Errorf("after avp_insert, $(avp(s:x)[1]) = %v, [2] = %v", c.Vars["v1"], c.Vars["v2"])
	}
	c := run(t, s, "interop")
	if c.Vars["z"] != sr.StrVal("a") || c.Vars["n"] != sr.StrVal("a") {
		t.Errorf("$avp(s:z) read through the PV: %v %v", c.Vars["z"], c.Vars["n"])
	}
}

func TestCheck(t *testing.T) {
	fill := `$avp(s:s) = "Hello World"; $avp(s:i) = 10; $avp(s:m) = "xyz"; $avp(s:m) = "abc"; $avp(s:v) = "hello world";`
	cases := map[string]string{}
	add := func(name, check string) { cases[name] = call(fill, check) }
	add("eq", `avp_check("$avp(s:s)", "eq/Hello World")`)
	add("eqcase", `avp_check("$avp(s:s)", "eq/hello world")`)
	add("eqi", `avp_check("$avp(s:s)", "eq/hello world/i")`)
	add("ne", `avp_check("$avp(s:s)", "ne/x")`)
	add("nei", `avp_check("$avp(s:s)", "ne/HELLO WORLD/i")`)
	add("lt", `avp_check("$avp(s:s)", "lt/i")`)
	add("gt", `avp_check("$avp(s:s)", "gt/i")`)
	add("le", `avp_check("$avp(s:s)", "le/hello world")`)
	add("ge", `avp_check("$avp(s:s)", "ge/HELLO")`)
	add("re", `avp_check("$avp(s:s)", "re/^hel+o")`)
	add("renot", `avp_check("$avp(s:s)", "re/^world")`)
	add("fm", `avp_check("$avp(s:s)", "fm/Hel*W?rld")`)
	add("fmcase", `avp_check("$avp(s:s)", "fm/hel*")`)
	add("fmi", `avp_check("$avp(s:s)", "fm/hel*/i")`)
	add("fmclass", `avp_check("$avp(s:s)", "fm/[GH]ello*")`)
	add("ieq", `avp_check("$avp(s:i)", "eq/i:10")`)
	add("ieqstr", `avp_check("$avp(s:i)", "eq/10")`)
	add("ihex", `avp_check("$avp(s:i)", "eq/i:0xa")`)
	add("ilt", `avp_check("$avp(s:i)", "lt/i:11")`)
	add("igt", `avp_check("$avp(s:i)", "gt/i:11")`)
	add("ige", `avp_check("$avp(s:i)", "ge/i:10")`)
	add("ile", `avp_check("$avp(s:i)", "le/i:9")`)
	add("ine", `avp_check("$avp(s:i)", "ne/i:9")`)
	add("and", `avp_check("$avp(s:i)", "and/i:2")`)
	add("andno", `avp_check("$avp(s:i)", "and/i:5")`)
	add("or", `avp_check("$avp(s:i)", "or/i:0")`)
	add("xor", `avp_check("$avp(s:i)", "xor/i:10")`)
	add("first", `avp_check("$avp(s:m)", "eq/xyz")`)
	add("all", `avp_check("$avp(s:m)", "eq/xyz/g")`)
	add("avpval", `avp_check("$avp(s:s)", "eq/$avp(s:v)/i")`)
	add("pvsrc", `avp_check("$rm", "eq/INVITE")`)
	add("pvval", `avp_check("$avp(s:s)", "re/$hdr(X-RE)")`)
	add("missing", `avp_check("$avp(s:none)", "eq/x")`)
	add("strops", `avp_check("$avp(s:s)", "and/x")`)
	s := script(t, "", cases)
	for name, want := range map[string]int{
		"eq": 1, "eqcase": -1, "eqi": 1, "ne": 1, "nei": -1, "lt": 1, "gt": -1, "le": 1, "ge": 1,
		"re": 1, "renot": -1, "fm": 1, "fmcase": -1, "fmi": 1, "fmclass": 1,
		"ieq": 1, "ieqstr": -1, "ihex": 1, "ilt": 1, "igt": -1, "ige": 1, "ile": -1, "ine": 1, "and": 1, "andno": -1, "or": 1, "xor": -1,
		"first": -1, "all": 1, "avpval": 1, "pvsrc": 1, "pvval": 1, "missing": -1, "strops": -1,
	} {
		t.Run(name, func(t *testing.T) {
			c := run(t, s, name, "X-RE: w.rld$\n")
			if got := rc(c); got != want {
				t.Errorf("rc = %d, want %d", got, want)
			}
		})
	}
}

func TestOpSubst(t *testing.T) {
	fill := `$avp(s:a) = 7; $avp(s:a) = "str"; $avp(s:a) = 5; $avp(s:b) = 3;`
	s := script(t, "", map[string]string{
		"add":    call(fill, `avp_op("$avp(s:a)", "add/i:10")`),
		"sub":    call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "sub/$avp(s:b)")`),
		"mul":    call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "mul/i:3/g")`),
		"div":    call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "div/i:2")`),
		"div0":   call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "div/i:0")`),
		"mod":    call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "mod/i:3")`),
		"and":    call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "and/i:4")`),
		"or":     call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "or/i:2")`),
		"xor":    call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "xor/i:1")`),
		"not":    call(fill, `avp_op("$avp(s:a)/$avp(s:r)", "not/i:0")`),
		"delete": call(fill, `avp_op("$avp(s:a)", "add/i:1/d")`),
		"pv":     call(fill+` $var(x) = 100;`, `avp_op("$avp(s:a)/$avp(s:r)", "add/$var(x)")`),
		"pvstr":  call(fill+` $var(x) = "x";`, `avp_op("$avp(s:a)/$avp(s:r)", "add/$var(x)")`),
		"noint":  call(`$avp(s:a) = "x";`, `avp_op("$avp(s:a)", "add/i:1")`),
		"subst":  call(`$avp(s:u) = "sip:alice@example.org";`, `avp_subst("$avp(s:u)", "/sip:(.*)@(.*)/\2:\1/")`),
		"substdst": call(`$avp(s:u) = "a-b-c"; $avp(s:u) = "x";`,
			`avp_subst("$avp(s:u)/$avp(s:w)", "/-/+/g")`),
		"substall": call(`$avp(s:u) = "a1"; $avp(s:u) = 5; $avp(s:u) = "b2";`, `avp_subst("$avp(s:u)/g", "/[0-9]/#/")`),
		"substd":   call(`$avp(s:u) = "a1";`, `avp_subst("$avp(s:u)/$avp(s:w)/d", "/a/A/")`),
		"substi":   call(`$avp(s:u) = "ABC";`, `avp_subst("$avp(s:u)", "/b/$rm/i")`),
		"substno":  call(`$avp(s:u) = "abc";`, `avp_subst("$avp(s:u)", "/z/y/")`),
	})
	for _, tc := range []struct {
		name, avp string
		rc        int
		want      []sr.Value // newest first
	}{
		{"add", "a", 1, []sr.Value{sr.IntVal(15), sr.IntVal(5), sr.StrVal("str"), sr.IntVal(7)}},
		{"sub", "r", 1, ints(2)},
		{"mul", "r", 1, ints(21, 15)},
		{"div", "r", 1, ints(2)},
		{"div0", "r", 1, ints(0)},
		{"mod", "r", 1, ints(2)},
		{"and", "r", 1, ints(4)},
		{"or", "r", 1, ints(7)},
		{"xor", "r", 1, ints(4)},
		{"not", "r", 1, ints(-1)},
		{"delete", "a", 1, []sr.Value{sr.IntVal(6), sr.StrVal("str"), sr.IntVal(7)}},
		{"pv", "r", 1, ints(105)},
		{"pvstr", "r", -1, nil},
		{"noint", "a", -1, strs("x")},
		{"subst", "u", 1, strs("example.org:alice")},
		{"substdst", "w", 1, strs("a+b+c")},
		{"substdst", "u", 1, strs("x", "a-b-c")},
		{"substall", "u", 1, []sr.Value{sr.StrVal("a#"), sr.StrVal("b#"), sr.IntVal(5)}},
		{"substd", "u", 1, nil},
		{"substd", "w", 1, strs("A1")},
		{"substi", "u", 1, strs("AINVITEC")},
		{"substno", "u", -1, strs("abc")},
	} {
		t.Run(tc.name+" "+tc.avp, func(t *testing.T) {
			c := run(t, s, tc.name)
			if rc(c) != tc.rc {
				t.Errorf("rc = %d, want %d", rc(c), tc.rc)
			}
			got := vals(c, tc.avp)
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("$avp(%s) = %v, want %v", tc.avp, got, tc.want)
			}
		})
	}
}

func TestPushtoIsSetPrint(t *testing.T) {
	s := script(t, "", map[string]string{
		"ru":       call(`$avp(s:d) = "sip:carol@example.net";`, `avp_pushto("$ru", "$avp(s:d)")`),
		"rug":      call(`$avp(s:d) = "sip:c1@example.net"; $avp(s:d) = "sip:c2@example.net";`, `avp_pushto("$ru", "$avp(s:d)/g")`),
		"ruuser":   call(`$avp(s:d) = "dave";`, `avp_pushto("$ru/username", "$avp(s:d)")`),
		"rudomain": call(`$avp(s:d) = "gw.example.com";`, `avp_pushto("$ru/domain", "$avp(s:d)")`),
		"du":       call(`$avp(s:d) = "sip:10.0.0.1:5070";`, `avp_pushto("$du", "$avp(s:d)")`),
		"br":       call(`$avp(s:d) = "sip:b1@example.net"; $avp(s:d) = "sip:b2@example.net";`, `avp_pushto("$br", "$avp(s:d)/g")`),
		"pv":       call("", `avp_pushto("$ru/username", "$hdr(X-User)")`),
		"none":     call("", `avp_pushto("$ru", "$avp(s:d)")`),
		"set":      call(`$avp(s:e) = "";`, `is_avp_set("$avp(s:e)")`),
		"unset":    call("", `is_avp_set("$avp(s:e)")`),
		"empty":    call(`$avp(s:e) = "";`, `is_avp_set("$avp(s:e)/e")`),
		"notempty": call(`$avp(s:e) = "x";`, `is_avp_set("$avp(s:e)/e")`),
		"zero":     call(`$avp(s:e) = 0;`, `is_avp_set("$avp(s:e)/en")`),
		"isstr":    call(`$avp(s:e) = 0;`, `is_avp_set("$avp(s:e)/s")`),
		"isnum":    call(`$avp(s:e) = 0;`, `is_avp_set("$avp(s:e)/n")`),
		"index":    call(`$avp(s:e) = "old"; $avp(s:e) = 1;`, `is_avp_set("$(avp(s:e)[1])/s")`),
		"index2":   call(`$avp(s:e) = "old"; $avp(s:e) = 1;`, `is_avp_set("$(avp(s:e)[2])")`),
		"print":    call(`$avp(s:p) = "v"; $avp(i:3) = 4;`, `avp_print()`),
	})
	for _, tc := range []struct {
		name     string
		rc       int
		ruri, du string
		branches []string
	}{
		{"ru", 1, "sip:carol@example.net", "", nil},
		{"rug", 1, "sip:c1@example.net", "", []string{"sip:c2@example.net"}},
		{"ruuser", 1, "sip:dave@example.org", "", nil},
		{"rudomain", 1, "sip:bob@gw.example.com", "", nil},
		{"du", 1, "sip:bob@example.org", "sip:10.0.0.1:5070", nil},
		{"br", 1, "sip:bob@example.org", "", []string{"sip:b2@example.net", "sip:b1@example.net"}},
		{"pv", 1, "sip:erin@example.org", "", nil},
		{"none", -1, "sip:bob@example.org", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := run(t, s, tc.name, "X-User: erin\n")
			if rc(c) != tc.rc {
				t.Errorf("rc = %d, want %d", rc(c), tc.rc)
			}
			if got := c.Req.Recipient.String(); got != tc.ruri {
				t.Errorf("R-URI %s, want %s", got, tc.ruri)
			}
			if c.DstURI != tc.du {
				t.Errorf("$du %q, want %q", c.DstURI, tc.du)
			}
			var br []string
			for _, b := range c.Branches {
				br = append(br, b.URI)
			}
			if !reflect.DeepEqual(br, tc.branches) {
				t.Errorf("branches %v, want %v", br, tc.branches)
			}
		})
	}
	for name, want := range map[string]int{"set": 1, "unset": -1, "empty": 1, "notempty": -1, "zero": 1,
		"isstr": -1, "isnum": 1, "index": 1, "index2": -1, "print": 1} {
		c := run(t, s, name)
		if rc(c) != want {
			t.Errorf("%s: rc = %d, want %d", name, rc(c), want)
		}
	}
	// avp_print logs every AVP.
	var buf bytes.Buffer
	c := s.Ctx(siptest.Request(t, request+"X-Case: print\n\n"), "", "")
	c.Log = slog.New(slog.NewTextHandler(&buf, nil))
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	if out := buf.String(); !strings.Contains(out, "name=p") || !strings.Contains(out, "val_str=v") || !strings.Contains(out, "id=3") || !strings.Contains(out, "val_int=4") {
		t.Errorf("avp_print logged:\n%s", out)
	}
}

// Arguments are checked when the script loads.
func TestFixupErrors(t *testing.T) {
	for _, tc := range []struct{ call, want string }{
		{`avp_delete("$avp(s:x)/q")`, "avp_delete"},
		{`avp_delete("z")`, "avp_delete"},
		{`avp_delete("$var(x)")`, "not an AVP"},
		{`avp_delete("$avp($var(n))")`, "constant"},
		{`avp_copy("$avp(s:x)", "$avp(s:y)/ns")`, "avp_copy"},
		{`avp_copy("$rm", "$avp(s:y)")`, "not an AVP"},
		{`avp_check("$avp(s:x)", "zz/1")`, "unknown operation"},
		{`avp_check("$avp(s:x)", "eq")`, "op/value"},
		{`avp_check("$avp(s:x)", "eq/i:x1")`, "not an integer"},
		{`avp_check("$avp(s:x)", "re/(")`, "regular expression"},
		{`avp_check("$avp(s:x)", "eq/1/q")`, "unknown flag"},
		{`avp_check("text", "eq/1")`, "pseudo-variable"},
		{`avp_op("$avp(s:x)", "add/abc")`, "integer"},
		{`avp_op("$avp(s:x)", "pow/i:2")`, "unknown operation"},
		{`avp_subst("$avp(s:x)", "/a/b")`, "subst"},
		{`avp_subst("$avp(s:x)", "/(/b/")`, "regular expression"},
		{`avp_subst("$avp(s:x)", "/a/\\3/")`, "groups"},
		{`avp_subst("$avp(s:x)", "/a/b/q")`, "subst flag"},
		{`avp_pushto("$rm", "$avp(s:x)")`, "destination"},
		{`avp_pushto("$ru/port", "$avp(s:x)")`, "username or domain"},
		{`is_avp_set("$avp(s:x)/ns")`, "exclude"},
		{`avp_insert("$avp(s:x)", "v", "-1")`, "negative"},
		{`avp_db_load("$ru", "$avp(s:x)")`, "db_url"},
		{`avp_db_query("select 1")`, "db_url"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"avpops.so\"\nroute { "+tc.call+"; }\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.call, err, tc.want)
		}
	}
}
