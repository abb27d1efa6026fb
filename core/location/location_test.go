package location

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/stats"
)

// The tests here cover the in-memory logic (NoDB). The database modes
// run against SQLite, MariaDB and PostgreSQL in the tests of the usrloc
// modules, which link the drivers (core does not).

// tc is a test contact.
type tc struct {
	URI, CallID, Tag string
	Expires          int64
	Q                int32
	Flags            uint32
	LastMod          int64
}

type tx struct{ tag string }

func (x tx) Clone(old tx) tx { x.tag = CloneIfNew(old.tag, x.tag); return x }

const (
	memFlag  = 1 << 8
	permFlag = 1 << 7
)

func testConfig(mod func(*Config[tc, tx])) Config[tc, tx] {
	cfg := Config[tc, tx]{
		Name: "loc", KeyName: "key", Mode: NoDB, TimerInterval: time.Hour, Shards: 4, MemFlag: memFlag,
		Pack: func(c *tc) Entry[tx] {
			return Entry[tx]{URI: c.URI, CallID: c.CallID, Expires: c.Expires, Q: c.Q, Flags: c.Flags, LastMod: c.LastMod, X: tx{c.Tag}}
		},
		Unpack: func(e *Entry[tx]) tc {
			return tc{URI: e.URI, CallID: e.CallID, Expires: e.Expires, Q: e.Q, Flags: e.Flags, LastMod: e.LastMod, Tag: e.X.tag}
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

func start(t *testing.T, mod func(*Config[tc, tx])) (*Service[tc, tx], *Table[tc, tx], *stats.Registry) {
	t.Helper()
	reg := stats.New()
	s, err := Start(&module.InitEnv{Log: slog.New(slog.DiscardHandler), Stats: reg}, testConfig(mod))
	t.Cleanup(s.Stop)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := s.Register("location")
	if err != nil {
		t.Fatal(err)
	}
	return s, tb, reg
}

func set(cs ...tc) func([]tc) ([]tc, error) {
	return func([]tc) ([]tc, error) { return cs, nil }
}

func uris(cs []tc) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.URI)
	}
	return strings.Join(out, " ")
}

func TestUpdateGetDelete(t *testing.T) {
	_, tb, _ := start(t, nil)
	future := time.Now().Unix() + 3600
	if _, found, err := tb.Get("alice"); found || err != nil {
		t.Fatalf("empty table: %v %v", found, err)
	}
	cs, err := tb.Update("alice", false, set(tc{URI: "sip:a", Q: 500, Expires: future}, tc{URI: "sip:b", Q: 1000, Expires: future}))
	if err != nil || uris(cs) != "sip:b sip:a" {
		t.Fatalf("Update: %q %v", uris(cs), err)
	}
	// A contact given twice: the first wins.
	cs, _ = tb.Update("alice", false, func(cur []tc) ([]tc, error) {
		return append(cur, tc{URI: "sip:a", Q: 100, Expires: future}), nil
	})
	if len(cs) != 2 || cs[1].Q != 500 {
		t.Errorf("a key given twice: %+v", cs)
	}
	// An error of fn changes nothing and returns what fn got.
	boom := errors.New("boom")
	cs, err = tb.Update("alice", false, func(cur []tc) ([]tc, error) { return nil, boom })
	if !errors.Is(err, boom) || uris(cs) != "sip:b sip:a" {
		t.Errorf("fn error: %q %v", uris(cs), err)
	}
	if cs, found, _ := tb.Get("alice"); !found || uris(cs) != "sip:b sip:a" {
		t.Errorf("after the error: %q", uris(cs))
	}
	// Strings are copied in, not shared with what the caller holds.
	b := []byte("sip:c")
	tb.Update("alice", false, func(cur []tc) ([]tc, error) {
		return append(cur, tc{URI: string(b), Expires: future, Tag: "t"}), nil
	})
	b[4] = 'X'
	if cs, _, _ := tb.Get("alice"); !strings.Contains(uris(cs), "sip:c") || cs[2].Tag != "t" {
		t.Errorf("contacts %+v", cs)
	}
	if err := tb.Delete("alice", false); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := tb.Get("alice"); found {
		t.Error("alice after Delete")
	}
	if cs, err := tb.Update("bob", false, set()); cs != nil || err != nil {
		t.Errorf("an empty new record: %v %v", cs, err)
	}
	if recs, _ := tb.Records(); len(recs) != 0 {
		t.Errorf("records left: %+v", recs)
	}
}

