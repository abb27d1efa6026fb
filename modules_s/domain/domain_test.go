package domain_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/domain"
)

// seed fills the domain tables: d1 has two names and attributes, d2 is
// disabled, d3 is for SERWeb only.
func seed(t *testing.T, url string) *db.DB {
	t.Helper()
	d := sertest.Create(t, url, domain.Tables()...)
	for _, r := range []struct {
		did, name string
		flags     int
	}{
		{"d1", "example.com", 1}, {"d1", "Alias.Example.COM", 1 | 4},
		{"d2", "disabled.org", 1 | 2}, {"d3", "serweb.org", 32},
	} {
		sertest.Exec(t, d, "INSERT INTO domain (did, domain, flags) VALUES (?, ?, ?)", r.did, r.name, r.flags)
	}
	for _, r := range []struct {
		did, name string
		typ       int
		value     any
		flags     int
	}{
		{"d1", "digest_realm", 2, "example.com", 1},
		{"d1", "max_calls", 0, "5", 1},
		{"d1", "serweb_only", 2, "x", 32},
		{"d1", "multi", 2, "first", 1},
		{"d1", "multi", 2, "second", 1},
		{"d2", "digest_realm", 2, "disabled.org", 1},
	} {
		sertest.Exec(t, d, "INSERT INTO domain_attrs (did, name, type, value, flags) VALUES (?, ?, ?, ?, ?)",
			r.did, r.name, r.typ, r.value, r.flags)
	}
	return d
}

func config(b sertest.Backend, url string, mode int) string {
	return fmt.Sprintf(`
loadmodule "%s"
loadmodule "domain"
modparam("domain", "db_url", "%s")
modparam("domain", "db_mode", %d)
modparam("domain", "load_domain_attrs", 1)
route {
	$var(from) = lookup_domain("$fd", "@from.uri.host");
	$var(to) = lookup_domain("$td", "@ruri.host");
	$var(local) = is_local("@to.uri.host");
}
`, b.Module, url, mode)
}

func msg(from, ruri, to string) string {
	return fmt.Sprintf(`INVITE sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:alice@%s>;tag=ft
To: <sip:bob@%s>
Call-ID: cid
CSeq: 1 INVITE
`, ruri, from, to)
}

func val(c *sr.Ctx, name string, flags sr.AVPFlags) string {
	a, ok := serattr.First(c.AVPs, serattr.Name(name), flags)
	if !ok {
		return "<none>"
	}
	if a.Val.K == sr.Int {
		return fmt.Sprintf("int:%d", a.Val.I)
	}
	return a.Val.S
}

func TestLookupDomain(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url := b.NewDB(t)
		seed(t, url)
		for _, mode := range []int{0, 1} {
			t.Run(fmt.Sprintf("db_mode=%d", mode), func(t *testing.T) {
				s := siptest.NewScript(t, config(b, url, mode))
				c := s.Run(t, msg("EXAMPLE.com", "alias.example.com", "serweb.org"))
				if got := [3]int{c.Vars["from"].I, c.Vars["to"].I, c.Vars["local"].I}; got != [3]int{1, 1, -1} {
					t.Errorf("lookup_domain from, to, is_local: %v", got)
				}
				for _, tc := range []struct {
					name  string
					flags sr.AVPFlags
					want  string
				}{
					{"did", serattr.GroupFromDomain, "d1"},
					{"did", sr.AVPTrackFrom, "d1"}, // $f.did
					{"did", sr.AVPTrackTo, "d1"},   // $t.did
					{"digest_realm", serattr.GroupFromDomain, "example.com"},
					{"max_calls", serattr.GroupToDomain, "int:5"},
					{"serweb_only", serattr.GroupFromDomain, "<none>"},
					{"did", serattr.GroupFromUser, "<none>"},
				} {
					if got := val(c, tc.name, tc.flags); got != tc.want {
						t.Errorf("%s (flags %#x) = %q, want %q", tc.name, tc.flags, got, tc.want)
					}
				}
				if n := len(serattr.Values(c.AVPs, serattr.Name("multi"), serattr.GroupFromDomain)); n != 2 {
					t.Errorf("multi has %d values, want 2", n)
				}

				// Unknown, disabled and SERWeb-only domains are not local,
				// and a failed lookup leaves the group alone.
				c = s.Run(t, msg("disabled.org", "serweb.org", "example.com"))
				if got := [3]int{c.Vars["from"].I, c.Vars["to"].I, c.Vars["local"].I}; got != [3]int{-1, -1, 1} {
					t.Errorf("disabled/serweb: %v", got)
				}
				if c.AVPs.Len() != 0 {
					t.Errorf("failed lookups added attributes: %d", c.AVPs.Len())
				}
			})
		}
	})
}

