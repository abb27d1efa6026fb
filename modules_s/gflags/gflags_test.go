package gflags_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/textops"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/gflags"
)

const request = `OPTIONS sip:x@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:a@example.com>;tag=ft
To: <sip:x@example.com>
Call-ID: cid
CSeq: 1 OPTIONS
`

// run runs the main route over a request after the request filters, as
// the server does.
func run(t *testing.T, s *siptest.Script) *sr.Ctx {
	t.Helper()
	c := s.Ctx(siptest.Request(t, request), "", "")
	for _, i := range s.Loaded.Modules.Instances() {
		if f, ok := i.Value.(module.RequestFilter); ok && f.FilterRequest(c) {
			t.Fatalf("module %s consumed the request", i.Mod.Name)
		}
	}
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return c
}

func call(t *testing.T, s *siptest.Script, method string, params ...string) any {
	t.Helper()
	res, err := s.RPC.Call(&rpc.Request{Method: method, Params: params})
	if err != nil {
		t.Fatalf("%s %v: %v", method, params, err)
	}
	return res
}

// Flags are shared by every message and by the control commands.
func TestFlags(t *testing.T) {
	s := siptest.NewScript(t, `
loadmodule "gflags"
modparam("gflags", "initial", 5)
route {
	$var(f0) = is_gflag("0");
	$var(f1) = is_gflag(1);
	$var(f2) = is_gflag("2");
	if ($hdr(X-Op) == "set") { set_gflag("1"); reset_gflag(2); }
}
`)
	check := func(want [3]int) {
		t.Helper()
		c := run(t, s)
		if got := [3]int{c.Vars["f0"].I, c.Vars["f1"].I, c.Vars["f2"].I}; got != want {
			t.Errorf("is_gflag 0, 1, 2: %v, want %v", got, want)
		}
	}
	check([3]int{1, -1, 1})
	call(t, s, "gflags.set", "1")
	call(t, s, "gflags.reset", "0")
	check([3]int{-1, 1, 1})
	if call(t, s, "gflags.is_set", "2") != true || call(t, s, "gflags.is_set", "0") != false {
		t.Error("gflags.is_set")
	}
	dump := call(t, s, "gflags.dump").([]any)
	if len(dump) != 32 || dump[1] != true || dump[2] != true || dump[0] != false {
		t.Errorf("gflags.dump: %v", dump)
	}
	for _, bad := range [][]string{{"32"}, {"-1"}, {"x"}, {}} {
		if _, err := s.RPC.Call(&rpc.Request{Method: "gflags.set", Params: bad}); err == nil {
			t.Errorf("gflags.set %v accepted", bad)
		}
	}
	// The script sets and resets flags for everybody.
	c := s.Ctx(siptest.Request(t, strings.Replace(request, "CSeq:", "X-Op: set\nCSeq:", 1)), "", "")
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	if call(t, s, "gflags.is_set", "2") != false {
		t.Error("reset_gflag(2) did not reset the flag")
	}
	if _, err := s.RPC.Call(&rpc.Request{Method: "gflags.flush"}); err == nil {
		t.Error("gflags.flush without load_global_attrs succeeded")
	}
}

