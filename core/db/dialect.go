package db

import (
	"fmt"
	"strconv"
	"strings"

	"sip-router.org/core/db/schema"
)

// Dialect is the SQL of one database server: identifier quoting,
// placeholders, type names, DDL and catalog queries. The three dialects
// are the values MySQL, Postgres and SQLite; a driver names the one it
// speaks.
type Dialect struct {
	name string
	kind dialectKind
}

type dialectKind uint8

const (
	kindMySQL dialectKind = iota
	kindPostgres
	kindSQLite
)

// The dialects.
var (
	MySQL    = &Dialect{name: "mysql", kind: kindMySQL}
	Postgres = &Dialect{name: "postgres", kind: kindPostgres}
	SQLite   = &Dialect{name: "sqlite", kind: kindSQLite}
)

// Dialects lists every dialect, in the order tools render them.
var Dialects = []*Dialect{MySQL, Postgres, SQLite}

// DialectByName returns the dialect called name ("mysql", "postgres",
// "sqlite"), or nil.
func DialectByName(name string) *Dialect {
	for _, d := range Dialects {
		if d.name == name {
			return d
		}
	}
	return nil
}

// Name is "mysql", "postgres" or "sqlite".
func (d *Dialect) Name() string { return d.name }

func (d *Dialect) String() string { return d.name }

// TransactionalDDL reports whether CREATE/ALTER TABLE take part in
// transactions. MySQL commits implicitly before and after each DDL
// statement, so a failure half-way leaves what was done.
func (d *Dialect) TransactionalDDL() bool { return d.kind != kindMySQL }

