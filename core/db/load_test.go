package db_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
)

// withEveryStep is a table whose migrations use every step kind, with SQL
// of its own in some dialects.
func withEveryStep() *schema.Table {
	t := dbtest.WidgetV4()
	t.Name = "every_step"
	t.Version = 6
	t.Comment = "a table with every kind of step"
	t.Columns = append(t.Columns, schema.Column{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0", Comment: "bits"})
	t.Migrations = append(t.Migrations,
		schema.Migration{From: 4, Note: "flags", Steps: []schema.Step{
			schema.BackupTable(),
			schema.AddColumn(schema.Column{Name: "old", Type: schema.Int, Null: true}),
			schema.RenameColumn("old", "older"),
			schema.DropColumn("older"),
			schema.AddColumn(schema.Column{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0", Comment: "bits"}),
		}},
		schema.Migration{From: 5, Steps: []schema.Step{
			schema.DropIndex("name_idx", false),
			schema.CreateIndex(schema.Index{Name: "name_idx", Columns: []string{"name"}}),
			schema.SQL(map[string][]string{"mysql": {"UPDATE `every_step` SET `flags` = 0"}, "postgres": {}, "sqlite": {}}),
			{Kind: schema.StepAddColumn, Column: schema.Column{Name: "spare", Type: schema.Text, Null: true},
				SQL: map[string][]string{"sqlite": {}}},
			schema.DropIndex("name_n_key", true),
			schema.CreateUniqueIndex(schema.Index{Name: "name_n_key", Columns: []string{"name", "n"}}),
		}},
	)
	// spare is added by the last migration with custom SQL (none on
	// sqlite), so it must be declared too.
	t.Columns = append(t.Columns, schema.Column{Name: "spare", Type: schema.Text, Null: true})
	return t
}

// normalize makes empty slices and maps nil, as they read back from JSON.
func normalize(t *schema.Table) *schema.Table {
	c := *t
	if len(c.Primary) == 0 {
		c.Primary = nil
	}
	if len(c.Keys) == 0 {
		c.Keys = nil
	}
	if len(c.Indexes) == 0 {
		c.Indexes = nil
	}
	if len(c.Migrations) == 0 {
		c.Migrations = nil
	}
	if len(c.Fixes) == 0 {
		c.Fixes = nil
	}
	c.Migrations = append([]schema.Migration(nil), c.Migrations...)
	for i := range c.Migrations {
		steps := append([]schema.Step(nil), c.Migrations[i].Steps...)
		for k := range steps {
			if len(steps[k].SQL) == 0 {
				steps[k].SQL = nil
			}
		}
		c.Migrations[i].Steps = steps
	}
	return &c
}

func TestLoadDumpRoundTrip(t *testing.T) {
	groups := []db.Group{
		{Name: "usrloc", Tables: []*schema.Table{dbtest.Location()}},
		{Name: "auth_db", Tables: []*schema.Table{dbtest.Subscriber(), dbtest.Commented()}},
		{Name: "cpl-c", Tables: []*schema.Table{dbtest.WidgetV4(), withEveryStep()}},
		{Name: "empty"},
		{Name: "group", Tables: []*schema.Table{dbtest.Member(), dbtest.Cut(true)}},
	}
	if err := db.CheckTables(groups[2].Tables); err != nil {
		t.Fatalf("test declarations: %v", err)
	}
	dump, err := db.RenderDump(groups)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := dump.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	back, err := db.LoadDump(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(groups) {
		t.Fatalf("%d groups read back, want %d", len(back), len(groups))
	}
	for i, g := range groups {
		if back[i].Name != g.Name || len(back[i].Tables) != len(g.Tables) {
			t.Fatalf("group %d: %s with %d tables, want %s with %d", i, back[i].Name, len(back[i].Tables), g.Name, len(g.Tables))
		}
		for k, want := range g.Tables {
			got := back[i].Tables[k]
			if !reflect.DeepEqual(normalize(got), normalize(want)) {
				gj, _ := json.MarshalIndent(got, "", " ")
				wj, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("table %s does not read back equal:\n%s\nwant\n%s", want.Name, gj, wj)
			}
		}
	}
	// What is read back renders the same dump again, byte for byte.
	again, err := db.RenderDump(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.JSON) != string(dump.JSON) {
		t.Error("the dump of the tables read back differs from the original dump")
	}
	// The shape fixes and done-conditions are there.
	if f := back[4].Tables[0].Fixes; len(f) != 1 || f[0].Version != 2 || len(f[0].Done) != 3 || f[0].Done[2] != schema.LacksIndex("old_key") ||
		f[0].Steps[2].Kind != schema.StepAddID || f[0].Steps[2].Column.Name != "id" {
		t.Errorf("fixes read back: %+v", f)
	}
	if s := back[4].Tables[1].Migrations[0].Steps[0]; len(s.Done) != 1 || s.Done[0] != schema.HasColumn("extra") {
		t.Errorf("done-condition read back: %+v", s)
	}
	if !strings.Contains(string(dump.JSON), `"done": [
            {
              "column": "id"
            },`) {
		t.Error("the JSON does not show the done-conditions as expected")
	}
	// And the same migration SQL, in every dialect.
	for _, d := range db.Dialects {
		want, err := db.PlanSteps(d, withEveryStep(), 1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.PlanSteps(d, back[2].Tables[1], 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if strings.Join(got[i].SQL, ";") != strings.Join(want[i].SQL, ";") {
				t.Errorf("%s: migration %d: SQL differs:\n%q\nwant\n%q", d, want[i].From, got[i].SQL, want[i].SQL)
			}
		}
	}
}

func TestParseDumpErrors(t *testing.T) {
	dump, err := db.RenderDump([]db.Group{{Name: "usrloc", Tables: []*schema.Table{dbtest.WidgetV4()}}})
	if err != nil {
		t.Fatal(err)
	}
	good := string(dump.JSON)
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"not JSON", good, "{", "unexpected end of JSON"},
		{"format", `"format": 2`, `"format": 3`, "format 3, this program reads formats 1 to 2"},
		{"format 0", `"format": 2`, `"format": 0`, "format 0, this program reads formats 1 to 2"},
		{"type", `"name": "name",
          "type": "string"`, `"name": "name",
          "type": "varchar"`, `column name: unknown type "varchar"`},
		{"kind", `"kind": "add_column"`, `"kind": "add_columns"`, `migration 1→2, step 1: unknown step kind "add_columns"`},
		{"chain", `"to": 2`, `"to": 3`, "migration 1→3 does not lead to the next version"},
		{"orphan", `"tables": [
        "widget"
      ]`, `"tables": []`, "table widget belongs to no group"},
		{"missing", `"name": "widget",
      "group"`, `"name": "gadget",
      "group"`, "group usrloc names table widget, which is not described"},
		{"invalid", `"version": 4`, `"version": 7`, "no migration from version 4 to 5"},
		{"group name", `"name": "usrloc"`, `"name": "../x"`, `group name "../x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.from) {
				t.Fatalf("the dump has no %q", tc.from)
			}
			_, err := db.ParseDump([]byte(strings.Replace(good, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseDump: %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := db.LoadDump(t.TempDir()); err == nil || !strings.Contains(err.Error(), "schema.json") {
		t.Errorf("LoadDump of an empty folder: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "schema.json"), []byte(`{"format":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if g, err := db.LoadDump(dir); err != nil || len(g) != 0 {
		t.Errorf("an empty description: %v, %v", g, err)
	}
}
