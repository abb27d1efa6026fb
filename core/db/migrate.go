package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"sip-router.org/core/db/schema"
)

// MigrateOptions tune Migrate.
type MigrateOptions struct {
	// DryRun only reads versions and returns the SQL that would run.
	DryRun bool
	// Timeout bounds each statement (default 10 minutes: an ALTER TABLE
	// of a big table takes a while).
	Timeout time.Duration
}

// Plan actions.
const (
	ActionNone    = "none"    // the table is up to date
	ActionCreate  = "create"  // the table does not exist: it is created
	ActionMigrate = "migrate" // the table is older: its migrations run
	ActionFix     = "fix"     // the table has its version in another shape: a shape fix runs
)

// TablePlan is what Migrate does (or did) to one table.
type TablePlan struct {
	Table string
	// From is the version found (0 for a table created), To the version
	// declared.
	From, To int
	Action   string
	// Steps are the version steps, in order. A created table has one
	// step, from 0 to its version. A shape fix at the version found comes
	// first.
	Steps []VersionStep
}

// VersionStep is one migration, shape fix or creation of a table, as SQL.
type VersionStep struct {
	// From and To are the versions before and after; equal for a shape
	// fix.
	From, To int
	Note     string
	// Fix marks a shape fix (see schema.Fix); Lacking says which of its
	// done-conditions the table did not meet when planned.
	Fix     bool
	Lacking []string
	// Backup is the backup table the step makes, if any.
	Backup string
	// SQL are the statements, the update of the version row included (a
	// shape fix leaves the version as it is).
	SQL []string

	ops []stepOp
	fix *schema.Fix
}

type stepOp struct {
	step  *schema.Step
	stmts []string
	// check, when set, runs before the statements (on the same
	// connection or transaction) and stops the step with its error.
	check func(ctx context.Context, q Querier) error
}

// MigrateReport is the outcome of Migrate.
type MigrateReport struct {
	Dialect string
	Tables  []TablePlan
	// DryRun says that nothing was changed.
	DryRun bool
}

// Changed reports whether any table needed work.
func (r *MigrateReport) Changed() bool {
	for _, t := range r.Tables {
		if t.Action != ActionNone {
			return true
		}
	}
	return false
}

// SQL renders the planned statements as a script.
func (r *MigrateReport) SQL() string {
	var b strings.Builder
	for _, t := range r.Tables {
		switch t.Action {
		case ActionNone:
			fmt.Fprintf(&b, "-- table %s: version %d, up to date\n", t.Table, t.To)
			continue
		case ActionCreate:
			fmt.Fprintf(&b, "-- table %s: missing, created at version %d\n", t.Table, t.To)
		case ActionFix:
			fmt.Fprintf(&b, "-- table %s: version %d in another shape\n", t.Table, t.To)
		default:
			fmt.Fprintf(&b, "-- table %s: version %d → %d\n", t.Table, t.From, t.To)
		}
		for _, s := range t.Steps {
			switch {
			case s.Fix:
				fmt.Fprintf(&b, "-- shape fix at version %d (the table lacks %s)", s.From, strings.Join(s.Lacking, ", "))
			case t.Action == ActionMigrate:
				fmt.Fprintf(&b, "-- migration %d → %d", s.From, s.To)
			}
			if t.Action != ActionCreate {
				if s.Note != "" {
					b.WriteString(": " + oneLine(s.Note))
				}
				b.WriteString("\n")
			}
			writeStmts(&b, s.SQL)
		}
	}
	return b.String()
}

// ErrNewerVersion is wrapped when the database holds a newer table than
// the code knows.
var ErrNewerVersion = errors.New("table is newer than this server")

