package db

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"sip-router.org/core/db/schema"
)

// DumpFormat is the format number of the JSON description RenderDump
// writes. LoadDump reads it and format 1, which had neither shape fixes
// nor done-conditions.
const DumpFormat = 2

// ParseDump reads back the JSON description of a dump (schema.json, as
// RenderDump writes it): the groups in their order, each with its tables,
// their columns, keys, indexes, versions and migrations (the declared
// steps, with any SQL of their own). The rendered SQL in the description
// is not read: a tool renders it again from the declarations, so that a
// table loaded back migrates exactly as the one declared in Go.
//
// Every table is validated as RenderDump validates declarations; an error
// names the table and what is wrong.
func ParseDump(js []byte) ([]Group, error) {
	var doc dumpDoc
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("schema description: %w", err)
	}
	if doc.Format < 1 || doc.Format > DumpFormat {
		return nil, fmt.Errorf("schema description: format %d, this program reads formats 1 to %d", doc.Format, DumpFormat)
	}
	byName := map[string]*dumpTable{}
	for i := range doc.Tables {
		dt := &doc.Tables[i]
		if _, dup := byName[dt.Name]; dup {
			return nil, fmt.Errorf("schema description: table %s is described twice", dt.Name)
		}
		byName[dt.Name] = dt
	}
	used := map[string]bool{}
	groups := make([]Group, 0, len(doc.Groups))
	for _, dg := range doc.Groups {
		if !validGroupName(dg.Name) {
			return nil, fmt.Errorf("schema description: group name %q is not a module name", dg.Name)
		}
		g := Group{Name: dg.Name}
		for _, name := range dg.Tables {
			dt, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("schema description: group %s names table %s, which is not described", dg.Name, name)
			}
			if used[name] {
				return nil, fmt.Errorf("schema description: table %s is in two groups", name)
			}
			used[name] = true
			t, err := loadTable(dt)
			if err != nil {
				return nil, fmt.Errorf("schema description: table %s: %w", name, err)
			}
			g.Tables = append(g.Tables, t)
		}
		if err := validate(g.Tables); err != nil {
			return nil, fmt.Errorf("schema description: group %s: %w", g.Name, err)
		}
		groups = append(groups, g)
	}
	for _, dt := range doc.Tables {
		if !used[dt.Name] {
			return nil, fmt.Errorf("schema description: table %s belongs to no group", dt.Name)
		}
	}
	return groups, nil
}

// LoadDump reads dir/schema.json (a folder written by Dump.WriteFiles, the
// share folder of a flavor) with ParseDump.
func LoadDump(dir string) ([]Group, error) {
	p := filepath.Join(dir, "schema.json")
	js, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	g, err := ParseDump(js)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return g, nil
}

func loadTable(dt *dumpTable) (*schema.Table, error) {
	t := &schema.Table{Name: dt.Name, Version: dt.Version, Comment: dt.Comment, Primary: dt.Primary}
	for _, dc := range dt.Columns {
		c, err := loadColumn(dc)
		if err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, c)
	}
	t.Keys = loadIndexes(dt.Keys)
	t.Indexes = loadIndexes(dt.Indexes)
	for _, dm := range dt.Migrations {
		if dm.To != dm.From+1 {
			return nil, fmt.Errorf("migration %d→%d does not lead to the next version", dm.From, dm.To)
		}
		m := schema.Migration{From: dm.From, Note: dm.Note}
		for i, ds := range dm.Steps {
			s, err := loadStep(ds)
			if err != nil {
				return nil, fmt.Errorf("migration %d→%d, step %d: %w", dm.From, dm.To, i+1, err)
			}
			m.Steps = append(m.Steps, s)
		}
		t.Migrations = append(t.Migrations, m)
	}
	for _, df := range dt.Fixes {
		f := schema.Fix{Version: df.Version, Note: df.Note, Done: loadConds(df.Done)}
		for i, ds := range df.Steps {
			s, err := loadStep(ds)
			if err != nil {
				return nil, fmt.Errorf("shape fix at version %d, step %d: %w", df.Version, i+1, err)
			}
			f.Steps = append(f.Steps, s)
		}
		t.Fixes = append(t.Fixes, f)
	}
	return t, nil
}

func loadConds(in []dumpCond) []schema.Cond {
	var out []schema.Cond
	for _, c := range in {
		out = append(out, schema.Cond{Column: c.Column, Index: c.Index, Absent: c.Absent})
	}
	return out
}

func loadIndexes(in []dumpIndexDef) []schema.Index {
	var out []schema.Index
	for _, i := range in {
		out = append(out, schema.Index{Name: i.Name, Columns: i.Columns})
	}
	return out
}

func loadColumn(dc dumpColumn) (schema.Column, error) {
	typ, ok := typeByName(dc.Type)
	if !ok {
		return schema.Column{}, fmt.Errorf("column %s: unknown type %q", dc.Name, dc.Type)
	}
	return schema.Column{Name: dc.Name, Type: typ, Size: dc.Size, Null: dc.Null, Default: dc.Default,
		Auto: dc.Auto, Unsigned: dc.Unsigned, Comment: dc.Comment}, nil
}

func typeByName(name string) (schema.Type, bool) {
	for t := schema.Int; t <= schema.Blob; t++ {
		if t.String() == name {
			return t, true
		}
	}
	return 0, false
}

func kindByName(name string) (schema.StepKind, bool) {
	for k := schema.StepAddColumn; k <= schema.LastStepKind; k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

func loadStep(ds dumpStep) (schema.Step, error) {
	kind, ok := kindByName(ds.Kind)
	if !ok {
		return schema.Step{}, fmt.Errorf("unknown step kind %q", ds.Kind)
	}
	s := schema.Step{Kind: kind, Name: ds.Name, To: ds.To, SQL: ds.SQL, Done: loadConds(ds.Done)}
	need := func(what string, ok bool) error {
		if !ok {
			return fmt.Errorf("%s step without %s", ds.Kind, what)
		}
		return nil
	}
	var err error
	switch kind {
	case schema.StepAddColumn, schema.StepAddID:
		if err = need("column", ds.Column != nil); err == nil {
			s.Column, err = loadColumn(*ds.Column)
		}
	case schema.StepChangeType:
		if err = need("column and from", ds.Column != nil && ds.From != nil); err == nil {
			if s.Column, err = loadColumn(*ds.Column); err == nil {
				s.From, err = loadColumn(*ds.From)
			}
		}
	case schema.StepCreateIndex:
		if err = need("index", ds.Index != nil); err == nil {
			s.Index = schema.Index{Name: ds.Index.Name, Columns: ds.Index.Columns}
			s.Unique = ds.Index.Unique
		}
	case schema.StepDropIndex:
		if ds.Index != nil {
			s.Unique = ds.Index.Unique
		}
	case schema.StepSQL:
		err = need("SQL", len(ds.SQL) > 0)
	}
	if err != nil {
		return schema.Step{}, err
	}
	return s, nil
}
