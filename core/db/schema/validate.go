package schema

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxNameLen bounds table, column and index names. Index names get the
// table name as a prefix in some dialects, and the result must stay within
// PostgreSQL's 63 bytes: Validate checks that too.
const MaxNameLen = 63

// ValidName reports whether s is usable as a table, column or index name:
// lower-case ASCII letters, digits and underscores, not starting with a
// digit, at most MaxNameLen bytes.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate checks a declaration: names, types, keys, and that the
// migrations form a chain ending at Version in which no step loses data.
// It returns every problem found.
func (t *Table) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("table %s: "+format, append([]any{t.Name}, args...)...))
	}
	if !ValidName(t.Name) {
		return fmt.Errorf("table name %q is not a valid name (a-z, 0-9, _; at most %d bytes)", t.Name, MaxNameLen)
	}
	if t.Version < 0 {
		add("negative version %d", t.Version)
	}
	if len(t.Columns) == 0 {
		add("no columns")
	}
	seen := map[string]bool{}
	autos := 0
	for _, c := range t.Columns {
		if seen[c.Name] {
			add("column %s declared twice", c.Name)
		}
		seen[c.Name] = true
		if err := c.check(); err != nil {
			add("%v", err)
		}
		if c.Auto {
			autos++
		}
	}
	if autos > 1 {
		add("more than one auto-increment column")
	}
	if autos > 0 && len(t.Primary) > 0 {
		add("has both an auto-increment column and an explicit primary key")
	}
	for _, p := range t.Primary {
		c := t.Col(p)
		switch {
		case c == nil:
			add("primary key column %s is not declared", p)
		case c.Null:
			add("primary key column %s is nullable", p)
		}
	}
	names := map[string]bool{}
	for _, group := range []struct {
		what string
		ix   []Index
	}{{"key", t.Keys}, {"index", t.Indexes}} {
		for _, ix := range group.ix {
			if names[ix.Name] {
				add("index name %s used twice", ix.Name)
			}
			names[ix.Name] = true
			if err := t.checkIndex(ix); err != nil {
				add("%s %v", group.what, err)
			}
		}
	}
	if err := t.checkMigrations(); err != nil {
		errs = append(errs, err)
	}
	if err := t.checkFixes(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Column) check() error {
	if !ValidName(c.Name) {
		return fmt.Errorf("column name %q is not a valid name", c.Name)
	}
	if int(c.Type) >= len(typeNames) {
		return fmt.Errorf("column %s: unknown type %d", c.Name, c.Type)
	}
	if c.Type == String && (c.Size < 1 || c.Size > 16383) {
		return fmt.Errorf("column %s: string size %d is not in 1..16383", c.Name, c.Size)
	}
	if c.Type != String && c.Size != 0 {
		return fmt.Errorf("column %s: a size is only for string columns", c.Name)
	}
	if c.Auto {
		if c.Type != Int && c.Type != BigInt {
			return fmt.Errorf("column %s: auto-increment needs int or bigint", c.Name)
		}
		if c.Null || c.Default != "" {
			return fmt.Errorf("column %s: an auto-increment column is NOT NULL without default", c.Name)
		}
	}
	if err := checkDefault(c.Default); err != nil {
		return fmt.Errorf("column %s: default %s: %w", c.Name, c.Default, err)
	}
	return nil
}

// checkDefault refuses default texts that would break out of a column
// definition: an unterminated quote, or ; , ( ) -- or a line break outside
// quotes.
func checkDefault(d string) error {
	in := false
	for i := 0; i < len(d); i++ {
		ch := d[i]
		switch {
		case ch == '\'':
			in = !in
		case in:
		case ch == ';' || ch == ',' || ch == '\n' || ch == '\r' || ch == '(' || ch == ')':
			return fmt.Errorf("%q is not allowed outside quotes", ch)
		case ch == '-' && i+1 < len(d) && d[i+1] == '-':
			return errors.New("a comment is not allowed")
		}
	}
	if in {
		return errors.New("unterminated quote")
	}
	return nil
}

func (t *Table) checkIndex(ix Index) error {
	if !ValidName(ix.Name) {
		return fmt.Errorf("name %q is not a valid name", ix.Name)
	}
	if len(t.Name)+1+len(ix.Name) > MaxNameLen {
		return fmt.Errorf("%s: %s_%s is longer than %d bytes", ix.Name, t.Name, ix.Name, MaxNameLen)
	}
	if len(ix.Columns) == 0 {
		return fmt.Errorf("%s has no columns", ix.Name)
	}
	seen := map[string]bool{}
	for _, c := range ix.Columns {
		if seen[c] {
			return fmt.Errorf("%s lists column %s twice", ix.Name, c)
		}
		seen[c] = true
		if t.Col(c) == nil {
			return fmt.Errorf("%s: column %s is not declared", ix.Name, c)
		}
	}
	return nil
}

func (t *Table) checkMigrations() error {
	if len(t.Migrations) == 0 {
		return nil
	}
	var errs []error
	from := map[int]bool{}
	var froms []int
	for _, m := range t.Migrations {
		if from[m.From] {
			errs = append(errs, fmt.Errorf("table %s: two migrations from version %d", t.Name, m.From))
			continue
		}
		from[m.From] = true
		froms = append(froms, m.From)
		if m.From < 0 || m.From >= t.Version {
			errs = append(errs, fmt.Errorf("table %s: migration from version %d does not lead towards version %d", t.Name, m.From, t.Version))
		}
		if err := t.checkSteps(m.Steps, BackupName(t.Name, m.From)); err != nil {
			errs = append(errs, fmt.Errorf("table %s: migration %d→%d: %w", t.Name, m.From, m.From+1, err))
		}
	}
	sort.Ints(froms)
	for i, f := range froms {
		next := t.Version
		if i+1 < len(froms) {
			next = froms[i+1]
		}
		if f+1 != next && f < t.Version {
			errs = append(errs, fmt.Errorf("table %s: no migration from version %d to %d", t.Name, f+1, f+2))
		}
	}
	return errors.Join(errs...)
}

