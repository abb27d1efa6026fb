package dbpostgres_test

import (
	"context"
	"database/sql"
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

// newDatabase creates a database with a unique name on the test server
// (PostgreSQL on 127.0.0.1:5432, user postgres, trust) and drops it at
// the end of the test.
func newDatabase(t *testing.T) string {
	return dbtest.Postgres.NewDatabase(t, "srtest_")
}

func TestSuite(t *testing.T) {
	dbtest.Run(t, dbtest.Postgres.Backend(t, dbtest.Sessions{
		List:       "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND ",
		OnDatabase: "datname = $1",
		Running:    "state = 'active' AND query LIKE $1",
		Kill: func(a *sql.DB, pid int64) error {
			_, err := a.Exec("SELECT pg_terminate_backend($1)", pid)
			return err
		},
	}, "pg_sleep"))
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
	l := siptest.Load(t, "route { drop; }\n")
	for _, scheme := range []string{"postgres", "postgresql", "pgsql"} {
		dbtest.CheckNotLoaded(t, scheme+"://kamailio:secretpw@127.0.0.1/kamailio", scheme+"://kamailio:***@127.0.0.1/kamailio",
			"db_postgres", func(m string) bool { _, ok := l.Modules.Get(m); return ok })
	}

	url := newDatabase(t)
	l = siptest.Load(t, "loadmodule \"db_postgres.so\"\nroute { drop; }\n")
	d := dbtest.OpenLoaded(t, url, func(m string) bool { _, ok := l.Modules.Get(m); return ok }, db.Postgres)
	ctx := context.Background()
	// The session runs in UTC.
	var tz string
	if err := d.QueryRow(ctx, "SHOW timezone").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("session time zone %q, %v", tz, err)
	}
}

func TestDSN(t *testing.T) {
	o := dbpostgres.DefaultOptions
	cases := []dbtest.URLCase{
		{URL: "postgres://kamailio:kamailiorw@localhost/kamailio",
			Want: "binary_parameters='yes' connect_timeout='2' dbname='kamailio' host='localhost' password='kamailiorw' port='5432' sslmode='disable' timezone='UTC' user='kamailio'"},
		{URL: "pgsql://u:it's\\x@[::1]:6543/k?sslmode=verify-full&sslrootcert=/etc/ca.pem",
			Want: `binary_parameters='yes' connect_timeout='2' dbname='k' host='::1' password='it\'s\\x' port='6543' sslmode='verify-full' sslrootcert='/etc/ca.pem' timezone='UTC' user='u'`},
		{URL: "postgresql://db.example.org/k?socket=/run/postgresql&application_name=sr",
			Want: "application_name='sr' binary_parameters='yes' connect_timeout='2' dbname='k' host='/run/postgresql' port='5432' sslmode='disable' timezone='UTC'"},
		{URL: "postgres://u@h/k?sslmode=sometimes", Err: `sslmode="sometimes"`},
		{URL: "postgres://u@h/k?socket=tmp", Err: "not an absolute path"},
		{URL: "postgres://u@h/k?tls=true", Err: "unknown parameter tls"},
	}
	dbtest.CheckURLCases(t, cases, func(u *db.URL) (string, error) { return dbpostgres.DSN(u, o) })
	for _, tc := range cases {
		if tc.Want == "" {
			continue
		}
		// lib/pq reads it back to the same values.
		u, _ := db.ParseURL(tc.URL)
		cfg, err := pq.NewConfig(tc.Want)
		if err != nil {
			t.Errorf("%s: lib/pq cannot parse %s: %v", tc.URL, tc.Want, err)
			continue
		}
		// (Without a user in the URL, lib/pq takes the system user's name.)
		if cfg.Password != u.Password || (u.User != "" && cfg.User != u.User) || cfg.Database != u.Database {
			t.Errorf("%s: lib/pq reads user %q password %q database %q", tc.URL, cfg.User, cfg.Password, cfg.Database)
		}
	}
	o.Timeout = 7
	u, _ := db.ParseURL("postgres://h/k")
	if dsn, _ := dbpostgres.DSN(u, o); !strings.Contains(dsn, "connect_timeout='7'") {
		t.Errorf("timeout 7: %s", dsn)
	}
}

// pgError is a server error of an SQLSTATE code, wrapped.
func pgError(code string) error {
	return fmt.Errorf("wrapped: %w", &pq.Error{Code: pqerror.Code(code), Message: "SQLSTATE " + code})
}

func TestConnLost(t *testing.T) {
	dbtest.CheckConnLost(t, "postgres", []error{
		pgError("57P01"), // admin_shutdown: pg_terminate_backend
		pgError("57P02"),
		pgError("57P03"),
		pgError("08006"), // connection_failure
		pgError("08003"),
	}, []error{
		pgError("42601"), // syntax_error
		pgError("23505"), // unique_violation
		pgError("57014"), // query_canceled: a statement timeout
		pgError("40001"), // serialization_failure
	})
}

func TestConflict(t *testing.T) {
	dbtest.CheckConflict(t, "postgres", []error{
		pgError("40P01"), // deadlock_detected
		pgError("40001"), // serialization_failure
	}, []error{
		pgError("23505"), // unique_violation
		pgError("57P01"), // admin_shutdown: a lost connection, not a conflict
		pgError("57014"), // query_canceled
	})
}

func BenchmarkQueryRow(b *testing.B) {
	dbtest.BenchQueryRow(b, dbtest.Postgres.NewDatabase(b, "srtest_"))
}
