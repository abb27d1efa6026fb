package dbmysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/siptest"
	dbmysql "sip-router.org/modules/db_mysql"
)

// The test server: MariaDB on 127.0.0.1:3306, root without password.
const adminDSN = "root@tcp(127.0.0.1:3306)/?timeout=2s"

func admin(t *testing.T) *sql.DB {
	t.Helper()
	a, err := sql.Open("mysql", adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := a.PingContext(ctx); err != nil {
		dbtest.Unavailable(t, "MySQL/MariaDB on 127.0.0.1:3306 (root, no password) is not reachable: %v", err)
	}
	return a
}

// newDatabase creates a database with a unique name and drops it at the
// end of the test.
func newDatabase(t *testing.T) string {
	t.Helper()
	a := admin(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "srtest_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := a.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return "mysql://root@127.0.0.1:3306/" + name
}

// processes lists the ids of the server connections matching a condition,
// the admin's own excepted.
func processes(t *testing.T, a *sql.DB, where string, arg any) []int64 {
	t.Helper()
	rows, err := a.Query("SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND "+where, arg)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func kill(t *testing.T, a *sql.DB, id int64) {
	t.Helper()
	if _, err := a.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1094 { // unknown thread: gone already
			t.Fatalf("KILL %d: %v", id, err)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
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
			ids := processes(t, a, "db = ?", name)
			if len(ids) == 0 {
				t.Fatal("no server connection to kill")
			}
			for _, id := range ids {
				kill(t, a, id)
			}
			waitFor(t, "the killed connections to go", 5*time.Second, func() bool {
				return len(processes(t, a, "db = ?", name)) == 0
			})
		},
		KillRunning: func(t *testing.T, marker string) {
			var ids []int64
			waitFor(t, "the statement to run", 10*time.Second, func() bool {
				ids = processes(t, a, "info LIKE ?", "%"+marker+"%")
				return len(ids) > 0
			})
			kill(t, a, ids[0])
		},
		SlowSQL: func(d time.Duration) string {
			return fmt.Sprintf("SELECT SLEEP(%g)", d.Seconds())
		},
		Addr:     "127.0.0.1:3306",
		OwnRetry: true,
	})
}

func TestModuleLoads(t *testing.T) {
	siptest.Load(t, `
loadmodule "db_mysql.so"
modparam("db_mysql", "ping_interval", 600)
modparam("db_mysql", "timeout_interval", 3)
modparam("db_mysql", "auto_reconnect", 0)
modparam("db_mysql", "retries", 2)
route { drop; }
`)
	// Back to the defaults for the other tests.
	siptest.Load(t, "loadmodule \"db_mysql.so\"\nroute { drop; }\n")
}

// A mysql:// URL works only when the config loads db_mysql.
func TestOpenNeedsModule(t *testing.T) {
	ctx := context.Background()
	url := "mysql://kamailio:secretpw@127.0.0.1/kamailio"
	l := siptest.Load(t, "route { drop; }\n")
	_, err := db.Open(ctx, url, func(m string) bool { _, ok := l.Modules.Get(m); return ok })
	want := `db_url "mysql://kamailio:***@127.0.0.1/kamailio": module db_mysql is not loaded (add loadmodule "db_mysql.so")`
	if err == nil || err.Error() != want {
		t.Fatalf("open without the module: %v\nwant: %s", err, want)
	}

	url = newDatabase(t)
	l = siptest.Load(t, "loadmodule \"db_mysql.so\"\nroute { drop; }\n")
	d, err := db.Open(ctx, url, func(m string) bool { _, ok := l.Modules.Get(m); return ok })
	if err != nil {
		t.Fatalf("open with the module: %v", err)
	}
	defer d.Close()
	if d.Dialect() != db.MySQL {
		t.Errorf("dialect %s", d.Dialect())
	}
}

func TestConfig(t *testing.T) {
	o := dbmysql.DefaultOptions
	for _, tc := range []struct{ url, dsn, err string }{
		{url: "mysql://openser:openserrw@localhost/openser",
			dsn: "openser:openserrw@tcp(localhost:3306)/openser?interpolateParams=true&parseTime=true&readTimeout=4s&timeout=2s&writeTimeout=2s&time_zone=%27%2B00%3A00%27"},
		{url: "mysql://ser:he:sl@o@[::1]:3307/ser?tls=skip-verify",
			dsn: "ser:he:sl@o@tcp([::1]:3307)/ser?interpolateParams=true&parseTime=true&readTimeout=4s&timeout=2s&tls=skip-verify&writeTimeout=2s&time_zone=%27%2B00%3A00%27"},
		{url: "mysql://root@db/k?socket=/run/mysqld/mysqld.sock&collation=utf8mb4_bin",
			dsn: "root@unix(/run/mysqld/mysqld.sock)/k?collation=utf8mb4_bin&interpolateParams=true&parseTime=true&readTimeout=4s&timeout=2s&writeTimeout=2s&time_zone=%27%2B00%3A00%27"},
		{url: "mysql://u:pw@h/k?tls=maybe", err: `tls="maybe"`},
		{url: "mysql://u:pw@h/k?socket=rel", err: "not an absolute path"},
		{url: "mysql://u:pw@h/k?sslmode=disable", err: "unknown parameter sslmode"},
	} {
		u, err := db.ParseURL(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		cfg, err := dbmysql.Config(u, o)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if got := cfg.FormatDSN(); got != tc.dsn {
			t.Errorf("%s:\n got %s\nwant %s", tc.url, got, tc.dsn)
		}
	}
	o.TimeoutInterval = 5
	u, _ := db.ParseURL("mysql://u@h/k")
	cfg, _ := dbmysql.Config(u, o)
	if cfg.Timeout != 5*time.Second || cfg.WriteTimeout != 5*time.Second || cfg.ReadTimeout != 10*time.Second {
		t.Errorf("timeout_interval 5: %v %v %v", cfg.Timeout, cfg.WriteTimeout, cfg.ReadTimeout)
	}
}

// A password never appears in an error, even one about a parameter.
func TestCheckURLHidesPassword(t *testing.T) {
	for _, url := range []string{
		"mysql://u:topsecret@h/k?tls=maybe",
		"mysql://u:topsecret@h:99999/k",
		"mysql://u:topsecret@/k",
	} {
		err := db.CheckURL("db_url", url)
		if err == nil {
			t.Errorf("%s: accepted", url)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestConnLost(t *testing.T) {
	drv, ok := db.LookupDriver("mysql")
	if !ok {
		t.Fatal("mysql scheme not registered")
	}
	for _, tc := range []struct {
		err  error
		lost bool
	}{
		{mysql.ErrInvalidConn, true},
		{&mysql.MySQLError{Number: 1927, Message: "Connection was killed"}, true},
		{fmt.Errorf("wrapped: %w", &mysql.MySQLError{Number: 2006}), true},
		{&mysql.MySQLError{Number: 1053}, true},
		{&mysql.MySQLError{Number: 1064, Message: "syntax"}, false},
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{&mysql.MySQLError{Number: 1317, Message: "Query execution was interrupted"}, false},
		{io.ErrUnexpectedEOF, false}, // generic: the core's db.ConnLost has it
	} {
		if got := drv.ConnLost(tc.err); got != tc.lost {
			t.Errorf("ConnLost(%v) = %v, want %v", tc.err, got, tc.lost)
		}
	}
}

func TestSettings(t *testing.T) {
	siptest.Load(t, "loadmodule \"db_mysql.so\"\nmodparam(\"db_mysql\", \"auto_reconnect\", 0)\nmodparam(\"db_mysql\", \"timeout_interval\", 3)\nroute { drop; }\n")
	drv, _ := db.LookupDriver("mysql")
	if s := drv.Settings(); s.Retries != 0 || s.Timeout != 3*time.Second {
		t.Errorf("auto_reconnect 0, timeout_interval 3: %+v", s)
	}
	siptest.Load(t, "loadmodule \"db_mysql.so\"\nroute { drop; }\n")
	if s := drv.Settings(); s.Retries != 1 || s.Timeout != 2*time.Second {
		t.Errorf("defaults: %+v", s)
	}
}
