package schema

import (
	"fmt"
	"strconv"
)

// Migration brings a table from version From to From+1. Its steps run in
// order; the table's row in "version" is updated when they are all done.
type Migration struct {
	From  int
	Steps []Step
	// Note says why (rendered as a comment in the SQL).
	Note string
}

// StepKind is what a migration step does.
type StepKind uint8

// Step kinds.
const (
	// StepAddColumn adds Column. It must be nullable or carry a default, so
	// existing rows get a value.
	StepAddColumn StepKind = iota + 1
	// StepDropColumn drops the column Name. Its data must have been saved
	// first, in the same migration: by a StepCopyColumn from it or by a
	// StepBackupTable.
	StepDropColumn
	// StepRenameColumn renames the column Name to To.
	StepRenameColumn
	// StepChangeType changes the definition of a column from From to
	// Column (same name). A change that could lose data (a shorter
	// VARCHAR, another type, NULL to NOT NULL, signed to unsigned) needs a
	// StepBackupTable first.
	StepChangeType
	// StepCopyColumn copies every row's value of column Name into column To.
	StepCopyColumn
	// StepCreateIndex creates Index, unique when Unique is set.
	StepCreateIndex
	// StepDropIndex drops the index (or unique key, with Unique) Name.
	StepDropIndex
	// StepBackupTable copies the whole table into <table>_bak_v<From>
	// (once: an existing backup is kept).
	StepBackupTable
	// StepSQL runs SQL, given per dialect.
	StepSQL
	// StepAddID adds Column, an auto-increment column, as the table's
	// primary key, in place of the primary key the table had, if any (the
	// id OpenSER 1.2 gave its tables). Existing rows get numbers in their
	// order. On SQLite, which cannot add a primary key with ALTER TABLE,
	// the table is rebuilt in its declared shape, which is only possible
	// in the last migration or in a shape fix at the declared version
	// (elsewhere the step must give its SQL for sqlite), and only when the
	// table then has every declared column and no other.
	StepAddID
)

// LastStepKind is the highest step kind.
const LastStepKind = StepAddID

var stepNames = [...]string{"", "add_column", "drop_column", "rename_column", "change_type",
	"copy_column", "create_index", "drop_index", "backup_table", "sql", "add_id"}

// String names the kind ("add_column" …), as the JSON description does.
func (k StepKind) String() string {
	if int(k) < len(stepNames) && k != 0 {
		return stepNames[k]
	}
	return "step(" + strconv.Itoa(int(k)) + ")"
}

// Step is one change of a migration. Which fields matter depends on Kind.
type Step struct {
	Kind StepKind
	// Column is the column added (StepAddColumn, StepAddID) or its new
	// definition (StepChangeType).
	Column Column
	// From is the old definition of the column (StepChangeType).
	From Column
	// Name is the column dropped, renamed or copied from, or the index
	// dropped.
	Name string
	// To is the new name (StepRenameColumn) or the target column
	// (StepCopyColumn).
	To string
	// Index is the index created (StepCreateIndex).
	Index Index
	// Unique marks a unique index (StepCreateIndex, StepDropIndex).
	Unique bool
	// SQL holds statements per dialect name ("mysql", "postgres",
	// "sqlite"). For StepSQL it is the step and every dialect the table
	// is used with must be present. For any other kind, an entry replaces
	// the generated SQL of that dialect (for what a dialect cannot do with
	// ALTER TABLE). Statements run as given: on MySQL, where DDL is not
	// transactional, they must be safe to run twice, unless Done says when
	// they have run.
	SQL map[string][]string
	// Done says what the table looks like once the step has run: the step
	// is skipped when every condition holds. Without it, a generated step
	// is skipped when the catalog shows its effect (the column added is
	// there …), and a step that runs SQL of its own (StepSQL, or SQL for
	// the dialect) always runs. On MySQL, which commits every ALTER TABLE
	// by itself, it is what makes a migration cut after such a step safe
	// to run again.
	Done []Cond
}

// DoneWhen returns the step with done-conditions (see Step.Done).
func (s Step) DoneWhen(conds ...Cond) Step {
	s.Done = append(append([]Cond(nil), s.Done...), conds...)
	return s
}

// Cond is a fact about a table as the database catalog shows it: that it
// has a column named Column, or an index (or unique key) of the declared
// name Index; Absent turns it around. Exactly one of Column and Index is
// set.
type Cond struct {
	Column string
	Index  string
	Absent bool
}

// HasColumn holds when the table has the column.
func HasColumn(name string) Cond { return Cond{Column: name} }

