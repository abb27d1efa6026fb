package dbtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// Rows is a table's content, each value rendered as text (NULL as
// "NULL"), keyed by id.
type Rows map[int64]map[string]string

// ReadRows reads the given columns (id first) of every row of a table.
func ReadRows(t testing.TB, ctx context.Context, d *db.DB, table string, cols []string) Rows {
	t.Helper()
	dl := d.Dialect()
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = dl.Quote(c)
	}
	rows, err := d.Query(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+dl.Quote(table)+" ORDER BY "+dl.Quote(cols[0]))
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	out := Rows{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		row := map[string]string{}
		var id int64
		for i, v := range vals {
			row[cols[i]] = render(v)
			if i == 0 {
				fmt.Sscan(row[cols[i]], &id)
			}
		}
		out[id] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q", x)
	case string:
		return fmt.Sprintf("%q", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float32:
		return fmt.Sprintf("%g", x)
	case float64:
		return fmt.Sprintf("%g", x)
	}
	return fmt.Sprint(v)
}

const widgetRows = 1000

// fillWidgets inserts the test rows: every type, NULLs, quotes, non-ASCII
// text, negative and large numbers, binary data with zero bytes.
func fillWidgets(t *testing.T, ctx context.Context, d *db.DB) {
	t.Helper()
	base := time.Date(2010, 1, 11, 12, 0, 0, 0, time.UTC)
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		for i := 0; i < widgetRows; i++ {
			var big, score, note, data any
			if i%3 != 0 {
				big = int64(i)<<33 - 7
			}
			if i%5 != 0 {
				score = float64(i)/8 - 40
			}
			if i%4 != 0 {
				note = fmt.Sprintf("note %d: it's \"quoted\", ünïcødé, back\\slash %s", i, strings.Repeat("x", i%50))
			}
			if i%6 != 0 {
				data = []byte{byte(i), 0, 255, byte(i >> 8), '\''}
			}
			_, err := tx.Exec(ctx, "INSERT INTO widget (name, n, big, created, score, note, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
				fmt.Sprintf("w-%04d '%c", i, 'A'+i%26), i*7-3000, big, base.Add(time.Duration(i)*time.Minute), score, note, data)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill widget: %v", err)
	}
}

var v1Cols = []string{"id", "name", "n", "big", "created", "score", "note", "data"}

