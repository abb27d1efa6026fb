// Package legacytest helps test migrations of old tables: it creates a
// table in an old version, fills it with varied rows, and checks, after a
// migration, that every row is still there with the same values, that
// new columns hold their defaults, and that the table has the columns of
// the new version.
package legacytest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// Legacy is a table in an old version and the version it migrates to.
type Legacy struct {
	Old, New *schema.Table
	// Key are the columns (old names) whose values identify a row, unique
	// in the rows Fill makes.
	Key []string
	// Renamed maps old column names to new ones.
	Renamed map[string]string
	// Gen makes the value of some old columns for row i (instead of the
	// generic values).
	Gen map[string]func(i int, d *db.Dialect) any
	// Convert gives, for some old columns, the new value (rendered, see
	// Render) from the old one.
	Convert map[string]func(old string) string
	// Backup is the table in which the migration keeps the old rows
	// (schema.BackupName), if any: CheckBackup compares it with the rows
	// read before, every old column included.
	Backup string
}

func (l *Legacy) newName(old string) string {
	if n, ok := l.Renamed[old]; ok {
		return n
	}
	return old
}

// maxLen is the length of the longest value a string column takes: what
// fits both the old and the new definition.
func (l *Legacy) maxLen(c schema.Column) int {
	n := c.Size
	if nc := l.New.Col(l.newName(c.Name)); nc != nil && nc.Type == schema.String && nc.Size < n {
		n = nc.Size
	}
	if c.Type == schema.Text {
		n = 5000
	}
	return n
}

// Rows are rows as Render shows their values, by column name.
type Rows []map[string]string

// fillBatch is the number of rows Fill inserts with one statement.
const fillBatch = 50

