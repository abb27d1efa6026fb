package dbtool

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// The backup format (format 1) is SQL text, one line per statement, that
// the engine it was written from reads back:
//
//	-- sip-router database backup, format 1
//	-- engine: mysql
//	-- database: kamailio
//	-- table subscriber version 6 rows 2
//	INSERT INTO `subscriber` (`id`, `username`, …) VALUES (1, 'alice', …);
//	…
//	-- end tables 12 rows 2
//
// Each table that exists is written with its version and its row count,
// then one INSERT per row with the declared columns, ordered by the
// primary key. Values are literals of the engine: strings quoted (line
// breaks escaped, so that every statement stays on one line), binary
// values in hexadecimal, times as 'YYYY-MM-DD HH:MM:SS' (UTC). The last
// line tells the file is complete. The version table is not written: the
// table lines carry the versions, and restore checks them against the
// database it writes to.
const (
	backupMagic  = "-- sip-router database backup, format 1"
	tablePrefix  = "-- table "
	endPrefix    = "-- end tables "
	enginePrefix = "-- engine: "
)

// orderBy is the ORDER BY of a table's rows: its primary key.
func orderBy(d *db.Dialect, t *schema.Table) string {
	var cols []string
	switch {
	case t.AutoColumn() != nil:
		cols = []string{t.AutoColumn().Name}
	case len(t.Primary) > 0:
		cols = t.Primary
	case len(t.Keys) > 0:
		cols = t.Keys[0].Columns
	default:
		return ""
	}
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = d.Quote(c)
	}
	return " ORDER BY " + strings.Join(q, ", ")
}

func quoteCols(d *db.Dialect, t *schema.Table) string {
	q := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		q[i] = d.Quote(c.Name)
	}
	return strings.Join(q, ", ")
}

// checkCurrent fails unless a table that exists has the declared
// version (its columns are then the declared ones).
func (t *Tool) checkCurrent(ctx context.Context, h *db.DB, tb *schema.Table) (exists bool, err error) {
	ok, err := db.TableExists(ctx, h, tb.Name)
	if err != nil || !ok {
		return false, err
	}
	v, err := db.TableVersion(ctx, h, tb.Name)
	if err != nil {
		return false, err
	}
	if v != tb.Version {
		return false, fmt.Errorf("table %s has version %d, this release expects %d: upgrade it first (%s migrate)",
			tb.Name, v, tb.Version, t.Name)
	}
	return true, nil
}

// extraColumns lists the columns a table has beyond its declaration.
func extraColumns(ctx context.Context, h *db.DB, tb *schema.Table) ([]string, error) {
	cols, err := db.Columns(ctx, h, tb.Name)
	if err != nil {
		return nil, err
	}
	var extra []string
	for _, c := range cols {
		if tb.Col(c) == nil {
			extra = append(extra, c)
		}
	}
	return extra, nil
}

