package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
)

func TestUsage(t *testing.T) {
	e := newEnv(t, nil)
	r := e.run("")
	if r.code != 2 || !strings.Contains(r.stderr, "usage: kamdbctl [-y] [-v] COMMAND") {
		t.Errorf("no arguments: exit %d\n%s", r.code, r.stderr)
	}
	r = e.run("", "-h")
	if r.code != 0 {
		t.Errorf("-h: exit %d", r.code)
	}
	for _, verb := range []string{"create", "drop", "reinit", "migrate", "--dry-run", "version", "backup FILE", "restore FILE", "copy NEWDB", "-y"} {
		if !strings.Contains(r.stdout, verb) {
			t.Errorf("the usage does not list %q:\n%s", verb, r.stdout)
		}
	}
	for _, args := range [][]string{{"frobnicate"}, {"-x", "create"}, {"backup"}, {"copy", "a", "b"}, {"migrate", "old", "new"}, {"drop", "-y"}} {
		if r := e.run("", args...); r.code != 2 || !strings.Contains(r.stderr, "usage:") {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
}

// Errors are one line on stderr, exit status 1, and nothing written.
func TestErrors(t *testing.T) {
	t.Run("NoRCFile", func(t *testing.T) {
		e := newEnv(t, nil)
		e.fails("", []string{"create"}, "no rc file", filepath.Join(e.sysconf, "kamailio", "kamctlrc"), ".kamctlrc", "DBENGINE")
	})
	t.Run("WrongDBENGINE", func(t *testing.T) {
		e := newEnv(t, nil)
		rc := e.rc("# test\nDBENGINE=ORACLE\n")
		e.fails("", []string{"create"}, rc+":2: DBENGINE=ORACLE is not supported")
		e.rc("DBENGINE=FOO\n")
		e.fails("", []string{"version"}, "kamctlrc:1: DBENGINE=FOO is unknown: use MYSQL, PGSQL or SQLITE")
		e.rc("DBHOST=localhost\n")
		e.fails("", []string{"migrate"}, "DBENGINE is not set", "read "+rc)
		e.vars["DBENGINE"] = "postgress"
		e.fails("", []string{"migrate"}, "environment: DBENGINE=postgress is unknown")
	})
	t.Run("BadRCLine", func(t *testing.T) {
		e := newEnv(t, nil)
		rc := e.rc("DBENGINE=SQLITE\nthis is not shell\n")
		e.fails("", []string{"create"}, rc+":2: not a NAME=value line")
	})
	t.Run("Unreachable", func(t *testing.T) {
		// A port nobody listens on: a listener closed at once.
		port := closedPort(t)
		for _, eng := range []string{"MYSQL", "PGSQL"} {
			e := newEnv(t, map[string]string{"DBENGINE": eng, "DBHOST": "127.0.0.1", "DBPORT": port,
				"DBROOTPW": "s3cret", "DBNAME": "nowhere"})
			for _, verb := range [][]string{{"create"}, {"migrate"}, {"version"}, {"-y", "drop"}, {"backup", filepath.Join(e.home, "b.sql")}} {
				r := e.fails("", verb, "127.0.0.1:"+port, "***", "cannot connect")
				if strings.Contains(r.stderr, "s3cret") {
					t.Errorf("%s %v: the password is shown: %s", eng, verb, r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(e.home, "b.sql")); err == nil {
				t.Error("a backup file was written")
			}
		}
	})
	t.Run("NoFlavorRecord", func(t *testing.T) {
		e := newEnv(t, map[string]string{"DBENGINE": "SQLITE"})
		r := e.run("", "tables")
		if r.code != 0 {
			t.Fatalf("tables: %d %s", r.code, r.stderr)
		}
		old := shareDir
		shareDir = t.TempDir()
		defer func() { shareDir = old }()
		e.fails("", []string{"create"}, "no flavor record for kamailio", "SIPROUTER_SHAREDIR")
	})
	t.Run("SQLiteNotWritable", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "file")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		// The database's folder would have to be made inside a file.
		e := newEnv(t, map[string]string{"DBENGINE": "SQLITE", "DB_PATH": filepath.Join(file, "sub", "k.db")})
		e.fails("", []string{"create"}, "create")
		e.fails("", []string{"migrate"}, "does not exist", "kamdbctl create")
	})
	t.Run("CreateFailsHalfWay", func(t *testing.T) {
		for _, b := range backends() {
			t.Run(b.name, func(t *testing.T) { testCreateFails(t, b) })
		}
	})
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(l.Addr().String(), ":")
	l.Close()
	return port
}

// testCreateFails: a table whose CREATE the server refuses (a broken
// default) makes create fail; the database is not left behind.
func testCreateFails(t *testing.T, b backend) {
	vars := b.newDB(t)
	share := t.TempDir()
	for _, f := range []string{"flavor.json", "schema.json"} {
		data, err := os.ReadFile(filepath.Join(shareDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "schema.json" {
			// The last column of dbaliases gets a default no engine takes.
			s := string(data)
			i := strings.Index(s, `"name": "dbaliases"`)
			j := strings.Index(s[i:], `"default": "''"`)
			if i < 0 || j < 0 {
				t.Fatal("no dbaliases default to break")
			}
			s = s[:i+j] + `"default": "1 +"` + s[i+j+len(`"default": "''"`):]
			data = []byte(s)
		}
		if err := os.WriteFile(filepath.Join(share, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := shareDir
	shareDir = share
	defer func() { shareDir = old }()
	e := newEnv(t, vars)
	e.fails("", []string{"create"}, "create", "dbaliases")
	ctx := context.Background()
	switch b.engine {
	case "SQLITE":
		if _, err := os.Stat(vars["DB_PATH"]); err == nil {
			t.Error("the SQLite file is left behind")
		}
	default:
		a := b.admin(t, "")
		q := "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
		if b.engine == "PGSQL" {
			q = "SELECT COUNT(*) FROM pg_database WHERE datname = ?"
		}
		var n int
		if err := a.QueryRow(ctx, q, vars["DBNAME"]).Scan(&n); err != nil || n != 0 {
			t.Errorf("the database is left behind (%d, %v)", n, err)
		}
	}
}

// TestLifecycle: create → version → backup → drop → restore → copy →
// reinit, with the settings in the rc file.
func TestLifecycle(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { testLifecycle(t, b) })
	}
}

func testLifecycle(t *testing.T, b backend) {
	vars := b.newDB(t)
	e := newEnv(t, nil)
	var rc strings.Builder
	rc.WriteString("# kamctlrc of the test\n")
	for k, v := range vars {
		fmt.Fprintf(&rc, "%s=%q\n", k, v)
	}
	e.rc(rc.String())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	out := e.ok("create")
	if !strings.Contains(out, "created 16 tables") {
		t.Errorf("create said:\n%s", out)
	}
	if b.engine == "SQLITE" {
		st, err := os.Stat(vars["DB_PATH"])
		if err != nil || st.Mode().Perm() != 0o640 {
			t.Errorf("SQLite file: %v, mode %v", err, st.Mode().Perm())
		}
	}
	e.fails("", []string{"create"}, "exists already")

	// Rows through the server's own user (grants), with values of every
	// kind.
	rwURL := dbURL(vars)
	if b.engine != "SQLITE" {
		rwURL = strings.Replace(rwURL, map[string]string{"MYSQL": "root@", "PGSQL": "postgres@"}[b.engine],
			vars["DBRWUSER"]+":"+vars["DBRWPW"]+"@", 1)
	}
	rw := dbtest.Open(t, rwURL)
	for _, q := range []string{
		"INSERT INTO subscriber (username, domain, password, rpid) VALUES ('alice', 'example.org', 'pw', NULL)",
		"INSERT INTO subscriber (username, domain, password, rpid) VALUES ('bøb', 'exämple.org', 'it''s a \\ secret', '<sip:+1@x>')",
		"INSERT INTO location (username, contact, q, expires, user_agent) VALUES ('alice', 'sip:alice@192.0.2.1', 0.5, '2031-02-03 04:05:06', 'line1\nline2')",
		"INSERT INTO acc (method, from_tag, to_tag, callid, sip_code, sip_reason, time) VALUES ('INVITE', 'f', 't', 'c@h', '200', 'OK', '2010-01-11 10:00:00')",
	} {
		if _, err := rw.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	blob := []byte{0, 1, 2, 0xff, '\'', '\n', 0}
	if _, err := rw.Exec(ctx, "INSERT INTO silo (src_addr, dst_addr, body) VALUES (?, ?, ?)", "sip:a@x", "sip:b@y", blob); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	if b.engine != "SQLITE" {
		ro := dbtest.Open(t, strings.Replace(rwURL, vars["DBRWUSER"]+":"+vars["DBRWPW"], vars["DBROUSER"]+":"+vars["DBROPW"], 1))
		var n int
		if err := ro.QueryRow(ctx, "SELECT COUNT(*) FROM subscriber").Scan(&n); err != nil || n != 2 {
			t.Errorf("read-only user: %d rows, %v", n, err)
		}
		if _, err := ro.Exec(ctx, "DELETE FROM subscriber"); err == nil {
			t.Error("the read-only user could delete")
		}
		ro.Close()
	}

	out = e.ok("version")
	for _, tb := range []string{"subscriber", "location", "gw", "sip_trace"} {
		if !regexp.MustCompile(`(?m)^` + tb + `\s+\S+\s+\d+\s+\d+\s+ok$`).MatchString(out) {
			t.Errorf("version does not show %s ok:\n%s", tb, out)
		}
	}
	if !strings.HasPrefix(out, "kamdbctl 3.0.0 (flavor kamailio") {
		t.Errorf("version line: %s", out)
	}

	dir := t.TempDir()
	first := filepath.Join(dir, "first.sql")
	e.ok("backup", first)
	body := dumpBody(t, first)
	for _, want := range []string{"-- table subscriber version 6 rows 2", "-- table silo version 5 rows 1", "-- end tables 16 rows 5"} {
		if !strings.Contains(body, want) {
			t.Errorf("the backup has no %q:\n%s", want, body)
		}
	}
	// Asked, not confirmed: nothing happens.
	e.fails("n\n", []string{"drop"}, "not confirmed")
	e.fails("", []string{"backup", first}, "not confirmed")
	e.ok("version")
	r := e.run("y\n", "drop")
	if r.code != 0 {
		t.Fatalf("drop, confirmed: %d %s", r.code, r.stderr)
	}
	e.fails("", []string{"version"}, "does not exist")
	e.fails("", []string{"-y", "drop"}, "does not exist")

	// restore creates the database again.
	e.ok("restore", first)
	second := filepath.Join(dir, "second.sql")
	e.ok("backup", second)
	if got := dumpBody(t, second); got != body {
		t.Errorf("after restore, the backup differs:\n%s\nwant\n%s", got, body)
	}
	// Into a database with rows: asked first.
	e.fails("", []string{"restore", first}, "not confirmed")
	e.ok("-y", "restore", first)

	// copy, then a backup of the copy.
	copyName := vars["DBNAME"] + "_copy"
	if b.engine == "SQLITE" {
		copyName = filepath.Join(dir, "copy.db")
	}
	e.ok("copy", copyName)
	e.fails("", []string{"copy", copyName}, "not confirmed")
	e.ok("-y", "copy", copyName)
	ce := newEnv(t, vars)
	ce.home, ce.sysconf = e.home, e.sysconf
	if b.engine == "SQLITE" {
		ce.vars["DB_PATH"] = copyName
	} else {
		ce.vars["DBNAME"] = copyName
	}
	third := filepath.Join(dir, "third.sql")
	ce.ok("backup", third)
	if got := dumpBody(t, third); got != body {
		t.Errorf("the copy's backup differs:\n%s\nwant\n%s", got, body)
	}
	// The copy's ids go on after those copied.
	c := dbtest.Open(t, dbURL(ce.vars))
	var id int64
	if _, err := c.Exec(ctx, "INSERT INTO subscriber (username, domain) VALUES ('carol', 'example.org')"); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "SELECT id FROM subscriber WHERE username = 'carol'").Scan(&id); err != nil || id != 3 {
		t.Errorf("a new row in the copy got id %d (%v), want 3", id, err)
	}
	c.Close()
	ce.ok("-y", "drop")

	// A damaged backup is refused before anything is written.
	bad := filepath.Join(dir, "bad.sql")
	data, _ := os.ReadFile(first)
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), "-- end tables", "-- the end", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.fails("", []string{"-y", "restore", bad}, "bad.sql", "incomplete")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), "INSERT INTO", "DELETE FROM", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.fails("", []string{"-y", "restore", bad}, "not a line of a backup")

	// reinit: empty again.
	e.ok("-y", "reinit")
	h := dbtest.Open(t, dbURL(vars))
	var n int
	if err := h.QueryRow(ctx, "SELECT COUNT(*) FROM subscriber").Scan(&n); err != nil || n != 0 {
		t.Errorf("after reinit: %d subscribers, %v", n, err)
	}
	if v, err := db.TableVersion(ctx, h, "location"); err != nil || v != 1004 {
		t.Errorf("after reinit: location version %d, %v", v, err)
	}
	h.Close()
	out = e.ok("migrate")
	if !strings.Contains(out, "nothing to do") {
		t.Errorf("migrate of a new database: %s", out)
	}
	e.ok("-y", "drop")
}