// Migrate brings tables to their declared versions. For each table it
// reads the version, then:
//   - creates a missing table (with its version row);
//   - runs the table's shape fix for the version found, if the table does
//     not have the shape the fix gives (see schema.Fix);
//   - runs the table's migrations from the version found to the declared
//     one, in order, updating the version row after each;
//   - refuses a table newer than declared, or one that exists without a
//     version row (its structure is unknown).
//
// Nothing is changed unless every table can be brought up to date. On
// PostgreSQL and SQLite each migration step runs in a transaction with its
// version update. MySQL commits every ALTER TABLE by itself; there, each
// generated step is skipped when the catalog shows it done, so a Migrate
// interrupted half-way can simply run again. Running Migrate twice
// changes nothing the second time. Finally every declared column must
// exist.
func Migrate(ctx context.Context, d *DB, tables []*schema.Table, opts MigrateOptions) (*MigrateReport, error) {
	if err := validate(tables); err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	d = d.WithTimeout(opts.Timeout)
	dl := d.Dialect()
	rep := &MigrateReport{Dialect: dl.Name(), DryRun: opts.DryRun}
	for _, t := range tables {
		p, err := planTable(ctx, d, t)
		if err != nil {
			return nil, err
		}
		rep.Tables = append(rep.Tables, p)
	}
	if opts.DryRun {
		if rep.Changed() {
			if ok, err := TableExists(ctx, d, VersionTable); err != nil {
				return nil, err
			} else if !ok {
				std := TablePlan{Table: VersionTable, Action: ActionCreate,
					Steps: []VersionStep{{SQL: dl.createTable(VersionTableDef(), true)}}}
				rep.Tables = append([]TablePlan{std}, rep.Tables...)
			}
		}
		return rep, nil
	}
	if rep.Changed() {
		if err := EnsureVersionTable(ctx, d); err != nil {
			return nil, err
		}
	}
	for i, p := range rep.Tables {
		t := tables[i]
		for _, s := range p.Steps {
			if err := applyStep(ctx, d, t, p.Action, s); err != nil {
				return rep, err
			}
		}
		if err := checkColumns(ctx, d, t); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func planTable(ctx context.Context, d *DB, t *schema.Table) (TablePlan, error) {
	dl := d.Dialect()
	p := TablePlan{Table: t.Name, To: t.Version, Action: ActionNone}
	exists, err := TableExists(ctx, d, t.Name)
	if err != nil {
		return p, err
	}
	v, found, err := tableVersion(ctx, d, t.Name)
	if err != nil {
		return p, err
	}
	if !exists {
		p.Action = ActionCreate
		stmts := []string{dl.deleteVersionSQL(t.Name), dl.versionRowSQL(t.Name, t.Version)}
		stmts = append(stmts, dl.CreateTable(t)...)
		p.Steps = []VersionStep{{From: 0, To: t.Version, SQL: stmts}}
		return p, nil
	}
	p.From = v
	switch {
	case !found && t.Version != 0:
		return p, fmt.Errorf("table %s exists but has no row in table %s, so its structure is unknown: "+
			"check it against version %d and set its version (or drop it to have it created)", t.Name, VersionTable, t.Version)
	case v > t.Version:
		return p, fmt.Errorf("%w: table %s has version %d, this server knows version %d at most: refusing to migrate",
			ErrNewerVersion, t.Name, v, t.Version)
	}
	fixes, err := planFixes(ctx, d, t, v)
	if err != nil {
		return p, err
	}
	if v == t.Version {
		if len(fixes) > 0 {
			p.Action = ActionFix
			p.Steps = fixes
		}
		return p, nil
	}
	steps, err := PlanSteps(dl, t, v)
	if err != nil {
		return p, err
	}
	p.Action = ActionMigrate
	p.Steps = append(fixes, steps...)
	return p, nil
}

// planFixes renders the shape fixes a table found at version v needs: those
// at v whose done-conditions do not all hold.
func planFixes(ctx context.Context, q Querier, t *schema.Table, v int) ([]VersionStep, error) {
	var out []VersionStep
	for i := range t.Fixes {
		f := &t.Fixes[i]
		if f.Version != v {
			continue
		}
		lacking, err := unmet(ctx, q, t.Name, f.Done)
		if err != nil {
			return nil, err
		}
		if len(lacking) == 0 {
			continue
		}
		vs, err := PlanFix(q.Dialect(), t, f)
		if err != nil {
			return nil, err
		}
		vs.Lacking = lacking
		out = append(out, vs)
	}
	return out, nil
}

// PendingFixes returns the shape fixes a table found at version v needs:
// those at v whose done-conditions do not all hold in the database.
func PendingFixes(ctx context.Context, q Querier, t *schema.Table, v int) ([]*schema.Fix, error) {
	var out []*schema.Fix
	for i := range t.Fixes {
		f := &t.Fixes[i]
		if f.Version != v {
			continue
		}
		lacking, err := unmet(ctx, q, t.Name, f.Done)
		if err != nil {
			return nil, err
		}
		if len(lacking) > 0 {
			out = append(out, f)
		}
	}
	return out, nil
}

// unmet describes the conditions that do not hold for a table.
func unmet(ctx context.Context, q Querier, table string, conds []schema.Cond) ([]string, error) {
	var out []string
	var cols []string
	haveCols := false
	for _, c := range conds {
		var ok bool
		if c.Column != "" {
			if !haveCols {
				var err error
				if cols, err = Columns(ctx, q, table); err != nil {
					return nil, err
				}
				haveCols = true
			}
			ok = slices.Contains(cols, c.Column)
		} else {
			var err error
			if ok, err = IndexExists(ctx, q, table, c.Index); err != nil {
				return nil, err
			}
		}
		if ok == c.Absent {
			out = append(out, c.String())
		}
	}
	return out, nil
}

// PlanFix renders a shape fix, without a database: its statements, which
// leave the version as it is.
func PlanFix(d *Dialect, t *schema.Table, f *schema.Fix) (VersionStep, error) {
	vs := VersionStep{From: f.Version, To: f.Version, Note: f.Note, Fix: true, fix: f}
	for k := range f.Steps {
		s := &f.Steps[k]
		op, err := d.stepOp(t, schema.FixBackupName(t.Name, f.Version), f.Version == t.Version, s)
		if err != nil {
			return vs, fmt.Errorf("table %s: shape fix at version %d, step %d (%s): %w", t.Name, f.Version, k+1, s.Kind, err)
		}
		if s.Kind == schema.StepBackupTable {
			vs.Backup = schema.FixBackupName(t.Name, f.Version)
		}
		vs.ops = append(vs.ops, op)
		vs.SQL = append(vs.SQL, op.stmts...)
	}
	return vs, nil
}

// PlanSteps renders the migrations of a table from version from to its
// declared version, without a database: what a dry run shows.
func PlanSteps(d *Dialect, t *schema.Table, from int) ([]VersionStep, error) {
	return planSteps(d, t, from, t.Version)
}

// planSteps renders the migrations of a table from version from to
// version to.
func planSteps(d *Dialect, t *schema.Table, from, to int) ([]VersionStep, error) {
	var out []VersionStep
	for v := from; v < to; v++ {
		i := slices.IndexFunc(t.Migrations, func(m schema.Migration) bool { return m.From == v })
		if i < 0 {
			return nil, fmt.Errorf("table %s: no migration from version %d to %d (the code knows version %d): the table must be updated by hand",
				t.Name, v, v+1, t.Version)
		}
		m := &t.Migrations[i]
		vs := VersionStep{From: v, To: v + 1, Note: m.Note}
		for k := range m.Steps {
			s := &m.Steps[k]
			op, err := d.stepOp(t, schema.BackupName(t.Name, m.From), m.From+1 == t.Version, s)
			if err != nil {
				return nil, fmt.Errorf("table %s: migration %d→%d, step %d (%s): %w", t.Name, v, v+1, k+1, s.Kind, err)
			}
			if s.Kind == schema.StepBackupTable {
				vs.Backup = schema.BackupName(t.Name, m.From)
			}
			vs.ops = append(vs.ops, op)
			vs.SQL = append(vs.SQL, op.stmts...)
		}
		vs.SQL = append(vs.SQL, d.deleteVersionSQL(t.Name), d.versionRowSQL(t.Name, v+1))
		out = append(out, vs)
	}
	return out, nil
}

// sqliteAffinity is the type affinity SQLite gives a declared type: a
// change within one affinity changes nothing in an SQLite file.
func sqliteAffinity(t schema.Type) string {
	switch t {
	case schema.Int, schema.BigInt:
		return "INTEGER"
	case schema.String, schema.Text:
		return "TEXT"
	case schema.Float:
		return "REAL"
	case schema.Blob:
		return "BLOB"
	}
	return "NUMERIC"
}

// stepOp renders one step of a migration or shape fix: backup names the
// table a StepBackupTable makes, and final says that the table has its
// declared shape once the migration (or fix) is done.
func (d *Dialect) stepOp(t *schema.Table, backup string, final bool, s *schema.Step) (stepOp, error) {
	op := stepOp{step: s}
	if stmts, ok := s.SQL[d.name]; ok {
		op.stmts = stmts
		return op, nil
	}
	if s.Kind == schema.StepAddID && d.kind == kindSQLite {
		if !final {
			return op, fmt.Errorf("sqlite cannot add a primary key with ALTER TABLE, and the table is rebuilt in its declared shape " +
				"only by the last migration or a shape fix at the declared version: give the step SQL for sqlite (see SQLiteRebuild)")
		}
		var from []string
		for _, c := range t.Columns {
			if c.Name != s.Column.Name {
				from = append(from, c.Name)
			}
		}
		op.stmts = SQLiteRebuild(t, from, nil)
		op.check = func(ctx context.Context, q Querier) error { return rebuildCheck(ctx, q, t, s.Column.Name) }
		return op, nil
	}
	stmts, err := d.stepSQL(t, backup, s)
	op.stmts = stmts
	return op, err
}

// rebuildCheck makes sure that rebuilding a table on SQLite in its
// declared shape, to add the column id, neither drops a column nor lacks
// one.
func rebuildCheck(ctx context.Context, q Querier, t *schema.Table, id string) error {
	have, err := Columns(ctx, q, t.Name)
	if err != nil {
		return err
	}
	var extra, missing []string
	for _, c := range have {
		if t.Col(c) == nil || c == id {
			extra = append(extra, c)
		}
	}
	for _, c := range t.Columns {
		if c.Name != id && !slices.Contains(have, c.Name) {
			missing = append(missing, c.Name)
		}
	}
	switch {
	case len(extra) > 0:
		return fmt.Errorf("rebuilding table %s to add column %s would drop column(s) %s, which version %d does not declare: "+
			"drop them (after a backup) before the step", t.Name, id, strings.Join(extra, ", "), t.Version)
	case len(missing) > 0:
		return fmt.Errorf("table %s lacks column(s) %s of version %d: add them before the column %s",
			t.Name, strings.Join(missing, ", "), t.Version, id)
	}
	return nil
}

// SQLiteRebuild rebuilds a table on SQLite in the shape of target (same
// name), for what SQLite's ALTER TABLE cannot do (add a primary key,
// change a column's definition): a new table is made, the rows copied in
// their order, the old table dropped and the new one renamed, then
// target's keys and indexes are made. exprs gives, for some target
// columns, the SQL expression that computes them from the old row; the
// columns in from (those of target the old table has) are copied as they
// are, and the rest take their defaults.
func SQLiteRebuild(target *schema.Table, from []string, exprs map[string]string) []string {
	lite := SQLite
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

// stepSQL renders one generated step.
func (d *Dialect) stepSQL(t *schema.Table, backup string, s *schema.Step) ([]string, error) {
	tq := "ALTER TABLE " + d.Quote(t.Name) + " "
	switch s.Kind {
	case schema.StepSQL:
		return nil, fmt.Errorf("no SQL for dialect %s", d.name)
	case schema.StepAddColumn:
		stmts := []string{tq + "ADD COLUMN " + d.ColumnDef(s.Column)}
		if d.kind == kindPostgres && s.Column.Comment != "" {
			stmts = append(stmts, d.columnComment(t.Name, s.Column))
		}
		return stmts, nil
	case schema.StepDropColumn:
		return []string{tq + "DROP COLUMN " + d.Quote(s.Name)}, nil
	case schema.StepRenameColumn:
		return []string{tq + "RENAME COLUMN " + d.Quote(s.Name) + " TO " + d.Quote(s.To)}, nil
	case schema.StepCopyColumn:
		return []string{"UPDATE " + d.Quote(t.Name) + " SET " + d.Quote(s.To) + " = " + d.Quote(s.Name)}, nil
	case schema.StepBackupTable:
		return []string{"CREATE TABLE " + d.Quote(backup) + " AS SELECT * FROM " + d.Quote(t.Name)}, nil
	case schema.StepAddID:
		return d.addID(t.Name, s.Column), nil
	case schema.StepCreateIndex:
		if !s.Unique {
			return []string{d.createIndex(t.Name, s.Index, false, false)}, nil
		}
		if d.kind == kindSQLite {
			return []string{d.createIndex(t.Name, s.Index, true, false)}, nil
		}
		return []string{tq + "ADD CONSTRAINT " + d.Quote(d.IndexName(t.Name, s.Index.Name)) + " UNIQUE (" + d.quoteList(s.Index.Columns) + ")"}, nil
	case schema.StepDropIndex:
		name := d.Quote(d.IndexName(t.Name, s.Name))
		switch {
		case d.kind == kindMySQL:
			return []string{"DROP INDEX " + name + " ON " + d.Quote(t.Name)}, nil
		case d.kind == kindPostgres && s.Unique:
			return []string{tq + "DROP CONSTRAINT " + name}, nil
		}
		return []string{"DROP INDEX " + name}, nil
	case schema.StepChangeType:
		return d.changeType(t, s.From, s.Column)
	}
	return nil, fmt.Errorf("unknown step kind %d", s.Kind)
}

// addID renders StepAddID on MySQL and PostgreSQL: the table's primary
// key, if it has one, is replaced by the auto-increment column c.
func (d *Dialect) addID(table string, c schema.Column) []string {
	tq := "ALTER TABLE " + d.Quote(table) + " "
	if d.kind == kindPostgres {
		// A primary key made by CREATE TABLE has the default name.
		return []string{tq + "DROP CONSTRAINT IF EXISTS " + d.Quote(table+"_pkey"), tq + "ADD COLUMN " + d.ColumnDef(c)}
	}
	// MySQL: whether the table has a primary key shows in the catalog
	// only, so the ALTER TABLE runs in a procedure that looks (a
	// procedure, unlike a prepared statement, is not tied to the pooled
	// connection each statement gets). One ALTER TABLE: atomic in InnoDB.
	proc := d.Quote(truncate("sr_add_"+c.Name+"_"+table, 64))
	hasPK := "EXISTS (SELECT 1 FROM information_schema.table_constraints WHERE table_schema = DATABASE() AND table_name = " +
		d.Literal(table) + " AND constraint_type = 'PRIMARY KEY')"
	add := "ADD COLUMN " + d.ColumnDef(c) + " FIRST"
	return []string{
		"DROP PROCEDURE IF EXISTS " + proc,
		"CREATE PROCEDURE " + proc + "() BEGIN IF " + hasPK + " THEN " + tq + "DROP PRIMARY KEY, " + add +
			"; ELSE " + tq + add + "; END IF; END",
		"CALL " + proc + "()",
		"DROP PROCEDURE " + proc,
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (d *Dialect) changeType(t *schema.Table, from, to schema.Column) ([]string, error) {
	switch d.kind {
	case kindMySQL:
		return []string{"ALTER TABLE " + d.Quote(t.Name) + " MODIFY COLUMN " + d.ColumnDef(to)}, nil
	case kindPostgres:
		col := d.Quote(to.Name)
		var acts []string
		if d.TypeName(from) != d.TypeName(to) {
			acts = append(acts, "ALTER COLUMN "+col+" TYPE "+d.TypeName(to)+" USING "+col+"::"+d.TypeName(to))
		}
		if from.Default != to.Default || (from.Null != to.Null && to.Default == "") {
			if to.Default != "" {
				acts = append(acts, "ALTER COLUMN "+col+" SET DEFAULT "+to.Default)
			} else if to.Null {
				acts = append(acts, "ALTER COLUMN "+col+" SET DEFAULT NULL")
			} else {
				acts = append(acts, "ALTER COLUMN "+col+" DROP DEFAULT")
			}
		}
		if from.Null != to.Null {
			if to.Null {
				acts = append(acts, "ALTER COLUMN "+col+" DROP NOT NULL")
			} else {
				acts = append(acts, "ALTER COLUMN "+col+" SET NOT NULL")
			}
		}
		if len(acts) == 0 {
			return nil, nil
		}
		return []string{"ALTER TABLE " + d.Quote(t.Name) + " " + strings.Join(acts, ", ")}, nil
	}
	// SQLite has no ALTER COLUMN. Its columns take any value of their
	// affinity whatever the declared size, so a change within one
	// affinity needs nothing; anything else needs the table rebuilt,
	// which the step must spell out.
	if sqliteAffinity(from.Type) == sqliteAffinity(to.Type) && from.Null == to.Null && from.Default == to.Default {
		return nil, nil
	}
	return nil, fmt.Errorf("sqlite cannot change column %s from %s to %s with ALTER TABLE: give the step SQL for sqlite (rebuild the table)",
		to.Name, d.ColumnDef(from), d.ColumnDef(to))
}

// stepDone reports whether the effect of a step is already in the
// database (a Migrate interrupted on MySQL, where DDL is not
// transactional): its done-conditions all hold, or, without any, the
// catalog shows the effect of a generated step. SQL given by the
// declaration without done-conditions always runs.
func stepDone(ctx context.Context, q Querier, t *schema.Table, m *VersionStep, s *schema.Step) (bool, error) {
	if len(s.Done) > 0 {
		lacking, err := unmet(ctx, q, t.Name, s.Done)
		return len(lacking) == 0, err
	}
	if _, custom := s.SQL[q.Dialect().name]; custom || s.Kind == schema.StepSQL {
		return false, nil
	}
	hasCol := func(name string) (bool, error) {
		cols, err := Columns(ctx, q, t.Name)
		return slices.Contains(cols, name), err
	}
	switch s.Kind {
	case schema.StepAddColumn, schema.StepAddID:
		return hasCol(s.Column.Name)
	case schema.StepDropColumn:
		ok, err := hasCol(s.Name)
		return !ok, err
	case schema.StepRenameColumn:
		cols, err := Columns(ctx, q, t.Name)
		return !slices.Contains(cols, s.Name) && slices.Contains(cols, s.To), err
	case schema.StepCopyColumn:
		// The source is gone: a later step of this migration dropped it
		// after the copy.
		ok, err := hasCol(s.Name)
		return !ok, err
	case schema.StepCreateIndex:
		return IndexExists(ctx, q, t.Name, s.Index.Name)
	case schema.StepDropIndex:
		ok, err := IndexExists(ctx, q, t.Name, s.Name)
		return !ok, err
	case schema.StepBackupTable:
		return TableExists(ctx, q, m.Backup)
	}
	return false, nil
}

func applyStep(ctx context.Context, d *DB, t *schema.Table, action string, vs VersionStep) error {
	run := func(q Querier) error {
		if action == ActionCreate {
			for _, s := range vs.SQL {
				if _, err := q.Exec(ctx, s); err != nil {
					return fmt.Errorf("create table %s: %w", t.Name, err)
				}
			}
			return nil
		}
		for _, op := range vs.ops {
			done, err := stepDone(ctx, q, t, &vs, op.step)
			if err != nil {
				return err
			}
			if done {
				continue
			}
			if op.check != nil {
				if err := op.check(ctx, q); err != nil {
					return err
				}
			}
			for _, s := range op.stmts {
				if _, err := q.Exec(ctx, s); err != nil {
					return fmt.Errorf("table %s: %s: %s: %w", t.Name, vs.what(), op.step.Kind, err)
				}
			}
		}
		if vs.Fix {
			// The fix must have given the shape it promises.
			lacking, err := unmet(ctx, q, t.Name, vs.fix.Done)
			if err != nil {
				return err
			}
			if len(lacking) > 0 {
				return fmt.Errorf("table %s: %s: the table still lacks %s", t.Name, vs.what(), strings.Join(lacking, ", "))
			}
			return nil
		}
		return SetVersion(ctx, q, t.Name, vs.To)
	}
	if d.Dialect().TransactionalDDL() {
		return d.WithTx(ctx, func(tx *Tx) error { return run(tx) })
	}
	err := run(d)
	if err != nil && action == ActionCreate {
		// MySQL: undo the half-created table (new, hence empty), so that
		// the next run creates it whole.
		_, _ = d.Exec(ctx, d.Dialect().DropTable(t.Name))
		_, _ = d.Exec(ctx, d.Dialect().deleteVersionSQL(t.Name))
	}
	return err
}

// what names a version step in messages.
func (vs *VersionStep) what() string {
	if vs.Fix {
		return fmt.Sprintf("shape fix at version %d", vs.From)
	}
	return fmt.Sprintf("migration %d→%d", vs.From, vs.To)
}

// checkColumns fails when a declared column is missing from the table.
func checkColumns(ctx context.Context, q Querier, t *schema.Table) error {
	cols, err := Columns(ctx, q, t.Name)
	if err != nil {
		return err
	}
	var missing []string
	for _, c := range t.Columns {
		if !slices.Contains(cols, c.Name) {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("table %s is at version %d but lacks column(s) %s that this version declares: its structure does not match",
			t.Name, t.Version, strings.Join(missing, ", "))
	}
	return nil
}
