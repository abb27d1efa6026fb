// Package dbtooltest helps test migrations of old tables: it creates a
// table in an old version, fills it with varied rows, and checks, after a
// migration, that every row is still there with the same values, that
// new columns hold their defaults, and that the table has the columns of
// the new version.
package dbtooltest

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
	ins := "INSERT INTO " + dl.Quote(l.Old.Name) + " (" + strings.Join(q, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		for i := 0; i < n; i++ {
			args := make([]any, len(cols))
			for k, c := range cols {
				if g, ok := l.Gen[c.Name]; ok {
					args[k] = g(i, dl)
					continue
				}
				args[k] = value(l, c, i, slices.Contains(l.Key, c.Name), dl)
			}
			if _, err := tx.Exec(ctx, ins, args...); err != nil {
				return fmt.Errorf("row %d: %w", i, err)
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
	var cols []string
	for _, c := range l.Old.Columns {
		cols = append(cols, c.Name)
	}
	return ReadRows(t, ctx, d, l.Old.Name, cols)
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
	var want []string
	for _, c := range l.New.Columns {
		want = append(want, c.Name)
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Errorf("table %s: columns %v after the migration, want %v", l.New.Name, have, want)
		return
	}
	var cols []string
	for _, c := range l.New.Columns {
		cols = append(cols, c.Name)
	}
	after := ReadRows(t, ctx, d, l.New.Name, cols)
	if len(after) != len(before) {
		t.Errorf("table %s: %d rows after the migration, %d before", l.New.Name, len(after), len(before))
	}
	keyOf := func(r map[string]string, names []string) string {
		var k []string
		for _, n := range names {
			k = append(k, r[n])
		}
		return strings.Join(k, "\x00")
	}
	var newKey []string
	for _, k := range l.Key {
		newKey = append(newKey, l.newName(k))
	}
	byKey := map[string]map[string]string{}
	for _, r := range after {
		k := keyOf(r, newKey)
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
		a, ok := byKey[keyOf(b, l.Key)]
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
				t.Errorf("table %s: row %s: column %s is %.80s, was %.80s", l.New.Name, keyOf(b, l.Key), nc.Name, got, want)
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
