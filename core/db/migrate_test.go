package db_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
)

func TestPlanStepsErrors(t *testing.T) {
	w := dbtest.WidgetV4()
	if _, err := db.PlanSteps(db.MySQL, w, 0); err == nil || !strings.Contains(err.Error(), "no migration from version 0 to 1") {
		t.Errorf("plan from 0: %v", err)
	}
	if steps, err := db.PlanSteps(db.MySQL, w, 4); err != nil || len(steps) != 0 {
		t.Errorf("plan at the current version: %v, %v", steps, err)
	}
	if steps, err := db.PlanSteps(db.MySQL, w, 2); err != nil || len(steps) != 2 || steps[0].From != 2 || steps[1].To != 4 {
		t.Errorf("plan from 2: %+v, %v", steps, err)
	}

	custom := dbtest.WidgetV1()
	custom.Version = 2
	custom.Migrations = []schema.Migration{{From: 1, Steps: []schema.Step{
		schema.SQL(map[string][]string{"mysql": {"UPDATE widget SET n = 0"}, "postgres": {"UPDATE widget SET n = 0"}}),
	}}}
	if _, err := db.PlanSteps(db.SQLite, custom, 1); err == nil || !strings.Contains(err.Error(), "step 1 (sql): no SQL for dialect sqlite") {
		t.Errorf("SQL step without sqlite: %v", err)
	}
	if err := db.CheckTables([]*schema.Table{custom}); err == nil {
		t.Error("CheckTables accepted a step without SQL for sqlite")
	}
	steps, err := db.PlanSteps(db.Postgres, custom, 1)
	if err != nil || steps[0].SQL[0] != "UPDATE widget SET n = 0" {
		t.Errorf("SQL step for postgres: %+v, %v", steps, err)
	}
}

