package domain_test

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
	"sip-router.org/modules_k/domain"
)

// domainOpenSER12 is the domain table as OpenSER 1.2 created it: an id,
// domain VARCHAR(128) with the unique key d_domain, version 1 still.
func domainOpenSER12() *schema.Table {
	return &schema.Table{Name: "domain", Version: 1, Columns: []schema.Column{
		{Name: "id", Type: schema.Int, Auto: true},
		{Name: "domain", Type: schema.String, Size: 128, Default: "''"},
		{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
	}, Keys: []schema.Index{{Name: "d_domain", Columns: []string{"domain"}}}}
}

// hostName makes domain names a request can carry.
func hostName(i int, _ *db.Dialect) any { return fmt.Sprintf("d%d.example.org", i) }

func TestHistoryDeclarations(t *testing.T) {
	legacytest.CheckFixDeclaration(t, domain.Table(), domain.TableOpenSER10(), domainOpenSER12())
}

// OpenSER 1.0's and 1.2's domain tables get Kamailio 3.0's shape at
// version 1 on SQLite, every row kept (1.2's ids too), the version row
// untouched; a second run changes nothing.
func TestShapeFixSQLite(t *testing.T) {
	shapes := map[string]*legacytest.Legacy{}
	for name, old := range map[string]*schema.Table{"OpenSER 1.0": domain.TableOpenSER10(), "OpenSER 1.2": domainOpenSER12()} {
		shapes[name] = &legacytest.Legacy{Old: old, New: domain.Table(), Key: []string{"domain"},
			Gen: map[string]func(int, *db.Dialect) any{"domain": hostName}}
	}
	legacytest.FixShapes(t, openDB, shapes, 300, map[string]bool{"domain_idx": true, "d_domain": false})
}

func openDB(t *testing.T) *db.DB {
	return dbtest.Open(t, "sqlite://"+filepath.Join(t.TempDir(), "domain.db"))
}

// The module reads a fixed OpenSER 1.0 table.
func TestFixedTableServes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "sqlite://" + filepath.Join(t.TempDir(), "domain.db")
	legacytest.Upgrade(t, ctx, dbtest.Open(t, url), &legacytest.Legacy{Old: domain.TableOpenSER10(), New: domain.Table(),
		Key: []string{"domain"}, Gen: map[string]func(int, *db.Dialect) any{"domain": hostName}}, 20)
	s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "domain.so"
modparam("domain", "db_url", "%s")
modparam("domain", "db_mode", 1)
`, url)+route)
	c := s.Run(t, msg("d7.example.org", "d19.example.org", "d20.example.org"))
	if got := [3]int{c.Vars["from"].I, c.Vars["ruri"].I, c.Vars["pv"].I}; got != [3]int{1, 1, 0} {
		t.Errorf("d7 (from), d19 (R-URI), d20 (not in the table): %v, want [1 1 0]", got)
	}
}
