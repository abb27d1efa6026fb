package kex_test

import (
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules_k/kex"
)

const invite = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKkex1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:alice@example.org>;tag=k1
Call-ID: kex1@192.0.2.10
CSeq: 1 INVITE
`

func run(t *testing.T, body string) *sr.Ctx {
	t.Helper()
	s := siptest.NewScript(t, "#!KAMAILIO\nloadmodule \"kex.so\"\n"+body)
	return s.Run(t, invite)
}

func TestScriptFlags(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		flags       uint32
		rc          int
	}{
		{"set string", `setsflag("6");`, 1 << 6, 1},
		{"set int", `setsflag(31);`, 1 << 31, 1},
		{"set from a variable", `$var(f) = 3; setsflag("$var(f)");`, 1 << 3, 1},
		{"set then reset", `setsflag("6"); setsflag("7"); resetsflag("6");`, 1 << 7, 1},
		{"is set", `setsflag("2"); issflagset("2");`, 1 << 2, 1},
		{"is not set", `setsflag("2"); issflagset("3");`, 1 << 2, -1},
		{"variable out of range", `$var(f) = 40; setsflag("$var(f)");`, 0, -1},
		{"message flags untouched", `setflag(1); setsflag("1"); resetflag(1);`, 1 << 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := run(t, "route {\n"+tc.route+"\n}\n")
			if c.ScriptFlags != tc.flags || c.RC != tc.rc {
				t.Errorf("script flags %#x rc %d, want %#x rc %d", c.ScriptFlags, c.RC, tc.flags, tc.rc)
			}
			if c.BranchFlags != 0 {
				t.Errorf("branch flags %#x changed", c.BranchFlags)
			}
		})
	}
}

func TestBranchFlags(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		ruri        uint32   // flags of branch 0 (the Request-URI)
		branches    []uint32 // flags of the added branches
		rc          int
	}{
		{"R-URI branch", `setbflag("6");`, 1 << 6, nil, 1},
		{"R-URI branch by index 0", `setbflag("6", "0");`, 1 << 6, nil, 1},
		{"second branch", `append_branch("sip:a@192.0.2.1"); append_branch("sip:b@192.0.2.2"); setbflag("5", "2");`,
			0, []uint32{0, 1 << 5}, 1},
		{"first branch", `append_branch("sip:a@192.0.2.1"); setbflag("1", "1"); setbflag("2");`,
			1 << 2, []uint32{1 << 1}, 1},
		{"missing branch", `setbflag("5", "3");`, 0, nil, -1},
		{"reset on a branch", `append_branch("sip:a@192.0.2.1"); setbflag("1", "1"); setbflag("3", "1"); resetbflag("1", "1");`,
			0, []uint32{1 << 3}, 1},
		{"is set on a branch", `append_branch("sip:a@192.0.2.1"); setbflag("4", "1"); isbflagset("4", "1");`,
			0, []uint32{1 << 4}, 1},
		{"is set looks at its branch only", `append_branch("sip:a@192.0.2.1"); setbflag("4", "1"); isbflagset("4");`,
			0, []uint32{1 << 4}, -1},
		{"index from a variable", `append_branch("sip:a@192.0.2.1"); $var(i) = 1; setbflag("9", "$var(i)");`,
			0, []uint32{1 << 9}, 1},
		{"append_branch copies the R-URI flags", `setbflag("6"); append_branch();`, 1 << 6, []uint32{1 << 6}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := run(t, "route {\n"+tc.route+"\n}\n")
			if c.BranchFlags != tc.ruri || c.RC != tc.rc {
				t.Errorf("R-URI branch flags %#x rc %d, want %#x rc %d", c.BranchFlags, c.RC, tc.ruri, tc.rc)
			}
			if len(c.Branches) != len(tc.branches) {
				t.Fatalf("%d branches, want %d", len(c.Branches), len(tc.branches))
			}
			for i, b := range c.Branches {
				if b.Flags != tc.branches[i] {
					t.Errorf("branch %d flags %#x, want %#x", i+1, b.Flags, tc.branches[i])
				}
			}
			if c.ScriptFlags != 0 || c.Flags != 0 {
				t.Errorf("script flags %#x, message flags %#x changed", c.ScriptFlags, c.Flags)
			}
		})
	}
}

// Kamailio 5.6 configs name flags with #!define values and pass them
// unquoted; 3.0 configs pass strings.
func TestDefinedFlagNames(t *testing.T) {
	c := run(t, `#!define FLB_NATB 6
