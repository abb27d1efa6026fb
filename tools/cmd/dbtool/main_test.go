package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/server"
	"sip-router.org/tools/gen"
	"sip-router.org/tools/manifest"

	// The modules of the kamailio flavor that own tables, for the schema
	// of the share folder, and those the server started on a migrated
	// database loads.
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules_k/acc"
	_ "sip-router.org/modules_k/alias_db"
	_ "sip-router.org/modules_k/auth"
	_ "sip-router.org/modules_k/auth_db"
	_ "sip-router.org/modules_k/domain"
	_ "sip-router.org/modules_k/registrar"
	_ "sip-router.org/modules_k/uri_db"
	_ "sip-router.org/modules_k/usrloc"
)

// tool is the kamdbctl binary built once for the tests, and shareDir the
// share folder it reads: the schema of the modules above (as
// --dump-schema writes it) and a flavor record made from
// flavors/kamailio.toml.
var tool, shareDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "srdbtool-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		tool = filepath.Join(dir, "sbin", "kamdbctl")
		cmd := exec.Command("go", "build", "-o", tool,
			"-ldflags", "-X main.toolName=kamdbctl -X main.flavorName=kamailio", ".")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building kamdbctl failed:", err)
			return 1
		}
		shareDir = filepath.Join(dir, "share", "kamailio")
		if err := makeShare(shareDir); err != nil {
			fmt.Fprintln(os.Stderr, "share folder:", err)
			return 1
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

// makeShare writes the schema and the flavor record, as make build does.
func makeShare(dir string) error {
	if err := server.DumpSchema(dir); err != nil {
		return err
	}
	root, err := gen.FindRoot(".")
	if err != nil {
		return err
	}
	m, err := manifest.Load(filepath.Join(root, "flavors", "kamailio.toml"))
	if err != nil {
		return err
	}
	rec := map[string]any{
		"name": m.Flavor.Name, "binary": m.Flavor.Binary, "version": m.Flavor.Version,
		"ctl_tool": m.Tools.Ctl, "ctl_rc": m.Tools.CtlRC, "db_tool": m.Tools.DB,
		"defaults": m.Defaults,
		"db":       map[string]any{"name": m.DB.Name, "url": m.DB.URL, "tables": m.DB.Tables},
	}
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "flavor.json"), js, 0o644)
}

// env is a clean environment for the tool: its own HOME and system rc
// folder, the share folder, and the settings given.
type env struct {
	t       *testing.T
	home    string
	sysconf string
	vars    map[string]string
}

func newEnv(t *testing.T, vars map[string]string) *env {
	t.Helper()
	e := &env{t: t, home: t.TempDir(), sysconf: t.TempDir(), vars: map[string]string{}}
	for k, v := range vars {
		e.vars[k] = v
	}
	return e
}

