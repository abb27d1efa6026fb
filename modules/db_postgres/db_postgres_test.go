package dbpostgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/siptest"
	dbpostgres "sip-router.org/modules/db_postgres"
)

// The test server: PostgreSQL on 127.0.0.1:5432, user postgres, trust.
const adminDSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable connect_timeout=2"

func admin(t *testing.T) *sql.DB {
	t.Helper()
	a, err := sql.Open("postgres", adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := a.PingContext(ctx); err != nil {
		dbtest.Unavailable(t, "PostgreSQL on 127.0.0.1:5432 (user postgres) is not reachable: %v", err)
	}
	return a
}

func newDatabase(t *testing.T) string {
	t.Helper()
	a := admin(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "srtest_" + hex.EncodeToString(b[:])
	if _, err := a.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return "postgres://postgres@127.0.0.1:5432/" + name
}

func backends(t *testing.T, a *sql.DB, where string, arg any) []int64 {
	t.Helper()
	rows, err := a.Query("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "+where, arg)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int64
	for rows.Next() {
		var pid int64
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func terminate(t *testing.T, a *sql.DB, pid int64) {
	t.Helper()
	if _, err := a.Exec("SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatalf("terminate %d: %v", pid, err)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSuite(t *testing.T) {
	a := admin(t)
	dbtest.Run(t, dbtest.Backend{
		NewDatabase: newDatabase,
		KillConnections: func(t *testing.T, url string) {
			name := url[strings.LastIndex(url, "/")+1:]
			pids := backends(t, a, "datname = $1", name)
			if len(pids) == 0 {
				t.Fatal("no server connection to kill")
			}
			for _, pid := range pids {
				terminate(t, a, pid)
			}
			waitFor(t, "the terminated backends to go", 5*time.Second, func() bool {
				return len(backends(t, a, "datname = $1", name)) == 0
			})
		},
		KillRunning: func(t *testing.T, marker string) {
			var pids []int64
			waitFor(t, "the statement to run", 10*time.Second, func() bool {
				pids = backends(t, a, "state = 'active' AND query LIKE $1", "%"+marker+"%")
				return len(pids) > 0
			})
			terminate(t, a, pids[0])
		},
		SlowSQL: func(d time.Duration) string {
			return fmt.Sprintf("SELECT pg_sleep(%g)", d.Seconds())
		},
		Addr: "127.0.0.1:5432",
	})
}

func TestModuleLoads(t *testing.T) {
	siptest.Load(t, `
loadmodule "db_postgres.so"
modparam("db_postgres", "retries", 3)
modparam("db_postgres", "timeout", 5)
route { drop; }
`)
	drv, _ := db.LookupDriver("pgsql")
	if s := drv.Settings(); s.Retries != 3 || s.Timeout != 5*time.Second {
		t.Errorf("settings after modparam: %+v", s)
	}
	siptest.Load(t, "loadmodule \"db_postgres.so\"\nroute { drop; }\n")
	if s := drv.Settings(); s.Retries != 2 || s.Timeout != 2*time.Second {
		t.Errorf("default settings: %+v", s)
	}
}

// A postgres:// URL works only when the config loads db_postgres.
func TestOpenNeedsModule(t *testing.T) {
	ctx := context.Background()
	l := siptest.Load(t, "route { drop; }\n")
	loaded := func(m string) bool { _, ok := l.Modules.Get(m); return ok }
	for _, scheme := range []string{"postgres", "postgresql", "pgsql"} {
		url := scheme + "://kamailio:secretpw@127.0.0.1/kamailio"
		_, err := db.Open(ctx, url, loaded)
		want := `db_url "` + scheme + `://kamailio:***@127.0.0.1/kamailio": module db_postgres is not loaded (add loadmodule "db_postgres.so")`
		if err == nil || err.Error() != want || !errors.Is(err, db.ErrNotLoaded) {
			t.Errorf("open without the module: %v\nwant: %s", err, want)
		}
	}

	url := newDatabase(t)
	l = siptest.Load(t, "loadmodule \"db_postgres.so\"\nroute { drop; }\n")
	d, err := db.Open(ctx, url, func(m string) bool { _, ok := l.Modules.Get(m); return ok })
	if err != nil {
		t.Fatalf("open with the module: %v", err)
	}
	defer d.Close()
	if d.Dialect() != db.Postgres {
		t.Errorf("dialect %s", d.Dialect())
	}
	// The session runs in UTC.
	var tz string
	if err := d.QueryRow(ctx, "SHOW timezone").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("session time zone %q, %v", tz, err)
	}
}

func TestDSN(t *testing.T) {
	o := dbpostgres.DefaultOptions
	for _, tc := range []struct{ url, dsn, err string }{
		{url: "postgres://kamailio:kamailiorw@localhost/kamailio",
			dsn: "connect_timeout='2' dbname='kamailio' host='localhost' password='kamailiorw' port='5432' sslmode='disable' timezone='UTC' user='kamailio'"},
		{url: "pgsql://u:it's\\x@[::1]:6543/k?sslmode=verify-full&sslrootcert=/etc/ca.pem",
			dsn: `connect_timeout='2' dbname='k' host='::1' password='it\'s\\x' port='6543' sslmode='verify-full' sslrootcert='/etc/ca.pem' timezone='UTC' user='u'`},
		{url: "postgresql://db.example.org/k?socket=/run/postgresql&application_name=sr",
			dsn: "application_name='sr' connect_timeout='2' dbname='k' host='/run/postgresql' port='5432' sslmode='disable' timezone='UTC'"},
		{url: "postgres://u@h/k?sslmode=sometimes", err: `sslmode="sometimes"`},
		{url: "postgres://u@h/k?socket=tmp", err: "not an absolute path"},
		{url: "postgres://u@h/k?tls=true", err: "unknown parameter tls"},
	} {
		u, err := db.ParseURL(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		dsn, err := dbpostgres.DSN(u, o)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || dsn != tc.dsn {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.url, dsn, err, tc.dsn)
			continue
		}
		// lib/pq reads it back to the same values.
		cfg, err := pq.NewConfig(dsn)
		if err != nil {
			t.Errorf("%s: lib/pq cannot parse %s: %v", tc.url, dsn, err)
			continue
		}
		// (Without a user in the URL, lib/pq takes the system user's name.)
		if cfg.Password != u.Password || (u.User != "" && cfg.User != u.User) || cfg.Database != u.Database {
			t.Errorf("%s: lib/pq reads user %q password %q database %q", tc.url, cfg.User, cfg.Password, cfg.Database)
		}
	}
	o.Timeout = 7
	u, _ := db.ParseURL("postgres://h/k")
	if dsn, _ := dbpostgres.DSN(u, o); !strings.Contains(dsn, "connect_timeout='7'") {
		t.Errorf("timeout 7: %s", dsn)
	}
}

func TestConnLost(t *testing.T) {
	drv, ok := db.LookupDriver("postgres")
	if !ok {
		t.Fatal("postgres scheme not registered")
	}
	for _, tc := range []struct {
		code string
		lost bool
	}{
		{"57P01", true}, // admin_shutdown: pg_terminate_backend
		{"57P02", true},
		{"57P03", true},
		{"08006", true}, // connection_failure
		{"08003", true},
		{"42601", false}, // syntax_error
		{"23505", false}, // unique_violation
		{"57014", false}, // query_canceled: a statement timeout
		{"40001", false}, // serialization_failure
	} {
		err := fmt.Errorf("wrapped: %w", &pq.Error{Code: pqerror.Code(tc.code), Message: "x"})
		if got := drv.ConnLost(err); got != tc.lost {
			t.Errorf("ConnLost(%s) = %v, want %v", tc.code, got, tc.lost)
		}
	}
}
