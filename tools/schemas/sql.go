package schemas

import (
	"strings"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// The helpers below write the SQL of the steps the generated kinds cannot
// express (a primary key swapped for an id column, a column converted).
// Statements given by a declaration always run, so on MySQL, where DDL
// commits by itself and a migration cut half-way is run again, they must
// be safe to run twice: each is made conditional on the catalog through a
// stored procedure (a procedure, unlike a prepared statement, does not
// depend on the pooled connection each statement gets). On PostgreSQL a
// migration runs in one transaction, so a DO block suffices where the
// table may come in several shapes. SQLite never held an OpenSER table:
// there, the table is rebuilt in the shape of the new version.

// mysqlWhen runs stmts on MySQL when cond, an SQL condition, holds.
func mysqlWhen(proc, cond string, stmts ...string) []string {
	return []string{
		"DROP PROCEDURE IF EXISTS " + proc,
		"CREATE PROCEDURE " + proc + "() BEGIN IF " + cond + " THEN " + strings.Join(stmts, "; ") + "; END IF; END",
		"CALL " + proc + "()",
		"DROP PROCEDURE " + proc,
	}
}

// pgWhen runs stmts on PostgreSQL when cond holds.
func pgWhen(cond string, stmts ...string) []string {
	return []string{"DO $$ BEGIN IF " + cond + " THEN " + strings.Join(stmts, "; ") + "; END IF; END $$"}
}

// Catalog conditions, per dialect.

func mysqlHasColumn(table, col string) string {
	return "EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '" +
		table + "' AND column_name = '" + col + "')"
}

func mysqlIntColumn(table, col string) string {
	return "EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '" +
		table + "' AND column_name = '" + col + "' AND data_type IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint'))"
}

func pgHasColumn(table, col string) string {
	return "EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '" +
		table + "' AND column_name = '" + col + "')"
}

// idColumn is the auto-increment primary key of Kamailio's tables since
// OpenSER 1.2.
var idColumn = schema.Column{Name: "id", Type: schema.Int, Auto: true}

// addID replaces the primary key of a table (if any) by an auto-increment
// id, unless the table has an id already (OpenSER 1.2 added id to tables
// without changing their versions, so a table of one version may come
// with or without it). SQLite gets SQL from sqlite instead.
func addID(table string, dropPrimary bool, sqlite []string) map[string][]string {
	my, pg := db.MySQL, db.Postgres
	myAlter := "ALTER TABLE " + my.Quote(table) + " "
	if dropPrimary {
		myAlter += "DROP PRIMARY KEY, "
	}
	myAlter += "ADD COLUMN " + my.ColumnDef(idColumn) + " FIRST"
	pgStmts := []string{}
	if dropPrimary {
		pgStmts = append(pgStmts, "ALTER TABLE "+pg.Quote(table)+" DROP CONSTRAINT IF EXISTS "+pg.Quote(table+"_pkey"))
	}
	pgStmts = append(pgStmts, "ALTER TABLE "+pg.Quote(table)+" ADD COLUMN "+pg.ColumnDef(idColumn))
	return map[string][]string{
		"mysql":    mysqlWhen("sr_migrate_"+table+"_id", "NOT "+mysqlHasColumn(table, "id"), myAlter),
		"postgres": pgWhen("NOT "+pgHasColumn(table, "id"), pgStmts...),
		"sqlite":   sqlite,
	}
}

// dropPrimary drops the primary key of a table, if it has one.
func dropPrimary(table string, sqlite []string) map[string][]string {
	my, pg := db.MySQL, db.Postgres
	cond := "EXISTS (SELECT 1 FROM information_schema.table_constraints WHERE table_schema = DATABASE() AND table_name = '" +
		table + "' AND constraint_type = 'PRIMARY KEY')"
	return map[string][]string{
		"mysql":    mysqlWhen("sr_migrate_"+table+"_pk", cond, "ALTER TABLE "+my.Quote(table)+" DROP PRIMARY KEY"),
		"postgres": {"ALTER TABLE " + pg.Quote(table) + " DROP CONSTRAINT IF EXISTS " + pg.Quote(table+"_pkey")},
		"sqlite":   sqlite,
	}
}

// sqliteRebuild rebuilds a table on SQLite in the shape of target (same
// name): a new table is made, the rows are copied in their order, the
// old table is dropped and the new one renamed, then target's keys and
// indexes are made. exprs gives, for some target columns, the SQL
// expression that computes them from the old row; the other columns of
// target that the old table has (from) are copied as they are, and the
// rest take their defaults.
func sqliteRebuild(target *schema.Table, from []string, exprs map[string]string) []string {
	lite := db.SQLite
	tmp := target.Name + "_rebuild"
	bare := &schema.Table{Name: tmp, Version: target.Version, Columns: target.Columns, Primary: target.Primary}
	stmts := lite.CreateTable(bare)
	had := map[string]bool{}
	for _, c := range from {
		had[c] = true
	}
	var cols, vals []string
	for _, c := range target.Columns {
		switch e, ok := exprs[c.Name]; {
		case ok:
			cols, vals = append(cols, lite.Quote(c.Name)), append(vals, e)
		case had[c.Name]:
			cols, vals = append(cols, lite.Quote(c.Name)), append(vals, lite.Quote(c.Name))
		}
	}
	stmts = append(stmts,
		"INSERT INTO "+lite.Quote(tmp)+" ("+strings.Join(cols, ", ")+") SELECT "+strings.Join(vals, ", ")+
			" FROM "+lite.Quote(target.Name)+" ORDER BY rowid",
		"DROP TABLE "+lite.Quote(target.Name),
		"ALTER TABLE "+lite.Quote(tmp)+" RENAME TO "+lite.Quote(target.Name))
	// The keys and indexes, with their names for the target table.
	keyed := &schema.Table{Name: target.Name, Version: target.Version, Columns: target.Columns,
		Primary: target.Primary, Keys: target.Keys, Indexes: target.Indexes}
	return append(stmts, lite.CreateTable(keyed)[1:]...)
}

// sqliteNone is the SQL of a step that SQLite needs no work for (a
// rebuild earlier in the migration did it).
func sqliteNone() map[string][]string { return map[string][]string{"sqlite": {}} }

// onSQLite gives a step its own (empty) SQL on SQLite.
func onSQLite(s schema.Step) schema.Step {
	s.SQL = sqliteNone()
	return s
}

func names(cols []schema.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}
