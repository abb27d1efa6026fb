package dbtool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/tools/ctl"

	_ "sip-router.org/modules/db_sqlite"
)

// share writes a share folder with a flavor record and a schema of two
// module tables, and points SIPROUTER_SHAREDIR at it.
func share(t *testing.T, tables ...string) string {
	t.Helper()
	dir := t.TempDir()
	dump, err := db.RenderDump([]db.Group{
		{Name: "usrloc", Tables: []*schema.Table{dbtest.Location()}},
		{Name: "auth_db", Tables: []*schema.Table{dbtest.Subscriber()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dump.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	rec := `{"name": "kamailio", "version": "3.0.0", "ctl_rc": "kamctlrc", "db_tool": "kamdbctl",
  "db": {"name": "kamailio", "url": "sqlite:///var/lib/kamailio/kamailio.db", "tables": ["` + strings.Join(tables, `", "`) + `"]}}`
	if err := os.WriteFile(filepath.Join(dir, "flavor.json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIPROUTER_SHAREDIR", dir)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SIPROUTER_SYSCONFDIR", t.TempDir())
	for _, n := range ctl.DBSettingNames {
		t.Setenv(n, "")
		os.Unsetenv(n)
	}
	return dir
}

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	tool := &Tool{Name: "kamdbctl", Flavor: "kamailio", Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := tool.Run(ctx, args)
	return code, out.String(), errb.String()
}

func writeRC(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOptions(t *testing.T) {
	share(t, "version", "location", "subscriber")
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{nil, 2, "", "usage: kamdbctl"},
		{[]string{"-h"}, 0, "Commands:", ""},
		{[]string{"help"}, 0, "restore FILE", ""},
		{[]string{"-q", "create"}, 2, "", "unknown option -q"},
		{[]string{"create", "-y"}, 2, "", "-y: options go before the command (kamdbctl -y create)"},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
		{[]string{"version", "x"}, 2, "", "version takes no argument"},
		{[]string{"restore"}, 2, "", "restore takes one argument, the file"},
		{[]string{"migrate", "--force"}, 2, "", "takes only --dry-run"},
		{[]string{"tables"}, 0, "location    usrloc   1004", ""},
	} {
		code, out, errs := run(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, out, errs)
		}
	}
}

func TestSettings(t *testing.T) {
	share(t, "version", "location", "subscriber")
	home, _ := os.UserHomeDir()
	sys := filepath.Join(os.Getenv("SIPROUTER_SYSCONFDIR"), "kamailio", "kamctlrc")

	code, _, errs := run(t, "", "show")
	if code != 1 || !strings.Contains(errs, "no rc file (looked for "+sys+", "+filepath.Join(home, ".kamctlrc")+")") {
		t.Errorf("no rc file: %d %s", code, errs)
	}
	writeRC(t, sys, "DBENGINE=MYSQL\nDBHOST=db1\nDBROOTPW=secret\n")
	writeRC(t, filepath.Join(home, ".kamctlrc"), "# mine\nDBHOST=db2\nDBNAME=sip\n")
	code, out, _ := run(t, "", "show")
	for _, want := range []string{
		"rc files read: " + sys + ", " + filepath.Join(home, ".kamctlrc"),
		"DBENGINE=MYSQL (" + sys + ":1)",
		"DBHOST=db2 (" + filepath.Join(home, ".kamctlrc") + ":2)",
		"DBNAME=sip (" + filepath.Join(home, ".kamctlrc") + ":3)",
		"DBRWUSER=kamailio (default)",
		"DBROOTUSER=root (default)",
		"administrator URL: mysql://root:***@db2/sip",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show: no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Error("show prints the password")
	}
	t.Setenv("DBENGINE", "PGSQL")
	t.Setenv("DBNAME", "")
	_, out, _ = run(t, "", "show")
	if !strings.Contains(out, "DBENGINE=PGSQL (environment)") || !strings.Contains(out, "DBROOTUSER=postgres (default)") ||
		!strings.Contains(out, "DBNAME=kamailio") {
		t.Errorf("environment override:\n%s", out)
	}
	t.Setenv("DBENGINE", "SQLITE")
	t.Setenv("DB_PATH", "rel/k.db")
	_, out, _ = run(t, "", "show")
	wd, _ := os.Getwd()
	if !strings.Contains(out, "database file: "+filepath.Join(wd, "rel/k.db")) {
		t.Errorf("SQLite file:\n%s", out)
	}
}

func TestFlavorTables(t *testing.T) {
	share(t, "version", "location", "trusted", "gw", "credentials")
	c, err := LoadConfig("kamailio", false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range c.Groups {
		for _, tb := range g.Tables {
			names = append(names, g.Name+"/"+tb.Name)
		}
	}
	// Module tables first (all of them, named or not), then the tool's
	// own for the names no module declares.
	if got := strings.Join(names, " "); got != "usrloc/location auth_db/subscriber permissions/trusted lcr/gw" {
		t.Errorf("tables: %s", got)
	}
	if strings.Join(c.Undeclared, ",") != "credentials" {
		t.Errorf("undeclared: %v", c.Undeclared)
	}
	if c.Table("gw") == nil || c.Table("gw").Version != 10 || c.Table("nope") != nil {
		t.Error("Table")
	}
	if _, err := LoadConfig("", false); err == nil || !strings.Contains(err.Error(), "main.flavorName") {
		t.Errorf("no flavor: %v", err)
	}
	if _, err := LoadConfig("ser", false); err == nil || !strings.Contains(err.Error(), `is for "kamailio", not "ser"`) {
		t.Errorf("other flavor: %v", err)
	}
	if err := os.WriteFile(filepath.Join(os.Getenv("SIPROUTER_SHAREDIR"), "schema.json"), []byte(`{"format": 9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig("kamailio", false); err == nil || !strings.Contains(err.Error(), "schema.json: schema description: format 9") {
		t.Errorf("bad schema: %v", err)
	}
}

func TestLiteral(t *testing.T) {
	ts := time.Date(2031, 2, 3, 4, 5, 6, 0, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		d      *db.Dialect
		v      any
		binary bool
		want   string
	}{
		{db.MySQL, nil, false, "NULL"},
		{db.MySQL, int64(-5), false, "-5"},
		{db.MySQL, uint64(4294967295), false, "4294967295"},
		{db.MySQL, float32(0.1), false, "0.1"},
		{db.Postgres, float64(1.5), false, "1.5"},
		{db.SQLite, true, false, "1"},
		{db.MySQL, ts, false, "'2031-02-03 03:05:06'"},
		{db.MySQL, time.Time{}, false, "'0000-00-00 00:00:00'"},
		{db.MySQL, []byte(`it's \ ok`), false, `'it''s \\ ok'`},
		{db.MySQL, "a\nb\r\x00c'", false, `'a\nb\r\0c\''`},
		{db.Postgres, "a\nb\\'", false, `E'a\nb\\'''`},
		{db.SQLite, "a\nb", false, "CAST(X'610a62' AS TEXT)"},
		{db.SQLite, "plain", false, "'plain'"},
		{db.MySQL, []byte{0, 0xff}, true, "X'00ff'"},
		{db.Postgres, []byte{0, 0xff}, true, `'\x00ff'::bytea`},
		{db.SQLite, []byte{}, true, "X''"},
	} {
		if got := literal(tc.d, tc.v, tc.binary); got != tc.want {
			t.Errorf("%s %#v: %s, want %s", tc.d, tc.v, got, tc.want)
		}
	}
}

func TestScanBackup(t *testing.T) {
	good := backupMagic + "\n-- engine: mysql\n-- table a version 2 rows 2\n" +
		"INSERT INTO `a` (`x`) VALUES (1);\nINSERT INTO `a` (`x`) VALUES ('it''s; -- no');\n" +
		"-- table b version 1 rows 0\n-- end tables 2 rows 2\n"
	dir := t.TempDir()
	write := func(s string) string {
		f := filepath.Join(dir, "b.sql")
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	var stmts []string
	info, err := scanBackup(write(good), func(tb *backupTable, stmt string) error {
		stmts = append(stmts, tb.name+":"+stmt)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.engine != "mysql" || len(info.tables) != 2 || info.rows != 2 || info.tables[0].version != 2 || len(stmts) != 4 ||
		stmts[2] != "a:INSERT INTO `a` (`x`) VALUES ('it''s; -- no')" {
		t.Errorf("scan: %+v %q", info, stmts)
	}
	for _, tc := range []struct{ from, to, want string }{
		{backupMagic, "-- mysqldump", ":1: not a backup of this tool"},
		{"-- end tables 2 rows 2\n", "", "no end line: the file is incomplete"},
		{"rows 2\nINSERT", "rows 3\nINSERT", ":6: table a has 2 rows, its line says 3"},
		{"tables 2 rows 2", "tables 3 rows 2", ":7: the end line"},
		{"-- table b version 1", "-- table a version 1", ":6: table a twice"},
		{"-- table b version 1 rows 0", "-- table b version x", ":6: bad table line"},
		{"INSERT INTO `a` (`x`) VALUES (1);", "INSERT INTO `b` (`x`) VALUES (1);", ":4: an INSERT that is not into the table of its section"},
		{"INSERT INTO `a` (`x`) VALUES (1);", "DROP TABLE `a`;", ":4: not a line of a backup"},
		{"-- engine: mysql\n", "", ":2: no known engine line before the first table"},
		{"rows 2\n", "rows 2\nextra\n", ":8: text after the end line"},
	} {
		s := strings.Replace(good, tc.from, tc.to, 1)
		if tc.from == "rows 2\n" {
			s = good + "extra\n"
		}
		if _, err := scanBackup(write(s), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q → %q: %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
}

// In-process: create, a refused question, migrate with nothing to do.
func TestSQLiteInProcess(t *testing.T) {
	share(t, "version", "location", "subscriber")
	file := filepath.Join(t.TempDir(), "k.db")
	t.Setenv("DBENGINE", "sqlite")
	t.Setenv("DB_PATH", file)
	if code, out, errs := run(t, "", "create"); code != 0 || !strings.Contains(out, "created 2 tables") {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	if code, _, errs := run(t, "no\n", "reinit"); code != 1 || !strings.Contains(errs, "reinit: not confirmed") {
		t.Errorf("reinit, not confirmed: %d %s", code, errs)
	}
	if code, out, _ := run(t, "", "migrate", "--dry-run"); code != 0 || !strings.Contains(out, "-- table location: version 1004, up to date") {
		t.Errorf("dry run: %d %s", code, out)
	}
	if code, out, _ := run(t, "", "version"); code != 0 || !strings.Contains(out, "subscriber  auth_db  6      6         ok") {
		t.Errorf("version: %d\n%s", code, out)
	}
}