#!define FLB_NATSIPPING 7
route {
	setbflag(FLB_NATB);
	if (isbflagset(FLB_NATB)) {
		setbflag(FLB_NATSIPPING);
	}
}
`)
	if c.BranchFlags != 1<<6|1<<7 {
		t.Errorf("branch flags %#x", c.BranchFlags)
	}
}

func TestDstURI(t *testing.T) {
	for _, tc := range []struct {
		route, want string
		rc          int
	}{
		{`setdsturi("sip:10.0.0.1:5080;transport=tcp");`, "sip:10.0.0.1:5080;transport=tcp", 1},
		{`setdsturi("sip:$rU@10.0.0.2");`, "sip:bob@10.0.0.2", 1},
		{`setdsturi("not a uri");`, "", -1},
		{`setdsturi("sip:10.0.0.1"); resetdsturi();`, "", 1},
		{`setdsturi("sip:10.0.0.1"); isdsturiset();`, "sip:10.0.0.1", 1},
		{`isdsturiset();`, "", -1},
	} {
		t.Run(tc.route, func(t *testing.T) {
			c := run(t, "route {\n"+tc.route+"\n}\n")
			if c.DstURI != tc.want || c.RC != tc.rc {
				t.Errorf("$du %q rc %d, want %q rc %d", c.DstURI, c.RC, tc.want, tc.rc)
			}
		})
	}
}

func TestPvPrintf(t *testing.T) {
	c := run(t, `route {
	pv_printf("$var(x)", "user=$rU host=$rd");
	avp_printf("$avp(s:y)", "$var(x)!");
	pv_printf("$ru", "sip:carol@$rd");
}
`)
	if v := c.Vars["x"]; v.S != "user=bob host=example.com" {
		t.Errorf("$var(x) = %v", v)
	}
	if v, _ := c.AVPs.Get(sr.AVPName{S: "y"}, 0, 0); v.S != "user=bob host=example.com!" {
		t.Errorf("$avp(y) = %v", v)
	}
	if got := c.Req.Recipient.String(); got != "sip:carol@example.com" {
		t.Errorf("R-URI %s", got)
	}
}

func TestKmAppendBranch(t *testing.T) {
	c := run(t, `route {
	setdsturi("sip:10.0.0.9");
	setbflag("3");
	km_append_branch("sip:alt@192.0.2.5", "0.5");
	km_append_branch();
}
`)
	if len(c.Branches) != 2 {
		t.Fatalf("%d branches", len(c.Branches))
	}
	b := c.Branches[0]
	if b.URI != "sip:alt@192.0.2.5" || b.DstURI != "sip:10.0.0.9" || b.Q != 500 || b.Flags != 1<<3 {
		t.Errorf("branch with a URI: %+v", b)
	}
	b = c.Branches[1]
	if b.URI != "sip:bob@example.com" || b.DstURI != "sip:10.0.0.9" || b.Q != sr.QUnset || b.Flags != 1<<3 {
		t.Errorf("branch from the R-URI: %+v", b)
	}
	if c.DstURI != "" || c.BranchFlags != 0 {
		t.Errorf("the R-URI branch was not reset: $du %q flags %#x", c.DstURI, c.BranchFlags)
	}

	c = run(t, "route {\nkm_append_branch(\"garbage\");\n}\n")
	if c.RC != -1 || len(c.Branches) != 0 {
		t.Errorf("bad URI: rc %d, %d branches", c.RC, len(c.Branches))
	}
}

func TestIsMyself(t *testing.T) {
	for _, tc := range []struct {
		arg string
		rc  int
	}{
		{"sip:127.0.0.1", 1},
		{"sip:alice@127.0.0.1:5060", 1},
		{"sip:127.0.0.1:5070", -1},
		{"sip:example.com", -1},
		{"127.0.0.1", 1},
		{"127.0.0.1:5060", 1},
		{"192.0.2.99", -1},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			if c := run(t, "route {\nis_myself(\""+tc.arg+"\");\n}\n"); c.RC != tc.rc {
				t.Errorf("rc %d, want %d", c.RC, tc.rc)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		route, want string
	}{
		{`setbflag("32");`, "out of range"},
		{`setbflag("x");`, "neither a flag number"},
		{`setbflag("1", "-1");`, "negative"},
		{`pv_printf("$rm", "x");`, "read"},
		{`km_append_branch("sip:a@b", "2");`, "q must be"},
		{`$var(x) = 1;`, ""},
	} {
		t.Run(tc.route, func(t *testing.T) {
			_, err := siptest.LoadErr(t, "#!KAMAILIO\nloadmodule \"kex.so\"\nroute {\n"+tc.route+"\n}\n")
			if tc.want == "" {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := siptest.LoadErr(t, "loadmodule \"kex.so\"\nonreply_route { km_append_branch(); }\n"); err == nil {
		t.Error("km_append_branch accepted in onreply_route")
	}
}
