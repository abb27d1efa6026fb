package dbtest

import (
	"fmt"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// The shape-fix tables: a group membership table whose version 2 came in
// two shapes, as OpenSER's grp did (1.0 without id, with a primary key on
// the three columns; 1.2 with an id, the version unchanged).

var (
	memberGrp32 = schema.Column{Name: "grp", Type: schema.String, Size: 32, Default: "''"}
	memberGrp64 = schema.Column{Name: "grp", Type: schema.String, Size: 64, Default: "''"}
	memberNote  = schema.Column{Name: "note", Type: schema.String, Size: 64, Null: true}
)

// MemberOld is the member table at version 2 without id: a primary key on
// (username, domain, grp), grp VARCHAR(32).
func MemberOld() *schema.Table {
	return &schema.Table{
		Name:    "member",
		Version: 2,
		Columns: []schema.Column{
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
			memberGrp32,
			memberNote,
		},
		Primary: []string{"username", "domain", "grp"},
	}
}

// MemberWithID is the member table at version 2 in its other old shape:
// an id, and the unique key under another name (old_key).
func MemberWithID() *schema.Table {
	t := MemberOld()
	t.Primary = nil
	t.Columns = append([]schema.Column{{Name: "id", Type: schema.Int, Auto: true}}, t.Columns...)
	t.Keys = []schema.Index{{Name: "old_key", Columns: []string{"username", "domain", "grp"}}}
	return t
}

// Member is the member table as declared (version 2), with the shape fix
// that brings either old shape to it.
func Member() *schema.Table {
	t := &schema.Table{
		Name:    "member",
		Version: 2,
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
			memberGrp64,
			memberNote,
		},
		Keys: []schema.Index{{Name: "account_idx", Columns: []string{"username", "domain", "grp"}}},
	}
	t.Fixes = []schema.Fix{{
		Version: 2,
		Note:    "id primary key and the unique key account_idx, without a version change",
		Done:    []schema.Cond{schema.HasColumn("id"), schema.HasIndex("account_idx"), schema.LacksIndex("old_key")},
		Steps: []schema.Step{
			schema.DropIndex("old_key", true),
			schema.ChangeType(memberGrp32, memberGrp64),
			schema.AddID(*t.Col("id")),
			schema.CreateUniqueIndex(t.Keys[0]),
		},
	}}
	return t
}

// MemberV1 is the member table at version 1, without note: MemberV1Fixed
// declares version 2 with a migration from 1 (note) and a shape fix at
// version 1 (some version-1 tables lack grp).
func MemberV1(withGrp bool) *schema.Table {
	t := MemberOld()
	t.Version = 1
	t.Columns = t.Columns[:3]
	if !withGrp {
		t.Columns = t.Columns[:2]
		t.Primary = []string{"username", "domain"}
	}
	return t
}

// MemberFromV1 is Member with its history from version 1: a fix at version
// 1 adds grp where it is missing, the migration to 2 adds note, an id and
// the unique key.
func MemberFromV1() *schema.Table {
	t := Member()
	t.Fixes = []schema.Fix{{
		Version: 1,
		Note:    "grp came without a version change",
		Done:    []schema.Cond{schema.HasColumn("grp")},
		Steps:   []schema.Step{schema.AddColumn(memberGrp32)},
	}}
	t.Migrations = []schema.Migration{{From: 1, Note: "note, id, account_idx", Steps: []schema.Step{
		schema.AddColumn(memberNote),
		schema.ChangeType(memberGrp32, memberGrp64),
		schema.AddID(*t.Col("id")),
		schema.CreateUniqueIndex(t.Keys[0]),
	}}}
	return t
}

const memberRows = 500

// fillMembers inserts rows into the member table in its old shape (with
// or without note).
func fillMembers(t *testing.T, d *db.DB, withNote bool) {
	t.Helper()
	ctx := bg(t)
	cols := "username, domain, grp"
	ph := "?, ?, ?"
	if withNote {
		cols, ph = cols+", note", ph+", ?"
	}
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		for i := 0; i < memberRows; i++ {
			args := []any{fmt.Sprintf("u%03d '%c", i, 'a'+i%26), fmt.Sprintf("d%d.example.org", i%7), strings.Repeat("g", 1+i%32)}
			if withNote {
				var note any
				if i%5 != 0 {
					note = fmt.Sprintf("note %d: ünïcødé \"q\" \\", i)
				}
				args = append(args, note)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO member ("+cols+") VALUES ("+ph+")", args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill member: %v", err)
	}
}

