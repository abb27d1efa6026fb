package dbsqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/siptest"
	dbsqlite "sip-router.org/modules/db_sqlite"
)

func loadedIn(t *testing.T, cfg string) func(string) bool {
	l := siptest.Load(t, cfg)
	return func(name string) bool { _, ok := l.Modules.Get(name); return ok }
}

func TestModuleLoads(t *testing.T) {
	siptest.Load(t, `
loadmodule "db_sqlite.so"
modparam("db_sqlite", "busy_timeout", 3000)
modparam("db_sqlite", "journal_mode", "delete")
route { drop; }
`)
	// Restore the defaults for the other tests.
	siptest.Load(t, "loadmodule \"db_sqlite.so\"\nroute { drop; }\n")
}

func TestBadParams(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("db_sqlite", "journal_mode", "off")`, `journal_mode "off" is not one of`},
		{`modparam("db_sqlite", "busy_timeout", -1)`, "below the minimum"},
		{`modparam("db_sqlite", "busy_timeout", "5")`, "wrong type"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"db_sqlite.so\"\n"+tc.cfg+"\nroute { drop; }\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// A sqlite:// URL works only when the config loads db_sqlite.
func TestOpenNeedsModule(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "k.db")

	dbtest.CheckNotLoaded(t, url, url, "db_sqlite", loadedIn(t, "route { drop; }\n"))
	if _, statErr := os.Stat(strings.TrimPrefix(url, "sqlite://")); statErr == nil {
		t.Error("the refused open created the file")
	}
	dbtest.OpenLoaded(t, url, loadedIn(t, "loadmodule \"db_sqlite.so\"\nroute { drop; }\n"), db.SQLite)
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"sqlite:///var/lib/kamailio/kamailio.db", ""},
		{"sqlite://data/k.db", ""},
		{"sqlite://", `db_url "sqlite://": no database file`},
		{"sqlite:///x.db?cache=shared", "unknown parameter cache"},
	} {
		err := db.CheckURL("db_url", tc.url)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckURL(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
}

func TestDSN(t *testing.T) {
	got := dbsqlite.DSN("/var/lib/k am?#%.db", 5000, "WAL")
	want := "file:/var/lib/k am%3f%23%25.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(0)&_time_format=datetime&_txlock=immediate"
	if got != want {
		t.Errorf("DSN\n got %s\nwant %s", got, want)
	}
}

// The file and its folders are made on first use, with modes 0750 and
// 0640, and the connection has the pragmas of the DSN.
func TestFileCreatedWithPragmas(t *testing.T) {
	umask := umaskBits(t)
	dir := filepath.Join(t.TempDir(), "var", "lib", "kamailio")
	path := filepath.Join(dir, "kamailio.db")
	d := dbtest.Open(t, "sqlite://"+path)
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o750}, {filepath.Dir(dir), 0o750}, {path, 0o640}} {
		st, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != p.mode&^umask {
			t.Errorf("%s: mode %o, want %o", p.path, st.Mode().Perm(), p.mode)
		}
	}
	ctx := context.Background()
	for _, p := range []struct{ pragma, want string }{
		{"journal_mode", "wal"}, {"busy_timeout", "5000"}, {"synchronous", "1"}, {"foreign_keys", "0"},
	} {
		var v string
		if err := d.QueryRow(ctx, "PRAGMA "+p.pragma).Scan(&v); err != nil || v != p.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", p.pragma, v, err, p.want)
		}
	}
	if d.SQL().Stats().MaxOpenConnections != 1 {
		t.Errorf("max open connections %d, want 1 (one writer)", d.SQL().Stats().MaxOpenConnections)
	}
}

// umaskBits finds the bits the process umask removes, by creating a file
// with mode 0777 (reading the umask would mean changing it).
func umaskBits(t *testing.T) os.FileMode {
	f := filepath.Join(t.TempDir(), "umask-probe")
	if err := os.WriteFile(f, nil, 0o777); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ st.Mode().Perm()
}

// sqlite://relative/path is relative to the working folder.
func TestRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	d := dbtest.Open(t, "sqlite://data/rel.db")
	if err := d.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "rel.db")); err != nil {
		t.Errorf("relative database not created in the working folder: %v", err)
	}
}

func TestSuite(t *testing.T) {
	dbtest.Run(t, dbtest.Backend{
		NewDatabase: func(t *testing.T) string {
			return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
		},
		SlowSQL: func(time.Duration) string {
			// No sleep function: count far enough to take minutes.
			return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) SELECT MAX(x) FROM c"
		},
	})
}

func BenchmarkQueryRow(b *testing.B) {
	dbtest.BenchQueryRow(b, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
}
