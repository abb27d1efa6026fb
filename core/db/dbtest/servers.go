package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"sip-router.org/core/db"
)

// Server is a database server the module tests reach on 127.0.0.1: its
// driver module must be linked into the test binary (a blank import of
// sip-router.org/modules/db_mysql or db_postgres).
type Server struct {
	// Name is the URL scheme ("mysql", "postgres").
	Name string
	// Module is the driver module a configuration loads.
	Module string
	// Addr is the server's host:port, as the URLs write it.
	Addr string
	// What names the server in messages.
	What string
	// Admin is the URL of a database to connect to for creating others.
	Admin string
	// Base is the URL of a database without its name.
	Base string
	// DropOpts follow DROP DATABASE IF EXISTS name.
	DropOpts string
}

// The test servers: MariaDB (or MySQL) as root without password,
// PostgreSQL as postgres with trust authentication.
var (
	MySQL = Server{Name: "mysql", Module: "db_mysql", Addr: "127.0.0.1:3306",
		What:  "MySQL/MariaDB on 127.0.0.1:3306 (root, no password)",
		Admin: "mysql://root@127.0.0.1:3306/mysql", Base: "mysql://root@127.0.0.1:3306/"}
	Postgres = Server{Name: "postgres", Module: "db_postgres", Addr: "127.0.0.1:5432",
		What:  "PostgreSQL on 127.0.0.1:5432 (user postgres)",
		Admin: "postgres://postgres@127.0.0.1:5432/postgres", Base: "postgres://postgres@127.0.0.1:5432/",
		DropOpts: " WITH (FORCE)"}
)

// NewDatabase creates a database with a unique name (prefix and random
// hex digits) through an admin connection, drops it at the end of the
// test, and returns its URL. A server that cannot be reached is
// Unavailable; one that refuses the database fails the test.
func (s Server) NewDatabase(t testing.TB, prefix string) string {
	t.Helper()
	a := s.openAdmin(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := prefix + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("%s: create database %s: %v", s.What, name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.Exec(ctx, "DROP DATABASE IF EXISTS "+name+s.DropOpts); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return s.Base + name
}

// openAdmin opens the server's admin database, closed at the end of the
// test (after the cleanups registered later, which may still use it). A
// server that cannot be reached is Unavailable.
func (s Server) openAdmin(t testing.TB) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := db.Open(ctx, s.Admin, nil)
	if err != nil {
		Unavailable(t, "%s is not reachable: %v", s.What, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// SQLiteURL is the URL of a new SQLite database file in the test's
// temporary folder (the db_sqlite module must be linked).
func SQLiteURL(t *testing.T, file string) string {
	return "sqlite://" + filepath.Join(t.TempDir(), file)
}

// CountRows counts the rows of a table, WHERE where with args when where
// is not empty.
func CountRows(t testing.TB, d *db.DB, table, where string, args ...any) int {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM " + d.Dialect().Quote(table)
	if where != "" {
		q += " WHERE " + where
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// WaitFor polls cond every 20 ms until it holds, failing the test after
// d.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