// memberRowsByKey reads the given columns (username first) of the member
// rows, keyed by username.
func memberRowsByKey(t *testing.T, d *db.DB, cols []string) map[string]map[string]string {
	t.Helper()
	ctx := bg(t)
	dl := d.Dialect()
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = dl.Quote(c)
	}
	rows, err := d.Query(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM member")
	if err != nil {
		t.Fatalf("read member: %v", err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read member: %v", err)
		}
		r := map[string]string{}
		for i, v := range vals {
			r[cols[i]] = render(v)
		}
		out[r[cols[0]]] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read member: %v", err)
	}
	return out
}

// checkMembers compares the rows after a fix or migration with those
// before, and checks the ids.
func checkMembers(t *testing.T, d *db.DB, before map[string]map[string]string, cols []string) {
	t.Helper()
	read := []string{"username", "id"}
	for _, c := range cols {
		if c != "username" && c != "id" {
			read = append(read, c)
		}
	}
	after := memberRowsByKey(t, d, read)
	if len(after) != len(before) {
		t.Errorf("%d rows after, %d before", len(after), len(before))
	}
	ids := map[string]bool{}
	bad := 0
	for k, b := range before {
		a, ok := after[k]
		if !ok {
			t.Errorf("row %s lost", k)
			bad++
			continue
		}
		for _, c := range cols {
			if a[c] != b[c] {
				t.Errorf("row %s column %s: %s before, %s after", k, c, b[c], a[c])
				bad++
			}
		}
		if a["id"] == "NULL" || ids[a["id"]] {
			t.Errorf("row %s: id %s is NULL or not unique", k, a["id"])
			bad++
		}
		ids[a["id"]] = true
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
}

// testShapeFix: a table at its declared version but in an older shape
// gets the fix (every row kept, the version unchanged); the declared
// shape and the fixed one are left alone; a fix at the version found runs
// before the migrations from there.
func testShapeFix(t *testing.T, b Backend) {
	cols := []string{"username", "domain", "grp", "note"}
	t.Run("WithoutID", func(t *testing.T) {
		d := Open(t, b.NewDatabase(t))
		ctx := bg(t)
		if err := db.CreateTables(ctx, d, []*schema.Table{MemberOld()}); err != nil {
			t.Fatal(err)
		}
		fillMembers(t, d, true)
		before := memberRowsByKey(t, d, cols)
		tables := []*schema.Table{Member()}

		rep, err := db.Migrate(ctx, d, tables, db.MigrateOptions{DryRun: true})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if p := rep.Tables[0]; p.Action != db.ActionFix || len(p.Steps) != 1 || !p.Steps[0].Fix || p.From != 2 || p.To != 2 {
			t.Fatalf("dry run plan: %+v", p)
		}
		text := rep.SQL()
		for _, want := range []string{"-- table member: version 2 in another shape",
			"-- shape fix at version 2 (the table lacks column id, index account_idx): id primary key", "account_idx"} {
			if !strings.Contains(text, want) {
				t.Errorf("dry-run SQL lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "INSERT INTO") && strings.Contains(text, "\"version\"") {
			t.Errorf("a shape fix changes the version row:\n%s", text)
		}
		if c, _ := db.Columns(ctx, d, "member"); len(c) != 4 {
			t.Fatalf("the dry run changed the table: %v", c)
		}
		if fx, err := db.PendingFixes(ctx, d, tables[0], 2); err != nil || len(fx) != 1 {
			t.Errorf("pending fixes: %v, %v", fx, err)
		}

		rep, err = db.Migrate(ctx, d, tables, db.MigrateOptions{})
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, rep.SQL())
		}
		if !rep.Changed() || rep.Tables[0].Action != db.ActionFix {
			t.Errorf("report: %+v", rep.Tables)
		}
		checkMembers(t, d, before, cols)
		if v, _ := db.TableVersion(ctx, d, "member"); v != 2 {
			t.Errorf("version %d after the fix", v)
		}
		if ok, _ := db.IndexExists(ctx, d, "member", "account_idx"); !ok {
			t.Error("no account_idx after the fix")
		}
		if _, err := d.Exec(ctx, "INSERT INTO member (username, domain, grp) VALUES (?, ?, ?)", "u001 'b", "d1.example.org", "gg"); err == nil {
			t.Error("the unique key accepted a duplicate")
		}
		if _, err := d.Exec(ctx, "INSERT INTO member (username, domain, grp) VALUES (?, ?, ?)", "new", "x", strings.Repeat("g", 64)); err != nil {
			t.Errorf("a new row with a 64-character grp: %v", err)
		}
		var id int64
		if err := d.QueryRow(ctx, "SELECT id FROM member WHERE username = ?", "new").Scan(&id); err != nil || id <= memberRows-1 {
			t.Errorf("the id of a new row: %d, %v", id, err)
		}
		// Twice: nothing to do.
		rep, err = db.Migrate(ctx, d, tables, db.MigrateOptions{})
		if err != nil || rep.Changed() {
			t.Errorf("second migrate: changed %v, %v\n%s", rep != nil && rep.Changed(), err, rep.SQL())
		}
		if fx, err := db.PendingFixes(ctx, d, tables[0], 2); err != nil || len(fx) != 0 {
			t.Errorf("pending fixes after the fix: %v, %v", fx, err)
		}
	})

	t.Run("OtherShape", func(t *testing.T) {
		d := Open(t, b.NewDatabase(t))
		ctx := bg(t)
		if err := db.CreateTables(ctx, d, []*schema.Table{MemberWithID()}); err != nil {
			t.Fatal(err)
		}
		fillMembers(t, d, true)
		withID := append(append([]string(nil), cols...), "id")
		before := memberRowsByKey(t, d, withID)
		rep, err := db.Migrate(ctx, d, []*schema.Table{Member()}, db.MigrateOptions{})
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, rep.SQL())
		}
		if l := rep.Tables[0].Steps[0].Lacking; strings.Join(l, ",") != "index account_idx,no index old_key" {
			t.Errorf("lacking: %q", l)
		}
		// The ids were there: they are kept.
		checkMembers(t, d, before, withID)
		if ok, _ := db.IndexExists(ctx, d, "member", "old_key"); ok {
			t.Error("old_key is still there")
		}
	})

	t.Run("DeclaredShape", func(t *testing.T) {
		d := Open(t, b.NewDatabase(t))
		ctx := bg(t)
		if err := db.CreateTables(ctx, d, []*schema.Table{Member()}); err != nil {
			t.Fatal(err)
		}
		rep, err := db.Migrate(ctx, d, []*schema.Table{Member()}, db.MigrateOptions{})
		if err != nil || rep.Changed() {
			t.Errorf("migrate of the declared shape: changed %v, %v", rep != nil && rep.Changed(), err)
		}
	})

	t.Run("BeforeMigration", func(t *testing.T) {
		d := Open(t, b.NewDatabase(t))
		ctx := bg(t)
		if err := db.CreateTables(ctx, d, []*schema.Table{MemberV1(false)}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			if _, err := d.Exec(ctx, "INSERT INTO member (username, domain) VALUES (?, ?)", fmt.Sprint("u", i), "d"); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := db.Migrate(ctx, d, []*schema.Table{MemberFromV1()}, db.MigrateOptions{})
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, rep.SQL())
		}
		if s := rep.Tables[0].Steps; rep.Tables[0].Action != db.ActionMigrate || len(s) != 2 || !s[0].Fix || s[1].Fix || s[1].To != 2 {
			t.Errorf("plan: %+v", rep.Tables[0])
		}
		var n int
		if err := d.QueryRow(ctx, "SELECT COUNT(DISTINCT id) FROM member WHERE grp = '' AND note IS NULL").Scan(&n); err != nil || n != 50 {
			t.Errorf("rows after fix and migration: %d, %v", n, err)
		}
		if v, _ := db.TableVersion(ctx, d, "member"); v != 2 {
			t.Errorf("version %d", v)
		}
		// A version-1 table that had grp: no fix, the migration only.
		d2 := Open(t, b.NewDatabase(t))
		if err := db.CreateTables(ctx, d2, []*schema.Table{MemberV1(true)}); err != nil {
			t.Fatal(err)
		}
		rep, err = db.Migrate(ctx, d2, []*schema.Table{MemberFromV1()}, db.MigrateOptions{})
		if err != nil || len(rep.Tables[0].Steps) != 1 || rep.Tables[0].Steps[0].Fix {
			t.Errorf("migrate with grp: %+v, %v", rep, err)
		}
	})

	t.Run("FixThatFails", func(t *testing.T) {
		d := Open(t, b.NewDatabase(t))
		ctx := bg(t)
		if err := db.CreateTables(ctx, d, []*schema.Table{MemberOld()}); err != nil {
			t.Fatal(err)
		}
		bad := Member()
		bad.Fixes[0].Done = append(bad.Fixes[0].Done, schema.HasIndex("never_idx"))
		_, err := db.Migrate(ctx, d, []*schema.Table{bad}, db.MigrateOptions{})
		if err == nil || !strings.Contains(err.Error(), "shape fix at version 2: the table still lacks index never_idx") {
			t.Errorf("a fix that does not give its shape: %v", err)
		}
	})
}

