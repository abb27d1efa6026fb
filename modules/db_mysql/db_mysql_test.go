package dbmysql_test

import (
	"database/sql"
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

// newDatabase creates a database with a unique name on the test server
// (MariaDB on 127.0.0.1:3306, root without password) and drops it at the
// end of the test.
func newDatabase(t *testing.T) string {
	return dbtest.MySQL.NewDatabase(t, "srtest_")
}

func TestSuite(t *testing.T) {
	b := dbtest.MySQL.Backend(t, dbtest.Sessions{
		List:       "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND ",
		OnDatabase: "db = ?",
		Running:    "info LIKE ?",
		Kill: func(a *sql.DB, id int64) error {
			_, err := a.Exec(fmt.Sprintf("KILL %d", id))
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1094 { // unknown thread: gone already
				return nil
			}
			return err
		},
	}, "SLEEP")
	b.OwnRetry = true
	dbtest.Run(t, b)
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
	l := siptest.Load(t, "route { drop; }\n")
	dbtest.CheckNotLoaded(t, "mysql://kamailio:secretpw@127.0.0.1/kamailio", "mysql://kamailio:***@127.0.0.1/kamailio",
		"db_mysql", func(m string) bool { _, ok := l.Modules.Get(m); return ok })

	url := newDatabase(t)
	l = siptest.Load(t, "loadmodule \"db_mysql.so\"\nroute { drop; }\n")
	dbtest.OpenLoaded(t, url, func(m string) bool { _, ok := l.Modules.Get(m); return ok }, db.MySQL)
}

func TestConfig(t *testing.T) {
	o := dbmysql.DefaultOptions
	dbtest.CheckURLCases(t, []dbtest.URLCase{
		{URL: "mysql://openser:openserrw@localhost/openser",
			Want: "openser:openserrw@tcp(localhost:3306)/openser?interpolateParams=true&parseTime=true&readTimeout=4s&timeout=2s&writeTimeout=2s&time_zone=%27%2B00%3A00%27"},
		{URL: "mysql://ser:he:sl@o@[::1]:3307/ser?tls=skip-verify",
			Want: "ser:he:sl@o@tcp([::1]:3307)/ser?interpolateParams=true&parseTime=true&readTimeout=4s&timeout=2s&tls=skip-verify&writeTimeout=2s&time_zone=%27%2B00%3A00%27"},
		{URL: "mysql://root@db/k?socket=/run/mysqld/mysqld.sock&collation=utf8mb4_bin",
			Want: "root@unix(/run/mysqld/mysqld.sock)/k?collation=utf8mb4_bin&interpolateParams=true&parseTime=true&readTimeout=4s&timeout=2s&writeTimeout=2s&time_zone=%27%2B00%3A00%27"},
		{URL: "mysql://u:pw@h/k?tls=maybe", Err: `tls="maybe"`},
		{URL: "mysql://u:pw@h/k?socket=rel", Err: "not an absolute path"},
		{URL: "mysql://u:pw@h/k?sslmode=disable", Err: "unknown parameter sslmode"},
	}, func(u *db.URL) (string, error) {
		cfg, err := dbmysql.Config(u, o)
		if err != nil {
			return "", err
		}
		return cfg.FormatDSN(), nil
	})
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
	dbtest.CheckConnLost(t, "mysql", []error{
		mysql.ErrInvalidConn,
		&mysql.MySQLError{Number: 1927, Message: "Connection was killed"},
		fmt.Errorf("wrapped: %w", &mysql.MySQLError{Number: 2006}),
		&mysql.MySQLError{Number: 1053},
	}, []error{
		&mysql.MySQLError{Number: 1064, Message: "syntax"},
		&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"},
		&mysql.MySQLError{Number: 1317, Message: "Query execution was interrupted"},
		io.ErrUnexpectedEOF, // generic: the core's db.ConnLost has it
	})
}

func TestConflict(t *testing.T) {
	dbtest.CheckConflict(t, "mysql", []error{
		&mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"},
		fmt.Errorf("insert: %w", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}),
	}, []error{
		&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"},
		&mysql.MySQLError{Number: 1927, Message: "Connection was killed"},
		mysql.ErrInvalidConn,
	})
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

func BenchmarkQueryRow(b *testing.B) {
	dbtest.BenchQueryRow(b, dbtest.MySQL.NewDatabase(b, "srtest_"))
}
