package usrloc_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/siptest"
	"sip-router.org/modules_s/usrloc"
)

func TestOrder(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		// By q, highest first; no q counts as 1; the older first among equals.
		{"by q", nil, "sip:a@h sip:b@h sip:noq@h sip:low@h"},
		// Most recently changed first.
		{"desc_time_order", map[string]any{"desc_time_order": 1}, "sip:noq@h sip:low@h sip:b@h sip:a@h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := start(t, memory, tc.params).domain("location")
			base := contact("", time.Hour, 0)
			for i, c := range []struct {
				uri string
				q   int
			}{{"sip:a@h", 1000}, {"sip:b@h", 1000}, {"sip:low@h", 100}, {"sip:noq@h", -1}} {
				ct := contact(c.uri, time.Hour, c.q)
				ct.LastModified = base.LastModified.Add(time.Duration(i) * time.Second)
				add(t, d, "u1", ct)
			}
			rec, found, err := d.Get("u1")
			if err != nil || !found {
				t.Fatalf("get: %v %v", found, err)
			}
			if got := uris(rec); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	inst := start(t, memory, nil)
	d := inst.domain("location")
	expired := contact("sip:old@h", -time.Second, -1)
	perm := contact("sip:perm@h", -time.Hour, -1)
	perm.Flags = usrloc.FLPermanent
	live := contact("sip:live@h", time.Hour, -1)
	add(t, d, "u1", expired, perm, live)
	add(t, d, "u2", contact("sip:gone@h", -time.Second, -1))

	rec, _, _ := d.Get("u1")
	now := time.Now()
	valid := map[string]bool{}
	for _, c := range rec.Contacts {
		valid[c.URI] = c.Valid(now)
	}
	if valid["sip:old@h"] || !valid["sip:perm@h"] || !valid["sip:live@h"] {
		t.Errorf("validity %v", valid)
	}
	if n := inst.stat("location-contacts"); n != 2 {
		t.Errorf("location-contacts %d, want 2 (the expired ones do not count)", n)
	}
	if n := inst.stat("registered_users"); n != 1 {
		t.Errorf("registered_users %d, want 1", n)
	}
	// The timer's pass removes the expired contacts and counts them.
	if _, err := inst.call("usrloc.flush"); err != nil {
		t.Fatal(err)
	}
	rec, _, _ = d.Get("u1")
	if got := uris(rec); got != "sip:perm@h sip:live@h" {
		t.Errorf("after the timer: %q", got)
	}
	if _, found, _ := d.Get("u2"); found {
		t.Error("u2 still has a record")
	}
	if n := inst.stat("location-expires"); n != 2 {
		t.Errorf("location-expires %d, want 2", n)
	}
}

func TestUpdateError(t *testing.T) {
	d := start(t, memory, nil).domain("location")
	add(t, d, "u1", contact("sip:a@h", time.Hour, -1))
	boom := errors.New("boom")
	rec, err := d.Update("u1", false, func(cur []usrloc.Contact) ([]usrloc.Contact, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if uris(rec) != "sip:a@h" {
		t.Errorf("record returned with the error: %q", uris(rec))
	}
	if got, _, _ := d.Get("u1"); uris(got) != "sip:a@h" {
		t.Errorf("record changed: %q", uris(got))
	}
	// A panic in fn does not leave the record locked.
	func() {
		defer func() { _ = recover() }()
		_, _ = d.Update("u1", false, func([]usrloc.Contact) ([]usrloc.Contact, error) { panic("x") })
	}()
	done := make(chan struct{})
	go func() { d.Get("u1"); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the record stayed locked after a panic")
	}
}

func TestConcurrent(t *testing.T) {
	d := start(t, memory, nil).domain("location")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				uid := fmt.Sprintf("u%d", i%10)
				add(t, d, uid, contact(fmt.Sprintf("sip:%d-%d@h", g, i%5), time.Hour, -1))
				if _, _, err := d.Get(uid); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 10; i++ {
		rec, _, _ := d.Get(fmt.Sprintf("u%d", i))
		if len(rec.Contacts) == 0 {
			t.Errorf("u%d has no contact", i)
		}
	}
}

func TestRPC(t *testing.T) {
	inst := start(t, memory, nil)
	d := inst.domain("location")
	c := contact("sip:a@192.0.2.1", time.Hour, 500)
	c.Received = "sip:192.0.2.1:5062"
	add(t, d, "u1", c, contact("sip:b@192.0.2.2", time.Hour, -1))

	steps := []struct {
		method string
		params []string
		check  func(t *testing.T, res any, err error)
	}{
		{"usrloc.show_contacts", []string{"location", "u1"}, func(t *testing.T, res any, err error) {
			list, _ := res.([]any)
			if err != nil || len(list) != 2 {
				t.Fatalf("%v %v", res, err)
			}
			// No q sorts as 1, before 0.5.
			first := list[1].(map[string]any)
			if first["contact"] != "sip:a@192.0.2.1" || first["q"] != 0.5 || first["recv"] != "sip:192.0.2.1:5062" {
				t.Errorf("first contact %v", first)
			}
			if e := first["expires"].(int64); e < 3590 || e > 3600 {
				t.Errorf("expires %d", e)
			}
		}},
		{"usrloc.show_contacts", []string{"location", "nobody"}, wantErr},
		{"usrloc.show_contacts", []string{"nowhere", "u1"}, wantErr},
		{"usrloc.add_contact", []string{"location", "u2", "sip:c@h", "0", "1", "0"}, wantErr},
		{"usrloc.add_contact", []string{"location", "u2", "sip:c@h", "0", "1", "128"}, wantOK},
		{"usrloc.add_contact", []string{"location", "u2", "sip:d@h", "60", "0.25", "0", "7"}, wantOK},
		{"usrloc.add_contact", []string{"location", "u2", "sip:d@h", "60", "2", "0"}, wantErr},
		{"usrloc.add_contact", []string{"location", "u2", "sip:d@h"}, wantErr},
		{"ul.lookup", []string{"location", "u2"}, func(t *testing.T, res any, err error) {
			if err != nil {
				t.Fatal(err)
			}
			cs := res.(map[string]any)["Contacts"].([]any)
			if len(cs) != 2 {
				t.Fatalf("contacts %v", cs)
			}
			perm := cs[0].(map[string]any)
			if perm["Contact"] != "sip:c@h" || perm["Expires"] != "permanent" || perm["Call-ID"] != "RPC-Call-ID" {
				t.Errorf("permanent contact %v", perm)
			}
			if d := cs[1].(map[string]any); d["Q"] != "0.25" || d["Server-ID"] != int64(7) {
				t.Errorf("second contact %v", d)
			}
		}},
		{"usrloc.stats", nil, func(t *testing.T, res any, err error) {
			list := res.([]any)
			if err != nil || len(list) != 1 {
				t.Fatalf("%v %v", res, err)
			}
			if s := list[0].(map[string]any); s["domain"] != "location" || s["users"] != int64(2) || s["contacts"] != int64(4) {
				t.Errorf("stats %v", s)
			}
		}},
		{"usrloc.delete_contact", []string{"location", "u2", "sip:zz@h"}, wantErr},
		{"usrloc.delete_contact", []string{"location", "u2", "sip:d@h"}, wantOK},
		{"usrloc.dump", nil, func(t *testing.T, res any, err error) {
			doms := res.([]any)
			uids := doms[0].(map[string]any)["uids"].([]any)
			if err != nil || len(uids) != 2 {
				t.Fatalf("%v %v", res, err)
			}
			if u := uids[1].(map[string]any); u["uid"] != "u2" || len(u["contacts"].([]any)) != 1 {
				t.Errorf("u2 %v", u)
			}
		}},
		{"usrloc.delete_uid", []string{"location", "u2"}, wantOK},
		{"ul.add", []string{"location", "u3", "sip:e@h", "0", "1"}, wantOK},
		{"ul.add", []string{"location", "u3", "sip:f@h", "120", "0.5", "0", "1"}, wantOK},
		{"ul.add", []string{"location", "u3", "sip:f@h", "x", "0.5"}, wantErr},
		{"ul.dump", []string{"brief"}, func(t *testing.T, res any, err error) {
			dom := res.(map[string]any)["Domains"].([]any)[0].(map[string]any)
			if err != nil || fmt.Sprint(dom["AoRs"]) != "[u1 u3]" || dom["Contacts"] != 4 {
				t.Errorf("%v %v", res, err)
			}
		}},
		{"ul.dump", []string{"full"}, wantErr},
		{"ul.rm_contact", []string{"location", "u3", "sip:e@h"}, wantOK},
		{"ul.rm", []string{"location", "u1"}, wantOK},
		{"ul.lookup", []string{"location", "u1"}, wantErr},
		{"ul.dump", nil, func(t *testing.T, res any, err error) {
			dom := res.(map[string]any)["Domains"].([]any)[0].(map[string]any)
			aors := dom["AoRs"].([]any)
			if err != nil || len(aors) != 1 {
				t.Fatalf("%v %v", res, err)
			}
			rec := aors[0].(map[string]any)
			c := rec["Contacts"].([]any)[0].(map[string]any)
			if rec["AoR"] != "u3" || c["Contact"] != "sip:f@h" || c["Flags"] != int64(1) {
				t.Errorf("record %v", rec)
			}
		}},
		{"ul.flush", nil, wantOK},
	}
	for _, s := range steps {
		res, err := inst.call(s.method, s.params...)
		t.Run(s.method+" "+strings.Join(s.params, " "), func(t *testing.T) { s.check(t, res, err) })
	}
}

func wantOK(t *testing.T, _ any, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("error %v", err)
	}
}

func wantErr(t *testing.T, res any, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, result %v", res)
	}
}

func TestMemOnly(t *testing.T) {
	d := start(t, memory, nil).domain("location")
	_, err := d.Update("u1", true, func([]usrloc.Contact) ([]usrloc.Contact, error) {
		return []usrloc.Contact{contact("sip:a@h", time.Hour, -1)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, _, _ := d.Get("u1")
	if len(rec.Contacts) != 1 || rec.Contacts[0].Flags&usrloc.FLMem == 0 {
		t.Errorf("memory-only contact %+v", rec.Contacts)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg, want string
	}{
		{`modparam("usrloc", "uid_column", "u id")`, `uid_column "u id" is not a valid column name`},
		{`modparam("usrloc", "db_mode", 1)`, `db_mode 1 needs a database: set db_url`},
		{`modparam("usrloc", "db_mode", 4)`, `above the maximum 3`},
		{"modparam(\"usrloc\", \"db_mode\", 2)\nmodparam(\"usrloc\", \"db_url\", \"mysql://u@localhost/ser\")", `module db_mysql is not loaded`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := siptest.LoadErr(t, "loadmodule \"usrloc\"\n"+tc.cfg+"\nroute { drop; }\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTables(t *testing.T) {
	tables := []*schema.Table{usrloc.Location(), usrloc.Table("aliases", "")}
	if err := db.CheckTables(tables); err != nil {
		t.Fatal(err)
	}
	d := dbtest.Open(t, "sqlite://"+filepath.Join(t.TempDir(), "ser.db"))
	if err := db.CreateTables(bgctx(t), d, tables); err != nil {
		t.Fatal(err)
	}
	for _, tab := range tables {
		if v, err := db.TableVersion(bgctx(t), d, tab.Name); err != nil || v != usrloc.TableVersion {
			t.Errorf("%s: version %d %v", tab.Name, v, err)
		}
	}
}

func TestQ(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{{"1", 1000, true}, {"0.5", 500, true}, {"0.125", 125, true}, {"0", 0, true}, {"1.000", 1000, true},
		{"1.5", 0, false}, {"-0.1", 0, false}, {"0.1234", 0, false}, {"1e-1", 0, false}, {"", 0, false}, {"x", 0, false}} {
		q, ok := usrloc.ParseQ(tc.in)
		if q != tc.want || ok != tc.ok {
			t.Errorf("ParseQ(%q) = %d %v, want %d %v", tc.in, q, ok, tc.want, tc.ok)
		}
	}
	for q, want := range map[int]string{-1: "", 0: "0", 1000: "1", 500: "0.5", 50: "0.05", 125: "0.125"} {
		if got := usrloc.QString(q); got != want {
			t.Errorf("QString(%d) = %q, want %q", q, got, want)
		}
	}
}

// TestTimer lets the timer itself expire a contact.
func TestTimer(t *testing.T) {
	inst := start(t, memory, map[string]any{"timer_interval": 1})
	d := inst.domain("location")
	add(t, d, "u1", contact("sip:soon@h", time.Second, -1))
	deadline := time.Now().Add(10 * time.Second)
	for inst.stat("location-expires") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the timer did not expire the contact")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, found, _ := d.Get("u1"); found {
		t.Error("the expired contact is still in memory")
	}
}
