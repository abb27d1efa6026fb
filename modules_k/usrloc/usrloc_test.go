package usrloc_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	"sip-router.org/modules_k/usrloc"
)

var mem = backend{name: "memory"}

func uris(r usrloc.Record) string {
	var s []string
	for _, c := range r.Contacts {
		s = append(s, c.URI)
	}
	return strings.Join(s, " ")
}

// Contacts come back in lookup order: by q, highest first, the older
// first among equal q; with desc_time_order, the most recent first.
func TestOrder(t *testing.T) {
	d := start(t, mem, nil).domain("location")
	add(t, d, "alice", contact("sip:a@1", time.Hour, 500))
	add(t, d, "alice", contact("sip:b@1", time.Hour, 1000))
	add(t, d, "alice", contact("sip:c@1", time.Hour, 500))
	add(t, d, "alice", contact("sip:d@1", time.Hour, -1))
	rec, found, err := d.Get("alice")
	if err != nil || !found {
		t.Fatalf("get: %v %v", found, err)
	}
	if got := uris(rec); got != "sip:b@1 sip:a@1 sip:c@1 sip:d@1" {
		t.Errorf("order %q", got)
	}
	// A changed q moves the contact.
	add(t, d, "alice", contact("sip:c@1", time.Hour, 900))
	rec, _, _ = d.Get("alice")
	if got := uris(rec); got != "sip:b@1 sip:c@1 sip:a@1 sip:d@1" {
		t.Errorf("order after q change %q", got)
	}

	d2 := start(t, mem, map[string]any{"desc_time_order": 1}).domain("location")
	for i, u := range []string{"sip:a@1", "sip:b@1", "sip:c@1"} {
		c := contact(u, time.Hour, 1000-100*i)
		c.LastModified = c.LastModified.Add(time.Duration(i) * time.Second)
		add(t, d2, "bob", c)
	}
	rec, _, _ = d2.Get("bob")
	if got := uris(rec); got != "sip:c@1 sip:b@1 sip:a@1" {
		t.Errorf("desc_time_order %q", got)
	}
}