// checkFixes checks the shape fixes: a known version each, at most one per
// version, a shape to reach, and steps that lose no data.
func (t *Table) checkFixes() error {
	var errs []error
	seen := map[int]bool{}
	for _, f := range t.Fixes {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("table %s: shape fix at version %d: "+format, append([]any{t.Name, f.Version}, args...)...))
		}
		if seen[f.Version] {
			bad("a second fix at this version (make it one)")
			continue
		}
		seen[f.Version] = true
		if f.Version < 0 || f.Version > t.Version {
			bad("the table's versions go up to %d", t.Version)
		}
		if len(f.Done) == 0 {
			bad("no done-conditions: the fix must say what shape it gives, or it would run every time")
		}
		for _, c := range f.Done {
			if err := c.check(); err != nil {
				bad("%v", err)
			}
		}
		if err := t.checkSteps(f.Steps, FixBackupName(t.Name, f.Version)); err != nil {
			bad("%v", err)
		}
	}
	return errors.Join(errs...)
}

// checkSteps checks the steps of a migration or a shape fix, whose
// backup table (if a step makes one) is named backupName.
func (t *Table) checkSteps(steps []Step, backupName string) error {
	var errs []string
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("step %d: ", i+1)+fmt.Sprintf(format, args...))
	}
	saved := map[string]bool{} // columns whose data was copied elsewhere
	backup := false
	for i, s := range steps {
		for _, c := range s.Done {
			if err := c.check(); err != nil {
				bad(i, "done: %v", err)
			}
		}
		switch s.Kind {
		case StepAddColumn:
			if err := s.Column.check(); err != nil {
				bad(i, "%v", err)
			}
			if s.Column.Auto {
				bad(i, "cannot add an auto-increment column")
			}
			if !s.Column.Null && s.Column.Default == "" {
				bad(i, "added column %s needs a default (or must allow NULL), so the rows already there get a value", s.Column.Name)
			}
		case StepDropColumn:
			if !ValidName(s.Name) {
				bad(i, "drop column: bad name %q", s.Name)
			}
			if !saved[s.Name] && !backup {
				bad(i, "dropping column %s loses its data: copy it first (CopyColumn) or back the table up (BackupTable) in the same migration", s.Name)
			}
		case StepRenameColumn:
			if !ValidName(s.Name) || !ValidName(s.To) || s.Name == s.To {
				bad(i, "rename column: bad names %q → %q", s.Name, s.To)
			}
		case StepChangeType:
			if err := s.Column.check(); err != nil {
				bad(i, "%v", err)
			}
			if s.From.Name != s.Column.Name {
				bad(i, "change type: old and new definitions name different columns (%s, %s)", s.From.Name, s.Column.Name)
			}
			if s.Column.Auto || s.From.Auto {
				bad(i, "change type: auto-increment columns cannot be changed")
			}
			if !Widens(s.From, s.Column) && !backup {
				bad(i, "changing column %s from %s to %s may lose data: back the table up (BackupTable) first in the same migration",
					s.Column.Name, describe(s.From), describe(s.Column))
			}
		case StepCopyColumn:
			if !ValidName(s.Name) || !ValidName(s.To) || s.Name == s.To {
				bad(i, "copy column: bad names %q → %q", s.Name, s.To)
			}
			saved[s.Name] = true
		case StepCreateIndex:
			if !ValidName(s.Index.Name) || len(s.Index.Columns) == 0 {
				bad(i, "create index: bad index %q", s.Index.Name)
			}
			if len(t.Name)+1+len(s.Index.Name) > MaxNameLen {
				bad(i, "create index: %s_%s is longer than %d bytes", t.Name, s.Index.Name, MaxNameLen)
			}
			for _, c := range s.Index.Columns {
				if !ValidName(c) {
					bad(i, "create index %s: bad column name %q", s.Index.Name, c)
				}
			}
		case StepDropIndex:
			if !ValidName(s.Name) {
				bad(i, "drop index: bad name %q", s.Name)
			}
		case StepBackupTable:
			backup = true
			if len(backupName) > MaxNameLen {
				bad(i, "backup table name %s is too long", backupName)
			}
		case StepAddID:
			if err := s.Column.check(); err != nil {
				bad(i, "%v", err)
			}
			if !s.Column.Auto {
				bad(i, "add id: column %s is not an auto-increment column", s.Column.Name)
			}
		case StepSQL:
			if len(s.SQL) == 0 {
				bad(i, "SQL step without statements")
			}
		default:
			bad(i, "unknown step kind %d", s.Kind)
		}
	}
	if len(steps) == 0 {
		errs = append(errs, "no steps")
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

func describe(c Column) string {
	s := c.Type.String()
	if c.Type == String {
		s = fmt.Sprintf("string(%d)", c.Size)
	}
	if c.Unsigned {
		s = "unsigned " + s
	}
	if c.Null {
		s += " NULL"
	} else {
		s += " NOT NULL"
	}
	return s
}