// backup writes every row of the configured database to file ("-":
// standard output). The file is written beside its final name and renamed
// when complete; an existing file is replaced only after asking.
func (t *Tool) backup(ctx context.Context, file string) (err error) {
	v, h, err := t.openExisting(ctx, "backup")
	if err != nil {
		return err
	}
	defer h.Close()
	var out io.Writer = t.Stdout
	var tmp *os.File
	if file != "-" {
		if _, err := os.Stat(file); err == nil {
			if !t.confirm(fmt.Sprintf("Overwrite %s?", file)) {
				return fmt.Errorf("backup: %w", errNotConfirmed)
			}
		}
		tmp, err = os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		out = tmp
	}
	bw := bufio.NewWriterSize(out, 1<<16)
	d := h.Dialect()
	fmt.Fprintln(bw, backupMagic)
	fmt.Fprintf(bw, "-- tool: %s\n", t.toolVersion())
	fmt.Fprintf(bw, "%s%s\n", enginePrefix, d.Name())
	fmt.Fprintf(bw, "-- database: %s\n", v.name)
	fmt.Fprintf(bw, "-- written: %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(bw, "-- restore with: %s restore FILE (into a database of the same engine)\n", t.Name)
	spool, err := os.CreateTemp("", "srdb-backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	ntables, nrows := 0, 0
	for _, tb := range t.cfg.Tables() {
		ok, err := t.checkCurrent(ctx, h, tb)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if !ok {
			continue
		}
		if extra, err := extraColumns(ctx, h, tb); err != nil {
			return fmt.Errorf("backup: %w", err)
		} else if len(extra) > 0 {
			fmt.Fprintf(t.Stderr, "%s: warning: table %s: column(s) %s are not declared and not in the backup\n",
				t.Name, tb.Name, strings.Join(extra, ", "))
		}
		n, err := t.backupTable(ctx, h, tb, bw, spool)
		if err != nil {
			return fmt.Errorf("backup: table %s: %w", tb.Name, err)
		}
		ntables++
		nrows += n
	}
	fmt.Fprintf(bw, "%s%d rows %d\n", endPrefix, ntables, nrows)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if tmp != nil {
		if err := tmp.Chmod(0o600); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := os.Rename(tmp.Name(), file); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		tmp = nil
		t.say("wrote %d rows of %d tables of %s to %s", nrows, ntables, v.name, file)
	}
	return nil
}

// backupTable writes one table: its line, with the number of rows, then
// its rows. The rows go to the spool file first, to be counted as they
// are read (a running server may change the table meanwhile).
func (t *Tool) backupTable(ctx context.Context, h *db.DB, tb *schema.Table, w *bufio.Writer, spool *os.File) (int, error) {
	d := h.Dialect()
	if err := spool.Truncate(0); err != nil {
		return 0, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	rows, err := h.Query(ctx, "SELECT "+quoteCols(d, tb)+" FROM "+d.Quote(tb.Name)+orderBy(d, tb))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, err
	}
	binary := make([]bool, len(types))
	for i, ct := range types {
		binary[i] = isBinary(ct.DatabaseTypeName()) || tb.Columns[i].Type == schema.Blob
	}
	head := "INSERT INTO " + d.Quote(tb.Name) + " (" + quoteCols(d, tb) + ") VALUES ("
	sw := bufio.NewWriterSize(spool, 1<<16)
	vals := make([]any, len(tb.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		sw.WriteString(head)
		for i, v := range vals {
			if i > 0 {
				sw.WriteString(", ")
			}
			sw.WriteString(literal(d, v, binary[i]))
		}
		sw.WriteString(");\n")
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if err := sw.Flush(); err != nil {
		return 0, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "%s%s version %d rows %d\n", tablePrefix, tb.Name, tb.Version, n)
	if _, err := io.Copy(w, spool); err != nil {
		return 0, err
	}
	return n, nil
}

func isBinary(typeName string) bool {
	u := strings.ToUpper(typeName)
	return strings.Contains(u, "BLOB") || strings.Contains(u, "BYTEA") || strings.Contains(u, "BINARY")
}

// literal renders a value read from the database as an SQL literal of the
// dialect, on one line.
func literal(d *db.Dialect, v any, binary bool) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		if x.IsZero() && d == db.MySQL {
			return "'0000-00-00 00:00:00'"
		}
		return "'" + x.UTC().Format(time.DateTime) + "'"
	case []byte:
		if binary {
			return blobLiteral(d, x)
		}
		return textLiteral(d, string(x))
	case string:
		if binary {
			return blobLiteral(d, []byte(x))
		}
		return textLiteral(d, x)
	}
	return textLiteral(d, fmt.Sprint(v))
}

func blobLiteral(d *db.Dialect, b []byte) string {
	if d == db.Postgres {
		return `'\x` + hex.EncodeToString(b) + "'::bytea"
	}
	return "X'" + hex.EncodeToString(b) + "'"
}

// textLiteral quotes a string; line breaks (and NUL) are escaped so that
// the statement stays on one line.
func textLiteral(d *db.Dialect, s string) string {
	if !strings.ContainsAny(s, "\n\r\x00") {
		return d.Literal(s)
	}
	switch d {
	case db.MySQL:
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)
		return "'" + r.Replace(s) + "'"
	case db.Postgres:
		r := strings.NewReplacer(`\`, `\\`, `'`, `''`, "\n", `\n`, "\r", `\r`)
		return "E'" + r.Replace(strings.ReplaceAll(s, "\x00", "")) + "'"
	}
	return "CAST(X'" + hex.EncodeToString([]byte(s)) + "' AS TEXT)"
}

// backupInfo is what the first reading of a backup file finds.
type backupInfo struct {
	engine string
	tables []backupTable
	rows   int
}

type backupTable struct {
	name    string
	version int
	rows    int
}

// scanBackup reads a backup file line by line, checking its structure;
// with exec it calls fn for each table's start and each statement.
func scanBackup(file string, fn func(tb *backupTable, stmt string) error) (*backupInfo, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	info := &backupInfo{}
	var cur *backupTable
	var curPrefix string
	seen := 0
	ended := false
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if line == "" && errors.Is(err, io.EOF) {
			break
		}
		line = strings.TrimRight(line, "\r\n")
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", file, n, fmt.Sprintf(format, args...))
		}
		switch {
		case n == 1:
			if line != backupMagic {
				return nil, bad("not a backup of this tool (the first line must be %q)", backupMagic)
			}
		case ended:
			if strings.TrimSpace(line) != "" {
				return nil, bad("text after the end line")
			}
		case strings.HasPrefix(line, enginePrefix):
			info.engine = strings.TrimSpace(strings.TrimPrefix(line, enginePrefix))
		case strings.HasPrefix(line, tablePrefix):
			if cur != nil && seen != cur.rows {
				return nil, bad("table %s has %d rows, its line says %d: the file is damaged", cur.name, seen, cur.rows)
			}
			var tb backupTable
			if _, err := fmt.Sscanf(strings.TrimPrefix(line, tablePrefix), "%s version %d rows %d", &tb.name, &tb.version, &tb.rows); err != nil ||
				!schema.ValidName(tb.name) || tb.rows < 0 {
				return nil, bad("bad table line %q", line)
			}
			for _, o := range info.tables {
				if o.name == tb.name {
					return nil, bad("table %s twice", tb.name)
				}
			}
			info.tables = append(info.tables, tb)
			cur = &info.tables[len(info.tables)-1]
			seen = 0
			if info.engine == "" || db.DialectByName(info.engine) == nil {
				return nil, bad("no known engine line before the first table")
			}
			curPrefix = "INSERT INTO " + db.DialectByName(info.engine).Quote(tb.name) + " ("
			if fn != nil {
				if err := fn(cur, ""); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(line, endPrefix):
			if cur != nil && seen != cur.rows {
				return nil, bad("table %s has %d rows, its line says %d: the file is damaged", cur.name, seen, cur.rows)
			}
			var nt, nr int
			if _, err := fmt.Sscanf(strings.TrimPrefix(line, endPrefix), "%d rows %d", &nt, &nr); err != nil ||
				nt != len(info.tables) || nr != info.rows {
				return nil, bad("the end line %q does not match the %d tables and %d rows read: the file is damaged",
					line, len(info.tables), info.rows)
			}
			ended = true
		case strings.HasPrefix(line, "--"), strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "INSERT INTO "):
			if cur == nil || !strings.HasPrefix(line, curPrefix) || !strings.HasSuffix(line, ");") {
				return nil, bad("an INSERT that is not into the table of its section")
			}
			seen++
			info.rows++
			if fn != nil {
				if err := fn(cur, strings.TrimSuffix(line, ";")); err != nil {
					return nil, fmt.Errorf("%s:%d: %w", file, n, err)
				}
			}
		default:
			return nil, bad("not a line of a backup")
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if !ended {
		return nil, fmt.Errorf("%s: no end line: the file is incomplete", file)
	}
	return info, nil
}

// restore replaces the rows of the configured database by those of a
// backup, creating the database when it does not exist.
func (t *Tool) restore(ctx context.Context, file string) (err error) {
	if file == "-" {
		return fmt.Errorf("restore: give a file (it is read twice: checked, then loaded)")
	}
	info, err := scanBackup(file, nil)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	d := t.cfg.dialect()
	if info.engine != d.Name() {
		return fmt.Errorf("restore: %s is a backup of a %s database, DBENGINE is %s: restore into the same engine",
			file, info.engine, t.cfg.DB.Engine)
	}
	for _, bt := range info.tables {
		if t.cfg.Table(bt.name) == nil {
			return fmt.Errorf("restore: %s holds table %s, which this release does not declare", file, bt.name)
		}
	}
	v := t.cfg.target("")
	exists, err := v.Exists(ctx)
	if err != nil {
		return err
	}
	if !exists {
		t.say("creating %s", v)
		if err := t.createAll(ctx, v, true); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer func() {
			if err != nil {
				_ = v.DropDB(context.WithoutCancel(ctx))
			}
		}()
	}
	h, err := v.Open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	filled := 0
	for _, bt := range info.tables {
		tb := t.cfg.Table(bt.name)
		if bt.version != tb.Version {
			return fmt.Errorf("restore: %s holds table %s at version %d, this release has version %d: restore it with the release that wrote it, then migrate",
				file, bt.name, bt.version, tb.Version)
		}
		ok, err := t.checkCurrent(ctx, h, tb)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if !ok {
			return fmt.Errorf("restore: table %s is missing from %s: create it first (%s migrate)", bt.name, v.name, t.Name)
		}
		var n int
		if err := h.QueryRow(ctx, "SELECT COUNT(*) FROM "+d.Quote(bt.name)).Scan(&n); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		filled += n
	}
	if filled > 0 && !t.confirm(fmt.Sprintf("Replace the %d rows of the tables of %s by the %d rows of %s?", filled, v, info.rows, file)) {
		return fmt.Errorf("restore: %w", errNotConfirmed)
	}
	err = h.WithTx(ctx, func(tx *db.Tx) error {
		_, err := scanBackup(file, func(bt *backupTable, stmt string) error {
			if stmt == "" {
				_, err := tx.Exec(ctx, "DELETE FROM "+d.Quote(bt.name))
				return err
			}
			_, err := tx.Exec(ctx, stmt)
			return err
		})
		if err != nil {
			return err
		}
		for _, bt := range info.tables {
			if err := afterLoad(ctx, tx, t.cfg.Table(bt.name), bt.rows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore: nothing restored: %w", err)
	}
	t.say("restored %d rows of %d tables into %s", info.rows, len(info.tables), v.name)
	return nil
}

// afterLoad checks a loaded table's row count and moves PostgreSQL's
// sequence past the ids loaded.
func afterLoad(ctx context.Context, q db.Querier, tb *schema.Table, want int) error {
	d := q.Dialect()
	var n int
	if err := q.QueryRow(ctx, "SELECT COUNT(*) FROM "+d.Quote(tb.Name)).Scan(&n); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("table %s has %d rows after loading %d", tb.Name, n, want)
	}
	if auto := tb.AutoColumn(); auto != nil && d == db.Postgres {
		set := "SELECT setval(pg_get_serial_sequence(" + d.Literal(d.Quote(tb.Name)) + ", " + d.Literal(auto.Name) + "), " +
			"COALESCE((SELECT MAX(" + d.Quote(auto.Name) + ") FROM " + d.Quote(tb.Name) + "), 0) + 1, false)"
		var x int64
		if err := q.QueryRow(ctx, set).Scan(&x); err != nil {
			return fmt.Errorf("table %s: sequence: %w", tb.Name, err)
		}
	}
	return nil
}

// copyDB creates a new database and copies every row of the configured
// one into it.
func (t *Tool) copyDB(ctx context.Context, name string) (err error) {
	src, sh, err := t.openExisting(ctx, "copy")
	if err != nil {
		return err
	}
	defer sh.Close()
	dst := t.cfg.target(name)
	if dst.name == src.name {
		return fmt.Errorf("copy: %s is the configured database itself", name)
	}
	var tables []*schema.Table
	for _, tb := range t.cfg.Tables() {
		ok, err := t.checkCurrent(ctx, sh, tb)
		if err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		if ok {
			tables = append(tables, tb)
		}
	}
	exists, err := dst.Exists(ctx)
	if err != nil {
		return err
	}
	if exists {
		if !t.confirm(fmt.Sprintf("%s exists: drop it and copy %s into it?", dst, src.name)) {
			return fmt.Errorf("copy: %w", errNotConfirmed)
		}
		if err := dst.DropDB(ctx); err != nil {
			return err
		}
	}
	t.say("creating %s", dst)
	if err := t.createAll(ctx, dst, true); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer func() {
		if err != nil {
			_ = dst.DropDB(context.WithoutCancel(ctx))
		}
	}()
	dh, err := dst.Open(ctx)
	if err != nil {
		return err
	}
	defer dh.Close()
	total := 0
	err = dh.WithTx(ctx, func(tx *db.Tx) error {
		total = 0
		for _, tb := range tables {
			n, err := copyTable(ctx, sh, tx, tb)
			if err != nil {
				return fmt.Errorf("table %s: %w", tb.Name, err)
			}
			if err := afterLoad(ctx, tx, tb, n); err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	t.say("copied %d rows of %d tables from %s to %s", total, len(tables), src.name, dst.name)
	return nil
}

// copyTable copies the declared columns of every row, in batches of
// multi-row INSERTs.
func copyTable(ctx context.Context, from *db.DB, to *db.Tx, tb *schema.Table) (int, error) {
	d := from.Dialect()
	rows, err := from.Query(ctx, "SELECT "+quoteCols(d, tb)+" FROM "+d.Quote(tb.Name)+orderBy(d, tb))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	ncol := len(tb.Columns)
	one := "(" + strings.Repeat("?, ", ncol-1) + "?)"
	batch := max(1, 500/ncol)
	head := "INSERT INTO " + d.Quote(tb.Name) + " (" + quoteCols(d, tb) + ") VALUES "
	var args []any
	n, pending := 0, 0
	flush := func() error {
		if pending == 0 {
			return nil
		}
		q := head + strings.TrimSuffix(strings.Repeat(one+", ", pending), ", ")
		_, err := to.Exec(ctx, q, args...)
		args, pending = args[:0], 0
		return err
	}
	for rows.Next() {
		vals := make([]any, ncol)
		ptrs := make([]any, ncol)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		args = append(args, vals...)
		pending++
		n++
		if pending == batch {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n, flush()
}