func TestChangeTypePerDialect(t *testing.T) {
	from := schema.Column{Name: "n", Type: schema.Int, Default: "0"}
	to := schema.Column{Name: "n", Type: schema.BigInt, Null: true}
	tab := dbtest.WidgetV1()
	tab.Version = 2
	tab.Migrations = []schema.Migration{{From: 1, Steps: []schema.Step{schema.ChangeType(from, to)}}}
	want := map[string]string{
		"mysql":    "ALTER TABLE `widget` MODIFY COLUMN `n` BIGINT DEFAULT NULL",
		"postgres": `ALTER TABLE "widget" ALTER COLUMN "n" TYPE BIGINT USING "n"::BIGINT, ALTER COLUMN "n" SET DEFAULT NULL, ALTER COLUMN "n" DROP NOT NULL`,
	}
	for _, d := range []*db.Dialect{db.MySQL, db.Postgres} {
		steps, err := db.PlanSteps(d, tab, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := steps[0].SQL[0]; got != want[d.Name()] {
			t.Errorf("%s:\n got %s\nwant %s", d, got, want[d.Name()])
		}
	}
	// SQLite cannot change NULL-ness with ALTER TABLE: the step must give
	// its SQL.
	if _, err := db.PlanSteps(db.SQLite, tab, 1); err == nil || !strings.Contains(err.Error(), "give the step SQL for sqlite") {
		t.Errorf("sqlite change of NULL-ness: %v", err)
	}
	tab.Migrations[0].Steps[0].SQL = map[string][]string{"sqlite": {"SELECT 1"}}
	if steps, err := db.PlanSteps(db.SQLite, tab, 1); err != nil || steps[0].SQL[0] != "SELECT 1" {
		t.Errorf("sqlite override: %+v, %v", steps, err)
	}
	// Within one affinity nothing is needed.
	tab.Migrations[0].Steps[0] = schema.ChangeType(from, schema.Column{Name: "n", Type: schema.BigInt, Default: "0"})
	if steps, err := db.PlanSteps(db.SQLite, tab, 1); err != nil || len(steps[0].SQL) != 2 {
		t.Errorf("sqlite int → bigint: %+v, %v", steps, err)
	}
}

func TestIndexSteps(t *testing.T) {
	tab := dbtest.WidgetV1()
	tab.Version = 2
	tab.Migrations = []schema.Migration{{From: 1, Steps: []schema.Step{
		schema.DropIndex("old_idx", false), schema.DropIndex("old_key", true), schema.BackupTable(),
	}}}
	want := map[string][]string{
		"mysql":    {"DROP INDEX `old_idx` ON `widget`", "DROP INDEX `old_key` ON `widget`", "CREATE TABLE `widget_bak_v1` AS SELECT * FROM `widget`"},
		"postgres": {`DROP INDEX "widget_old_idx"`, `ALTER TABLE "widget" DROP CONSTRAINT "widget_old_key"`, `CREATE TABLE "widget_bak_v1" AS SELECT * FROM "widget"`},
		"sqlite":   {`DROP INDEX "widget_old_idx"`, `DROP INDEX "widget_old_key"`, `CREATE TABLE "widget_bak_v1" AS SELECT * FROM "widget"`},
	}
	for _, d := range db.Dialects {
		steps, err := db.PlanSteps(d, tab, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(steps[0].SQL[:3], "\n"); got != strings.Join(want[d.Name()], "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", d, got, strings.Join(want[d.Name()], "\n"))
		}
	}
}

func TestVersionError(t *testing.T) {
	err := &db.VersionError{Table: "location", Have: 1003, Want: 1004, Hint: "kamdbctl migrate"}
	if !errors.Is(err, db.ErrVersion) {
		t.Error("VersionError does not wrap ErrVersion")
	}
	// Built by hand, the error has no row: the message says so.
	if !strings.HasPrefix(err.Error(), "table location has no version") {
		t.Errorf("message: %s", err)
	}
}

func TestMigrateReportSQL(t *testing.T) {
	steps, err := db.PlanSteps(db.SQLite, dbtest.WidgetV3(), 1)
	if err != nil {
		t.Fatal(err)
	}
	rep := &db.MigrateReport{Dialect: "sqlite", Tables: []db.TablePlan{
		{Table: "widget", From: 1, To: 3, Action: db.ActionMigrate, Steps: steps},
		{Table: "location", From: 1004, To: 1004, Action: db.ActionNone},
	}}
	want := `-- table widget: version 1 → 3
-- migration 1 → 2: kind of widget
ALTER TABLE "widget" ADD COLUMN "kind" VARCHAR(16) DEFAULT 'basic' NOT NULL;
DELETE FROM "version" WHERE "table_name" = 'widget';
INSERT INTO "version" ("table_name", "table_version") VALUES ('widget', 2);
-- migration 2 → 3: look-ups by name
CREATE INDEX "widget_name_idx" ON "widget" ("name");
DELETE FROM "version" WHERE "table_name" = 'widget';
INSERT INTO "version" ("table_name", "table_version") VALUES ('widget', 3);
-- table location: version 1004, up to date
`
	if got := rep.SQL(); got != want || !rep.Changed() {
		t.Errorf("report SQL:\n%s\nwant\n%s", got, want)
	}
}

func TestRenderDump(t *testing.T) {
	groups := []db.Group{
		{Name: "usrloc", Tables: []*schema.Table{dbtest.Location()}},
		{Name: "auth_db", Tables: []*schema.Table{dbtest.Subscriber()}},
		{Name: "cpl-c", Tables: []*schema.Table{dbtest.WidgetV4()}},
	}
	dump, err := db.RenderDump(groups)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, s := range dump.Scripts {
		files[s.Dialect+"/"+s.File] = s.Text
	}
	if len(files) != 3+3*3*2 {
		t.Errorf("%d scripts", len(files))
	}
	create, _ := db.CreateScript(db.Postgres, groups[0].Tables)
	if files["postgres/usrloc-create.sql"] != create {
		t.Error("postgres/usrloc-create.sql is not CreateScript's")
	}
	if files["mysql/standard-create.sql"] != db.StandardScript(db.MySQL) {
		t.Error("mysql/standard-create.sql is not StandardScript's")
	}

	var doc struct {
		Format       int
		Dialects     []string
		VersionTable struct {
			Name   string
			Create map[string][]string
		} `json:"version_table"`
		Groups []struct {
			Name   string
			Tables []string
		}
		Tables []struct {
			Name       string
			Group      string
			Version    int
			Columns    []struct{ Name, Type string }
			Create     map[string][]string
			Migrations []struct {
				From, To int
				Steps    []struct{ Kind, Name, To string }
				SQL      map[string][]string
			}
		}
	}
	if err := json.Unmarshal(dump.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Format != db.DumpFormat || strings.Join(doc.Dialects, ",") != "mysql,postgres,sqlite" || doc.VersionTable.Name != "version" {
		t.Errorf("JSON head: %+v", doc)
	}
	if len(doc.Groups) != 3 || doc.Groups[1].Name != "auth_db" || doc.Groups[1].Tables[0] != "subscriber" {
		t.Errorf("JSON groups: %+v", doc.Groups)
	}
	if len(doc.Tables) != 3 || doc.Tables[0].Name != "location" || doc.Tables[0].Version != 1004 || doc.Tables[0].Group != "usrloc" {
		t.Fatalf("JSON tables: %+v", doc.Tables)
	}
	if c := doc.Tables[0].Columns[6]; c.Name != "expires" || c.Type != "datetime" {
		t.Errorf("JSON column: %+v", c)
	}
	if got := doc.Tables[0].Create["mysql"][0]; got != "INSERT INTO `version` (`table_name`, `table_version`) VALUES ('location', 1004)" {
		t.Errorf("JSON create: %s", got)
	}
	w := doc.Tables[2]
	if len(w.Migrations) != 3 || w.Migrations[2].From != 3 || w.Migrations[2].To != 4 || w.Migrations[2].Steps[3].Kind != "drop_column" ||
		w.Migrations[2].Steps[3].Name != "note" {
		t.Errorf("JSON migrations: %+v", w.Migrations)
	}
	if sql := w.Migrations[0].SQL["postgres"]; len(sql) != 4 || !strings.Contains(sql[0], "ADD COLUMN") {
		t.Errorf("JSON migration SQL: %q", sql)
	}

	dir := t.TempDir()
	if err := dump.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"schema.json", "mysql/usrloc-create.sql", "sqlite/cpl-c-drop.sql", "postgres/standard-create.sql"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestRenderDumpErrors(t *testing.T) {
	bad := dbtest.Location()
	bad.Indexes[0].Columns = []string{"nope"}
	for _, tc := range []struct {
		groups []db.Group
		want   string
	}{
		{[]db.Group{{Name: "a", Tables: []*schema.Table{dbtest.Location()}}, {Name: "b", Tables: []*schema.Table{dbtest.Location()}}},
			"table location is declared by groups a and b"},
		{[]db.Group{{Name: "standard"}}, `group name "standard"`},
		{[]db.Group{{Name: "../x"}}, `group name "../x"`},
		{[]db.Group{{Name: ""}}, `group name ""`},
		{[]db.Group{{Name: "a", Tables: []*schema.Table{db.VersionTableDef()}}}, "declares table version"},
		{[]db.Group{{Name: "a", Tables: []*schema.Table{bad}}}, "column nope is not declared"},
	} {
		if _, err := db.RenderDump(tc.groups); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RenderDump: %v, want %q", err, tc.want)
		}
	}
	if d, err := db.RenderDump(nil); err != nil || len(d.Scripts) != 3 || !strings.Contains(string(d.JSON), `"tables": []`) {
		t.Errorf("empty dump: %v", err)
	}
}

// A shape fix renders per dialect without touching the version; StepAddID
// replaces the primary key on MySQL and PostgreSQL, and rebuilds the table
// in its declared shape on SQLite.
func TestPlanFix(t *testing.T) {
	m := dbtest.Member()
	want := map[string][]string{
		"mysql": {
			"DROP INDEX `old_key` ON `member`",
			"ALTER TABLE `member` MODIFY COLUMN `grp` VARCHAR(64) DEFAULT '' NOT NULL",
			"DROP PROCEDURE IF EXISTS `sr_add_id_member`",
			"CREATE PROCEDURE `sr_add_id_member`() BEGIN IF EXISTS (SELECT 1 FROM information_schema.table_constraints " +
				"WHERE table_schema = DATABASE() AND table_name = 'member' AND constraint_type = 'PRIMARY KEY') THEN " +
				"ALTER TABLE `member` DROP PRIMARY KEY, ADD COLUMN `id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL FIRST; " +
				"ELSE ALTER TABLE `member` ADD COLUMN `id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL FIRST; END IF; END",
			"CALL `sr_add_id_member`()",
			"DROP PROCEDURE `sr_add_id_member`",
			"ALTER TABLE `member` ADD CONSTRAINT `account_idx` UNIQUE (`username`, `domain`, `grp`)",
		},
		"postgres": {
			`ALTER TABLE "member" DROP CONSTRAINT "member_old_key"`,
			`ALTER TABLE "member" ALTER COLUMN "grp" TYPE VARCHAR(64) USING "grp"::VARCHAR(64)`,
			`ALTER TABLE "member" DROP CONSTRAINT IF EXISTS "member_pkey"`,
			`ALTER TABLE "member" ADD COLUMN "id" SERIAL PRIMARY KEY NOT NULL`,
			`ALTER TABLE "member" ADD CONSTRAINT "member_account_idx" UNIQUE ("username", "domain", "grp")`,
		},
		"sqlite": {
			`DROP INDEX "member_old_key"`,
			`CREATE TABLE "member_rebuild" (
    "id" INTEGER PRIMARY KEY NOT NULL,
    "username" VARCHAR(64) DEFAULT '' NOT NULL,
    "domain" VARCHAR(64) DEFAULT '' NOT NULL,
    "grp" VARCHAR(64) DEFAULT '' NOT NULL,
    "note" VARCHAR(64) DEFAULT NULL
)`,
			`INSERT INTO "member_rebuild" ("username", "domain", "grp", "note") SELECT "username", "domain", "grp", "note" FROM "member" ORDER BY rowid`,
			`DROP TABLE "member"`,
			`ALTER TABLE "member_rebuild" RENAME TO "member"`,
			`CREATE UNIQUE INDEX "member_account_idx" ON "member" ("username", "domain", "grp")`,
			`CREATE UNIQUE INDEX "member_account_idx" ON "member" ("username", "domain", "grp")`,
		},
	}
	for _, d := range db.Dialects {
		vs, err := db.PlanFix(d, m, &m.Fixes[0])
		if err != nil {
			t.Fatal(err)
		}
		if !vs.Fix || vs.From != 2 || vs.To != 2 || vs.Backup != "" {
			t.Errorf("%s: %+v", d, vs)
		}
		if got := strings.Join(vs.SQL, "\n"); got != strings.Join(want[d.Name()], "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", d, got, strings.Join(want[d.Name()], "\n"))
		}
	}
	// A backup in a fix has its own name.
	m.Fixes[0].Steps = append([]schema.Step{schema.BackupTable()}, m.Fixes[0].Steps...)
	vs, err := db.PlanFix(db.MySQL, m, &m.Fixes[0])
	if err != nil || vs.Backup != "member_bak_v2_fix" || vs.SQL[0] != "CREATE TABLE `member_bak_v2_fix` AS SELECT * FROM `member`" {
		t.Errorf("backup in a fix: %q, %v", vs.SQL, err)
	}
}

// On SQLite, StepAddID rebuilds the table in its declared shape: only the
// last migration may use it without SQL of its own.
func TestAddIDNotLast(t *testing.T) {
	tab := dbtest.MemberFromV1()
	tab.Version = 3
	tab.Migrations = append(tab.Migrations, schema.Migration{From: 2, Steps: []schema.Step{schema.CreateIndex(schema.Index{Name: "u_idx", Columns: []string{"username"}})}})
	if _, err := db.PlanSteps(db.SQLite, tab, 1); err == nil || !strings.Contains(err.Error(), "give the step SQL for sqlite") {
		t.Errorf("add_id before the last migration: %v", err)
	}
	if err := db.CheckTables([]*schema.Table{tab}); err == nil {
		t.Error("CheckTables accepted it")
	}
	for _, d := range []*db.Dialect{db.MySQL, db.Postgres} {
		if _, err := db.PlanSteps(d, tab, 1); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	tab.Migrations[0].Steps[2].SQL = map[string][]string{"sqlite": db.SQLiteRebuild(dbtest.Member(), []string{"username", "domain", "grp", "note"}, nil)}
	if err := db.CheckTables([]*schema.Table{tab}); err != nil {
		t.Errorf("with SQL for sqlite: %v", err)
	}
}

func TestMigrateReportFix(t *testing.T) {
	m := dbtest.Member()
	vs, err := db.PlanFix(db.Postgres, m, &m.Fixes[0])
	if err != nil {
		t.Fatal(err)
	}
	vs.Lacking = []string{"column id", "index account_idx"}
	rep := &db.MigrateReport{Dialect: "postgres", Tables: []db.TablePlan{
		{Table: "member", From: 2, To: 2, Action: db.ActionFix, Steps: []db.VersionStep{vs}},
	}}
	want := `-- table member: version 2 in another shape
-- shape fix at version 2 (the table lacks column id, index account_idx): id primary key and the unique key account_idx, without a version change
ALTER TABLE "member" DROP CONSTRAINT "member_old_key";
`
	if got := rep.SQL(); !strings.HasPrefix(got, want) || strings.Contains(got, "version\" (") || !rep.Changed() {
		t.Errorf("report SQL:\n%s\nwant it to start with\n%s", got, want)
	}
}