// A second lookup_domain into the same group replaces the attributes of
// that group only.
func TestLookupReplacesGroup(t *testing.T) {
	b := sertest.Backends[0]
	url := b.NewDB(t)
	d := seed(t, url)
	sertest.Exec(t, d, "INSERT INTO domain (did, domain, flags) VALUES (?, ?, ?)", "d4", "other.net", 1)
	s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite"
loadmodule "domain"
modparam("domain", "db_url", "%s")
modparam("domain", "load_domain_attrs", 1)
route {
	$fu.keep = "yes";
	lookup_domain("$fd", "example.com");
	lookup_domain("$td", "example.com");
	$var(r) = lookup_domain("$fd", "other.net");
}
`, url))
	c := s.Run(t, msg("x", "y", "z"))
	if c.Vars["r"].I != 1 {
		t.Fatalf("second lookup: %v", c.Vars["r"])
	}
	for _, tc := range []struct {
		name  string
		flags sr.AVPFlags
		want  string
	}{
		{"did", serattr.GroupFromDomain, "d4"},
		{"digest_realm", serattr.GroupFromDomain, "<none>"},
		{"digest_realm", serattr.GroupToDomain, "example.com"},
		{"keep", serattr.GroupFromUser, "yes"},
	} {
		if got := val(c, tc.name, tc.flags); got != tc.want {
			t.Errorf("%s (flags %#x) = %q, want %q", tc.name, tc.flags, got, tc.want)
		}
	}
}

func TestRPCAndReload(t *testing.T) {
	b := sertest.Backends[0]
	url := b.NewDB(t)
	d := seed(t, url)
	s := siptest.NewScript(t, config(b, url, 1))
	sertest.Exec(t, d, "INSERT INTO domain (did, domain, flags) VALUES (?, ?, ?)", "d5", "late.example", 1)
	if c := s.Run(t, msg("late.example", "x", "x")); c.Vars["from"].I != -1 {
		t.Error("a domain added after the load is known before domain.reload")
	}
	res, err := s.RPC.Call(&rpc.Request{Method: "domain.reload"})
	if err != nil {
		t.Fatal(err)
	}
	if res.(map[string]any)["domains"] != 2 {
		t.Errorf("reload: %v", res)
	}
	if c := s.Run(t, msg("late.example", "x", "x")); c.Vars["from"].I != 1 {
		t.Error("the reloaded domain is unknown")
	}
	dump, err := s.RPC.Call(&rpc.Request{Method: "domain.dump"})
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(dump)
	for _, want := range []string{"did:d1", "domain:alias.example.com", "flags:5", "digest_realm=example.com", "max_calls=5", "did:d5"} {
		if !strings.Contains(text, want) {
			t.Errorf("dump lacks %q: %s", want, text)
		}
	}
	// A failed reload keeps the domains.
	sertest.Exec(t, d, "DROP TABLE domain_attrs")
	if _, err := s.RPC.Call(&rpc.Request{Method: "domain.reload"}); err == nil {
		t.Error("reload without domain_attrs succeeded")
	}
	if c := s.Run(t, msg("late.example", "x", "x")); c.Vars["from"].I != 1 {
		t.Error("a failed reload lost the domains")
	}

	// Without the cache both commands fail.
	s0 := siptest.NewScript(t, config(b, url, 0))
	for _, m := range []string{"domain.reload", "domain.dump"} {
		if _, err := s0.RPC.Call(&rpc.Request{Method: m}); err == nil || !strings.Contains(err.Error(), "cache disabled") {
			t.Errorf("%s with db_mode 0: %v", m, err)
		}
	}
}

// DID is the API of uri_db and avp_db.
func TestDIDAPI(t *testing.T) {
	b := sertest.Backends[0]
	url := b.NewDB(t)
	seed(t, url)
	for _, mode := range []int{0, 1} {
		s := siptest.NewScript(t, config(b, url, mode))
		inst, _ := s.Loaded.Modules.Get("domain")
		dom := inst.Value.(*domain.Domain)
		for host, want := range map[string]string{"ALIAS.example.com": "d1", "disabled.org": "", "nowhere": ""} {
			did, ok, err := dom.DID(context.Background(), host)
			if err != nil || did != want || ok != (want != "") {
				t.Errorf("db_mode %d: DID(%s) = %q, %v, %v; want %q", mode, host, did, ok, err, want)
			}
		}
	}
}

func TestWrongVersion(t *testing.T) {
	url := sertest.Backends[0].NewDB(t)
	d := seed(t, url)
	if err := db.SetVersion(context.Background(), d, "domain", 1); err != nil {
		t.Fatal(err)
	}
	l := siptest.Load(t, fmt.Sprintf("loadmodule \"db_sqlite\"\nloadmodule \"domain\"\nmodparam(\"domain\", \"db_url\", \"%s\")\n", url))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.Modules.Init(module.InitEnv{Ctx: ctx, Flavor: siptest.TestFlavor()})
	l.Modules.Destroy()
	want := "module domain: init failed: table domain has version 1, expected 2: run testdbctl migrate"
	if err == nil || err.Error() != want {
		t.Errorf("Init: %v\nwant: %s", err, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("domain", "db_mode", 2)`, "above the maximum"},
		{`modparam("domain", "db_url", "sqlite:///tmp/x.db")
modparam("domain", "did_col", "did; DROP")`, "not a valid table or column name"},
		{`modparam("domain", "db_url", "sqlite:///tmp/x.db")
modparam("domain", "domattr_flags", "f g")`, `domattr_flags "f g" is not a valid table or column name`},
		{``, "db_url is not set"},
		{`modparam("domain", "db_url", "sqlite:///tmp/x.db")
route { lookup_domain("$fu", "@from.uri.host"); }`, `"$fu" is not a group of attributes`},
		{`modparam("domain", "db_url", "sqlite:///tmp/x.db")
route { lookup_domain("$fd"); }`, "lookup_domain"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"db_sqlite\"\nloadmodule \"domain\"\n"+tc.cfg+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTables(t *testing.T) {
	if err := db.CheckTables(domain.Tables()); err != nil {
		t.Fatal(err)
	}
	seed(t, sertest.Backends[0].NewDB(t))
}
