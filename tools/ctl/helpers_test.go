package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/modules_k/alias_db"
	"sip-router.org/modules_k/auth_db"
	"sip-router.org/modules_k/domain"
	"sip-router.org/modules_k/usrloc"

	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/db_postgres"
	_ "sip-router.org/modules/db_sqlite"
)

// toolEnv is a sandbox for a tool run: a config root
// (SIPROUTER_SYSCONFDIR), a HOME and a share folder with the flavor
// record, and none of the settings in the environment.
type toolEnv struct {
	t                      *testing.T
	flavor, tool, rcName   string
	etc, home, share, work string
}

func newToolEnv(t *testing.T, flavor string) *toolEnv {
	t.Helper()
	e := &toolEnv{t: t, flavor: flavor, etc: t.TempDir(), home: t.TempDir(), share: t.TempDir(), work: t.TempDir()}
	e.tool, e.rcName = "kamctl", "kamctlrc"
	tables := []string{"version", "subscriber", "location", "aliases", "domain", "dbaliases", "uri", "acc", "missed_calls"}
	declared := []string{"subscriber", "location", "aliases", "domain", "dbaliases", "uri", "acc", "missed_calls"}
	dbTool := "kamdbctl"
	if flavor == "ser" {
		e.tool, e.rcName, dbTool = "serctl", "serctlrc", "ser_db"
		tables = []string{"version", "credentials", "uri", "domain", "domain_attrs", "user_attrs", "location"}
		declared = []string{"uri", "domain", "domain_attrs", "user_attrs", "uri_attrs", "attr_types"}
	}
	t.Setenv("SIPROUTER_SYSCONFDIR", e.etc)
	t.Setenv("HOME", e.home)
	t.Setenv("SIPROUTER_SHAREDIR", e.share)
	for _, names := range [][]string{DBSettingNames, CtlSettingNames, ToolSettingNames} {
		for _, n := range names {
			t.Setenv(n, "")
			os.Unsetenv(n)
		}
	}
	rec := map[string]any{
		"name": flavor, "binary": flavor, "version": "3.0.0", "ctl_tool": e.tool, "ctl_rc": e.rcName, "db_tool": dbTool,
		"defaults": map[string]string{
			"fifo":       filepath.Join(e.work, "default_fifo"),
			"ctl_socket": "unix:" + filepath.Join(e.work, "default_ctl"),
			"db_url":     "sqlite://" + filepath.Join(e.work, flavor+".db"),
		},
		"db": map[string]any{"name": flavor, "url": "sqlite://" + filepath.Join(e.work, flavor+".db"), "tables": tables},
	}
	e.writeJSON(filepath.Join(e.share, "flavor.json"), rec)
	var st []map[string]string
	for _, n := range declared {
		st = append(st, map[string]string{"name": n})
	}
	e.writeJSON(filepath.Join(e.share, "schema.json"), map[string]any{"format": 1, "tables": st})
	return e
}

func (e *toolEnv) writeJSON(p string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	writeFile(e.t, p, string(b))
}

// sysRC writes /etc/<flavor>/<rc>.
func (e *toolEnv) sysRC(text string) string {
	p := filepath.Join(e.etc, e.flavor, e.rcName)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	writeFile(e.t, p, text)
	return p
}

// userRC writes ~/.<rc>.
func (e *toolEnv) userRC(text string) string {
	p := filepath.Join(e.home, "."+e.rcName)
	writeFile(e.t, p, text)
	return p
}

