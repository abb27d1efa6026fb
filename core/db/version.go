package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"sip-router.org/core/db/schema"
)

// TableExists reports whether a table exists in the database (the
// connection's database or PostgreSQL schema).
func TableExists(ctx context.Context, q Querier, table string) (bool, error) {
	var n int
	if err := q.QueryRow(ctx, q.Dialect().tableExistsQuery(), table).Scan(&n); err != nil {
		return false, fmt.Errorf("does table %s exist: %w", table, err)
	}
	return n > 0, nil
}

// Columns lists the columns of a table, in table order; none when the
// table does not exist.
func Columns(ctx context.Context, q Querier, table string) ([]string, error) {
	rows, err := q.Query(ctx, q.Dialect().columnsQuery(), table)
	if err != nil {
		return nil, fmt.Errorf("columns of table %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("columns of table %s: %w", table, err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of table %s: %w", table, err)
	}
	return cols, nil
}

// IndexExists reports whether a table has an index (or unique key) of
// the given declared name (the dialect's prefix is added).
func IndexExists(ctx context.Context, q Querier, table, index string) (bool, error) {
	d := q.Dialect()
	var n int
	if err := q.QueryRow(ctx, d.indexExistsQuery(), table, d.IndexName(table, index)).Scan(&n); err != nil {
		return false, fmt.Errorf("does index %s of table %s exist: %w", index, table, err)
	}
	return n > 0, nil
}