func testMigrate(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t))
	ctx := bg(t)
	if err := db.CreateTables(ctx, d, []*schema.Table{WidgetV1()}); err != nil {
		t.Fatal(err)
	}
	fillWidgets(t, ctx, d)
	before := ReadRows(t, ctx, d, "widget", v1Cols)
	if len(before) != widgetRows {
		t.Fatalf("%d rows inserted, want %d", len(before), widgetRows)
	}

	v3 := WidgetV3()
	// A dry run reports the SQL and changes nothing.
	rep, err := db.Migrate(ctx, d, []*schema.Table{v3}, db.MigrateOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if len(rep.Tables) != 1 || rep.Tables[0].Action != db.ActionMigrate || len(rep.Tables[0].Steps) != 2 {
		t.Fatalf("dry run plan: %+v", rep.Tables)
	}
	sqlText := rep.SQL()
	for _, want := range []string{"ADD COLUMN", "kind", "'basic'", "CREATE INDEX", "name_idx", "migration 1 → 2", "migration 2 → 3"} {
		if !strings.Contains(sqlText, want) {
			t.Errorf("dry-run SQL lacks %q:\n%s", want, sqlText)
		}
	}
	if v, _ := db.TableVersion(ctx, d, "widget"); v != 1 {
		t.Errorf("the dry run changed the version to %d", v)
	}
	if cols, _ := db.Columns(ctx, d, "widget"); len(cols) != len(v1Cols) {
		t.Errorf("the dry run changed the columns: %v", cols)
	}

	// v1 → v3.
	rep, err = db.Migrate(ctx, d, []*schema.Table{v3}, db.MigrateOptions{})
	if err != nil {
		t.Fatalf("migrate to v3: %v", err)
	}
	if !rep.Changed() {
		t.Error("migrating from v1 reports no change")
	}
	if v, _ := db.TableVersion(ctx, d, "widget"); v != 3 {
		t.Errorf("version after migration: %d, want 3", v)
	}
	if ok, err := db.IndexExists(ctx, d, "widget", "name_idx"); !ok || err != nil {
		t.Errorf("index name_idx after migration: %v, %v", ok, err)
	}
	after := ReadRows(t, ctx, d, "widget", append(append([]string(nil), v1Cols...), "kind"))
	compareRows(t, before, after, v1Cols, map[string]string{"kind": `"basic"`})

	// Twice: nothing to do, nothing changed.
	rep, err = db.Migrate(ctx, d, []*schema.Table{v3}, db.MigrateOptions{})
	if err != nil || rep.Changed() {
		t.Fatalf("second migration: changed=%v, %v", rep != nil && rep.Changed(), err)
	}
	again := ReadRows(t, ctx, d, "widget", append(append([]string(nil), v1Cols...), "kind"))
	compareRows(t, after, again, append(append([]string(nil), v1Cols...), "kind"), nil)

	// v3 → v4: a wider column, a column moved by copy-then-drop, a
	// unique key. Every value of note is now in memo.
	v4 := WidgetV4()
	if _, err := db.Migrate(ctx, d, []*schema.Table{v4}, db.MigrateOptions{}); err != nil {
		t.Fatalf("migrate to v4: %v", err)
	}
	cols, _ := db.Columns(ctx, d, "widget")
	if strings.Contains(","+strings.Join(cols, ",")+",", ",note,") {
		t.Errorf("column note still there after v4: %v", cols)
	}
	v4Cols := []string{"id", "name", "n", "big", "created", "score", "memo", "data", "kind"}
	moved := ReadRows(t, ctx, d, "widget", v4Cols)
	for _, row := range moved {
		row["note"] = row["memo"]
	}
	compareRows(t, before, moved, v1Cols, map[string]string{"kind": `"basic"`})
	if ok, _ := db.IndexExists(ctx, d, "widget", "name_n_idx"); !ok {
		t.Error("unique key name_n_idx missing after v4")
	}
	if _, err := d.Exec(ctx, "INSERT INTO widget (name, n) VALUES (?, ?)", "w-0001 'B", 1*7-3000); err == nil {
		t.Error("the unique key of v4 accepted a duplicate")
	}
	long := strings.Repeat("n", 128)
	if _, err := d.Exec(ctx, "INSERT INTO widget (name, n) VALUES (?, ?)", long, 1); err != nil {
		t.Errorf("a 128-character name after widening: %v", err)
	}
	if rep, err := db.Migrate(ctx, d, []*schema.Table{v4}, db.MigrateOptions{}); err != nil || rep.Changed() {
		t.Errorf("migrating v4 again: %v", err)
	}

	// The database is newer than the code: refused, nothing touched.
	_, err = db.Migrate(ctx, d, []*schema.Table{v3}, db.MigrateOptions{})
	if !errors.Is(err, db.ErrNewerVersion) || !strings.Contains(err.Error(), "widget has version 4") {
		t.Errorf("migrating back to v3: %v", err)
	}

	// A missing table is created, with its version row.
	rep, err = db.Migrate(ctx, d, []*schema.Table{Subscriber()}, db.MigrateOptions{})
	if err != nil || len(rep.Tables) != 1 || rep.Tables[0].Action != db.ActionCreate {
		t.Fatalf("migrate a missing table: %+v, %v", rep, err)
	}
	if err := db.CheckVersion(ctx, d, "subscriber", 6, ""); err != nil {
		t.Error(err)
	}
}

// compareRows checks that every row of before is in after with the same
// values in cols, and that the added columns hold their defaults.
func compareRows(t *testing.T, before, after Rows, cols []string, added map[string]string) {
	t.Helper()
	if len(after) != len(before) {
		t.Errorf("%d rows before, %d after", len(before), len(after))
	}
	bad := 0
	for id, b := range before {
		a, ok := after[id]
		if !ok {
			t.Errorf("row %d lost", id)
			bad++
			continue
		}
		for _, c := range cols {
			if a[c] != b[c] && !floatEqual(a[c], b[c]) {
				t.Errorf("row %d column %s: %s before, %s after", id, c, b[c], a[c])
				bad++
			}
		}
		for c, want := range added {
			if a[c] != want {
				t.Errorf("row %d added column %s: %s, want %s", id, c, a[c], want)
				bad++
			}
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
}

// floatEqual accepts the same float printed from float32 and float64.
func floatEqual(a, b string) bool {
	var x, y float64
	if _, err := fmt.Sscan(a, &x); err != nil {
		return false
	}
	if _, err := fmt.Sscan(b, &y); err != nil {
		return false
	}
	return math.Abs(x-y) <= 1e-6*math.Max(1, math.Abs(x))
}
