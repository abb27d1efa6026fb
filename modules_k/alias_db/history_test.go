package aliasdb_test

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
	aliasdb "sip-router.org/modules_k/alias_db"
)

// dbaliasesOpenSER12 is the dbaliases table as OpenSER 1.2 created it:
// OpenSER 1.0's with an id primary key, version 1 still.
func dbaliasesOpenSER12() *schema.Table {
	t := aliasdb.TableOpenSER10()
	t.Columns = append([]schema.Column{{Name: "id", Type: schema.Int, Auto: true}}, t.Columns...)
	return t
}

// aliasRow makes aliases a request can carry: alias a<i>@example.com
// for user u<i>@example.net.
var aliasRow = map[string]func(int, *db.Dialect) any{
	"alias_username": func(i int, _ *db.Dialect) any { return fmt.Sprintf("a%d", i) },
	"alias_domain":   func(int, *db.Dialect) any { return "example.com" },
	"username":       func(i int, _ *db.Dialect) any { return fmt.Sprintf("u%d", i) },
	"domain":         func(int, *db.Dialect) any { return "example.net" },
}

func TestHistoryDeclarations(t *testing.T) {
	legacytest.CheckFixDeclaration(t, aliasdb.Table(), aliasdb.TableOpenSER10(), dbaliasesOpenSER12())
}

// OpenSER 1.0's and 1.2's dbaliases tables get Kamailio 3.0's shape at
// version 1 on SQLite, every row and value kept (1.2's ids too); a second
// run changes nothing.
func TestShapeFixSQLite(t *testing.T) {
	shapes := map[string]*legacytest.Legacy{}
	for name, old := range map[string]*schema.Table{"OpenSER 1.0": aliasdb.TableOpenSER10(), "OpenSER 1.2": dbaliasesOpenSER12()} {
		shapes[name] = &legacytest.Legacy{Old: old, New: aliasdb.Table(), Key: []string{"alias_username", "alias_domain"}}
	}
	legacytest.FixShapes(t, openDB, shapes, 300,
		map[string]bool{"alias_idx": true, "target_idx": true, "alias_key": false, "alias_user": false})
}

func openDB(t *testing.T) *db.DB {
	return dbtest.Open(t, "sqlite://"+filepath.Join(t.TempDir(), "alias.db"))
}

// alias_db_lookup reads a fixed OpenSER 1.0 table.
func TestFixedTableServes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "sqlite://" + filepath.Join(t.TempDir(), "alias.db")
	legacytest.Upgrade(t, ctx, dbtest.Open(t, url), &legacytest.Legacy{Old: aliasdb.TableOpenSER10(), New: aliasdb.Table(), Gen: aliasRow}, 20)
	s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "alias_db.so"
modparam("alias_db", "db_url", "%s")
modparam("alias_db", "use_domain", 1)
route { alias_db_lookup("dbaliases"); }
`, url))
	c := s.Run(t, `INVITE sip:a7@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:x@example.com>;tag=ft
To: <sip:a7@example.com>
Call-ID: cid
CSeq: 1 INVITE
`)
	if got := c.Req.Recipient.String(); got != "sip:u7@example.net" {
		t.Errorf("alias a7@example.com: R-URI %s, want sip:u7@example.net", got)
	}
}
