package registrar_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_sqlite"
	"sip-router.org/modules_k/usrloc"
)

func sqliteDB(t *testing.T) (string, *db.DB) {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "kamailio.db")
	d := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	aliases := usrloc.Table("aliases", "alias_idx", "")
	if err := db.CreateTables(ctx, d, []*schema.Table{usrloc.Location(), aliases}); err != nil {
		t.Fatal(err)
	}
	return url, d
}

// Registrations saved in db_mode 2 survive a restart: the shutdown flush
// writes them, the next start loads them, lookup finds them.
func TestSaveRestart(t *testing.T) {
	url, d := sqliteDB(t)
	params := `
loadmodule "db_sqlite.so"
modparam("usrloc", "db_url", "` + url + `")
modparam("usrloc", "db_mode", 2)
`
	h := newHarness(t, params)
	_, _, res := h.run(register("dbuser", "Contact: <sip:db@192.0.2.1>;q=0.7", "Contact: <sip:db@192.0.2.2>"))
	expectReply(t, res, 200, "")
	// Memory only (flag 0x01): never written.
	h2 := newHarnessRoute(t, params, strings.Replace(defaultRoute, "SAVEARGS", `, "1"`, 1))
	h2.run(register("memuser", "Contact: <sip:mem@192.0.2.3>"))
	h.s.Loaded.Modules.Destroy()
	h2.s.Loaded.Modules.Destroy()
	var n int
	if err := d.QueryRow(context.Background(), "SELECT COUNT(*) FROM location").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows after the shutdown, want 2 (%v)", n, err)
	}
	h = newHarness(t, params)
	c, rc, _ := h.run(invite("sip:dbuser@example.com"))
	if rc != 1 || c.Req.Recipient.String() != "sip:db@192.0.2.1" || len(c.Branches) != 1 {
		t.Errorf("after the restart: %d %s %v", rc, c.Req.Recipient.String(), c.Branches)
	}
	if _, rc, _ := h.run(invite("sip:memuser@example.com")); rc != -1 {
		t.Errorf("the memory-only binding survived the restart: %d", rc)
	}
}

// A table at another version stops the start: registrar registers its
// tables at Init, and usrloc checks them.
func TestVersionStopsStart(t *testing.T) {
	url, d := sqliteDB(t)
	if err := db.SetVersion(context.Background(), d, "location", 1003); err != nil {
		t.Fatal(err)
	}
	l := siptest.Load(t, modules+`
loadmodule "db_sqlite.so"
modparam("usrloc", "db_url", "`+url+`")
modparam("usrloc", "db_mode", 1)
route { save("location"); }
`)
	f := siptest.TestFlavor()
	f.DBTool = "kamdbctl"
	err := l.Modules.Init(module.InitEnv{Log: slog.New(slog.DiscardHandler), Flavor: f})
	defer l.Modules.Destroy()
	want := "table location has version 1003, expected 1004: run kamdbctl migrate"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("init: %v\nwant it to end with: %s", err, want)
	}
	// The aliases table, at 1004, would be fine.
	l2 := siptest.Load(t, modules+`
loadmodule "db_sqlite.so"
modparam("usrloc", "db_url", "`+url+`")
modparam("usrloc", "db_mode", 1)
route { lookup("aliases"); }
`)
	if err := l2.Modules.Init(module.InitEnv{Log: slog.New(slog.DiscardHandler), Flavor: f}); err != nil {
		t.Errorf("init with the aliases table: %v", err)
	}
	l2.Modules.Destroy()
}