// Contacts are told apart by URI (matching_mode 0) or by URI and Call-ID
// (1); Match applies Kamailio's CSeq rules.
func TestMatching(t *testing.T) {
	now := time.Unix(time.Now().Unix(), 0)
	for _, mode := range []int{0, 1} {
		t.Run(fmt.Sprint("mode", mode), func(t *testing.T) {
			inst := start(t, mem, map[string]any{"matching_mode": mode})
			d := inst.domain("location")
			c1 := contact("sip:a@1", time.Hour, -1)
			c1.CallID, c1.CSeq = "x", 5
			c2 := c1
			c2.CallID = "y"
			rec := add(t, d, "alice", c1)
			rec, err := d.Update("alice", false, func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
				return append(cur, c2), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := 1 + mode
			if len(rec.Contacts) != want {
				t.Fatalf("%d contacts, want %d", len(rec.Contacts), want)
			}
			list := []usrloc.Contact{c1}
			list[0].LastModified = now.Add(-time.Hour)
			for _, tc := range []struct {
				uri, callID string
				cseq        uint32
				want        usrloc.MatchResult
			}{
				{"sip:a@1", "x", 6, usrloc.Found},
				{"sip:a@1", "x", 4, usrloc.BadCSeq},
				{"sip:a@1", "x", 5, usrloc.BadCSeq}, // same CSeq, long after: out of order
				{"sip:b@1", "x", 6, usrloc.NotFound},
			} {
				if _, got := inst.api.Match(list, tc.uri, tc.callID, tc.cseq, now); got != tc.want {
					t.Errorf("Match(%s, %s, %d) = %d, want %d", tc.uri, tc.callID, tc.cseq, got, tc.want)
				}
			}
			list[0].LastModified = now
			if _, got := inst.api.Match(list, "sip:a@1", "x", 5, now); got != usrloc.Retransmission {
				t.Errorf("same CSeq just after: %d, want a retransmission", got)
			}
			// Another Call-ID: any CSeq goes with matching_mode 0, and is
			// another contact with 1.
			_, got := inst.api.Match(list, "sip:a@1", "z", 1, now)
			if wantRes := []usrloc.MatchResult{usrloc.Found, usrloc.NotFound}[mode]; got != wantRes {
				t.Errorf("other Call-ID: %d, want %d", got, wantRes)
			}
		})
	}
}

// The timer removes expired contacts and counts them; statistics follow.
func TestExpiry(t *testing.T) {
	inst := start(t, mem, map[string]any{"timer_interval": 1})
	d := inst.domain("location")
	add(t, d, "alice", contact("sip:a@1", time.Second, -1), contact("sip:b@1", time.Hour, -1))
	add(t, d, "bob", contact("sip:c@1", time.Second, -1))
	get := func(name string) int64 {
		v, err := inst.Stats.Get("usrloc:" + name)
		if err != nil {
			t.Fatal(err)
		}
		return v["usrloc:"+name]
	}
	if u, c := get("location-users"), get("location-contacts"); u != 2 || c != 3 {
		t.Errorf("users %d contacts %d, want 2 3", u, c)
	}
	if n := get("registered_users"); n != 2 {
		t.Errorf("registered_users %d", n)
	}
	waitFor(t, "the expired contacts to go", 5*time.Second, func() bool {
		_, found, _ := d.Get("bob")
		return !found
	})
	rec, _, _ := d.Get("alice")
	if uris(rec) != "sip:b@1" {
		t.Errorf("alice after expiry: %q", uris(rec))
	}
	if n := get("location-expires"); n != 2 {
		t.Errorf("location-expires %d, want 2", n)
	}
	if u, c := get("location-users"), get("location-contacts"); u != 1 || c != 1 {
		t.Errorf("users %d contacts %d after expiry, want 1 1", u, c)
	}
}

// A permanent contact (expires zero) never expires.
func TestPermanent(t *testing.T) {
	inst := start(t, mem, map[string]any{"timer_interval": 1})
	d := inst.domain("location")
	c := contact("sip:p@1", 0, -1)
	c.Expires = time.Time{}
	add(t, d, "alice", c, contact("sip:e@1", time.Second, -1))
	waitFor(t, "expiry", 5*time.Second, func() bool {
		rec, _, _ := d.Get("alice")
		return len(rec.Contacts) == 1
	})
	rec, _, _ := d.Get("alice")
	if !rec.Contacts[0].Permanent() || !rec.Contacts[0].Valid(time.Now().Add(1000*time.Hour)) {
		t.Errorf("permanent contact: %+v", rec.Contacts[0])
	}
}

// An error of the update function changes nothing.
func TestUpdateError(t *testing.T) {
	d := start(t, mem, nil).domain("location")
	add(t, d, "alice", contact("sip:a@1", time.Hour, -1))
	boom := errors.New("boom")
	_, err := d.Update("alice", false, func([]usrloc.Contact) ([]usrloc.Contact, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if rec, _, _ := d.Get("alice"); uris(rec) != "sip:a@1" {
		t.Errorf("after a failed update: %q", uris(rec))
	}
	// The strings kept are copies: changing the caller's buffer does not
	// change memory.
	buf := []byte("sip:zz@1")
	c := contact(string(buf), time.Hour, -1)
	add(t, d, "carol", c)
	if rec, _, _ := d.Get("carol"); rec.Contacts[0].URI != "sip:zz@1" {
		t.Errorf("uri %q", rec.Contacts[0].URI)
	}
}

// Concurrent saves and lookups on shared AORs (run with -race).
func TestConcurrent(t *testing.T) {
	d := start(t, mem, map[string]any{"hash_size": 2}).domain("location")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				aor := fmt.Sprintf("user%d", i%10)
				add(t, d, aor, contact(fmt.Sprintf("sip:%d@w%d", i%5, w), time.Hour, i%1000))
				if _, _, err := d.Get(aor); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := 0; i < 10; i++ {
		rec, _, _ := d.Get(fmt.Sprintf("user%d", i))
		total += len(rec.Contacts)
	}
	if total != 8*5*2 { // per worker: 5 URIs, each in 2 of the 10 AORs
		t.Errorf("%d contacts, want 80", total)
	}
}

// The RPC commands: ul.add, ul.lookup, ul.dump, ul.rm_contact, ul.rm.
func TestRPC(t *testing.T) {
	inst := start(t, mem, nil)
	d := inst.domain("location")
	if _, err := inst.call("ul.add", "location", "Alice@Example.com", "sip:alice@192.0.2.1", "3600", "0.5"); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.call("ul.add", "location", "alice", "sip:alice@192.0.2.2", "0", "1", "0", "0", "64", "1"); err != nil {
		t.Fatal(err)
	}
	rec, found, _ := d.Get("alice")
	if !found || uris(rec) != "sip:alice@192.0.2.2 sip:alice@192.0.2.1" {
		t.Fatalf("after ul.add: %q", uris(rec))
	}
	if c := rec.Contacts[0]; !c.Permanent() || c.CFlags != 64 || c.Methods != usrloc.MethodInvite || c.Q != 1000 {
		t.Errorf("second contact: %+v", c)
	}
	if c := rec.Contacts[1]; c.Q != 500 || c.Permanent() || c.UserAgent != "SIP Router MI Server" {
		t.Errorf("first contact: %+v", c)
	}
	res, err := inst.call("ul.lookup", "location", "alice")
	if err != nil {
		t.Fatal(err)
	}
	m := res.(map[string]any)
	cs := m["Contacts"].([]any)
	if m["AoR"] != "alice" || len(cs) != 2 || cs[0].(map[string]any)["Expires"] != "permanent" ||
		cs[1].(map[string]any)["Q"] != "0.5" {
		t.Errorf("ul.lookup: %#v", res)
	}
	if _, err := inst.call("ul.lookup", "location", "nobody"); err == nil || !strings.Contains(err.Error(), "AOR not found") {
		t.Errorf("ul.lookup of an unknown AOR: %v", err)
	}
	if _, err := inst.call("ul.lookup", "nosuchtable", "alice"); err == nil {
		t.Error("ul.lookup of an unknown table succeeded")
	}
	for _, bad := range [][]string{
		{"location", "alice", "sip:x@1", "soon", "1"},
		{"location", "alice", "sip:x@1", "10", "2"},
		{"location", "alice", "sip:x@1", "10", "1", "0", "bad"},
		{"location"},
	} {
		if _, err := inst.call("ul.add", bad...); !errors.Is(err, rpc.ErrParams) {
			t.Errorf("ul.add %q: %v, want a parameter error", bad, err)
		}
	}
	res, err = inst.call("ul.dump", "brief")
	if err != nil {
		t.Fatal(err)
	}
	dom := res.(map[string]any)["Domains"].([]any)[0].(map[string]any)
	if dom["Domain"] != "location" || dom["Records"] != 1 || dom["Contacts"] != 2 || dom["AoRs"].([]any)[0] != "alice" {
		t.Errorf("ul.dump brief: %#v", dom)
	}
	if res, err = inst.call("ul.dump"); err != nil {
		t.Fatal(err)
	}
	full := res.(map[string]any)["Domains"].([]any)[0].(map[string]any)["AoRs"].([]any)[0].(map[string]any)
	if len(full["Contacts"].([]any)) != 2 {
		t.Errorf("ul.dump: %#v", full)
	}
	if _, err := inst.call("ul.rm_contact", "location", "alice", "sip:alice@192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.call("ul.rm_contact", "location", "alice", "sip:alice@192.0.2.2"); err == nil {
		t.Error("removing a removed contact succeeded")
	}
	if rec, _, _ := d.Get("alice"); uris(rec) != "sip:alice@192.0.2.1" {
		t.Errorf("after ul.rm_contact: %q", uris(rec))
	}
	if _, err := inst.call("ul.rm", "location", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := d.Get("alice"); found {
		t.Error("alice still there after ul.rm")
	}
	if res, err := inst.call("ul.flush"); err != nil || res.(map[string]any)["Written"] != 0 {
		t.Errorf("ul.flush without a database: %v %v", res, err)
	}
}

// With use_domain, the RPCs need the domain in the AOR.
func TestRPCUseDomain(t *testing.T) {
	inst := start(t, mem, map[string]any{"use_domain": 1})
	d := inst.domain("location")
	if _, err := inst.call("ul.add", "location", "alice", "sip:a@1", "60", "1"); !errors.Is(err, rpc.ErrParams) {
		t.Errorf("AOR without domain: %v", err)
	}
	if _, err := inst.call("ul.add", "location", "alice@example.com", "sip:a@1", "60", "1"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := d.Get("alice@example.com"); !found {
		t.Error("alice@example.com not found")
	}
}

// Parameters are checked when the config loads; a database mode needs a
// URL whose driver module is loaded.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("usrloc", "db_mode", 2)`, "db_mode 2 needs a database: set db_url"},
		{`modparam("usrloc", "db_mode", 1)
modparam("usrloc", "db_url", "mysql://u:secret@localhost/k")`, `module db_mysql is not loaded`},
		{`modparam("usrloc", "db_mode", 3)
modparam("usrloc", "db_url", "oracle://u@h/k")`, `needs module db_oracle`},
		{`modparam("usrloc", "db_mode", 4)`, "above the maximum"},
		{`modparam("usrloc", "user_column", "user name")`, "not a valid name"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"usrloc.so\"\n"+tc.cfg+"\nroute { drop; }\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n%v\nwant %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the password shows in %v", err)
		}
	}
}

// The table declarations are valid in every dialect, migrations included.
func TestTables(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{usrloc.Location(), usrloc.TableV1001("location")}); err != nil {
		t.Fatal(err)
	}
	loc := usrloc.Location()
	if loc.Version != 1004 || len(loc.Migrations) != 3 {
		t.Errorf("location: version %d, %d migrations", loc.Version, len(loc.Migrations))
	}
	// The DB tool renders them (kamdbctl create and migrate).
	aliases := usrloc.Table("aliases", "alias_idx", "")
	if _, err := db.RenderDump([]db.Group{{Name: "usrloc", Tables: []*schema.Table{loc}},
		{Name: "registrar", Tables: []*schema.Table{aliases}}}); err != nil {
		t.Errorf("render: %v", err)
	}
	for _, d := range db.Dialects {
		steps, err := db.PlanSteps(d, loc, 1001)
		if err != nil || len(steps) != 3 {
			t.Errorf("%s: plan from 1001: %d steps, %v", d, len(steps), err)
		}
	}
}