func TestMatchingByCallID(t *testing.T) {
	for _, byCallID := range []bool{false, true} {
		t.Run(fmt.Sprint(byCallID), func(t *testing.T) {
			_, tb, _ := start(t, func(c *Config[tc, tx]) { c.ByCallID = byCallID })
			tb.Update("k", false, set(tc{URI: "sip:a", CallID: "1"}))
			cs, _ := tb.Update("k", false, func(cur []tc) ([]tc, error) { return append(cur, tc{URI: "sip:a", CallID: "2"}), nil })
			want := 1
			if byCallID {
				want = 2
			}
			if len(cs) != want {
				t.Errorf("contacts %+v, want %d", cs, want)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Config[tc, tx])
		want string
	}{
		{"by q, unset last", nil, "sip:q1 sip:q5 sip:unset"},
		{"by q, unset as 1 (older first among equals)", func(c *Config[tc, tx]) { c.UnsetQIsOne = true }, "sip:unset sip:q1 sip:q5"},
		{"most recent first", func(c *Config[tc, tx]) { c.DescTimeOrder = true }, "sip:unset sip:q5 sip:q1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, tb, _ := start(t, tt.mod)
			cs, _ := tb.Update("k", false, set(tc{URI: "sip:q5", Q: 500, LastMod: 2}, tc{URI: "sip:unset", Q: -1, LastMod: 3}, tc{URI: "sip:q1", Q: 1000, LastMod: 1}))
			if uris(cs) != tt.want {
				t.Errorf("%q, want %q", uris(cs), tt.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	now := time.Now().Unix()
	for _, tt := range []struct {
		name      string
		mod       func(*Config[tc, tx])
		contacts  []tc
		left      string
		validOnly int64 // contacts counted before the pass
	}{
		{"expires 0 is permanent", nil,
			[]tc{{URI: "sip:old", Expires: now - 1}, {URI: "sip:perm"}, {URI: "sip:new", Expires: now + 60}}, "sip:perm sip:new", 3},
		{"permanent flag", func(c *Config[tc, tx]) { c.PermanentFlag, c.CountValidOnly = permFlag, true },
			[]tc{{URI: "sip:old", Expires: now - 1}, {URI: "sip:zero"}, {URI: "sip:perm", Flags: permFlag}, {URI: "sip:new", Expires: now + 60}},
			"sip:perm sip:new", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, tb, reg := start(t, tt.mod)
			tb.Update("k", false, set(tt.contacts...))
			if _, c := tb.Counts(time.Unix(now, 0)); c != tt.validOnly {
				t.Errorf("counted %d contacts before the pass, want %d", c, tt.validOnly)
			}
			if n, err := s.Flush(t.Context()); n != 0 || err != nil {
				t.Fatalf("Flush: %d %v", n, err)
			}
			cs, _, _ := tb.Get("k")
			if uris(cs) != tt.left {
				t.Errorf("left %q, want %q", uris(cs), tt.left)
			}
			expired := int64(len(tt.contacts) - len(cs))
			if tb.Expired() != expired {
				t.Errorf("expired %d, want %d", tb.Expired(), expired)
			}
			m, err := reg.Get("loc:location-expires")
			if err != nil || m["loc:location-expires"] != expired {
				t.Errorf("statistic: %v %v", m, err)
			}
		})
	}
}

func TestMemOnlyFlag(t *testing.T) {
	_, tb, _ := start(t, nil)
	cs, _ := tb.Update("k", true, set(tc{URI: "sip:a"}, tc{URI: "sip:b", Flags: memFlag}))
	for _, c := range cs {
		if c.Flags&memFlag == 0 {
			t.Errorf("%s not memory-only", c.URI)
		}
	}
	// Unchanged, it keeps its flag; changed by a normal update, it loses it.
	cs, _ = tb.Update("k", false, func(cur []tc) ([]tc, error) {
		cur[0].Flags &^= memFlag
		cur[1].Q = 700
		cur[1].Flags &^= memFlag
		return cur, nil
	})
	if cs[0].URI != "sip:b" || cs[0].Flags&memFlag != 0 || cs[1].Flags&memFlag == 0 {
		t.Errorf("after the update: %+v", cs)
	}
}

func TestDumpAndStats(t *testing.T) {
	s, tb, reg := start(t, nil)
	other, err := s.Register("aliases")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Register("aliases"); again != other {
		t.Error("a second Register made another table")
	}
	tb.Update("bob", false, set(tc{URI: "sip:b"}))
	tb.Update("alice", false, set(tc{URI: "sip:a1"}, tc{URI: "sip:a2"}))
	doms, err := s.Dump(&rpc.Request{Params: []string{"brief"}}, nil)
	if err != nil || len(doms) != 2 {
		t.Fatalf("Dump: %v %v", doms, err)
	}
	d := doms[1].(map[string]any)
	if d["Domain"] != "location" || d["Size"] != 4 || d["Records"] != 2 || d["Contacts"] != 3 ||
		fmt.Sprint(d["AoRs"]) != "[alice bob]" {
		t.Errorf("Dump: %#v", d)
	}
	doms, _ = s.Dump(&rpc.Request{}, func(c *tc, _ time.Time) map[string]any { return map[string]any{"c": c.URI} })
	if fmt.Sprint(doms[1].(map[string]any)["AoRs"]) != "[map[AoR:alice Contacts:[map[c:sip:a1] map[c:sip:a2]]] map[AoR:bob Contacts:[map[c:sip:b]]]]" {
		t.Errorf("Dump: %#v", doms[1])
	}
	if _, err := s.Dump(&rpc.Request{Params: []string{"full"}}, nil); !errors.Is(err, rpc.ErrParams) {
		t.Errorf("Dump with a bad option: %v", err)
	}
	for name, want := range map[string]int64{"registered_users": 2, "location-users": 2, "location-contacts": 3, "aliases-users": 0} {
		m, err := reg.Get("loc:" + name)
		if err != nil || m["loc:"+name] != want {
			t.Errorf("%s: %v %v, want %d", name, m, err, want)
		}
	}
	if res, err := s.FlushRPC(); err != nil || res.(map[string]any)["Written"] != 0 {
		t.Errorf("FlushRPC: %v %v", res, err)
	}
	if _, ok := s.Table("nosuch"); ok {
		t.Error("unknown table found")
	}
}

func TestConcurrent(t *testing.T) {
	_, tb, _ := start(t, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := fmt.Sprintf("k%d", i%10)
				tb.Update(key, false, func(cur []tc) ([]tc, error) {
					return append(cur, tc{URI: fmt.Sprintf("sip:%d-%d", g, i)}), nil
				})
				tb.Get(key)
			}
		}()
	}
	wg.Wait()
	if u, c := tb.Counts(time.Now()); u != 10 || c != 8*200 {
		t.Errorf("counts %d %d", u, c)
	}
}

func TestStopped(t *testing.T) {
	var s *Service[tc, tx]
	s.Stop()
	if _, err := s.Register("x"); err == nil {
		t.Error("Register on a nil service")
	}
}

func TestQ(t *testing.T) {
	for in, want := range map[string]int{"0.5": 500, "1": 1000, "0.125": 125, "1.000": 1000, "0": 0, " 0.05 ": 50} {
		if q, ok := ParseQ(in); !ok || q != want {
			t.Errorf("ParseQ(%q) = %d %v", in, q, ok)
		}
	}
	for _, bad := range []string{"", "1.5", "-0.1", "0.1234", "1e-1", "0x1p-1", "0x1p0", "+1", "abc"} {
		if _, ok := ParseQ(bad); ok {
			t.Errorf("ParseQ(%q) accepted", bad)
		}
	}
	for q, want := range map[int]string{-1: "", 0: "0", 1000: "1", 1500: "1", 500: "0.5", 50: "0.05", 125: "0.125"} {
		if got := QString(q); got != want {
			t.Errorf("QString(%d) = %q, want %q", q, got, want)
		}
	}
}
