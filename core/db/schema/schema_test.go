package schema_test

import (
	"strings"
	"testing"

	"sip-router.org/core/db/schema"
)

func good() *schema.Table {
	return &schema.Table{
		Name:    "t",
		Version: 3,
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "a", Type: schema.String, Size: 32, Default: "''"},
			{Name: "b", Type: schema.Int, Null: true},
		},
		Keys:    []schema.Index{{Name: "a_idx", Columns: []string{"a"}}},
		Indexes: []schema.Index{{Name: "b_idx", Columns: []string{"b"}}},
		Migrations: []schema.Migration{
			{From: 1, Steps: []schema.Step{schema.AddColumn(schema.Column{Name: "b", Type: schema.Int, Null: true})}},
			{From: 2, Steps: []schema.Step{schema.CreateIndex(schema.Index{Name: "b_idx", Columns: []string{"b"}})}},
		},
	}
}

// fix is a valid shape fix at version v of the table of good().
func fix(v int) schema.Fix {
	return schema.Fix{Version: v, Done: []schema.Cond{schema.HasColumn("id")},
		Steps: []schema.Step{schema.AddID(schema.Column{Name: "id", Type: schema.Int, Auto: true})}}
}

func TestValidate(t *testing.T) {
	if err := good().Validate(); err != nil {
		t.Fatalf("a good table: %v", err)
	}
	withFix := good()
	withFix.Fixes = []schema.Fix{fix(3), fix(1)}
	withFix.Fixes[1].Steps = append([]schema.Step{schema.BackupTable()}, schema.DropColumn("old"))
	if err := withFix.Validate(); err != nil {
		t.Fatalf("a good table with fixes: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(t *schema.Table)
		want   string
	}{
		{"bad table name", func(t *schema.Table) { t.Name = "T-1" }, `table name "T-1"`},
		{"no columns", func(t *schema.Table) { t.Columns = nil; t.Keys = nil; t.Indexes = nil }, "no columns"},
		{"duplicate column", func(t *schema.Table) { t.Columns = append(t.Columns, t.Columns[1]) }, "column a declared twice"},
		{"string without size", func(t *schema.Table) { t.Columns[1].Size = 0 }, "string size 0"},
		{"size on int", func(t *schema.Table) { t.Columns[2].Size = 4 }, "a size is only for string columns"},
		{"auto string", func(t *schema.Table) { t.Columns[1].Auto = true; t.Columns[1].Default = "" }, "auto-increment needs int"},
		{"two autos", func(t *schema.Table) { t.Columns[2] = schema.Column{Name: "b", Type: schema.Int, Auto: true} }, "more than one auto-increment"},
		{"auto with primary", func(t *schema.Table) { t.Primary = []string{"a"} }, "both an auto-increment column and an explicit primary key"},
		{"nullable primary", func(t *schema.Table) { t.Columns[0].Auto = false; t.Primary = []string{"b"} }, "primary key column b is nullable"},
		{"unknown key column", func(t *schema.Table) { t.Keys[0].Columns = []string{"zz"} }, "column zz is not declared"},
		{"index name twice", func(t *schema.Table) { t.Indexes[0].Name = "a_idx" }, "index name a_idx used twice"},
		{"default breaking out", func(t *schema.Table) { t.Columns[1].Default = "''); DROP TABLE x; --" }, "not allowed outside quotes"},
		{"unterminated default", func(t *schema.Table) { t.Columns[1].Default = "'abc" }, "unterminated quote"},
		{"long index name", func(t *schema.Table) {
			t.Name = strings.Repeat("t", 40)
			t.Indexes[0].Name = strings.Repeat("i", 30)
		}, "longer than 63 bytes"},
		{"gap in chain", func(t *schema.Table) { t.Version = 4 }, "no migration from version 3 to 4"},
		{"migration beyond version", func(t *schema.Table) {
			t.Migrations = append(t.Migrations, schema.Migration{From: 3, Steps: []schema.Step{schema.BackupTable()}})
		}, "does not lead towards version 3"},
		{"duplicate migration", func(t *schema.Table) { t.Migrations = append(t.Migrations, t.Migrations[0]) }, "two migrations from version 1"},
		{"add column without default", func(t *schema.Table) {
			t.Migrations[0].Steps[0].Column.Null = false
		}, "added column b needs a default"},
		{"drop without copy", func(t *schema.Table) {
			t.Migrations[1].Steps = append(t.Migrations[1].Steps, schema.DropColumn("old"))
		}, "dropping column old loses its data"},
		{"narrowing without backup", func(t *schema.Table) {
			t.Migrations[1].Steps = append(t.Migrations[1].Steps, schema.ChangeType(
				schema.Column{Name: "a", Type: schema.String, Size: 64},
				schema.Column{Name: "a", Type: schema.String, Size: 32}))
		}, "changing column a from string(64) NOT NULL to string(32) NOT NULL may lose data"},
		{"empty migration", func(t *schema.Table) { t.Migrations[1].Steps = nil }, "no steps"},
		{"empty SQL step", func(t *schema.Table) { t.Migrations[1].Steps = []schema.Step{schema.SQL(nil)} }, "SQL step without statements"},
		{"fix beyond the version", func(t *schema.Table) { t.Fixes = []schema.Fix{fix(4)} }, "shape fix at version 4: the table's versions go up to 3"},
		{"fix without done", func(t *schema.Table) {
			f := fix(3)
			f.Done = nil
			t.Fixes = []schema.Fix{f}
		}, "no done-conditions"},
		{"two fixes", func(t *schema.Table) { t.Fixes = []schema.Fix{fix(3), fix(3)} }, "a second fix at this version"},
		{"bad condition", func(t *schema.Table) {
			f := fix(3)
			f.Done = []schema.Cond{{Column: "id", Index: "x"}}
			t.Fixes = []schema.Fix{f}
		}, "set one of column and index"},
		{"bad condition name", func(t *schema.Table) {
			t.Migrations[1].Steps[0] = t.Migrations[1].Steps[0].DoneWhen(schema.HasIndex("B"))
		}, `migration 2→3: step 1: done: condition: bad index name "B"`},
		{"lossy fix", func(t *schema.Table) {
			f := fix(3)
			f.Steps = append(f.Steps, schema.DropColumn("old"))
			t.Fixes = []schema.Fix{f}
		}, "shape fix at version 3: step 2: dropping column old loses its data"},
		{"add id of a plain column", func(t *schema.Table) {
			f := fix(3)
			f.Steps = []schema.Step{schema.AddID(schema.Column{Name: "id", Type: schema.Int})}
			t.Fixes = []schema.Fix{f}
		}, "column id is not an auto-increment column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := good()
			tc.change(tab)
			err := tab.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// A destructive step is allowed once the data is saved in the same
// migration.
func TestLosslessWithCopyOrBackup(t *testing.T) {
	tab := good()
	tab.Migrations[1].Steps = append(tab.Migrations[1].Steps,
		schema.AddColumn(schema.Column{Name: "c", Type: schema.Text, Null: true}),
		schema.CopyColumn("old", "c"),
		schema.DropColumn("old"))
	if err := tab.Validate(); err != nil {
		t.Errorf("drop after copy: %v", err)
	}
	tab = good()
	tab.Migrations[1].Steps = append(tab.Migrations[1].Steps,
		schema.BackupTable(),
		schema.DropColumn("old"),
		schema.ChangeType(schema.Column{Name: "a", Type: schema.Text}, schema.Column{Name: "a", Type: schema.String, Size: 8}))
	if err := tab.Validate(); err != nil {
		t.Errorf("drop and narrowing after a backup: %v", err)
	}
	// The order matters: a backup after the drop does not count.
	tab = good()
	tab.Migrations[1].Steps = append(tab.Migrations[1].Steps, schema.DropColumn("old"), schema.BackupTable())
	if err := tab.Validate(); err == nil {
		t.Error("a drop before the backup was accepted")
	}
}

func TestWidens(t *testing.T) {
	col := func(ty schema.Type, size int, null, unsigned bool) schema.Column {
		return schema.Column{Name: "c", Type: ty, Size: size, Null: null, Unsigned: unsigned}
	}
	for _, tc := range []struct {
		a, b schema.Column
		want bool
	}{
		{col(schema.String, 32, false, false), col(schema.String, 64, false, false), true},
		{col(schema.String, 64, false, false), col(schema.String, 32, false, false), false},
		{col(schema.String, 64, false, false), col(schema.Text, 0, false, false), true},
		{col(schema.Text, 0, false, false), col(schema.String, 64, false, false), false},
		{col(schema.Int, 0, false, false), col(schema.BigInt, 0, false, false), true},
		{col(schema.Int, 0, false, true), col(schema.BigInt, 0, false, false), true},
		{col(schema.Int, 0, false, false), col(schema.BigInt, 0, false, true), false},
		{col(schema.BigInt, 0, false, false), col(schema.Int, 0, false, false), false},
		{col(schema.Int, 0, false, false), col(schema.Int, 0, true, false), true},
		{col(schema.Int, 0, true, false), col(schema.Int, 0, false, false), false},
		{col(schema.Int, 0, false, true), col(schema.Int, 0, false, false), false},
		{col(schema.Float, 0, false, false), col(schema.Int, 0, false, false), false},
	} {
		if got := schema.Widens(tc.a, tc.b); got != tc.want {
			t.Errorf("Widens(%+v, %+v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestNames(t *testing.T) {
	for s, want := range map[string]bool{
		"location": true, "_x": true, "a1": true, "1a": false, "": false, "A": false, "a-b": false,
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false,
	} {
		if schema.ValidName(s) != want {
			t.Errorf("ValidName(%q) = %v", s, !want)
		}
	}
	if schema.StepDropColumn.String() != "drop_column" || schema.StepKind(99).String() != "step(99)" {
		t.Error("StepKind.String")
	}
	if schema.DateTime.String() != "datetime" || schema.Type(42).String() != "type(42)" {
		t.Error("Type.String")
	}
	if schema.BackupName("location", 1003) != "location_bak_v1003" || schema.FixBackupName("grp", 2) != "grp_bak_v2_fix" {
		t.Error("BackupName")
	}
	if schema.StepAddID.String() != "add_id" || schema.LastStepKind != schema.StepAddID {
		t.Error("StepAddID")
	}
	for c, want := range map[schema.Cond]string{
		schema.HasColumn("id"): "column id", schema.LacksColumn("x"): "no column x",
		schema.HasIndex("k"): "index k", schema.LacksIndex("k"): "no index k",
	} {
		if c.String() != want {
			t.Errorf("%+v: %s, want %s", c, c, want)
		}
	}
	s := schema.SQL(map[string][]string{"mysql": {"SELECT 1"}}).DoneWhen(schema.HasColumn("a"))
	if s2 := s.DoneWhen(schema.HasIndex("b")); len(s.Done) != 1 || len(s2.Done) != 2 {
		t.Error("DoneWhen changed the step it was called on")
	}
}