func TestGlobalAttrs(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url := b.NewDB(t)
		d := sertest.Create(t, url, gflags.Table())
		for _, r := range []struct {
			name  string
			typ   int
			value any
			flags int
		}{
			{"gw_ip", 2, "192.0.2.1", 1},
			{"lang", 2, "en", 33},
			{"max", 0, "7", 1},
			{"serweb", 2, "x", 32},
			{"gflags", 0, "6", 1},
			{"empty", 2, nil, 1},
		} {
			sertest.Exec(t, d, "INSERT INTO global_attrs (name, type, value, flags) VALUES (?, ?, ?, ?)", r.name, r.typ, r.value, r.flags)
		}
		s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "%s"
loadmodule "gflags"
modparam("gflags", "db_url", "%s")
modparam("gflags", "load_global_attrs", 1)
route {
	$var(gw) = $gw_ip;
	$var(g) = $g.lang;
	$var(max) = $g.max;
	$var(serweb) = 0;
	if ($g.serweb == $null) { $var(serweb) = 1; }
	$var(empty) = $g.empty;
	$var(f1) = is_gflag(1);
	$var(f2) = is_gflag(2);
	$var(f0) = is_gflag(0);
}
`, b.Module, url))
		c := run(t, s)
		if c.Vars["gw"].Text() != "192.0.2.1" || c.Vars["g"].Text() != "en" || c.Vars["max"].I != 7 ||
			c.Vars["serweb"].I != 1 || c.Vars["empty"].K != sr.Str || c.Vars["empty"].S != "" {
			t.Errorf("global attributes: gw %v, lang %v, max %v, serweb %v, empty %v",
				c.Vars["gw"], c.Vars["g"], c.Vars["max"], c.Vars["serweb"], c.Vars["empty"])
		}
		if got := [3]int{c.Vars["f0"].I, c.Vars["f1"].I, c.Vars["f2"].I}; got != [3]int{-1, 1, 1} {
			t.Errorf("flags restored from the gflags row: %v", got)
		}

		// global.reload picks up changes; flush stores the flags.
		sertest.Exec(t, d, "UPDATE global_attrs SET value = ? WHERE name = ?", "192.0.2.2", "gw_ip")
		if call(t, s, "global.reload").(map[string]any)["attributes"] != 5 {
			t.Error("global.reload count")
		}
		if c := run(t, s); c.Vars["gw"].Text() != "192.0.2.2" {
			t.Errorf("after reload $gw_ip = %v", c.Vars["gw"])
		}
		call(t, s, "gflags.set", "9")
		call(t, s, "gflags.flush")
		call(t, s, "gflags.flush")
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM global_attrs WHERE name = 'gflags' AND value = ?", fmt.Sprint(6|1<<9)); n != 1 {
			t.Errorf("gflags rows after two flushes: %d", n)
		}
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM global_attrs WHERE name = 'gflags'"); n != 1 {
			t.Errorf("%d gflags rows", n)
		}
	})
}

// The script's flush_gflags writes the flags too.
func TestFlushFromScript(t *testing.T) {
	b := sertest.Backends[0]
	url := b.NewDB(t)
	d := sertest.Create(t, url, gflags.Table())
	s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite"
loadmodule "gflags"
modparam("gflags", "db_url", "%s")
modparam("gflags", "load_global_attrs", 1)
route { set_gflag(3); $var(r) = flush_gflags(); }
`, url))
	c := run(t, s)
	if c.Vars["r"].I != 1 || sertest.Count(t, d, "SELECT COUNT(*) FROM global_attrs WHERE name = 'gflags' AND value = '8'") != 1 {
		t.Errorf("flush_gflags: %v", c.Vars["r"])
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`route { set_gflag("32"); }`, "out of range"},
		{`route { is_gflag("x"); }`, "not a number"},
		{`modparam("gflags", "load_global_attrs", 1)`, "load_global_attrs needs a database"},
		{`modparam("gflags", "db_url", "nosuch://x/db")`, "unknown database scheme"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"gflags\"\n"+tc.cfg+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTables(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{gflags.Table()}); err != nil {
		t.Fatal(err)
	}
	d := sertest.Create(t, sertest.Backends[0].NewDB(t), gflags.Table())
	if v, err := db.TableVersion(context.Background(), d, "global_attrs"); err != nil || v != gflags.TableVersion {
		t.Errorf("version %d, %v", v, err)
	}
}

// A running server gives every request the global attributes.
func TestGlobalAttrsLive(t *testing.T) {
	url := sertest.Backends[0].NewDB(t)
	d := sertest.Create(t, url, gflags.Table())
	sertest.Exec(t, d, "INSERT INTO global_attrs (name, type, value, flags) VALUES ('gw_ip', 2, '192.0.2.1', 1)")
	uac := siptest.NewPeer(t)
	srv := siptest.Start(t, fmt.Sprintf(`
loadmodule "db_sqlite"
loadmodule "sl"
loadmodule "textops"
loadmodule "gflags"
modparam("gflags", "db_url", "%s")
modparam("gflags", "load_global_attrs", 1)
route {
	append_to_reply("X-GW: %%$gw_ip\r\n");
	sl_reply("200", "OK");
}
`, url))
	for i := 0; i < 2; i++ {
		uac.Send(srv.UDP, uac.Expand(fmt.Sprintf(`
OPTIONS sip:x@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-live%d;rport
From: <sip:a@example.com>;tag=ft
To: <sip:x@127.0.0.1>
Call-ID: live-%d
CSeq: 1 OPTIONS
Max-Forwards: 70
`, i, i)))
		res := uac.ExpectReply(3*time.Second, 200)
		if h := res.GetHeader("X-GW"); h == nil || h.Value() != "192.0.2.1" {
			t.Errorf("reply %d: X-GW %v", i, h)
		}
	}
}
