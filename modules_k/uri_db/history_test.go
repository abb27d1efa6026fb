package uridb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/dbtest/legacytest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/siptest"
	uridb "sip-router.org/modules_k/uri_db"
)

// uriOpenSER12 is the uri table as OpenSER 1.2 created it: OpenSER 1.0's
// with an id primary key and the unique key udu_uri, version 1 still.
func uriOpenSER12() *schema.Table {
	t := uridb.TableOpenSER10()
	t.Columns = append([]schema.Column{{Name: "id", Type: schema.Int, Auto: true}}, t.Columns...)
	t.Keys = []schema.Index{{Name: "udu_uri", Columns: t.Primary}}
	t.Primary = nil
	return t
}

func TestHistoryDeclarations(t *testing.T) {
	legacytest.CheckFixDeclaration(t, uridb.Table(), uridb.TableOpenSER10(), uriOpenSER12())
}

// OpenSER 1.0's and 1.2's uri tables get Kamailio 3.0's shape at version
// 1 on SQLite, every row and value kept (1.2's ids too); a second run
// changes nothing.
func TestShapeFixSQLite(t *testing.T) {
	shapes := map[string]*legacytest.Legacy{}
	for name, old := range map[string]*schema.Table{"OpenSER 1.0": uridb.TableOpenSER10(), "OpenSER 1.2": uriOpenSER12()} {
		shapes[name] = &legacytest.Legacy{Old: old, New: uridb.Table(), Key: []string{"username", "domain", "uri_user"}}
	}
	legacytest.FixShapes(t, openDB, shapes, 300, map[string]bool{"account_idx": true, "udu_uri": false})
}

func openDB(t *testing.T) *db.DB {
	return dbtest.Open(t, "sqlite://"+filepath.Join(t.TempDir(), "uri.db"))
}

// does_uri_exist reads a fixed OpenSER 1.0 table.
func TestFixedTableServes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "sqlite://" + filepath.Join(t.TempDir(), "uri.db")
	legacytest.Upgrade(t, ctx, dbtest.Open(t, url), &legacytest.Legacy{Old: uridb.TableOpenSER10(), New: uridb.Table(),
		Gen: map[string]func(int, *db.Dialect) any{
			"username": func(i int, _ *db.Dialect) any { return fmt.Sprintf("u%d", i) },
			"domain":   func(int, *db.Dialect) any { return "example.com" },
			"uri_user": func(i int, _ *db.Dialect) any { return fmt.Sprintf("n%d", i) },
		}}, 20)
	s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "uri_db.so"
modparam("uri_db", "db_url", "%s")
modparam("uri_db", "use_uri_table", 1)
`, url)+route)
	for ruri, want := range map[string]int{"sip:n7@example.com": 1, "sip:n25@example.com": -5} {
		if got := run(t, s, ruri, "sip:alice@example.com", "sip:bob@example.com", true); got[2] != want {
			t.Errorf("does_uri_exist for %s: %d, want %d", ruri, got[2], want)
		}
	}
}