// Quote quotes an identifier: `name` for MySQL, "name" otherwise.
func (d *Dialect) Quote(ident string) string {
	if d.kind == kindMySQL {
		return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

func (d *Dialect) quoteList(idents []string) string {
	q := make([]string, len(idents))
	for i, s := range idents {
		q[i] = d.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Placeholder is the n-th (from 1) statement parameter: ? or $n.
func (d *Dialect) Placeholder(n int) string {
	if d.kind == kindPostgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// Literal renders a string as an SQL string literal.
func (d *Dialect) Literal(s string) string {
	s = strings.ReplaceAll(s, "'", "''")
	if d.kind == kindMySQL {
		// MySQL treats the backslash as an escape in literals by default.
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return "'" + s + "'"
}

// Rebind rewrites the ? placeholders of a query into the dialect's form
// ($1, $2 … for PostgreSQL). Question marks inside string literals, quoted
// identifiers and comments are left alone. Queries of the other dialects
// are returned as they are.
func (d *Dialect) Rebind(query string) string {
	if d.kind != kindPostgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) {
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(query) {
				j = len(query) - 1
			}
			b.WriteString(query[i : j+1])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i - 1
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			end := len(query) - 1
			if j >= 0 {
				end = i + 2 + j + 1
			}
			b.WriteString(query[i : end+1])
			i = end
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TypeName is the SQL type of a column, without NULL, default or key
// clauses.
func (d *Dialect) TypeName(c schema.Column) string {
	unsigned := ""
	if c.Unsigned && d.kind == kindMySQL {
		unsigned = " UNSIGNED"
	}
	switch c.Type {
	case schema.Int:
		if d.kind == kindMySQL {
			return "INT" + unsigned
		}
		return "INTEGER"
	case schema.BigInt:
		return "BIGINT" + unsigned
	case schema.String:
		return fmt.Sprintf("VARCHAR(%d)", c.Size)
	case schema.Text:
		return "TEXT"
	case schema.DateTime:
		switch d.kind {
		case kindMySQL:
			return "DATETIME"
		case kindPostgres:
			return "TIMESTAMP WITHOUT TIME ZONE"
		}
		return "TIMESTAMP"
	case schema.Float:
		if d.kind == kindMySQL {
			return "FLOAT"
		}
		return "REAL"
	case schema.Blob:
		if d.kind == kindPostgres {
			return "BYTEA"
		}
		return "BLOB"
	}
	return "UNKNOWN"
}

// ColumnDef renders a column as it appears in CREATE TABLE and ADD COLUMN:
// name, type, default, NULL-ness (and the auto-increment primary key).
func (d *Dialect) ColumnDef(c schema.Column) string {
	name := d.Quote(c.Name)
	if c.Auto {
		switch d.kind {
		case kindMySQL:
			return name + " " + d.TypeName(schema.Column{Type: c.Type, Unsigned: true}) + " AUTO_INCREMENT PRIMARY KEY NOT NULL" + d.inlineComment(c.Comment)
		case kindPostgres:
			if c.Type == schema.BigInt {
				return name + " BIGSERIAL PRIMARY KEY NOT NULL"
			}
			return name + " SERIAL PRIMARY KEY NOT NULL"
		default:
			// An INTEGER PRIMARY KEY is the rowid: it auto-increments.
			return name + " INTEGER PRIMARY KEY NOT NULL"
		}
	}
	var b strings.Builder
	b.WriteString(name + " " + d.TypeName(c))
	switch {
	case c.Default != "":
		b.WriteString(" DEFAULT " + c.Default)
	case c.Null:
		b.WriteString(" DEFAULT NULL")
	}
	if !c.Null {
		b.WriteString(" NOT NULL")
	}
	b.WriteString(d.inlineComment(c.Comment))
	return b.String()
}

// inlineComment is MySQL's COMMENT clause; other dialects put comments
// elsewhere.
func (d *Dialect) inlineComment(s string) string {
	if d.kind != kindMySQL || s == "" {
		return ""
	}
	return " COMMENT " + d.Literal(oneLine(s))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// IndexName is the name an index gets in the database: PostgreSQL and
// SQLite keep index names per schema, not per table, so the table name is
// put in front (location_account_contact_idx), as Kamailio's PostgreSQL
// scripts do.
func (d *Dialect) IndexName(table, index string) string {
	if d.kind == kindMySQL {
		return index
	}
	return table + "_" + index
}

// CreateTable returns the statements that create a table with its keys
// and indexes (and, for PostgreSQL, its comments).
func (d *Dialect) CreateTable(t *schema.Table) []string {
	return d.createTable(t, false)
}

func (d *Dialect) createTable(t *schema.Table, ifNotExists bool) []string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	if ifNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(d.Quote(t.Name) + " (\n")
	type line struct{ def, comment string }
	var lines []line
	for _, c := range t.Columns {
		l := line{def: d.ColumnDef(c)}
		if d.kind == kindSQLite {
			// SQLite keeps the text of CREATE TABLE, comments included.
			l.comment = oneLine(c.Comment)
		}
		lines = append(lines, l)
	}
	if len(t.Primary) > 0 {
		lines = append(lines, line{def: "PRIMARY KEY (" + d.quoteList(t.Primary) + ")"})
	}
	var after []string
	for _, k := range t.Keys {
		if d.kind == kindSQLite {
			// A unique index rather than a constraint, so that a migration
			// can drop it.
			after = append(after, d.createIndex(t.Name, k, true, ifNotExists))
			continue
		}
		lines = append(lines, line{def: "CONSTRAINT " + d.Quote(d.IndexName(t.Name, k.Name)) + " UNIQUE (" + d.quoteList(k.Columns) + ")"})
	}
	for i, l := range lines {
		b.WriteString("    " + l.def)
		if i < len(lines)-1 {
			b.WriteString(",")
		}
		if l.comment != "" {
			b.WriteString(" -- " + l.comment)
		}
		b.WriteString("\n")
	}
	b.WriteString(")")
	if d.kind == kindMySQL {
		b.WriteString(" ENGINE=InnoDB")
		if t.Comment != "" {
			b.WriteString(" COMMENT=" + d.Literal(oneLine(t.Comment)))
		}
	}
	stmts := []string{b.String()}
	stmts = append(stmts, after...)
	for _, ix := range t.Indexes {
		stmts = append(stmts, d.createIndex(t.Name, ix, false, ifNotExists))
	}
	if d.kind == kindPostgres {
		if t.Comment != "" {
			stmts = append(stmts, "COMMENT ON TABLE "+d.Quote(t.Name)+" IS "+d.Literal(oneLine(t.Comment)))
		}
		for _, c := range t.Columns {
			if c.Comment != "" {
				stmts = append(stmts, d.columnComment(t.Name, c))
			}
		}
	}
	return stmts
}

func (d *Dialect) columnComment(table string, c schema.Column) string {
	return "COMMENT ON COLUMN " + d.Quote(table) + "." + d.Quote(c.Name) + " IS " + d.Literal(oneLine(c.Comment))
}

func (d *Dialect) createIndex(table string, ix schema.Index, unique, ifNotExists bool) string {
	s := "CREATE "
	if unique {
		s += "UNIQUE "
	}
	s += "INDEX "
	if ifNotExists && d.kind != kindMySQL {
		s += "IF NOT EXISTS "
	}
	return s + d.Quote(d.IndexName(table, ix.Name)) + " ON " + d.Quote(table) + " (" + d.quoteList(ix.Columns) + ")"
}

// DropTable returns the statement that drops a table if it exists.
func (d *Dialect) DropTable(table string) string {
	return "DROP TABLE IF EXISTS " + d.Quote(table)
}

// Upsert returns an INSERT of cols into table that updates the row
// instead when it collides with the unique key keyCols (which must be a
// unique key or the primary key of the table). It takes one ? placeholder
// per column, in the order of cols (rebound for PostgreSQL).
func (d *Dialect) Upsert(table string, keyCols, cols []string) string {
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = d.Placeholder(i + 1)
	}
	s := "INSERT INTO " + d.Quote(table) + " (" + d.quoteList(cols) + ") VALUES (" + strings.Join(ph, ", ") + ")"
	isKey := map[string]bool{}
	for _, k := range keyCols {
		isKey[k] = true
	}
	var sets []string
	for _, c := range cols {
		if isKey[c] {
			continue
		}
		q := d.Quote(c)
		if d.kind == kindMySQL {
			sets = append(sets, q+" = VALUES("+q+")")
		} else {
			sets = append(sets, q+" = excluded."+q)
		}
	}
	if d.kind == kindMySQL {
		if len(sets) == 0 {
			q := d.Quote(keyCols[0])
			sets = []string{q + " = " + q}
		}
		return s + " ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
	}
	s += " ON CONFLICT (" + d.quoteList(keyCols) + ") DO "
	if len(sets) == 0 {
		return s + "NOTHING"
	}
	return s + "UPDATE SET " + strings.Join(sets, ", ")
}

// Catalog queries: each takes ? placeholders and returns a count.

func (d *Dialect) tableExistsQuery() string {
	switch d.kind {
	case kindMySQL:
		return "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	case kindPostgres:
		return "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
	}
	return "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
}

func (d *Dialect) columnsQuery() string {
	switch d.kind {
	case kindMySQL:
		return "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
	case kindPostgres:
		return "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
	}
	return "SELECT name FROM pragma_table_info(?) ORDER BY cid"
}

func (d *Dialect) indexExistsQuery() string {
	switch d.kind {
	case kindMySQL:
		return "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?"
	case kindPostgres:
		return "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexname = $2"
	}
	return "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name = ?"
}
