package domain_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_sqlite"
	"sip-router.org/modules_k/domain"
	_ "sip-router.org/modules_k/pv"
)

func newDB(t *testing.T, domains ...string) (string, *db.DB) {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "domain.db")
	d := dbtest.Open(t, url)
	ctx := context.Background()
	if err := db.CreateTables(ctx, d, []*schema.Table{domain.Table()}); err != nil {
		t.Fatal(err)
	}
	for _, dom := range domains {
		add(t, d, dom)
	}
	return url, d
}

func add(t *testing.T, d *db.DB, dom string) {
	t.Helper()
	if _, err := d.Exec(context.Background(), "INSERT INTO domain (domain) VALUES (?)", dom); err != nil {
		t.Fatal(err)
	}
}

const route = `
route {
	$var(from) = 0; $var(ruri) = 0; $var(pv) = 0;
	if (is_from_local()) { $var(from) = 1; }
	if (is_uri_host_local()) { $var(ruri) = 1; }
	if (is_domain_local("$hdr(X-Domain)")) { $var(pv) = 1; }
}
`

func msg(from, ruri, x string) string {
	return fmt.Sprintf(`INVITE sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:alice@%s>;tag=ft
To: <sip:bob@%s>
Call-ID: cid
CSeq: 1 INVITE
X-Domain: %s
`, ruri, from, ruri, x)
}

func TestDomainChecks(t *testing.T) {
	for _, mode := range []int{0, 1} {
		t.Run(fmt.Sprintf("db_mode=%d", mode), func(t *testing.T) {
			url, d := newDB(t, "example.com", "Sip.Example.ORG")
			s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "domain.so"
modparam("domain", "db_url", "%s")
modparam("domain", "db_mode", %d)
`, url, mode)+route)
			check := func(from, ruri, x string, want [3]int) {
				t.Helper()
				c := s.Run(t, msg(from, ruri, x))
				got := [3]int{c.Vars["from"].I, c.Vars["ruri"].I, c.Vars["pv"].I}
				if got != want {
					t.Errorf("from %s, ruri %s, pv %s: %v, want %v", from, ruri, x, got, want)
				}
			}
			check("example.com", "EXAMPLE.com", "sip.example.org", [3]int{1, 1, 1})
			check("example.net", "sip.example.org", "other.org", [3]int{0, 1, 0})
			check("other.org", "example.co", "", [3]int{0, 0, 0})

			add(t, d, "new.example")
			reload, err := s.RPC.Call(&rpc.Request{Method: "domain.reload"})
			dump, derr := s.RPC.Call(&rpc.Request{Method: "domain.dump"})
			if mode == 0 {
				if err == nil || derr == nil {
					t.Errorf("RPC with db_mode 0: %v %v", reload, dump)
				}
				check("new.example", "x.org", "", [3]int{1, 0, 0})
				return
			}
			if err != nil || derr != nil {
				t.Fatal(err, derr)
			}
			if got := reload.(map[string]any)["domains"]; got != 3 {
				t.Errorf("reload: %v", reload)
			}
			want := []any{"example.com", "new.example", "sip.example.org"}
			if !slices.Equal(dump.([]any), want) {
				t.Errorf("dump %v, want %v", dump, want)
			}
			check("new.example", "x.org", "", [3]int{1, 0, 0})
		})
	}
}

// With register_myself the table's domains are myself in the script, in
// both modes; without it they are not.
func TestRegisterMyself(t *testing.T) {
	for _, tc := range []struct {
		mode, register int
	}{{0, 1}, {1, 1}, {1, 0}} {
		t.Run(fmt.Sprintf("db_mode=%d,register_myself=%d", tc.mode, tc.register), func(t *testing.T) {
			url, _ := newDB(t, "example.com")
			s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "domain.so"
modparam("domain", "db_url", "%s")
modparam("domain", "db_mode", %d)
modparam("domain", "register_myself", %d)
route {
	$var(ruri) = 0; $var(from) = 0;
	if (uri == myself) { $var(ruri) = 1; }
	if (from_uri == myself) { $var(from) = 1; }
}
`, url, tc.mode, tc.register))
			for _, c := range []struct {
				from, ruri string
				want       [2]int
			}{
				{"example.com", "EXAMPLE.COM:5070", [2]int{tc.register, tc.register}},
				{"example.net", "127.0.0.1", [2]int{1, 0}},
				{"other.org", "example.co", [2]int{0, 0}},
			} {
				ctx := s.Run(t, msg(c.from, c.ruri, ""))
				if got := [2]int{ctx.Vars["ruri"].I, ctx.Vars["from"].I}; got != c.want {
					t.Errorf("from %s, ruri %s: uri, from myself %v, want %v", c.from, c.ruri, got, c.want)
				}
			}
		})
	}
}

// In db_mode 1 a domain added to the table is unknown until the reload;
// a failed reload keeps the domains.
func TestCacheNeedsReload(t *testing.T) {
	url, d := newDB(t, "example.com")
	s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "domain.so"
modparam("domain", "db_url", "%s")
modparam("domain", "db_mode", 1)
`, url)+route)
	add(t, d, "late.example")
	if c := s.Run(t, msg("late.example", "x", "")); c.Vars["from"].I != 0 {
		t.Error("domain added after the load is known without a reload")
	}
	if _, err := d.Exec(context.Background(), "ALTER TABLE domain RENAME TO gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RPC.Call(&rpc.Request{Method: "domain.reload"}); err == nil {
		t.Fatal("reload of a missing table succeeded")
	}
	if c := s.Run(t, msg("example.com", "x", "")); c.Vars["from"].I != 1 {
		t.Error("failed reload lost the domains")
	}
}

func TestWrongVersion(t *testing.T) {
	url, d := newDB(t)
	if err := db.SetVersion(context.Background(), d, "domain", 2); err != nil {
		t.Fatal(err)
	}
	l := siptest.Load(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "domain.so"
modparam("domain", "db_url", "%s")
`, url))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.Modules.Init(module.InitEnv{Ctx: ctx, Flavor: siptest.TestFlavor()})
	l.Modules.Destroy()
	want := "module domain: init failed: table domain has version 2, expected 1: run testdbctl migrate"
	if err == nil || err.Error() != want {
		t.Errorf("Init: %v\nwant: %s", err, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ params, want string }{
		{`modparam("domain", "db_mode", 2)`, "above the maximum"},
		{`modparam("domain", "db_url", "sqlite:///tmp/x.db")
modparam("domain", "domain_table", "x; DROP")`, `domain_table "x; DROP" is not a table name`},
		{`modparam("domain", "db_url", "sqlite:///tmp/x.db")
modparam("domain", "domain_col", "1st")`, `domain_col "1st" is not a column name`},
		{`modparam("domain", "db_url", "nosuch://x/y")`, "unknown database scheme"},
		{``, "db_url is not set"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"db_sqlite.so\"\nloadmodule \"domain.so\"\n"+tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.params, err, tc.want)
		}
	}
}

func TestTableDeclaration(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{domain.Table()}); err != nil {
		t.Fatal(err)
	}
}