// LacksColumn holds when the table does not have the column.
func LacksColumn(name string) Cond { return Cond{Column: name, Absent: true} }

// HasIndex holds when the table has the index or unique key.
func HasIndex(name string) Cond { return Cond{Index: name} }

// LacksIndex holds when the table does not have the index or unique key.
func LacksIndex(name string) Cond { return Cond{Index: name, Absent: true} }

// String describes the condition ("column id", "no index alias_idx").
func (c Cond) String() string {
	s := "column " + c.Column
	if c.Column == "" {
		s = "index " + c.Index
	}
	if c.Absent {
		s = "no " + s
	}
	return s
}

func (c Cond) check() error {
	switch {
	case (c.Column == "") == (c.Index == ""):
		return fmt.Errorf("condition %+v: set one of column and index", c)
	case c.Column != "" && !ValidName(c.Column):
		return fmt.Errorf("condition: bad column name %q", c.Column)
	case c.Index != "" && !ValidName(c.Index):
		return fmt.Errorf("condition: bad index name %q", c.Index)
	}
	return nil
}

// Fix is a same-version shape fix. Some releases changed a table without
// changing its version (OpenSER 1.2 gave grp, domain, uri and dbaliases an
// id primary key, their versions unchanged), so a table at one version may
// come in several shapes. A fix brings a table found at Version to the
// shape Done describes: unless every condition of Done holds, its steps
// run (each skipped when it is done, as in a migration) and the version is
// left as it is; then Done must hold. It applies to the version a table is
// found at, before any migration from there: a table that reaches Version
// by migration has the shape the migrations give it.
type Fix struct {
	Version int
	// Done is the shape the fix gives (at least one condition).
	Done  []Cond
	Steps []Step
	// Note says why (rendered as a comment in the SQL).
	Note string
}

// AddColumn is a StepAddColumn.
func AddColumn(c Column) Step { return Step{Kind: StepAddColumn, Column: c} }

// DropColumn is a StepDropColumn.
func DropColumn(name string) Step { return Step{Kind: StepDropColumn, Name: name} }

// RenameColumn is a StepRenameColumn.
func RenameColumn(from, to string) Step { return Step{Kind: StepRenameColumn, Name: from, To: to} }

// ChangeType is a StepChangeType.
func ChangeType(from, to Column) Step { return Step{Kind: StepChangeType, From: from, Column: to} }

// CopyColumn is a StepCopyColumn.
func CopyColumn(from, to string) Step { return Step{Kind: StepCopyColumn, Name: from, To: to} }

// CreateIndex is a StepCreateIndex of a non-unique index.
func CreateIndex(ix Index) Step { return Step{Kind: StepCreateIndex, Index: ix} }

// CreateUniqueIndex is a StepCreateIndex of a unique key.
func CreateUniqueIndex(ix Index) Step { return Step{Kind: StepCreateIndex, Index: ix, Unique: true} }

// DropIndex is a StepDropIndex; unique says it is a unique key.
func DropIndex(name string, unique bool) Step {
	return Step{Kind: StepDropIndex, Name: name, Unique: unique}
}

// BackupTable is a StepBackupTable.
func BackupTable() Step { return Step{Kind: StepBackupTable} }

// SQL is a StepSQL with statements per dialect.
func SQL(perDialect map[string][]string) Step { return Step{Kind: StepSQL, SQL: perDialect} }

// AddID is a StepAddID of the auto-increment column c.
func AddID(c Column) Step { return Step{Kind: StepAddID, Column: c} }

// BackupName is the name of the copy StepBackupTable makes of table before
// the migration from version from.
func BackupName(table string, from int) string {
	return table + "_bak_v" + strconv.Itoa(from)
}

// FixBackupName is the name of the copy StepBackupTable makes of table in
// a shape fix at version.
func FixBackupName(table string, version int) string {
	return table + "_bak_v" + strconv.Itoa(version) + "_fix"
}

// Widens reports whether changing a column from a to b keeps every value
// that a can hold: same type with a VARCHAR not shorter, int to bigint,
// string to text, NOT NULL to NULL, unsigned to signed of a larger type.
func Widens(a, b Column) bool {
	if a.Null && !b.Null {
		return false
	}
	switch {
	case a.Type == b.Type:
		if a.Type == String && b.Size < a.Size {
			return false
		}
		if (a.Type == Int || a.Type == BigInt) && a.Unsigned != b.Unsigned {
			return false
		}
		return true
	case a.Type == Int && b.Type == BigInt:
		return !b.Unsigned || a.Unsigned
	case a.Type == String && b.Type == Text:
		return true
	}
	return false
}
