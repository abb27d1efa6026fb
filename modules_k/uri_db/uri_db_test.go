package uridb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/db_sqlite"
	authdb "sip-router.org/modules_k/auth_db"
	_ "sip-router.org/modules_k/pv"
	uridb "sip-router.org/modules_k/uri_db"
)

func newDB(t *testing.T) (string, *db.DB) {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "uri.db")
	d := dbtest.Open(t, url)
	ctx := context.Background()
	if err := db.CreateTables(ctx, d, []*schema.Table{authdb.Subscriber(), uridb.Table()}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO subscriber (username, domain) VALUES ('alice', 'example.com')",
		"INSERT INTO subscriber (username, domain) VALUES ('bob', 'other.org')",
		"INSERT INTO uri (username, domain, uri_user) VALUES ('alice', 'example.com', 'alice')",
		"INSERT INTO uri (username, domain, uri_user) VALUES ('alice', 'example.com', '4930123')",
	} {
		if _, err := d.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return url, d
}

const route = `
route {
	$var(to) = check_to();
	$var(from) = check_from();
	$var(exists) = does_uri_exist();
}
`

// run runs the route over a request, authorized as alice@example.com
// unless authorized is false.
func run(t *testing.T, s *siptest.Script, ruri, from, to string, authorized bool) [3]int {
	t.Helper()
	req := siptest.Request(t, fmt.Sprintf(`INVITE %s SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <%s>;tag=ft
To: <%s>
Call-ID: cid
CSeq: 1 INVITE
`, ruri, from, to))
	c := s.Ctx(req, "", "")
	if authorized {
		digest.SetAuthorized(c, &digest.Authorized{Header: "Proxy-Authorization", Username: "alice", User: "alice", Realm: "example.com"})
	}
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	return [3]int{c.Vars["to"].I, c.Vars["from"].I, c.Vars["exists"].I}
}

func TestChecks(t *testing.T) {
	url, _ := newDB(t)
	for _, tc := range []struct {
		name, params, ruri, from, to string
		authorized                   bool
		want                         [3]int
	}{
		{"no database, names compared", `modparam("uri_db", "db_url", "")`,
			"sip:alice@example.com", "sip:ALICE@example.com", "sip:bob@example.com", true, [3]int{-10, 1, -1}},
		{"not authorized", `modparam("uri_db", "db_url", "")`,
			"sip:alice@example.com", "sip:alice@example.com", "sip:alice@example.com", false, [3]int{-2, -2, -1}},
		{"no user in the URI", `modparam("uri_db", "db_url", "")`,
			"sip:alice@example.com", "sip:example.com", "sip:alice@example.com", true, [3]int{1, -4, -1}},
		{"subscriber", `modparam("uri_db", "db_url", "URL")`,
			"sip:bob@example.com", "sip:alice@example.com", "sip:bob@x", true, [3]int{-10, 1, 1}},
		{"subscriber, unknown user", `modparam("uri_db", "db_url", "URL")`,
			"sip:carol@example.com", "sip:alice@example.com", "sip:bob@x", true, [3]int{-10, 1, -5}},
		{"subscriber with use_domain", `modparam("uri_db", "db_url", "URL")
modparam("uri_db", "use_domain", 1)`,
			"sip:bob@example.com", "sip:alice@example.com", "sip:alice@x", true, [3]int{1, 1, -5}},
		{"subscriber with use_domain, right domain", `modparam("uri_db", "db_url", "URL")
modparam("uri_db", "use_domain", 1)`,
			"sip:bob@other.org", "sip:alice@example.com", "sip:alice@x", true, [3]int{1, 1, 1}},
		{"uri table", `modparam("uri_db", "db_url", "URL")
modparam("uri_db", "use_uri_table", 1)`,
			"sip:4930123@example.com", "sip:4930123@example.com", "sip:bob@example.com", true, [3]int{-9, 1, 1}},
		{"uri table, unknown uri user", `modparam("uri_db", "db_url", "URL")
modparam("uri_db", "use_uri_table", 1)`,
			"sip:bob@example.com", "sip:alice@example.com", "sip:4930123@example.com", true, [3]int{1, 1, -5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, `
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "uri_db.so"
`+strings.ReplaceAll(tc.params, "URL", url)+route)
			if got := run(t, s, tc.ruri, tc.from, tc.to, tc.authorized); got != tc.want {
				t.Errorf("check_to, check_from, does_uri_exist: %v, want %v", got, tc.want)
			}
		})
	}
}

// The Kamailio 3.0 default configuration's settings load and start.
func TestEmptyURLAccepted(t *testing.T) {
	siptest.NewScript(t, `
loadmodule "uri_db.so"
modparam("uri_db", "use_uri_table", 0)
modparam("uri_db", "db_url", "")
`)
	_, err := siptest.LoadErr(t, `
loadmodule "uri_db.so"
modparam("uri_db", "use_uri_table", 1)
modparam("uri_db", "db_url", "")
`)
	if err == nil || !strings.Contains(err.Error(), "use_uri_table is set but there is no database") {
		t.Errorf("use_uri_table without database: %v", err)
	}
	_, err = siptest.LoadErr(t, `
loadmodule "uri_db.so"
modparam("uri_db", "db_url", 1)
`)
	if err == nil || !strings.Contains(err.Error(), "write it in quotes") {
		t.Errorf("int db_url: %v", err)
	}
}

func TestNameErrors(t *testing.T) {
	for _, tc := range []struct{ params, want string }{
		{`modparam("uri_db", "db_table", "u r i")`, `db_table "u r i" is not a table name`},
		{`modparam("uri_db", "use_uri_table", 1)
modparam("uri_db", "uriuser_column", "uri-user")`, `uriuser_column "uri-user" is not a column name`},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"db_sqlite.so\"\nloadmodule \"uri_db.so\"\n"+
			"modparam(\"uri_db\", \"db_url\", \"sqlite:///tmp/x.db\")\n"+tc.params+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.params, err, tc.want)
		}
	}
}

func TestWrongVersion(t *testing.T) {
	for _, tc := range []struct {
		param, table string
		version      int
		want         string
	}{
		{"0", "subscriber", 5, "table subscriber has version 5, expected 6: run testdbctl migrate"},
		{"1", "uri", 2, "table uri has version 2, expected 1: run testdbctl migrate"},
	} {
		url, d := newDB(t)
		if err := db.SetVersion(context.Background(), d, tc.table, tc.version); err != nil {
			t.Fatal(err)
		}
		l := siptest.Load(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "uri_db.so"
modparam("uri_db", "db_url", "%s")
modparam("uri_db", "use_uri_table", %s)
`, url, tc.param))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := l.Modules.Init(module.InitEnv{Ctx: ctx, Flavor: siptest.TestFlavor()})
		cancel()
		l.Modules.Destroy()
		if want := "module uri_db: init failed: " + tc.want; err == nil || err.Error() != want {
			t.Errorf("Init: %v\nwant: %s", err, want)
		}
	}
}

func TestTableDeclaration(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{uridb.Table()}); err != nil {
		t.Fatal(err)
	}
}