// rc writes the system rc file (/etc/kamailio/kamctlrc).
func (e *env) rc(text string) string {
	e.t.Helper()
	p := filepath.Join(e.sysconf, "kamailio", "kamctlrc")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the tool with arguments and stdin.
func (e *env) run(stdin string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.home, "SIPROUTER_SYSCONFDIR=" + e.sysconf,
		"SIPROUTER_SHAREDIR=" + shareDir}
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// ok runs the tool and fails the test unless it succeeds.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != 0 {
		e.t.Fatalf("kamdbctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs the tool and checks it fails with one line on stderr that
// contains each of want.
func (e *env) fails(stdin string, args []string, want ...string) result {
	e.t.Helper()
	r := e.run(stdin, args...)
	if r.code != 1 {
		e.t.Fatalf("kamdbctl %s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	// A question asked on stderr comes before the error line.
	if i := strings.LastIndex(msg, "[y/N] \n"); i >= 0 {
		msg = msg[i+len("[y/N] \n"):]
	}
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "kamdbctl: ") {
		e.t.Errorf("kamdbctl %s: the error is not one line:\n%s", strings.Join(args, " "), r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			e.t.Errorf("kamdbctl %s: error %q does not say %q", strings.Join(args, " "), msg, w)
		}
	}
	return r
}

// backend is a database server for the tests.
type backend struct {
	name   string // for subtests
	engine string // DBENGINE
	// newDB returns the settings of a fresh database name and users
	// (nothing is created), all removed at the end of the test.
	newDB func(t *testing.T) map[string]string
	// admin opens the server's administrative connection to database
	// name ("" for the server's own).
	admin func(t *testing.T, name string) *db.DB
}

func randName(t *testing.T) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "srt" + hex.EncodeToString(b[:])
}

// sqliteBackend keeps its database in the test's folder.
func sqliteBackend() backend {
	return backend{
		name: "SQLite", engine: "SQLITE",
		newDB: func(t *testing.T) map[string]string {
			return map[string]string{"DBENGINE": "SQLITE", "DB_PATH": filepath.Join(t.TempDir(), "db", "kamailio.db")}
		},
		admin: func(t *testing.T, name string) *db.DB {
			return dbtest.Open(t, "sqlite://"+name)
		},
	}
}

// MariaDB on 127.0.0.1:3306, root without password.
func mysqlBackend() backend {
	return backend{
		name: "MariaDB", engine: "MYSQL",
		newDB: func(t *testing.T) map[string]string {
			a := openAdmin(t, "mysql", "root@tcp(127.0.0.1:3306)/?timeout=2s", "MySQL/MariaDB on 127.0.0.1:3306 (root, no password)")
			name := randName(t)
			t.Cleanup(func() {
				ctx := context.Background()
				for _, d := range []string{name, name + "_copy"} {
					if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+d+"`"); err != nil {
						t.Errorf("drop %s: %v", d, err)
					}
				}
				for _, u := range []string{name + "rw", name + "ro"} {
					for _, h := range []string{"%", "127.0.0.1"} {
						_, _ = a.ExecContext(ctx, "DROP USER IF EXISTS '"+u+"'@'"+h+"'")
					}
				}
			})
			return map[string]string{"DBENGINE": "MYSQL", "DBHOST": "127.0.0.1", "DBNAME": name,
				"DBRWUSER": name + "rw", "DBRWPW": "rw-secret", "DBROUSER": name + "ro", "DBROPW": "ro-secret",
				"DBROOTUSER": "root"}
		},
		admin: func(t *testing.T, name string) *db.DB {
			if name == "" {
				name = "mysql"
			}
			return dbtest.Open(t, "mysql://root@127.0.0.1:3306/"+name)
		},
	}
}

// PostgreSQL on 127.0.0.1:5432, postgres trusted.
func postgresBackend() backend {
	return backend{
		name: "PostgreSQL", engine: "PGSQL",
		newDB: func(t *testing.T) map[string]string {
			a := openAdmin(t, "postgres", "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable connect_timeout=2",
				"PostgreSQL on 127.0.0.1:5432 (postgres, trusted)")
			name := randName(t)
			t.Cleanup(func() {
				ctx := context.Background()
				for _, d := range []string{name, name + "_copy"} {
					if _, err := a.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+d+`" WITH (FORCE)`); err != nil {
						t.Errorf("drop %s: %v", d, err)
					}
				}
				for _, u := range []string{name + "rw", name + "ro"} {
					_, _ = a.ExecContext(ctx, `DROP ROLE IF EXISTS "`+u+`"`)
				}
			})
			return map[string]string{"DBENGINE": "PGSQL", "DBHOST": "127.0.0.1", "DBNAME": name,
				"DBRWUSER": name + "rw", "DBRWPW": "rw-secret", "DBROUSER": name + "ro", "DBROPW": "ro-secret",
				"DBROOTUSER": "postgres"}
		},
		admin: func(t *testing.T, name string) *db.DB {
			if name == "" {
				name = "postgres"
			}
			return dbtest.Open(t, "postgres://postgres@127.0.0.1:5432/"+name)
		},
	}
}

func openAdmin(t *testing.T, driver, dsn, what string) *sql.DB {
	t.Helper()
	a, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := a.PingContext(ctx); err != nil {
		dbtest.Unavailable(t, "%s is not reachable: %v", what, err)
	}
	return a
}

func backends() []backend {
	return []backend{sqliteBackend(), mysqlBackend(), postgresBackend()}
}

// dbURL is the administrator's URL of the database of the settings.
func dbURL(vars map[string]string) string {
	switch vars["DBENGINE"] {
	case "MYSQL":
		return "mysql://root@127.0.0.1:3306/" + vars["DBNAME"]
	case "PGSQL":
		return "postgres://postgres@127.0.0.1:5432/" + vars["DBNAME"]
	}
	return "sqlite://" + vars["DB_PATH"]
}

// dumpBody is a backup without its header (which names the database and
// the time).
func dumpBody(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "-- database: ") || strings.HasPrefix(l, "-- written: ") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
