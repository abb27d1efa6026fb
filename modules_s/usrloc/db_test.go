package usrloc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/usrloc"
)

// newDB creates a database with the location table and returns its URL
// and a handle.
func newDB(t *testing.T, b sertest.Backend) (string, *db.DB) {
	t.Helper()
	url := b.NewDB(t)
	return url, sertest.Create(t, url, usrloc.Location())
}

func dbParams(url string, mode int, extra ...any) map[string]any {
	p := map[string]any{"db_url": url, "db_mode": mode, "timer_interval": 3600}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i].(string)] = extra[i+1]
	}
	return p
}

func TestWriteThrough(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url, d := newDB(t, b)
		inst := start(t, b, dbParams(url, usrloc.WriteThrough))
		loc := inst.domain("location")
		c := contact("sip:alice@192.0.2.1:5060", time.Hour, 500)
		c.Received = "sip:198.51.100.7:4711;dstip=127.0.0.1;dstport=5060"
		c.Instance = "<urn:uuid:00000000-0000-0000-0000-000000000001>"
		c.ServerID = 3
		c.Flags = usrloc.FLNAT
		add(t, loc, "u-alice", c)
		perm := contact("sip:desk@192.0.2.2", 0, -1)
		perm.Flags = usrloc.FLPermanent
		add(t, loc, "u-alice", perm)
		if n := countRows(t, d, "location", ""); n != 2 {
			t.Fatalf("rows after two saves: %d", n)
		}
		var aor, received, instance string
		var q float64
		var flags, sid int
		err := d.QueryRow(bgctx(t), "SELECT aor, received, instance, q, flags, server_id FROM location WHERE uid = ? AND contact = ?",
			"u-alice", c.URI).Scan(&aor, &received, &instance, &q, &flags, &sid)
		if err != nil {
			t.Fatal(err)
		}
		if aor != c.AOR || received != c.Received || instance != c.Instance || q != 0.5 || flags != 1 || sid != 3 {
			t.Errorf("row: %q %q %q %v %d %d", aor, received, instance, q, flags, sid)
		}
		// An update rewrites the row; a removal deletes it.
		c.Q = 1000
		add(t, loc, "u-alice", c)
		if n := countRows(t, d, "location", "q = ?", 1.0); n != 1 {
			t.Errorf("rows with q 1 after the update: %d", n)
		}
		if _, err := loc.Update("u-alice", false, func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
			var out []usrloc.Contact
			for _, x := range cur {
				if x.URI != c.URI {
					out = append(out, x)
				}
			}
			return out, nil
		}); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, d, "location", ""); n != 1 {
			t.Errorf("rows after a removal: %d", n)
		}
		inst.stop()

		// A restart loads the rows, the permanent contact with its flag.
		loc = start(t, b, dbParams(url, usrloc.WriteThrough)).domain("location")
		rec, found, _ := loc.Get("u-alice")
		if !found || len(rec.Contacts) != 1 {
			t.Fatalf("after the restart: %+v", rec)
		}
		got := rec.Contacts[0]
		if got.URI != perm.URI || !got.Permanent() || !got.Valid(time.Now()) || got.Q != -1 || got.AOR != perm.AOR {
			t.Errorf("reloaded contact %+v", got)
		}
	})
}

// TestWriteBack saves 100 contacts in write-back mode: nothing reaches the
// database before the flush, the shutdown flush writes them all, and a new
// instance on the same database finds them.
func TestWriteBack(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url, d := newDB(t, b)
		inst := start(t, b, dbParams(url, usrloc.WriteBack))
		loc := inst.domain("location")
		for u := 0; u < 10; u++ {
			var cs []usrloc.Contact
			for i := 0; i < 10; i++ {
				cs = append(cs, contact(fmt.Sprintf("sip:ua%d@192.0.2.%d", i, u+1), time.Hour, -1))
			}
			add(t, loc, fmt.Sprintf("u%02d", u), cs...)
		}
		if n := countRows(t, d, "location", ""); n != 0 {
			t.Errorf("rows before the flush: %d", n)
		}
		inst.stop()
		if n := countRows(t, d, "location", ""); n != 100 {
			t.Fatalf("rows after the shutdown flush: %d", n)
		}

		inst = start(t, b, dbParams(url, usrloc.WriteBack))
		loc = inst.domain("location")
		total := 0
		for u := 0; u < 10; u++ {
			rec, _, _ := loc.Get(fmt.Sprintf("u%02d", u))
			total += len(rec.Contacts)
		}
		if total != 100 {
			t.Fatalf("contacts loaded: %d", total)
		}
		if n := inst.stat("location-contacts"); n != 100 {
			t.Errorf("location-contacts %d", n)
		}
		// Removals reach the database with the next flush.
		if err := loc.Delete("u00", false); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, d, "location", ""); n != 100 {
			t.Errorf("rows before the flush: %d", n)
		}
		res, err := inst.call("usrloc.flush")
		if err != nil {
			t.Fatal(err)
		}
		if res.(map[string]any)["Written"] != 10 {
			t.Errorf("flush %v", res)
		}
		if n := countRows(t, d, "location", ""); n != 90 {
			t.Errorf("rows after the flush: %d", n)
		}
	})
}

