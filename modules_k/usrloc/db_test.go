package usrloc_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/modules_k/usrloc"
)

func dbParams(url string, mode int) map[string]any {
	return map[string]any{"db_url": url, "db_mode": mode, "timer_interval": 1}
}

// Each database mode writes its contacts where it should: write-through
// (1) at once, write-back (2) at the flush, DB-only (3) at once; a new
// instance on the same database finds them (modes 1 and 2 load the table,
// mode 3 reads it).
func TestDBModes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, mode := range []int{1, 2, 3} {
			t.Run(fmt.Sprint("db_mode", mode), func(t *testing.T) {
				url := b.newDB(t)
				d := createTables(t, url, usrloc.Location())
				inst := start(t, b, dbParams(url, mode))
				loc := inst.domain("location")
				c1 := contact("sip:alice@192.0.2.1:5060;transport=tcp", time.Hour, 500)
				c1.Received, c1.Path, c1.CFlags, c1.Methods = "sip:198.51.100.1:40000", "<sip:p1;lr>,<sip:p2;lr>", 64, usrloc.MethodInvite|usrloc.MethodBye
				c1.Flags = 1 << 30
				c2 := contact("sip:alice@192.0.2.2", time.Hour, -1)
				c2.CSeq = 1<<32 - 1 // beyond a signed INT
				add(t, loc, "alice", c1, c2)
				add(t, loc, "bob", contact("sip:bob@192.0.2.3", time.Hour, 1000))
				rows := func() int { return countRows(t, d, "location", "") }
				switch mode {
				case 1, 3:
					if n := rows(); n != 3 {
						t.Fatalf("%d rows after the saves, want 3", n)
					}
				case 2:
					if n := rows(); n != 0 {
						t.Fatalf("write-back: %d rows before the flush, want 0", n)
					}
					if res, err := inst.call("ul.flush"); err != nil || res.(map[string]any)["Written"] != 3 {
						t.Fatalf("ul.flush: %v %v", res, err)
					}
					if n := rows(); n != 3 {
						t.Fatalf("%d rows after the flush, want 3", n)
					}
				}
				// An update and a deletion reach the table too.
				c2.Expires = c2.Expires.Add(time.Hour)
				c2.CSeq = 7
				add(t, loc, "alice", c2)
				if err := loc.Delete("bob", false); err != nil {
					t.Fatal(err)
				}
				if mode == 2 {
					inst.call("ul.flush")
				}
				if n := rows(); n != 2 {
					t.Fatalf("%d rows after an update and a deletion, want 2", n)
				}
				inst.stop()

				again := start(t, b, dbParams(url, mode)).domain("location")
				rec, found, err := again.Get("alice")
				if err != nil || !found || len(rec.Contacts) != 2 {
					t.Fatalf("alice on a new instance: %v %v %+v", found, err, rec)
				}
				got := map[string]usrloc.Contact{}
				for _, c := range rec.Contacts {
					got[c.URI] = c
				}
				for _, want := range []usrloc.Contact{c1, c2} {
					g := got[want.URI]
					if g.Received != want.Received || g.Path != want.Path || g.Q != want.Q || g.CallID != want.CallID ||
						g.CSeq != want.CSeq || g.CFlags != want.CFlags || g.Flags != want.Flags || g.Methods != want.Methods ||
						g.UserAgent != want.UserAgent || g.Socket != want.Socket ||
						!g.Expires.Equal(want.Expires) || !g.LastModified.Equal(want.LastModified) {
						t.Errorf("read back\n got %+v\nwant %+v", g, want)
					}
				}
				if rec.Contacts[0].URI != c1.URI {
					t.Errorf("order after reading: %q", uris(rec))
				}
				if _, found, _ := again.Get("bob"); found {
					t.Error("deleted bob is back")
				}
			})
		}
	})
}

// db_mode 2: 100 contacts saved, then the shutdown flush; a new instance
// on the same database finds all 100.
func TestWriteBackShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.newDB(t)
		d := createTables(t, url, usrloc.Location())
		params := dbParams(url, 2)
		params["timer_interval"] = 3600 // only the shutdown flush writes
		inst := start(t, b, params)
		loc := inst.domain("location")
		for i := 0; i < 100; i++ {
			add(t, loc, fmt.Sprintf("user%03d", i), contact(fmt.Sprintf("sip:u%d@192.0.2.%d", i, i%250+1), time.Hour, i*10))
		}
		if n := countRows(t, d, "location", ""); n != 0 {
			t.Fatalf("%d rows before the shutdown", n)
		}
		inst.stop()
		if n := countRows(t, d, "location", ""); n != 100 {
			t.Fatalf("%d rows after the shutdown flush, want 100", n)
		}
		again := start(t, b, params).domain("location")
		for i := 0; i < 100; i++ {
			rec, found, err := again.Get(fmt.Sprintf("user%03d", i))
			if err != nil || !found || len(rec.Contacts) != 1 || rec.Contacts[0].URI != fmt.Sprintf("sip:u%d@192.0.2.%d", i, i%250+1) ||
				rec.Contacts[0].Q != i*10 {
				t.Fatalf("user%03d on the new instance: %v %v %+v", i, found, err, rec)
			}
		}
	})
}