// tableVersion reads a table's row in the version table: found is false
// when there is no row (or no version table).
func tableVersion(ctx context.Context, q Querier, table string) (v int, found bool, err error) {
	ok, err := TableExists(ctx, q, VersionTable)
	if err != nil || !ok {
		return 0, false, err
	}
	d := q.Dialect()
	rows, err := q.Query(ctx, "SELECT "+d.Quote(VersionColumn)+" FROM "+d.Quote(VersionTable)+
		" WHERE "+d.Quote(TableNameColumn)+" = ?", table)
	if err != nil {
		return 0, false, fmt.Errorf("read the version of table %s: %w", table, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		if n > 1 {
			continue
		}
		var x int64
		if err := rows.Scan(&x); err != nil {
			return 0, false, fmt.Errorf("table %s: its version in table %s is not a number: %w", table, VersionTable, err)
		}
		v = int(x)
	}
	if err := rows.Err(); err != nil {
		return 0, false, fmt.Errorf("read the version of table %s: %w", table, err)
	}
	if n > 1 {
		return 0, false, fmt.Errorf("table %s has %d rows in table %s, expected one", table, n, VersionTable)
	}
	return v, n == 1, nil
}

// TableVersion returns the version of a table as the version table says,
// as Kamailio's db_table_version does: 0 when the table has no row there
// (or when there is no version table), an error when it has more than one
// row or the value is not a number.
func TableVersion(ctx context.Context, q Querier, table string) (int, error) {
	v, _, err := tableVersion(ctx, q, table)
	return v, err
}

// VersionError is a table whose version is not the one the code expects.
type VersionError struct {
	Table     string
	Have      int
	Want      int
	Hint      string
	versionOK bool // a row exists
}

func (e *VersionError) Error() string {
	s := fmt.Sprintf("table %s has version %d, expected %d", e.Table, e.Have, e.Want)
	if !e.versionOK {
		s = fmt.Sprintf("table %s has no version (no row in table %s), expected %d", e.Table, VersionTable, e.Want)
	}
	if e.Hint != "" {
		s += ": run " + e.Hint
	}
	return s
}

// ErrVersion is wrapped by version mismatches.
var ErrVersion = errors.New("table version mismatch")

func (e *VersionError) Unwrap() error { return ErrVersion }

// CheckVersion fails unless a table has version want, with a message
// such as "table location has version 1003, expected 1004: run kamdbctl
// migrate" (migrateHint is the command to run; "" leaves that part out).
// Modules call it from Init, so a wrong version stops the start, as
// Kamailio's db_check_table_version does.
func CheckVersion(ctx context.Context, q Querier, table string, want int, migrateHint string) error {
	v, found, err := tableVersion(ctx, q, table)
	if err != nil {
		return err
	}
	if found && v == want {
		return nil
	}
	return &VersionError{Table: table, Have: v, Want: want, Hint: migrateHint, versionOK: found}
}

// SetVersion writes a table's row in the version table (replacing any).
// The version table must exist.
func SetVersion(ctx context.Context, q Querier, table string, version int) error {
	d := q.Dialect()
	if _, err := q.Exec(ctx, "DELETE FROM "+d.Quote(VersionTable)+" WHERE "+d.Quote(TableNameColumn)+" = ?", table); err != nil {
		return fmt.Errorf("set the version of table %s: %w", table, err)
	}
	if _, err := q.Exec(ctx, "INSERT INTO "+d.Quote(VersionTable)+" ("+d.Quote(TableNameColumn)+", "+d.Quote(VersionColumn)+
		") VALUES (?, ?)", table, version); err != nil {
		return fmt.Errorf("set the version of table %s: %w", table, err)
	}
	return nil
}

// EnsureVersionTable creates the version table if it does not exist.
func EnsureVersionTable(ctx context.Context, q Querier) error {
	ok, err := TableExists(ctx, q, VersionTable)
	if err != nil || ok {
		return err
	}
	for _, s := range q.Dialect().createTable(VersionTableDef(), true) {
		if _, err := q.Exec(ctx, s); err != nil {
			return fmt.Errorf("create table %s: %w", VersionTable, err)
		}
	}
	return nil
}

// ErrTableExists is wrapped when CreateTables finds a table already there.
var ErrTableExists = errors.New("table already exists")

// CreateTables creates tables with their rows in the version table (and
// the version table if missing), as running the create scripts does. A
// table that exists already is an error (use Migrate to update tables).
//
// On PostgreSQL and SQLite everything happens in one transaction: on
// error nothing is left. MySQL commits each CREATE TABLE by itself; there,
// on error, the tables this call created (empty) are dropped again.
func CreateTables(ctx context.Context, d *DB, tables []*schema.Table) error {
	if err := validate(tables); err != nil {
		return err
	}
	if err := refuseExisting(ctx, d, tables); err != nil {
		return err
	}
	if d.Dialect().TransactionalDDL() {
		return d.WithTx(ctx, func(tx *Tx) error {
			if err := EnsureVersionTable(ctx, tx); err != nil {
				return err
			}
			for _, t := range tables {
				if err := createTable(ctx, tx, t); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := EnsureVersionTable(ctx, d); err != nil {
		return err
	}
	var done []*schema.Table
	for _, t := range tables {
		if err := createTable(ctx, d, t); err != nil {
			for _, c := range done {
				_, _ = d.Exec(ctx, d.Dialect().DropTable(c.Name))
				_, _ = d.Exec(ctx, d.Dialect().deleteVersionSQL(c.Name))
			}
			_, _ = d.Exec(ctx, d.Dialect().DropTable(t.Name))
			_, _ = d.Exec(ctx, d.Dialect().deleteVersionSQL(t.Name))
			return err
		}
		done = append(done, t)
	}
	return nil
}

func refuseExisting(ctx context.Context, q Querier, tables []*schema.Table) error {
	var there []string
	for _, t := range tables {
		ok, err := TableExists(ctx, q, t.Name)
		if err != nil {
			return err
		}
		if ok {
			there = append(there, t.Name)
		}
	}
	if len(there) > 0 {
		return fmt.Errorf("%w: %s (to update existing tables, migrate them)", ErrTableExists, strings.Join(there, ", "))
	}
	return nil
}

func createTable(ctx context.Context, q Querier, t *schema.Table) error {
	for _, s := range q.Dialect().CreateTable(t) {
		if _, err := q.Exec(ctx, s); err != nil {
			return fmt.Errorf("create table %s: %w", t.Name, err)
		}
	}
	if err := SetVersion(ctx, q, t.Name, t.Version); err != nil {
		return err
	}
	return nil
}
