package usrloc_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest/legacytest"
	"sip-router.org/core/db/schema"
	"sip-router.org/modules_k/usrloc"
)

// cols1001 are the columns of a version 1001 table.
var cols1001 = []string{"username", "domain", "contact", "received", "expires", "q", "callid", "cseq",
	"last_modified", "flags", "user_agent", "socket"}

// readTable reads columns of every row, rendered as text, keyed by
// (username, domain, contact): the only identity a 1001 table has.
func readTable(t *testing.T, ctx context.Context, d *db.DB, table string, cols []string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, row := range legacytest.ReadRows(t, ctx, d, table, cols) {
		out[row["username"]+"|"+row["domain"]+"|"+row["contact"]] = row
	}
	return out
}

const migrationRows = 300

// fill1001 inserts rows as OpenSER 1.0 wrote them: quotes, non-ASCII
// text, NULLs, the domain empty (no use_domain) or set.
func fill1001(t *testing.T, ctx context.Context, d *db.DB, table string) {
	t.Helper()
	base := time.Date(2006, 1, 26, 10, 0, 0, 0, time.UTC)
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		for i := 0; i < migrationRows; i++ {
			dom := ""
			if i%3 == 0 {
				dom = fmt.Sprintf("dom%d.example.com", i%7)
			}
			var received, socket any
			if i%2 == 0 {
				received = fmt.Sprintf("sip:198.51.100.%d:%d", i%250, 5000+i)
			}
			if i%5 != 0 {
				socket = "udp:192.0.2.1:5060"
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+d.Dialect().Quote(table)+
				" (username, domain, contact, received, expires, q, callid, cseq, last_modified, flags, user_agent, socket)"+
				" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				fmt.Sprintf("user%d", i/2), dom, fmt.Sprintf("sip:user%d@192.0.2.%d:%d;o'k=ü", i/2, i%250, 5060+i), received,
				base.Add(time.Duration(i)*time.Hour), float64(i%11)/10, fmt.Sprintf("call-%d@\"x\"", i), i*3,
				base.Add(time.Duration(i)*time.Minute), i%4, fmt.Sprintf("UA/%d 'quoted' ünïcödé", i), socket)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill %s: %v", table, err)
	}
}

// A table created with the 1001 definition, with rows, is migrated to
// 1004 without losing or changing a row; usrloc then reads it.
func TestMigrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.newDB(t)
		ctx := bgctx(t)
		d := createTables(t, url, usrloc.TableV1001("location"), usrloc.TableV1001("aliases"))
		for _, table := range []string{"location", "aliases"} {
			fill1001(t, ctx, d, table)
		}
		before := readTable(t, ctx, d, "location", cols1001)
		if len(before) != migrationRows {
			t.Fatalf("%d rows before, want %d", len(before), migrationRows)
		}
		tables := []*schema.Table{usrloc.Location(), usrloc.Table("aliases", "alias_idx", "")}
		rep, err := db.Migrate(ctx, d, tables, db.MigrateOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := db.TableVersion(ctx, d, "location"); v != 1001 || !rep.Changed() {
			t.Fatalf("the dry run changed the version to %d, or plans nothing", v)
		}
		for _, want := range []string{"migration 1001 → 1002", "migration 1003 → 1004", "cflags", "methods", "path"} {
			if !strings.Contains(rep.SQL(), want) {
				t.Errorf("dry-run SQL lacks %q", want)
			}
		}
		if _, err := db.Migrate(ctx, d, tables, db.MigrateOptions{}); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		for _, tbl := range tables {
			if err := db.CheckVersion(ctx, d, tbl.Name, 1004, ""); err != nil {
				t.Error(err)
			}
			if ok, err := db.IndexExists(ctx, d, tbl.Name, tbl.Indexes[0].Name); !ok || err != nil {
				t.Errorf("%s: index %s after the migration: %v %v", tbl.Name, tbl.Indexes[0].Name, ok, err)
			}
		}
		all := append(append([]string(nil), cols1001...), "id", "methods", "path", "cflags")
		after := readTable(t, ctx, d, "location", all)
		if len(after) != len(before) {
			t.Errorf("%d rows after, %d before", len(after), len(before))
		}
		ids := map[string]bool{}
		bad := 0
		for k, row := range before {
			a, ok := after[k]
			if !ok {
				t.Errorf("row %s lost", k)
				bad++
				continue
			}
			for _, c := range cols1001 {
				if a[c] != row[c] && !floatEqual(a[c], row[c]) {
					t.Errorf("row %s, column %s: %s before, %s after", k, c, row[c], a[c])
					bad++
				}
			}
			if a["methods"] != "NULL" || a["path"] != "NULL" || a["cflags"] != "0" || a["id"] == "NULL" || ids[a["id"]] {
				t.Errorf("row %s: methods %s path %s cflags %s id %s", k, a["methods"], a["path"], a["cflags"], a["id"])
				bad++
			}
			ids[a["id"]] = true
			if bad > 20 {
				t.Fatal("too many differences")
			}
		}
		// The backup of the 1003 table holds every row.
		if n := countRows(t, d, schema.BackupName("location", 1003), ""); n != migrationRows {
			t.Errorf("backup table: %d rows", n)
		}
		// New rows get ids; the migration is done (twice changes nothing).
		if _, err := d.Exec(ctx, "INSERT INTO location (username, contact) VALUES (?, ?)", "new", "sip:new@1"); err != nil {
			t.Errorf("insert after the migration: %v", err)
		}
		if rep, err := db.Migrate(ctx, d, tables, db.MigrateOptions{}); err != nil || rep.Changed() {
			t.Errorf("second migration: %v", err)
		}
		// usrloc loads the migrated table.
		inst := start(t, b, dbParams(url, 2))
		loc := inst.domain("location")
		rec, found, err := loc.Get("user7")
		if err != nil || !found || len(rec.Contacts) != 2 {
			t.Errorf("user7 after the migration: %v %v %+v", found, err, rec)
		}
	})
}

// floatEqual accepts the same float printed with another precision.
func floatEqual(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && math.Abs(x-y) <= 1e-6
}