// run runs the tool.
func (e *toolEnv) run(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	code = Main(e.tool, e.flavor, args, &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs the tool and fails the test unless it succeeds quietly on
// stderr.
func (e *toolEnv) ok(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 || errs != "" {
		e.t.Fatalf("%s %s: exit %d, stderr %q, stdout %q", e.tool, strings.Join(args, " "), code, errs, out)
	}
	return out
}

// fails runs the tool and checks that it fails with one line on stderr
// containing want, and nothing on stdout.
func (e *toolEnv) fails(want string, args ...string) {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 1 {
		e.t.Fatalf("%s %s: exit %d, want 1 (stderr %q)", e.tool, strings.Join(args, " "), code, errs)
	}
	if strings.Count(errs, "\n") != 1 || !strings.HasSuffix(errs, "\n") || !strings.HasPrefix(errs, e.tool+": ") {
		e.t.Errorf("%s %s: stderr is not one line: %q", e.tool, strings.Join(args, " "), errs)
	}
	if !strings.Contains(errs, want) {
		e.t.Errorf("%s %s: stderr %q, want %q", e.tool, strings.Join(args, " "), errs, want)
	}
	if out != "" {
		e.t.Errorf("%s %s: failed but printed %q", e.tool, strings.Join(args, " "), out)
	}
}

func bgctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// kamTables are the Kamailio tables the tool works on, as the modules
// declare them.
func kamTables() []*schema.Table {
	return []*schema.Table{authdb.Subscriber(), usrloc.Location(), domain.Table(), aliasdb.Table()}
}

// usrPreferences is avpops' table, which no module of ours declares.
func usrPreferences() *schema.Table {
	return &schema.Table{Name: "usr_preferences", Version: 2, Columns: []schema.Column{
		{Name: "id", Type: schema.Int, Auto: true},
		{Name: "uuid", Type: schema.String, Size: 64, Default: "''"},
		{Name: "username", Type: schema.String, Size: 128, Default: "'0'"},
		{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
		{Name: "attribute", Type: schema.String, Size: 32, Default: "''"},
		{Name: "type", Type: schema.Int, Default: "0"},
		{Name: "value", Type: schema.String, Size: 128, Default: "''"},
		{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
	}}
}

// serTables are SER's user tables as sr_3.0's srdb2 schema declares
// them. They are declared here rather than taken from modules_s: SER's
// credentials table has no module in the tree yet, and modules_s/uri_db
// cannot be linked beside modules_k/uri_db (same module name).
func serTables() []*schema.Table {
	str := func(n string, size int) schema.Column { return schema.Column{Name: n, Type: schema.String, Size: size} }
	flags := schema.Column{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0"}
	return []*schema.Table{
		{Name: "credentials", Version: 7, Columns: []schema.Column{
			str("auth_username", 64), {Name: "did", Type: schema.String, Size: 64, Default: "'_default'"},
			str("realm", 64), {Name: "password", Type: schema.String, Size: 28, Default: "''"}, flags,
			str("ha1", 32), str("ha1b", 32), str("uid", 64)},
			Indexes: []schema.Index{{Name: "cred_idx", Columns: []string{"auth_username", "did"}}}},
		{Name: "uri", Version: 3, Columns: []schema.Column{str("uid", 64), str("did", 64), str("username", 64), flags,
			{Name: "scheme", Type: schema.String, Size: 8, Default: "'sip'"}}},
		{Name: "domain", Version: 2, Columns: []schema.Column{str("did", 64), str("domain", 128), flags},
			Keys: []schema.Index{{Name: "domain_idx", Columns: []string{"domain"}}}},
		{Name: "user_attrs", Version: 3, Columns: []schema.Column{str("uid", 64), str("name", 32),
			{Name: "value", Type: schema.String, Size: 255, Null: true}, {Name: "type", Type: schema.Int, Default: "0"}, flags},
			Keys: []schema.Index{{Name: "userattrs_idx", Columns: []string{"uid", "name", "value"}}}},
	}
}

// sqliteDB creates a SQLite database with tables and returns its path.
func sqliteDB(t *testing.T, path string, tables ...*schema.Table) string {
	t.Helper()
	d, err := db.Open(bgctx(t), "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := db.CreateTables(bgctx(t), d, tables); err != nil {
		t.Fatal(err)
	}
	return path
}

// query returns the rows of a query as tab-joined strings.
func query(t *testing.T, url, q string, args ...any) []string {
	t.Helper()
	d, err := db.Open(bgctx(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.Query(bgctx(t), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = cell(v)
		}
		out = append(out, strings.Join(cells, "\t"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// createTables creates tables in the database of a URL.
func createTables(t *testing.T, url string, tables ...*schema.Table) {
	t.Helper()
	d, err := db.Open(bgctx(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := db.CreateTables(bgctx(t), d, tables); err != nil {
		t.Fatal(err)
	}
}

// backend is a database the DB verbs are tested on: SQLite always,
// MariaDB and PostgreSQL on 127.0.0.1 when they are there (under
// SIPROUTER_CI=1 they must be).
type backend struct {
	name string
	// newDB makes an empty database and returns its URL and the rc lines
	// that point the tool at it.
	newDB func(t *testing.T, e *toolEnv) (url, rc string)
}

var backends = []backend{
	{"sqlite", func(t *testing.T, e *toolEnv) (string, string) {
		p := filepath.Join(e.work, "test.db")
		writeFile(t, p, "")
		return "sqlite://" + p, "DBENGINE=SQLITE\nDB_PATH=" + p + "\n"
	}},
	{"mysql", func(t *testing.T, e *toolEnv) (string, string) {
		admin := adminDB(t, "mysql://root@127.0.0.1:3306/mysql", "MySQL/MariaDB on 127.0.0.1:3306 (root, no password)")
		name, pw := "srtest_ctlu_"+token(5), "pw"+token(3)
		hosts := []string{"%", "localhost", "127.0.0.1"}
		stmts := []string{"CREATE DATABASE " + name}
		for _, h := range hosts {
			stmts = append(stmts, fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", name, h, pw),
				fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%s'", name, name, h))
		}
		execAll(t, admin, stmts...)
		t.Cleanup(func() {
			execAll(t, admin, "DROP DATABASE IF EXISTS "+name)
			for _, h := range hosts {
				execAll(t, admin, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", name, h))
			}
		})
		return fmt.Sprintf("mysql://%s:%s@127.0.0.1:3306/%s", name, pw, name),
			fmt.Sprintf("DBENGINE=MYSQL\nDBHOST=127.0.0.1\nDBNAME=%s\nDBRWUSER=%s\nDBRWPW=%s\n", name, name, pw)
	}},
	{"postgres", func(t *testing.T, e *toolEnv) (string, string) {
		admin := adminDB(t, "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL on 127.0.0.1:5432 (user postgres)")
		name := "srtest_ctlu_" + token(5)
		execAll(t, admin, "CREATE DATABASE "+name)
		t.Cleanup(func() { execAll(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
		return "postgres://postgres:trusted@127.0.0.1:5432/" + name,
			fmt.Sprintf("DBENGINE=postgres\nDBHOST=127.0.0.1\nDBPORT=5432\nDBNAME=%s\nDBRWUSER=postgres\nDBRWPW=trusted\n", name)
	}},
}

// forEachBackend runs a test on each database.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func adminDB(t *testing.T, url, what string) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		dbtest.Unavailable(t, "%s is not reachable: %v", what, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func execAll(t *testing.T, d *db.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.Exec(bgctx(t), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
