package db

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sip-router.org/core/db/schema"
)

// Group is a set of tables rendered together, as Kamailio renders one
// <group>-create.sql per module (usrloc, auth_db …).
type Group struct {
	Name   string
	Tables []*schema.Table
}

// Script is one rendered SQL file.
type Script struct {
	Dialect string
	// File is the file name: standard-create.sql, <group>-create.sql,
	// <group>-drop.sql.
	File string
	Text string
}

// Dump is the rendered schema of a set of groups: SQL scripts per
// dialect and a machine-readable description.
type Dump struct {
	Scripts []Script
	// JSON describes every table, its version, its columns and keys, its
	// CREATE statements and its migrations (with their SQL) per dialect.
	JSON []byte
}

// The JSON description (format 2: format 1 with shape fixes and
// done-conditions).
type dumpDoc struct {
	Format       int         `json:"format"`
	Dialects     []string    `json:"dialects"`
	VersionTable dumpTable   `json:"version_table"`
	Groups       []dumpGroup `json:"groups"`
	Tables       []dumpTable `json:"tables"`
}

type dumpGroup struct {
	Name   string   `json:"name"`
	Tables []string `json:"tables"`
}

type dumpTable struct {
	Name       string              `json:"name"`
	Group      string              `json:"group,omitempty"`
	Version    int                 `json:"version"`
	Comment    string              `json:"comment,omitempty"`
	Columns    []dumpColumn        `json:"columns"`
	Primary    []string            `json:"primary,omitempty"`
	Keys       []dumpIndexDef      `json:"keys,omitempty"`
	Indexes    []dumpIndexDef      `json:"indexes,omitempty"`
	Create     map[string][]string `json:"create"`
	Drop       map[string][]string `json:"drop"`
	Migrations []dumpMigration     `json:"migrations,omitempty"`
	Fixes      []dumpFix           `json:"fixes,omitempty"`
}

// dumpFix is a shape fix: the steps and, per dialect, their SQL, which
// runs at version Version unless every condition of Done holds.
type dumpFix struct {
	Version int                 `json:"version"`
	Note    string              `json:"note,omitempty"`
	Done    []dumpCond          `json:"done"`
	Steps   []dumpStep          `json:"steps"`
	SQL     map[string][]string `json:"sql"`
}

// dumpCond is a done-condition: {"column": "id"}, {"index": "alias_idx",
// "absent": true}.
type dumpCond struct {
	Column string `json:"column,omitempty"`
	Index  string `json:"index,omitempty"`
	Absent bool   `json:"absent,omitempty"`
}

func jsonConds(cs []schema.Cond) []dumpCond {
	var out []dumpCond
	for _, c := range cs {
		out = append(out, dumpCond{Column: c.Column, Index: c.Index, Absent: c.Absent})
	}
	return out
}

type dumpColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Size     int    `json:"size,omitempty"`
	Null     bool   `json:"null"`
	Default  string `json:"default,omitempty"`
	Auto     bool   `json:"auto,omitempty"`
	Unsigned bool   `json:"unsigned,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

type dumpMigration struct {
	From  int                 `json:"from"`
	To    int                 `json:"to"`
	Note  string              `json:"note,omitempty"`
	Steps []dumpStep          `json:"steps"`
	SQL   map[string][]string `json:"sql"`
}

type dumpStep struct {
	Kind   string      `json:"kind"`
	Column *dumpColumn `json:"column,omitempty"`
	From   *dumpColumn `json:"from,omitempty"`
	Name   string      `json:"name,omitempty"`
	To     string      `json:"to,omitempty"`
	Index  *dumpIndex  `json:"index,omitempty"`
	// SQL is the step's own SQL per dialect, as declared: the statements
	// of a StepSQL, or what replaces the generated SQL of another kind in
	// a dialect. It lets LoadDump rebuild the step exactly.
	SQL map[string][]string `json:"sql,omitempty"`
	// Done are the step's done-conditions.
	Done []dumpCond `json:"done,omitempty"`
}

func jsonStep(s schema.Step) dumpStep {
	ds := dumpStep{Kind: s.Kind.String(), Name: s.Name, To: s.To, SQL: s.SQL, Done: jsonConds(s.Done)}
	switch s.Kind {
	case schema.StepAddColumn, schema.StepAddID:
		c := jsonColumn(s.Column)
		ds.Column = &c
	case schema.StepChangeType:
		c, f := jsonColumn(s.Column), jsonColumn(s.From)
		ds.Column, ds.From = &c, &f
	case schema.StepCreateIndex:
		ds.Index = &dumpIndex{Name: s.Index.Name, Columns: s.Index.Columns, Unique: s.Unique}
	case schema.StepDropIndex:
		ds.Index = &dumpIndex{Name: s.Name, Unique: s.Unique}
	}
	return ds
}

// dumpIndexDef is a key or index of a table.
type dumpIndexDef struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
}

func jsonIndexes(ix []schema.Index) []dumpIndexDef {
	var out []dumpIndexDef
	for _, i := range ix {
		out = append(out, dumpIndexDef{Name: i.Name, Columns: i.Columns})
	}
	return out
}

type dumpIndex struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique"`
}

func jsonColumn(c schema.Column) dumpColumn {
	return dumpColumn{Name: c.Name, Type: c.Type.String(), Size: c.Size, Null: c.Null, Default: c.Default,
		Auto: c.Auto, Unsigned: c.Unsigned, Comment: c.Comment}
}

