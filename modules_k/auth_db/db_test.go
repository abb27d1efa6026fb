package authdb_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_postgres"
	authdb "sip-router.org/modules_k/auth_db"
)

// The test servers, as the driver modules' tests use them (the driver
// modules register the database/sql drivers "mysql" and "postgres"): MariaDB on
// 127.0.0.1:3306 (root, no password), PostgreSQL on 127.0.0.1:5432 (user
// postgres, trust). Outside CI a missing server skips the test.
var servers = []struct {
	name, driver, admin, url string
	drop                     string
}{
	{"MariaDB", "mysql", "root@tcp(127.0.0.1:3306)/?timeout=2s", "mysql://root@127.0.0.1:3306/", "DROP DATABASE IF EXISTS %s"},
	{"PostgreSQL", "postgres", "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable connect_timeout=2",
		"postgres://postgres@127.0.0.1:5432/", "DROP DATABASE IF EXISTS %s WITH (FORCE)"},
}

// newServerDB creates a database with a unique name on a server and
// returns its URL; the database is dropped at the end of the test.
func newServerDB(t *testing.T, i int) string {
	t.Helper()
	s := servers[i]
	a, err := sql.Open(s.driver, s.admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := a.PingContext(ctx); err != nil {
		dbtest.Unavailable(t, "%s is not reachable: %v", s.name, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "srauth_" + hex.EncodeToString(b[:])
	if _, err := a.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := a.Exec(fmt.Sprintf(s.drop, name)); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return s.url + name
}

// The REGISTER challenge/response flow on MariaDB and PostgreSQL, with
// both password columns.
func TestRegisterOnServers(t *testing.T) {
	for i, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			url := newServerDB(t, i)
			fillSubscriber(t, url)
			srv := siptest.Start(t, registrarConfig(url, `modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")`, "1"))
			u := newUA(t, srv.UDP, "alice", "example.com")
			res, _ := login(t, u, "alice", digest.HA1("alice", "example.com", "alice-secret"))
			if res.StatusCode != 200 {
				t.Fatalf("REGISTER: %d %s", res.StatusCode, res.Reason)
			}
			res, _ = login(t, u, "alice", digest.HA1("alice", "example.com", "wrong"))
			if res.StatusCode != 401 {
				t.Fatalf("wrong password: %d", res.StatusCode)
			}
			res, _ = login(t, u, "alice@example.com", digest.HA1("alice@example.com", "example.com", "alice-secret"))
			if res.StatusCode != 200 {
				t.Fatalf("user@domain: %d", res.StatusCode)
			}
		})
	}
}

// A subscriber table at another version stops the start with the
// version check's message.
func TestWrongVersion(t *testing.T) {
	url := sqliteURL(t)
	fillSubscriber(t, url)
	d := dbtest.Open(t, url)
	if err := db.SetVersion(context.Background(), d, "subscriber", 5); err != nil {
		t.Fatal(err)
	}
	err := siptest.InitErr(t, fmt.Sprintf(`
loadmodule "sl.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "%s")
route { if (!www_authorize("", "subscriber")) { www_challenge("", "0"); } }
`, url))
	want := "module auth_db: init failed: table subscriber has version 5, expected 6: run testdbctl migrate"
	if err == nil || err.Error() != want {
		t.Errorf("Init: %v\nwant: %s", err, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("auth_db", "load_credentials", "no such")`, `is not a column name`},
		{`modparam("auth_db", "load_credentials", "$var(x)=rpid")`, `not an AVP`},
		{`modparam("auth_db", "password_column", "ha1; --")`, `not a column name`},
		{`route { www_authorize("", "sub scriber"); }`, `not a table name`},
		{`route { www_authorize("", $var(t)); }`, `must be a constant string`},
		{`route { auth_check("", "subscriber", "x"); }`, `is not a number`},
	} {
		_, err := siptest.LoadErr(t, `loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "sqlite:///tmp/auth.db")
`+tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	_, err := siptest.LoadErr(t, "loadmodule \"sl.so\"\nloadmodule \"auth.so\"\nloadmodule \"auth_db.so\"\n")
	if err == nil || !strings.Contains(err.Error(), "db_url is not set") {
		t.Errorf("no db_url: %v", err)
	}
}

func TestTableDeclaration(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{authdb.Subscriber()}); err != nil {
		t.Fatal(err)
	}
}