// The timer deletes expired contacts from the table too.
func TestDBExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, mode := range []int{1, 2, 3} {
			t.Run(fmt.Sprint("db_mode", mode), func(t *testing.T) {
				url := b.newDB(t)
				d := createTables(t, url, usrloc.Location())
				inst := start(t, b, dbParams(url, mode))
				loc := inst.domain("location")
				add(t, loc, "alice", contact("sip:a@1", time.Second, -1), contact("sip:b@1", time.Hour, -1))
				waitFor(t, "one row left", 10*time.Second, func() bool {
					return countRows(t, d, "location", "") == 1
				})
				rec, _, err := loc.Get("alice")
				if err != nil || uris(rec) != "sip:b@1" {
					t.Errorf("after expiry: %q %v", uris(rec), err)
				}
			})
		}
	})
}

// Two servers in db_mode 3 on one database see each other's contacts.
func TestDBOnlyShared(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.newDB(t)
		createTables(t, url, usrloc.Location())
		// Two URLs for one database, so that the two instances do not
		// share a connection pool, as two servers would not.
		url2 := url
		switch b.name {
		case "postgres":
			url2 += "?application_name=second"
		case "mysql":
			url2 += "?collation=utf8mb4_general_ci"
		}
		one := start(t, b, dbParams(url, 3)).domain("location")
		two := start(t, b, dbParams(url2, 3)).domain("location")
		add(t, one, "alice", contact("sip:alice@192.0.2.1", time.Hour, -1))
		rec, found, err := two.Get("alice")
		if err != nil || !found || uris(rec) != "sip:alice@192.0.2.1" {
			t.Fatalf("the second server sees %q, %v, %v", uris(rec), found, err)
		}
		add(t, two, "alice", contact("sip:alice@192.0.2.2", time.Hour, 900))
		if rec, _, _ = one.Get("alice"); uris(rec) != "sip:alice@192.0.2.2 sip:alice@192.0.2.1" {
			t.Fatalf("the first server sees %q", uris(rec))
		}
		if err := two.Delete("alice", false); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := one.Get("alice"); found {
			t.Error("alice still seen after the other server removed her")
		}
	})
}

// A table at another version stops the start, with the message that
// tells what to do.
func TestVersionMismatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.newDB(t)
		d := createTables(t, url, usrloc.Location())
		if err := db.SetVersion(bgctx(t), d, "location", 1003); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []int{1, 2, 3} {
			inst := start(t, b, dbParams(url, mode))
			_, err := inst.api.RegisterDomain("location")
			want := "table location has version 1003, expected 1004: run kamdbctl migrate"
			if err == nil || err.Error() != want {
				t.Errorf("db_mode %d: %v\nwant: %s", mode, err, want)
			}
			// In memory only, the database is not looked at.
			if _, err := start(t, mem, nil).api.RegisterDomain("location"); err != nil {
				t.Error(err)
			}
		}
		// A table nobody created: no version row.
		inst := start(t, b, dbParams(url, 2))
		if _, err := inst.api.RegisterDomain("mytable"); err == nil || !strings.Contains(err.Error(), "table mytable has no version") {
			t.Errorf("unknown table: %v", err)
		}
	})
}

// db_mode 1 and 2 with the database frozen (or stopped), then back:
// every change accepted meanwhile is in the table afterwards, and no save
// waits longer than the statement timeout.
func TestOutage(t *testing.T) {
	for _, b := range backends {
		if b.addr == "" {
			continue
		}
		for _, how := range []string{"frozen", "stopped"} {
			for _, mode := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/%s/db_mode%d", b.name, how, mode), func(t *testing.T) { outage(t, b, how, mode) })
			}
		}
	}
}