func describeTable(t *schema.Table, group string) (dumpTable, error) {
	dt := dumpTable{Name: t.Name, Group: group, Version: t.Version, Comment: t.Comment,
		Primary: t.Primary, Keys: jsonIndexes(t.Keys), Indexes: jsonIndexes(t.Indexes),
		Create: map[string][]string{}, Drop: map[string][]string{}}
	for _, c := range t.Columns {
		dt.Columns = append(dt.Columns, jsonColumn(c))
	}
	for _, d := range Dialects {
		create := []string{d.versionRowSQL(t.Name, t.Version)}
		dt.Create[d.name] = append(create, d.CreateTable(t)...)
		dt.Drop[d.name] = []string{d.DropTable(t.Name), d.deleteVersionSQL(t.Name)}
	}
	for _, m := range t.Migrations {
		dm := dumpMigration{From: m.From, To: m.From + 1, Note: m.Note, SQL: map[string][]string{}}
		for _, s := range m.Steps {
			dm.Steps = append(dm.Steps, jsonStep(s))
		}
		for _, d := range Dialects {
			steps, err := planOne(d, t, m.From)
			if err != nil {
				return dt, err
			}
			dm.SQL[d.name] = steps.SQL
		}
		dt.Migrations = append(dt.Migrations, dm)
	}
	for i := range t.Fixes {
		f := &t.Fixes[i]
		df := dumpFix{Version: f.Version, Note: f.Note, Done: jsonConds(f.Done), SQL: map[string][]string{}}
		for _, s := range f.Steps {
			df.Steps = append(df.Steps, jsonStep(s))
		}
		for _, d := range Dialects {
			vs, err := PlanFix(d, t, f)
			if err != nil {
				return dt, err
			}
			df.SQL[d.name] = vs.SQL
		}
		dt.Fixes = append(dt.Fixes, df)
	}
	return dt, nil
}

// planOne renders the one migration from version from.
func planOne(d *Dialect, t *schema.Table, from int) (VersionStep, error) {
	steps, err := planSteps(d, t, from, from+1)
	if err != nil {
		return VersionStep{}, err
	}
	return steps[0], nil
}

// CheckTables validates table declarations and renders them, and each of
// their migrations and shape fixes, in every dialect: a test of a module's tables.
func CheckTables(tables []*schema.Table) error {
	if err := validate(tables); err != nil {
		return err
	}
	var errs []error
	for _, t := range tables {
		if _, err := describeTable(t, ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RenderDump renders groups of tables for the tools: per dialect, the
// version table's script (standard-create.sql) and each group's create and
// drop scripts, plus the JSON description of every table with its
// versions and migrations. A table name may appear in one group only.
func RenderDump(groups []Group) (*Dump, error) {
	owner := map[string]string{}
	doc := dumpDoc{Format: DumpFormat}
	for _, d := range Dialects {
		doc.Dialects = append(doc.Dialects, d.name)
	}
	vt, err := describeTable(VersionTableDef(), "")
	if err != nil {
		return nil, err
	}
	vt.Create = map[string][]string{}
	for _, d := range Dialects {
		vt.Create[d.name] = d.CreateTable(VersionTableDef())
		vt.Drop[d.name] = []string{d.DropTable(VersionTable)}
	}
	doc.VersionTable = vt
	out := &Dump{}
	for _, d := range Dialects {
		out.Scripts = append(out.Scripts, Script{Dialect: d.name, File: "standard-create.sql", Text: StandardScript(d)})
	}
	for _, g := range groups {
		if !validGroupName(g.Name) {
			return nil, fmt.Errorf("group name %q: it must be a module name (letters, digits, _ . -), not \"standard\"", g.Name)
		}
		if err := validate(g.Tables); err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		dg := dumpGroup{Name: g.Name, Tables: []string{}}
		for _, t := range g.Tables {
			if t.Name == VersionTable {
				return nil, fmt.Errorf("group %s declares table %s, which is the core's", g.Name, VersionTable)
			}
			if o, dup := owner[t.Name]; dup {
				return nil, fmt.Errorf("table %s is declared by groups %s and %s", t.Name, o, g.Name)
			}
			owner[t.Name] = g.Name
			dt, err := describeTable(t, g.Name)
			if err != nil {
				return nil, fmt.Errorf("group %s: %w", g.Name, err)
			}
			doc.Tables = append(doc.Tables, dt)
			dg.Tables = append(dg.Tables, t.Name)
		}
		doc.Groups = append(doc.Groups, dg)
		for _, d := range Dialects {
			create, err := CreateScript(d, g.Tables)
			if err != nil {
				return nil, err
			}
			drop, err := DropScript(d, g.Tables)
			if err != nil {
				return nil, err
			}
			out.Scripts = append(out.Scripts,
				Script{Dialect: d.name, File: g.Name + "-create.sql", Text: create},
				Script{Dialect: d.name, File: g.Name + "-drop.sql", Text: drop})
		}
	}
	if doc.Groups == nil {
		doc.Groups = []dumpGroup{}
	}
	if doc.Tables == nil {
		doc.Tables = []dumpTable{}
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	out.JSON = append(js, '\n')
	return out, nil
}

// WriteFiles writes the dump under dir: <dialect>/<file> for each script
// (dir/mysql/usrloc-create.sql …) and dir/schema.json. Folders are made
// with mode 0755, files 0644.
func (d *Dump) WriteFiles(dir string) error {
	for _, s := range d.Scripts {
		sub := filepath.Join(dir, s.Dialect)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return fmt.Errorf("write schema dump: %w", err)
		}
		if err := os.WriteFile(filepath.Join(sub, s.File), []byte(s.Text), 0o644); err != nil {
			return fmt.Errorf("write schema dump: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write schema dump: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.json"), d.JSON, 0o644); err != nil {
		return fmt.Errorf("write schema dump: %w", err)
	}
	return nil
}

// validGroupName accepts module names (cpl-c, db_mysql), which become file
// names.
func validGroupName(s string) bool {
	if s == "" || s == "standard" || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