// Cut is the table of the done-condition test: version 2 adds a column
// with SQL of its own (which, without its done-condition, fails when run
// twice), then a unique key.
func Cut(withDone bool) *schema.Table {
	t := &schema.Table{
		Name:    "cut",
		Version: 2,
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "n", Type: schema.Int, Default: "0"},
			{Name: "extra", Type: schema.Int, Default: "7"},
		},
		Keys: []schema.Index{{Name: "n_idx", Columns: []string{"n"}}},
	}
	add := "ALTER TABLE cut ADD COLUMN extra INTEGER DEFAULT 7 NOT NULL"
	step := schema.SQL(map[string][]string{"mysql": {add}, "postgres": {add}, "sqlite": {add}})
	if withDone {
		step = step.DoneWhen(schema.HasColumn("extra"))
	}
	t.Migrations = []schema.Migration{{From: 1, Note: "extra, unique n", Steps: []schema.Step{
		step, schema.CreateUniqueIndex(t.Keys[0]),
	}}}
	return t
}

// testDoneCondition: a migration that fails after a step of custom SQL
// (committed on MySQL, where DDL is not transactional) runs to completion
// the next time, because the step's done-condition skips it.
func testDoneCondition(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t))
	ctx := bg(t)
	old := &schema.Table{Name: "cut", Version: 1, Columns: Cut(true).Columns[:2]}
	if err := db.CreateTables(ctx, d, []*schema.Table{old}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := d.Exec(ctx, "INSERT INTO cut (n) VALUES (?)", i%99); err != nil { // 0 twice
			t.Fatal(err)
		}
	}
	_, err := db.Migrate(ctx, d, []*schema.Table{Cut(true)}, db.MigrateOptions{})
	if err == nil {
		t.Fatal("the unique key was made over duplicates")
	}
	cols, _ := db.Columns(ctx, d, "cut")
	hasExtra := strings.Contains(strings.Join(cols, ","), "extra")
	if hasExtra == d.Dialect().TransactionalDDL() {
		t.Fatalf("after the cut, columns %v (transactional DDL: %v)", cols, d.Dialect().TransactionalDDL())
	}
	if v, _ := db.TableVersion(ctx, d, "cut"); v != 1 {
		t.Fatalf("version %d after the cut", v)
	}
	if _, err := d.Exec(ctx, "DELETE FROM cut WHERE id = (SELECT MAX(id) FROM (SELECT id FROM cut WHERE n = 0) AS z)"); err != nil {
		t.Fatal(err)
	}
	if hasExtra {
		// Without its done-condition the step runs again and fails.
		if _, err := db.Migrate(ctx, d, []*schema.Table{Cut(false)}, db.MigrateOptions{}); err == nil {
			t.Error("the custom SQL ran twice without error: the test shows nothing")
		}
	}
	rep, err := db.Migrate(ctx, d, []*schema.Table{Cut(true)}, db.MigrateOptions{})
	if err != nil {
		t.Fatalf("migrate after the cut: %v\n%s", err, rep.SQL())
	}
	var n, sum int
	if err := d.QueryRow(ctx, "SELECT COUNT(*), SUM(extra) FROM cut").Scan(&n, &sum); err != nil || n != 99 || sum != 7*99 {
		t.Errorf("rows after the migration: %d (extra sum %d), %v", n, sum, err)
	}
	if v, _ := db.TableVersion(ctx, d, "cut"); v != 2 {
		t.Errorf("version %d", v)
	}
	if rep, err := db.Migrate(ctx, d, []*schema.Table{Cut(true)}, db.MigrateOptions{}); err != nil || rep.Changed() {
		t.Errorf("second migrate: %v", err)
	}
}
