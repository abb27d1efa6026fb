package db_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestScripts(t *testing.T) {
	tables := []*schema.Table{dbtest.Location(), dbtest.Subscriber(), dbtest.Commented()}
	for _, d := range db.Dialects {
		create, err := db.CreateScript(d, tables)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, d.Name()+"-create.sql", create)
		drop, err := db.DropScript(d, tables)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, d.Name()+"-drop.sql", drop)
		golden(t, d.Name()+"-standard.sql", db.StandardScript(d))
		steps, err := db.PlanSteps(d, dbtest.WidgetV4(), 1)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, s := range steps {
			b.WriteString("-- " + s.Note + "\n")
			for _, q := range s.SQL {
				b.WriteString(q + ";\n")
			}
		}
		golden(t, d.Name()+"-migrate-widget.sql", b.String())
	}
}

func TestScriptRefusesInvalidTables(t *testing.T) {
	bad := dbtest.Location()
	bad.Columns[1].Name = "User Name"
	if _, err := db.CreateScript(db.MySQL, []*schema.Table{bad}); err == nil || !strings.Contains(err.Error(), `column name "User Name"`) {
		t.Errorf("CreateScript of an invalid table: %v", err)
	}
}

func TestQuoteAndLiteral(t *testing.T) {
	for _, tc := range []struct {
		d                   *db.Dialect
		quote, lit, ph2, up string
	}{
		{db.MySQL, "`we``ird`", `'it''s \\ x'`, "?",
			"INSERT INTO `subscriber` (`username`, `domain`, `password`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `password` = VALUES(`password`)"},
		{db.Postgres, `"we""ird"`, `'it''s \ x'`, "$2",
			`INSERT INTO "subscriber" ("username", "domain", "password") VALUES ($1, $2, $3) ON CONFLICT ("username", "domain") DO UPDATE SET "password" = excluded."password"`},
		{db.SQLite, `"we""ird"`, `'it''s \ x'`, "?",
			`INSERT INTO "subscriber" ("username", "domain", "password") VALUES (?, ?, ?) ON CONFLICT ("username", "domain") DO UPDATE SET "password" = excluded."password"`},
	} {
		if got := tc.d.Quote("we`ird"); tc.d == db.MySQL && got != tc.quote {
			t.Errorf("%s: Quote = %s", tc.d, got)
		}
		if got := tc.d.Quote(`we"ird`); tc.d != db.MySQL && got != tc.quote {
			t.Errorf("%s: Quote = %s", tc.d, got)
		}
		if got := tc.d.Literal(`it's \ x`); got != tc.lit {
			t.Errorf("%s: Literal = %s, want %s", tc.d, got, tc.lit)
		}
		if got := tc.d.Placeholder(2); got != tc.ph2 {
			t.Errorf("%s: Placeholder(2) = %s", tc.d, got)
		}
		if got := tc.d.Upsert("subscriber", []string{"username", "domain"}, []string{"username", "domain", "password"}); got != tc.up {
			t.Errorf("%s: Upsert =\n%s\nwant\n%s", tc.d, got, tc.up)
		}
	}
	if got := db.Postgres.Upsert("t", []string{"k"}, []string{"k"}); !strings.HasSuffix(got, `ON CONFLICT ("k") DO NOTHING`) {
		t.Errorf("upsert of the key alone: %s", got)
	}
}

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT a FROM t WHERE b = ? AND c = ?":   "SELECT a FROM t WHERE b = $1 AND c = $2",
		"SELECT '?', \"?\" FROM t WHERE x = ?":    "SELECT '?', \"?\" FROM t WHERE x = $1",
		"SELECT 'it''s ?' WHERE x = ?":            "SELECT 'it''s ?' WHERE x = $1",
		"SELECT 1 -- what?\nWHERE x = ?":          "SELECT 1 -- what?\nWHERE x = $1",
		"SELECT /* a ? b */ x FROM t WHERE y = ?": "SELECT /* a ? b */ x FROM t WHERE y = $1",
		"SELECT $1":                  "SELECT $1",
		"SELECT 'unterminated ?":     "SELECT 'unterminated ?",
		"SELECT 1 /* unterminated ?": "SELECT 1 /* unterminated ?",
		"SELECT 1 -- end?":           "SELECT 1 -- end?",
		"UPDATE t SET a = ?, b = ? WHERE c = ? AND d =?": "UPDATE t SET a = $1, b = $2 WHERE c = $3 AND d =$4",
	} {
		if got := db.Postgres.Rebind(in); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", in, got, want)
		}
		if got := db.MySQL.Rebind(in); got != in {
			t.Errorf("MySQL rebound %q", in)
		}
	}
}

func FuzzRebind(f *testing.F) {
	f.Add("SELECT '?' WHERE x = ? -- ?\n/* ? */")
	f.Fuzz(func(t *testing.T, q string) {
		out := db.Postgres.Rebind(q)
		if strings.Count(out, "?") > strings.Count(q, "?") {
			t.Errorf("Rebind added question marks: %q → %q", q, out)
		}
	})
}

func TestDialectByName(t *testing.T) {
	for _, d := range db.Dialects {
		if db.DialectByName(d.Name()) != d {
			t.Errorf("DialectByName(%s)", d.Name())
		}
	}
	if db.DialectByName("oracle") != nil {
		t.Error("DialectByName(oracle) is not nil")
	}
	if db.MySQL.TransactionalDDL() || !db.Postgres.TransactionalDDL() || !db.SQLite.TransactionalDDL() {
		t.Error("TransactionalDDL")
	}
}
