package registrar_test

import (
	"fmt"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/usrloc"
)

// TestSaveWritesThrough saves in db_mode 1: save_contacts reaches the
// table, save_memory does not.
func TestSaveWritesThrough(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url := b.NewDB(t)
		d := sertest.Create(t, url, usrloc.Location())
		s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule %q
loadmodule "sl"
loadmodule "usrloc"
loadmodule "registrar"
modparam("usrloc", "db_url", %q)
modparam("usrloc", "db_mode", 1)
route {
	if ($rU == "memory") {
		save_memory("location");
	} else {
		save_contacts("location");
	}
}
`, b.Module, url))
		s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:a@192.0.2.10>"))
		s.Run(t, strings.Replace(register("sip:memory@example.com", 1, "Contact: <sip:m@192.0.2.11>"),
			"REGISTER sip:example.com", "REGISTER sip:memory@example.com", 1))
		for _, res := range s.Core.Replies() {
			if res.StatusCode != 200 {
				t.Fatalf("reply %d %s", res.StatusCode, res.Reason)
			}
		}
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM location WHERE uid = ? AND aor = ?", "alice", "sip:alice@example.com"); n != 1 {
			t.Errorf("alice's rows: %d", n)
		}
		if n := sertest.Count(t, d, "SELECT COUNT(*) FROM location WHERE uid = ?", "memory"); n != 0 {
			t.Errorf("save_memory wrote %d rows", n)
		}
		if _, found, _ := location(t, s).Get("memory"); !found {
			t.Error("save_memory kept nothing in memory")
		}
	})
}