// TestReadOnly checks db_mode 3: the table is loaded at start and never
// written, whatever changes in memory.
func TestReadOnly(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url, d := newDB(t, b)
		exp := time.Now().Add(time.Hour).UTC()
		old := time.Now().Add(-time.Hour).UTC()
		for _, r := range []struct {
			uid, contact string
			expires      time.Time
		}{{"u1", "sip:a@h", exp}, {"u1", "sip:b@h", exp}, {"u2", "sip:old@h", old}} {
			sertest.Exec(t, d, "INSERT INTO location (uid, aor, contact, expires, q, callid, cseq, flags, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
				r.uid, "sip:"+r.uid+"@example.com", r.contact, r.expires, 1.0, "cid", 1, 0, "UA")
		}
		inst := start(t, b, dbParams(url, usrloc.ReadOnly))
		loc := inst.domain("location")
		rec, found, _ := loc.Get("u1")
		if !found || uris(rec) != "sip:a@h sip:b@h" {
			t.Fatalf("u1 loaded: %q", uris(rec))
		}
		add(t, loc, "u1", contact("sip:c@h", time.Hour, -1))
		if err := loc.Delete("u1", false); err != nil {
			t.Fatal(err)
		}
		add(t, loc, "u3", contact("sip:d@h", time.Hour, -1))
		if _, err := inst.call("usrloc.flush"); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := loc.Get("u2"); found {
			t.Error("the expired contact is still there after the timer")
		}
		inst.stop()
		if n := countRows(t, d, "location", ""); n != 3 {
			t.Errorf("rows after changes in read-only mode: %d, want the 3 loaded", n)
		}
		if n := countRows(t, d, "location", "uid = ?", "u3"); n != 0 {
			t.Errorf("u3 was written")
		}
	})
}

func TestVersionCheck(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url, d := newDB(t, b)
		if err := db.SetVersion(bgctx(t), d, "location", 8); err != nil {
			t.Fatal(err)
		}
		inst := start(t, b, dbParams(url, usrloc.WriteThrough))
		_, err := inst.api.RegisterDomain("location")
		want := "table location has version 8, expected 9: run ser_db migrate"
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		_, err = inst.api.RegisterDomain("missing")
		if err == nil || !strings.Contains(err.Error(), "table missing has no version") {
			t.Errorf("error %v for a table that does not exist", err)
		}
	})
}

// TestFlushRetry makes the writes fail (the table is renamed away) and
// checks that the changes are written once the table is back: by the
// timer in write-back mode, and after a failed write-through.
func TestFlushRetry(t *testing.T) {
	for _, mode := range []int{usrloc.WriteThrough, usrloc.WriteBack} {
		t.Run(fmt.Sprint("db_mode ", mode), func(t *testing.T) {
			sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
				url, d := newDB(t, b)
				q := d.Dialect().Quote
				inst := start(t, b, dbParams(url, mode))
				loc := inst.domain("location")
				sertest.Exec(t, d, "ALTER TABLE "+q("location")+" RENAME TO "+q("location_away"))
				add(t, loc, "u1", contact("sip:a@h", time.Hour, -1), contact("sip:b@h", time.Hour, -1))
				if _, err := inst.call("usrloc.flush"); err == nil {
					t.Error("the flush did not fail without the table")
				}
				sertest.Exec(t, d, "ALTER TABLE "+q("location_away")+" RENAME TO "+q("location"))
				if n := countRows(t, d, "location", ""); n != 0 {
					t.Fatalf("rows before the retry: %d", n)
				}
				if _, err := inst.call("usrloc.flush"); err != nil {
					t.Fatalf("flush after the table came back: %v", err)
				}
				if n := countRows(t, d, "location", ""); n != 2 {
					t.Errorf("rows after the retry: %d", n)
				}
			})
		})
	}
}

func TestSkipDelete(t *testing.T) {
	b := sertest.Backends[0]
	url, d := newDB(t, b)
	inst := start(t, b, dbParams(url, usrloc.WriteThrough, "db_skip_delete", 1))
	loc := inst.domain("location")
	add(t, loc, "u1", contact("sip:a@h", time.Hour, -1))
	if err := loc.Delete("u1", false); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := loc.Get("u1"); found {
		t.Error("the contact is still in memory")
	}
	if n := countRows(t, d, "location", ""); n != 1 {
		t.Errorf("rows: %d, want the row left in place", n)
	}
}
