package acc_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest/legacytest"
	"sip-router.org/core/db/schema"
	"sip-router.org/modules_k/acc"
)

// openSQLite opens a new SQLite database for migrations, closed at the
// end of the test.
func openSQLite(t *testing.T, ctx context.Context) *db.DB {
	t.Helper()
	d, err := db.OpenWith(ctx, "sqlite://"+filepath.Join(t.TempDir(), "acc.db"), db.Options{Maintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// The declarations with their histories are valid in every dialect, and
// the oldest shapes lead to them.
func TestHistoryDeclarations(t *testing.T) {
	tables := []*schema.Table{acc.Acc(), acc.MissedCalls()}
	if err := db.CheckTables(tables); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		old := acc.TableOpenSER10(tb.Name)
		if err := db.CheckTables([]*schema.Table{old}); err != nil {
			t.Fatal(err)
		}
		if old.Version != 2 || tb.Migrations[0].From != 2 {
			t.Errorf("%s: OpenSER 1.0 had version 2; declared %d, migrations from %d", tb.Name, old.Version, tb.Migrations[0].From)
		}
	}
}

// An OpenSER 1.0 acc and missed_calls migrate on SQLite: every row is
// there with its values under the new names, the rest in the backup
// table, and the module's INSERT works on the result.
func TestMigrateOpenSER10SQLite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := openSQLite(t, ctx)
	names := []string{"acc", "missed_calls"}
	var old []*schema.Table
	for _, n := range names {
		old = append(old, acc.TableOpenSER10(n))
	}
	if err := db.CreateTables(ctx, d, old); err != nil {
		t.Fatal(err)
	}
	const rows = 200
	for _, n := range names {
		for i := 0; i < rows; i++ {
			_, err := d.Exec(ctx, "INSERT INTO "+n+" (sip_from, sip_status, sip_method, sip_callid, fromtag, totag, username, time, src) "+
				"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
				fmt.Sprintf("sip:u%d@example.org", i), fmt.Sprint(200+i%300), "INVITE", fmt.Sprintf("call-%d", i),
				fmt.Sprintf("ft%d", i), "tt", "u", time.Date(2005, 10, 28, 12, 0, i%60, 0, time.UTC), nil)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := db.Migrate(ctx, d, []*schema.Table{acc.Acc(), acc.MissedCalls()}, db.MigrateOptions{})
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, rep.SQL())
	}
	for _, n := range names {
		want := []string{"id", "method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time"}
		cols, _ := db.Columns(ctx, d, n)
		slices.Sort(cols)
		slices.Sort(want)
		if !slices.Equal(cols, want) {
			t.Errorf("%s: columns %v", n, cols)
		}
		var count, ids int
		var code, reason, from string
		err := d.QueryRow(ctx, "SELECT COUNT(*), COUNT(DISTINCT id) FROM "+n).Scan(&count, &ids)
		if err != nil || count != rows || ids != rows {
			t.Errorf("%s: %d rows, %d ids, %v", n, count, ids, err)
		}
		err = d.QueryRow(ctx, "SELECT sip_code, sip_reason, from_tag FROM "+n+" WHERE callid = 'call-7' AND method = 'INVITE'").Scan(&code, &reason, &from)
		if err != nil || code != "207" || reason != "" || from != "ft7" {
			t.Errorf("%s: call-7: %q %q %q, %v", n, code, reason, from, err)
		}
		err = d.QueryRow(ctx, "SELECT sip_from FROM "+n+"_bak_v2 WHERE sip_callid = 'call-7'").Scan(&from)
		if err != nil || from != "sip:u7@example.org" {
			t.Errorf("%s: sip_from in the backup: %q, %v", n, from, err)
		}
		if ok, _ := db.IndexExists(ctx, d, n, "callid_idx"); !ok {
			t.Errorf("%s: no index callid_idx", n)
		}
		if v, _ := db.TableVersion(ctx, d, n); v != map[string]int{"acc": 4, "missed_calls": 3}[n] {
			t.Errorf("%s: version %d", n, v)
		}
		// The module's row goes in (it names its columns).
		if _, err := d.Exec(ctx, "INSERT INTO "+n+" (method, from_tag, to_tag, callid, sip_code, sip_reason, time) VALUES (?, ?, ?, ?, ?, ?, ?)",
			"BYE", "a", "b", "c", "200", "OK", time.Now()); err != nil {
			t.Errorf("%s: insert after the migration: %v", n, err)
		}
	}
	if rep, err := db.Migrate(ctx, d, []*schema.Table{acc.Acc(), acc.MissedCalls()}, db.MigrateOptions{}); err != nil || rep.Changed() {
		t.Errorf("second migrate: %v", err)
	}
}

// Every value of OpenSER 1.0's acc and missed_calls survives the
// migration, column by column: under the new names in the table, all of
// them in the backup table; the new columns hold their defaults, and a
// second run changes nothing.
func TestMigrationKeepsEveryValueSQLite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := openSQLite(t, ctx)
	var ls []*legacytest.Legacy
	for _, tb := range []*schema.Table{acc.Acc(), acc.MissedCalls()} {
		ls = append(ls, &legacytest.Legacy{Old: acc.TableOpenSER10(tb.Name), New: tb, Key: []string{"sip_callid"},
			Renamed: acc.RenamedIn12(), Backup: schema.BackupName(tb.Name, 2)})
	}
	legacytest.Roundtrip(t, ctx, d, ls, 300)
}
