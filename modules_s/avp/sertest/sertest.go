// Package sertest is the test kit of the SER uid/did modules: the
// database backends their tests run on (SQLite always; MariaDB and
// PostgreSQL on 127.0.0.1 when they answer, and always under CI, where a
// missing server fails the test through dbtest.Unavailable), fresh
// databases with the modules' tables, and rows to put in them.
package sertest

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
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_mysql"    // mysql:// URLs
	_ "sip-router.org/modules/db_postgres" // postgres:// URLs
	_ "sip-router.org/modules/db_sqlite"   // sqlite:// URLs
)

// Backend is a database server the tests run against.
type Backend struct {
	Name string
	// Module is the driver module a configuration loads for it.
	Module string
	// NewDB returns the URL of a fresh, empty database, removed at the
	// end of the test.
	NewDB func(t *testing.T) string
}

// Backends are SQLite, MariaDB/MySQL and PostgreSQL.
var Backends = []Backend{
	{Name: "sqlite", Module: "db_sqlite", NewDB: func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "ser.db")
	}},
	{Name: "mysql", Module: "db_mysql", NewDB: func(t *testing.T) string { return dbtest.MySQL.NewDatabase(t, "srtest_ser_") }},
	{Name: "postgres", Module: "db_postgres", NewDB: func(t *testing.T) string { return dbtest.Postgres.NewDatabase(t, "srtest_ser_") }},
}

// ForEach runs fn as a subtest per backend.
func ForEach(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// Create opens the database of url (closed at the end of the test) and
// creates tables in it, with their version rows.
func Create(t *testing.T, url string, tables ...*schema.Table) *db.DB {
	t.Helper()
	d := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := db.CreateTables(ctx, d, tables); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	return d
}

// Exec runs statements (with ? placeholders), failing the test on error.
func Exec(t testing.TB, d *db.DB, query string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// Count returns the result of a SELECT COUNT(*) … query.
func Count(t testing.TB, d *db.DB, query string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	if err := d.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// WaitFor polls cond until it holds, failing the test after 5 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	dbtest.WaitFor(t, what, 5*time.Second, cond)
}

// CheckConfigErrors loads, for each case, the configuration head followed
// by the case's lines, and checks that loading fails with an error that
// contains the case's text. A case is {lines, text}.
func CheckConfigErrors(t *testing.T, head string, cases [][2]string) {
	t.Helper()
	for _, tc := range cases {
		_, err := siptest.LoadErr(t, head+tc[0]+"\n")
		if err == nil || !strings.Contains(err.Error(), tc[1]) {
			t.Errorf("%s: error %v, want %q", tc[0], err, tc[1])
		}
	}
}

// DomainConfig is the start of a test configuration of module m, which
// needs the domain module, with both on the database of url, the
// backend's driver module loaded.
func (b Backend) DomainConfig(m, url string) string {
	return fmt.Sprintf("\nloadmodule %q\nloadmodule \"domain\"\nloadmodule %q\nmodparam(\"domain|%s\", \"db_url\", %q)\n",
		b.Module, m, m, url)
}

// CheckVersionRefused sets the version of table in d to version and checks
// that the modules of cfg then fail to start with exactly want.
func CheckVersionRefused(t *testing.T, d *db.DB, table string, version int, cfg, want string) {
	t.Helper()
	if err := db.SetVersion(context.Background(), d, table, version); err != nil {
		t.Fatalf("set the version of %s: %v", table, err)
	}
	if err := siptest.InitErr(t, cfg); err == nil || err.Error() != want {
		t.Errorf("Init: %v\nwant: %s", err, want)
	}
}
