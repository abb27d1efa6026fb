package authdb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/dbtest/legacytest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/siptest"
	authdb "sip-router.org/modules_k/auth_db"
)

// subscriberV5 is OpenSER 1.0's subscriber as the migration tests fill
// it: phplib_id, a unique key of the old table, gets unique values.
func subscriberV5() *legacytest.Legacy {
	return &legacytest.Legacy{
		Old: authdb.SubscriberOpenSER10(), New: authdb.Subscriber(), Key: []string{"username", "domain"},
		Gen: map[string]func(int, *db.Dialect) any{
			"phplib_id": func(i int, _ *db.Dialect) any { return fmt.Sprintf("%032x", i) },
		},
		Backup: schema.BackupName("subscriber", 5),
	}
}

// The declarations are valid in every dialect and the history starts
// where OpenSER 1.0 left the table.
func TestSubscriberHistoryDeclarations(t *testing.T) {
	cur, old := authdb.Subscriber(), authdb.SubscriberOpenSER10()
	if err := db.CheckTables([]*schema.Table{cur}); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckTables([]*schema.Table{old}); err != nil {
		t.Fatal(err)
	}
	if old.Version != 5 || len(cur.Migrations) != 1 || cur.Migrations[0].From != 5 {
		t.Errorf("OpenSER 1.0 had version 5; declared %d, migrations %+v", old.Version, cur.Migrations)
	}
	for _, c := range authdb.SERWebColumns() {
		if old.Col(c) == nil || cur.Col(c) != nil {
			t.Errorf("SERWeb column %s: in version 5 %v, in version 6 %v", c, old.Col(c) != nil, cur.Col(c) != nil)
		}
	}
}

// OpenSER 1.0's subscriber migrates on SQLite: every row keeps its
// values, the SERWeb columns are in subscriber_bak_v5, the new id is
// unique, and a second run changes nothing.
func TestSubscriberMigrationSQLite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := dbtest.Open(t, sqliteURL(t))
	legacytest.Roundtrip(t, ctx, d, []*legacytest.Legacy{subscriberV5()}, 300)
	cols, err := db.Columns(ctx, d, "subscriber")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range authdb.SERWebColumns() {
		if slices.Contains(cols, c) {
			t.Errorf("column %s is still in subscriber", c)
		}
	}
	for _, ix := range []string{"account_idx", "username_idx"} {
		if ok, err := db.IndexExists(ctx, d, "subscriber", ix); !ok || err != nil {
			t.Errorf("index %s after the migration: %v %v", ix, ok, err)
		}
	}
}

// An account OpenSER 1.0 stored authenticates once the table is
// migrated: the server starts on the table and reads its ha1.
func TestMigratedSubscriberAuthenticates(t *testing.T) {
	url := sqliteURL(t)
	d := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := db.CreateTables(ctx, d, []*schema.Table{authdb.SubscriberOpenSER10()}); err != nil {
		t.Fatal(err)
	}
	ha1 := digest.HA1("carol", "example.com", "carol-secret")
	_, err := d.Exec(ctx, "INSERT INTO subscriber (phplib_id, username, domain, password, first_name, ha1, ha1b, datetime_created) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "5f2b", "carol", "example.com", "carol-secret", "Carol", ha1,
		digest.HA1("carol@example.com", "example.com", "carol-secret"), time.Date(2005, 11, 2, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, d, []*schema.Table{authdb.Subscriber()}, db.MigrateOptions{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	srv := siptest.Start(t, registrarConfig(url, "", "0"))
	u := newUA(t, srv.UDP, "carol", "example.com")
	if res, _ := login(t, u, "carol", ha1); res.StatusCode != 200 {
		t.Fatalf("REGISTER of the migrated account: %d %s", res.StatusCode, res.Reason)
	}
	var first string
	if err := d.QueryRow(ctx, "SELECT first_name FROM "+schema.BackupName("subscriber", 5)+" WHERE username = 'carol'").Scan(&first); err != nil || first != "Carol" {
		t.Errorf("first_name in the backup table: %q, %v", first, err)
	}
}
