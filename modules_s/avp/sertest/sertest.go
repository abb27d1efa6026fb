// Package sertest is the test kit of the SER uid/did modules: the
// database backends their tests run on (SQLite always; MariaDB and
// PostgreSQL on 127.0.0.1 when they answer, and always under CI, where a
// missing server fails the test through dbtest.Unavailable), fresh
// databases with the modules' tables, and rows to put in them.
package sertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
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
	{Name: "mysql", Module: "db_mysql", NewDB: func(t *testing.T) string {
		return serverDB(t, "mysql://root@127.0.0.1:3306/mysql", "mysql://root@127.0.0.1:3306/",
			"MySQL/MariaDB on 127.0.0.1:3306 (root, no password)", "")
	}},
	{Name: "postgres", Module: "db_postgres", NewDB: func(t *testing.T) string {
		return serverDB(t, "postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/",
			"PostgreSQL on 127.0.0.1:5432 (user postgres)", " WITH (FORCE)")
	}},
}

// ForEach runs fn as a subtest per backend.
func ForEach(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// serverDB creates a database with a unique name through an admin
// connection and drops it at the end of the test.
func serverDB(t *testing.T, adminURL, base, what, dropOpts string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := db.Open(ctx, adminURL, nil)
	if err != nil {
		dbtest.Unavailable(t, "%s is not reachable: %v", what, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "srtest_ser_" + hex.EncodeToString(b[:])
	if _, err := a.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		a.Close()
		dbtest.Unavailable(t, "%s: cannot create a database: %v", what, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.Exec(ctx, "DROP DATABASE IF EXISTS "+name+dropOpts); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		a.Close()
	})
	return base + name
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

// WaitFor polls cond until it holds, failing the test after the deadline.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