// Fill inserts n rows into the old table: NULLs where allowed, strings of
// the greatest length both versions accept, non-ASCII text, quotes and
// backslashes, line breaks in long text, large and negative numbers,
// binary data with zero bytes. Key columns get unique values.
func Fill(t testing.TB, ctx context.Context, d *db.DB, l *Legacy, n int) {
	t.Helper()
	dl := d.Dialect()
	var cols []schema.Column
	for _, c := range l.Old.Columns {
		if !c.Auto {
			cols = append(cols, c)
		}
	}
	q := make([]string, len(cols))
	ph := make([]string, len(cols))
	for i, c := range cols {
		q[i], ph[i] = dl.Quote(c.Name), "?"
	}
	// Rows go in batches of fillBatch per statement, in their order.
	ins := "INSERT INTO " + dl.Quote(l.Old.Name) + " (" + strings.Join(q, ", ") + ") VALUES "
	tuple := "(" + strings.Join(ph, ", ") + ")"
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		for first := 0; first < n; first += fillBatch {
			last := min(first+fillBatch, n)
			var args []any
			tuples := make([]string, 0, last-first)
			for i := first; i < last; i++ {
				for _, c := range cols {
					if g, ok := l.Gen[c.Name]; ok {
						args = append(args, g(i, dl))
						continue
					}
					args = append(args, value(l, c, i, slices.Contains(l.Key, c.Name), dl))
				}
				tuples = append(tuples, tuple)
			}
			if _, err := tx.Exec(ctx, ins+strings.Join(tuples, ", "), args...); err != nil {
				return fmt.Errorf("rows %d to %d: %w", first, last-1, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill %s: %v", l.Old.Name, err)
	}
}

// value is the generic value of column c in row i.
func value(l *Legacy, c schema.Column, i int, key bool, d *db.Dialect) any {
	if c.Null && !key && i%7 == 3 {
		return nil
	}
	switch c.Type {
	case schema.String, schema.Text:
		max := l.maxLen(c)
		var s string
		switch {
		case key:
			s = fmt.Sprintf("k%d-", i)
			if i%3 == 0 {
				s += strings.Repeat("x", max)
			}
		case i%6 == 0:
			s = strings.Repeat("m", max)
		case i%6 == 1:
			s = strings.Repeat("äöü€日本𝄞", max)
		case i%6 == 2:
			s = ""
		case i%6 == 3:
			s = `it's a "quoted" \ back\slash; -- not a comment`
		case i%6 == 4 && c.Type == schema.Text:
			s = strings.Repeat("line one\r\nline two\n\ttab ", 400)
		default:
			s = fmt.Sprintf("value %d of %s", i, c.Name)
		}
		return truncate(s, max)
	case schema.Int, schema.BigInt:
		maxInt := int64(math.MaxInt32)
		if c.Type == schema.BigInt {
			maxInt = math.MaxInt64
		} else if c.Unsigned && d == db.MySQL {
			maxInt = math.MaxUint32
		}
		if key {
			return int64(i)
		}
		switch i % 4 {
		case 0:
			return int64(0)
		case 1:
			if c.Unsigned {
				return int64(i)
			}
			return int64(-i)
		case 2:
			return maxInt
		}
		return int64(i * 37)
	case schema.Float:
		return []float64{0.5, 1, 0.125, -2.5}[i%4]
	case schema.DateTime:
		if i%9 == 0 {
			return time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return time.Date(2030, 5, 28, 21, 32, 15, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	case schema.Blob:
		if i%3 == 0 {
			return []byte{}
		}
		return []byte{0, byte(i), 0xff, '\'', '\\', '\n', 0}
	}
	return nil
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// Render shows a value read from the database as text, the same way
// whatever the driver: NULL, numbers, %q-quoted strings and bytes, times
// in RFC 3339 UTC.
func Render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return strconv.Quote(string(x))
	case string:
		return strconv.Quote(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 32)
	}
	return fmt.Sprint(v)
}

// ReadRows reads columns of every row of a table.
func ReadRows(t testing.TB, ctx context.Context, d *db.DB, table string, cols []string) Rows {
	t.Helper()
	dl := d.Dialect()
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = dl.Quote(c)
	}
	rows, err := d.Query(ctx, "SELECT "+strings.Join(q, ", ")+" FROM "+dl.Quote(table))
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	var out Rows
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
		for i, v := range vals {
			row[cols[i]] = Render(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

// Before reads the rows of the old table, for Check.
func Before(t testing.TB, ctx context.Context, d *db.DB, l *Legacy) Rows {
	t.Helper()
	return ReadRows(t, ctx, d, l.Old.Name, columnNames(l.Old))
}

// DefaultText renders a column's default as Render shows the value read.
func DefaultText(c schema.Column) string {
	def := c.Default
	if def == "" {
		return "NULL"
	}
	if strings.HasPrefix(def, "'") {
		s := strings.ReplaceAll(strings.Trim(def, "'"), "''", "'")
		if c.Type == schema.DateTime {
			if tm, err := time.Parse(time.DateTime, s); err == nil {
				return tm.UTC().Format(time.RFC3339)
			}
		}
		return strconv.Quote(s)
	}
	if c.Type == schema.Float {
		if f, err := strconv.ParseFloat(def, 64); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 32)
		}
	}
	return def
}

// Check compares the migrated table with the rows read before: the same
// number of rows, each old value in its (possibly renamed) column, the
// new columns at their defaults, and exactly the new version's columns.
func Check(t testing.TB, ctx context.Context, d *db.DB, l *Legacy, before Rows) {
	t.Helper()
	have, err := db.Columns(ctx, d, l.New.Name)
	if err != nil {
		t.Fatal(err)
	}
	want := columnNames(l.New)
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Errorf("table %s: columns %v after the migration, want %v", l.New.Name, have, want)
		return
	}
	after := ReadRows(t, ctx, d, l.New.Name, columnNames(l.New))
	if len(after) != len(before) {
		t.Errorf("table %s: %d rows after the migration, %d before", l.New.Name, len(after), len(before))
	}
	var newKey []string
	for _, k := range l.Key {
		newKey = append(newKey, l.newName(k))
	}
	byKey := map[string]map[string]string{}
	for _, r := range after {
		k := rowKey(r, newKey)
		if _, dup := byKey[k]; dup {
			t.Errorf("table %s: key %q twice after the migration", l.New.Name, k)
		}
		byKey[k] = r
	}
	oldNames := map[string]bool{}
	for _, c := range l.Old.Columns {
		oldNames[l.newName(c.Name)] = true
	}
	ids := map[string]bool{}
	bad := 0
	for _, b := range before {
		a, ok := byKey[rowKey(b, l.Key)]
		if !ok {
			t.Errorf("table %s: row %v is gone", l.New.Name, b)
			bad++
			continue
		}
		for _, c := range l.Old.Columns {
			nc := l.New.Col(l.newName(c.Name))
			if nc == nil {
				continue // dropped, kept in the backup table
			}
			want := b[c.Name]
			if conv, ok := l.Convert[c.Name]; ok {
				want = conv(want)
			}
			if got := a[nc.Name]; got != want {
				t.Errorf("table %s: row %s: column %s is %.80s, was %.80s", l.New.Name, rowKey(b, l.Key), nc.Name, got, want)
				bad++
			}
		}
		for _, c := range l.New.Columns {
			if oldNames[c.Name] {
				continue
			}
			if c.Auto {
				if a[c.Name] == "NULL" || ids[a[c.Name]] {
					t.Errorf("table %s: new id %s is NULL or not unique", l.New.Name, a[c.Name])
				}
				ids[a[c.Name]] = true
				continue
			}
			if got, want := a[c.Name], DefaultText(c); got != want {
				t.Errorf("table %s: new column %s is %s, want its default %s", l.New.Name, c.Name, got, want)
				bad++
			}
		}
		if bad > 20 {
			t.Fatalf("table %s: too many differences", l.New.Name)
		}
	}
}

// CheckBackup checks that the backup table l.Backup holds every row read
// before the migration, with the values of every old column (those the
// migration dropped included).
func CheckBackup(t testing.TB, ctx context.Context, d *db.DB, l *Legacy, before Rows) {
	t.Helper()
	if l.Backup == "" {
		t.Fatalf("table %s: no backup table declared", l.Old.Name)
	}
	kept := ReadRows(t, ctx, d, l.Backup, columnNames(l.Old))
	if len(kept) != len(before) {
		t.Errorf("backup table %s: %d rows, %d before the migration", l.Backup, len(kept), len(before))
	}
	byKey := map[string]map[string]string{}
	for _, r := range kept {
		byKey[rowKey(r, l.Key)] = r
	}
	bad := 0
	for _, b := range before {
		k := rowKey(b, l.Key)
		r, ok := byKey[k]
		if !ok {
			t.Errorf("backup table %s: row %q is missing", l.Backup, k)
			bad++
			continue
		}
		for _, c := range l.Old.Columns {
			got := r[c.Name]
			if c.Type == schema.DateTime {
				got = timeText(got)
			}
			if got != b[c.Name] {
				t.Errorf("backup table %s: row %q: column %s is %.80s, was %.80s", l.Backup, k, c.Name, got, b[c.Name])
				bad++
			}
		}
		if bad > 20 {
			t.Fatalf("backup table %s: too many differences", l.Backup)
		}
	}
}

// timeText renders a time that a driver returned as text (SQLite does
// for a column whose declared type is no longer DATETIME, as in a table
// made by CREATE TABLE … AS SELECT) the way Render renders a time.
func timeText(v string) string {
	s, err := strconv.Unquote(v)
	if err != nil {
		return v
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, time.DateTime} {
		if tm, err := time.Parse(layout, s); err == nil {
			return Render(tm)
		}
	}
	return v
}

func rowKey(r map[string]string, names []string) string {
	var k []string
	for _, n := range names {
		k = append(k, r[n])
	}
	return strings.Join(k, "\x00")
}

// Roundtrip is a whole migration test on one database: it creates the old
// tables, fills each with n rows, migrates to the new tables, checks
// every table (and its backup table), then migrates again and checks
// that nothing changed.
func Roundtrip(t testing.TB, ctx context.Context, d *db.DB, ls []*Legacy, n int) {
	t.Helper()
	var old, cur []*schema.Table
	for _, l := range ls {
		old, cur = append(old, l.Old), append(cur, l.New)
	}
	if err := db.CreateTables(ctx, d, old); err != nil {
		t.Fatalf("create the old tables: %v", err)
	}
	before := make([]Rows, len(ls))
	for i, l := range ls {
		Fill(t, ctx, d, l, n)
		before[i] = Before(t, ctx, d, l)
		if len(before[i]) != n {
			t.Fatalf("table %s: %d rows after the fill, want %d", l.Old.Name, len(before[i]), n)
		}
	}
	rep, err := db.Migrate(ctx, d, cur, db.MigrateOptions{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !rep.Changed() {
		t.Fatal("the migration of the old tables changed nothing")
	}
	after := make([]Rows, len(ls))
	for i, l := range ls {
		Check(t, ctx, d, l, before[i])
		if l.Backup != "" {
			CheckBackup(t, ctx, d, l, before[i])
		}
		if v, err := db.TableVersion(ctx, d, l.New.Name); err != nil || v != l.New.Version {
			t.Errorf("table %s: version %d after the migration, want %d (%v)", l.New.Name, v, l.New.Version, err)
		}
		after[i] = ReadRows(t, ctx, d, l.New.Name, columnNames(l.New))
	}
	rep, err = db.Migrate(ctx, d, cur, db.MigrateOptions{})
	if err != nil || rep.Changed() {
		t.Fatalf("second migrate: %v; its plan:\n%s", err, rep.SQL())
	}
	for i, l := range ls {
		again := ReadRows(t, ctx, d, l.New.Name, columnNames(l.New))
		if !slices.Equal(sortedRows(after[i]), sortedRows(again)) {
			t.Errorf("table %s: the second migrate changed its rows", l.New.Name)
		}
	}
}

func columnNames(t *schema.Table) []string {
	var out []string
	for _, c := range t.Columns {
		out = append(out, c.Name)
	}
	return out
}

// sortedRows renders rows as sorted lines, to compare tables whatever
// the order rows come in.
func sortedRows(rs Rows) []string {
	var out []string
	for _, r := range rs {
		var cols []string
		for c := range r {
			cols = append(cols, c)
		}
		slices.Sort(cols)
		var b strings.Builder
		for _, c := range cols {
			b.WriteString(c + "=" + r[c] + "\x00")
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

// CheckFixDeclaration checks a table whose older shapes share its version
// (its history is a shape fix at that version, without migrations): the
// table and its older shapes are valid in every dialect.
func CheckFixDeclaration(t testing.TB, cur *schema.Table, older ...*schema.Table) {
	t.Helper()
	if err := db.CheckTables(append([]*schema.Table{cur}, older...)); err != nil {
		t.Fatal(err)
	}
	if len(cur.Fixes) != 1 || cur.Fixes[0].Version != cur.Version || len(cur.Migrations) != 0 {
		t.Errorf("table %s: fixes %+v, migrations %+v; want one fix at version %d", cur.Name, cur.Fixes, cur.Migrations, cur.Version)
	}
	for _, o := range older {
		if o.Version != cur.Version {
			t.Errorf("table %s: an older shape has version %d, the table %d", cur.Name, o.Version, cur.Version)
		}
	}
}

// FixShapes runs Roundtrip with n rows for each older shape of a table
// (by name, each on a database of its own that open gives), then checks
// which indexes the fixed table has: true, it must have it; false, it
// must not.
func FixShapes(t *testing.T, open func(t *testing.T) *db.DB, shapes map[string]*Legacy, n int, indexes map[string]bool) {
	t.Helper()
	for name, l := range shapes {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d := open(t)
			Roundtrip(t, ctx, d, []*Legacy{l}, n)
			for ix, want := range indexes {
				if ok, err := db.IndexExists(ctx, d, l.New.Name, ix); ok != want || err != nil {
					t.Errorf("table %s: index %s: %v, want %v (%v)", l.New.Name, ix, ok, want, err)
				}
			}
		})
	}
}

// Upgrade creates the old table of l, fills it with n rows and migrates
// it to the new one, for tests of the code that then reads it.
func Upgrade(t testing.TB, ctx context.Context, d *db.DB, l *Legacy, n int) {
	t.Helper()
	if err := db.CreateTables(ctx, d, []*schema.Table{l.Old}); err != nil {
		t.Fatalf("create the old table %s: %v", l.Old.Name, err)
	}
	Fill(t, ctx, d, l, n)
	if _, err := db.Migrate(ctx, d, []*schema.Table{l.New}, db.MigrateOptions{}); err != nil {
		t.Fatalf("migrate table %s: %v", l.New.Name, err)
	}
}