func outage(t *testing.T, b backend, how string, mode int) {
	url := b.newDB(t)
	d := createTables(t, url, usrloc.Location())
	p := dbtest.NewProxy(t, b.addr)
	purl := strings.Replace(url, b.addr, p.Addr(), 1)
	params := dbParams(purl, mode)
	if mode == 1 {
		params["timer_interval"] = 60 // the retries while the database is away run every second anyway
	}
	inst := start(t, b, params)
	loc := inst.domain("location")
	for i := 0; i < 5; i++ {
		add(t, loc, fmt.Sprintf("before%d", i), contact(fmt.Sprintf("sip:b%d@192.0.2.1", i), time.Hour, -1))
	}
	waitFor(t, "the first rows", 10*time.Second, func() bool { return countRows(t, d, "location", "") == 5 })
	if how == "frozen" {
		p.Freeze()
	} else {
		p.Stop()
	}
	timeout := 2 * time.Second // the drivers' default statement timeout
	var slow time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		add(t, loc, fmt.Sprintf("during%d", i), contact(fmt.Sprintf("sip:d%d@192.0.2.2", i), time.Hour, -1))
		slow = max(slow, time.Since(start))
	}
	// The updates of existing contacts and deletions count too.
	add(t, loc, "before0", contact("sip:b0@192.0.2.1", 2*time.Hour, 700))
	if err := loc.Delete("before1", false); err != nil {
		t.Fatal(err)
	}
	if slow > timeout+time.Second {
		t.Errorf("a save waited %v during the outage (statement timeout %v)", slow, timeout)
	}
	if how == "frozen" {
		p.Thaw()
	} else {
		p.Start()
	}
	waitFor(t, "every change in the table", 30*time.Second, func() bool {
		return countRows(t, d, "location", "") == 24 &&
			countRows(t, d, "location", "username = ? AND q > ?", "before0", 0.5) == 1
	})
	if n := countRows(t, d, "location", "username = ?", "before1"); n != 0 {
		t.Errorf("the deleted contact is still in the table")
	}
	// Nothing twice.
	if n := countRows(t, d, "location", "username LIKE ?", "during%"); n != 20 {
		t.Errorf("%d rows of the outage's contacts, want 20", n)
	}
}

// A statement error (not an outage) on one contact does not hold the
// others back: the flush writes each record on its own then.
func TestFlushIsolatesBadContact(t *testing.T) {
	for _, b := range backends {
		if b.name != "postgres" && b.name != "mysql" {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			url := b.newDB(t)
			d := createTables(t, url, usrloc.Location())
			params := dbParams(url, 2)
			params["timer_interval"] = 3600
			inst := start(t, b, params)
			loc := inst.domain("location")
			bad := contact("sip:bad@192.0.2.1", time.Hour, -1)
			bad.Received = "sip:" + strings.Repeat("r", 200) // longer than the received column (128)
			add(t, loc, "bad", bad)
			for i := 0; i < 3; i++ {
				add(t, loc, fmt.Sprintf("good%d", i), contact(fmt.Sprintf("sip:g%d@192.0.2.1", i), time.Hour, -1))
			}
			_, err := inst.call("ul.flush")
			if err == nil && b.name == "postgres" {
				t.Error("the flush of a too long value reported no error")
			}
			if n := countRows(t, d, "location", "username LIKE ?", "good%"); n != 3 {
				t.Errorf("%d good contacts written, want 3 (%v)", n, err)
			}
			if errors.Is(err, db.ErrTimeout) {
				t.Errorf("unexpected timeout: %v", err)
			}
		})
	}
}

// Saves racing with flushes (db_mode 1 and 2): once the last flush is done,
// the table holds exactly what memory holds.
func TestFlushWhileSaving(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, mode := range []int{1, 2} {
			t.Run(fmt.Sprint("db_mode", mode), func(t *testing.T) { flushWhileSaving(t, b, mode) })
		}
	})
}

func flushWhileSaving(t *testing.T, b backend, mode int) {
	url := b.newDB(t)
	d := createTables(t, url, usrloc.Location())
	params := dbParams(url, mode)
	params["timer_interval"] = 3600
	inst := start(t, b, params)
	loc := inst.domain("location")
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := inst.call("ul.flush"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				aor := fmt.Sprintf("user%d", (i*7+w)%20)
				uri := fmt.Sprintf("sip:c%d@192.0.2.%d", i%3, w+1)
				if i%5 == 4 {
					loc.Update(aor, false, func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
						var out []usrloc.Contact
						for _, c := range cur {
							if c.URI != uri {
								out = append(out, c)
							}
						}
						return out, nil
					})
					continue
				}
				c := contact(uri, time.Hour, i%1000)
				c.CSeq = uint32(w*1000 + i)
				add(t, loc, aor, c)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-flushed
	if _, err := inst.call("ul.flush"); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := 0; i < 20; i++ {
		rec, _, _ := loc.Get(fmt.Sprintf("user%d", i))
		for _, c := range rec.Contacts {
			want[fmt.Sprintf("%s %s %d", rec.AOR, c.URI, c.CSeq)] = true
		}
	}
	rows, err := d.Query(bgctx(t), "SELECT username, contact, cseq FROM location")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var u, c string
		var cseq int64
		if err := rows.Scan(&u, &c, &cseq); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s %s %d", u, c, cseq)
		if got[k] {
			t.Errorf("row %s twice", k)
		}
		got[k] = true
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, %d contacts in memory", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("contact %s not in the table", k)
		}
	}
}
