package location

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
)

func TestValidName(t *testing.T) {
	for _, ok := range []string{"location", "user_agent", "X1", "1st", "a234567890123456789012345678901234567890123456789012345678901234"} {
		if !ValidName(ok) {
			t.Errorf("ValidName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a b", "loc;drop", "a-b", "a2345678901234567890123456789012345678901234567890123456789012345"} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
	}
}

func TestConfigureDB(t *testing.T) {
	env := &module.ConfigEnv{Defaults: map[string]string{"db_url": "mysql://flavor@localhost/db"}}
	for _, tc := range []struct {
		name  string
		env   *module.ConfigEnv
		mode  int
		url   string
		want  string
		error string
	}{
		{name: "no database", env: env, mode: 0, url: "mysql://x@localhost/db", want: ""},
		// Core links no driver: the URLs that parse name the module they
		// need (the modules' tests cover the URLs that work).
		{name: "db_url", env: env, mode: 1, url: "postgres://u@localhost/db", error: "needs module db_postgres"},
		{name: "flavor default", env: env, mode: 2, error: "needs module db_mysql"},
		{name: "none", env: &module.ConfigEnv{}, mode: 3, error: "db_mode 3 needs a database: set db_url"},
		{name: "bad URL", env: env, mode: 1, url: "nonsense", error: "db_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigureDB(tc.env, tc.mode, tc.url, "%s.so")
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("error %v, want one containing %q", err, tc.error)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestInitURL(t *testing.T) {
	f := &flavor.Flavor{Defaults: map[string]string{"db_url": "sqlite:///tmp/flavor.db"}}
	env := &module.InitEnv{Flavor: f}
	for _, tc := range []struct {
		name             string
		mode             int
		url, dbURL, want string
	}{
		{"no database", 0, "", "sqlite:///x.db", ""},
		{"configured", 1, "sqlite:///c.db", "sqlite:///x.db", "sqlite:///c.db"},
		{"db_url", 2, "", "sqlite:///x.db", "sqlite:///x.db"},
		{"flavor", 3, "", "", "sqlite:///tmp/flavor.db"},
	} {
		if got := InitURL(env, tc.mode, tc.url, tc.dbURL); got != tc.want {
			t.Errorf("%s: InitURL = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := InitURL(&module.InitEnv{}, 1, "", ""); got != "" {
		t.Errorf("without a flavor: %q", got)
	}
}

type rec struct {
	key string
	cs  []tc
}

func TestViewAndRPCHelpers(t *testing.T) {
	if _, err := Register[tc, tx, rec](nil, "location", nil); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Register on a nil service: %v", err)
	}
	s, _, _ := start(t, func(c *Config[tc, tx]) { c.ByCallID = true })
	v, err := Register(s, "location", func(k string, cs []tc) rec { return rec{k, cs} })
	if err != nil || v.Name() != "location" {
		t.Fatalf("Register: %v %v", v.Name(), err)
	}
	if err := v.T.Put("alice", tc{URI: "sip:a", CallID: "1", Tag: "first"}); err != nil {
		t.Fatal(err)
	}
	// Another Call-ID is another contact with ByCallID; the same one replaces.
	v.T.Put("alice", tc{URI: "sip:a", CallID: "2"})
	v.T.Put("alice", tc{URI: "sip:a", CallID: "1", Tag: "second"})
	r, found, err := v.Get("alice")
	if err != nil || !found || r.key != "alice" || len(r.cs) != 2 || r.cs[0].Tag+r.cs[1].Tag != "second" {
		t.Fatalf("Get: %+v %v %v", r, found, err)
	}
	noKey := errors.New("AOR not found")
	if err := v.T.RemoveURI("alice", " sip:b ", noKey); !errors.Is(err, ErrNoContact) || err.Error() != "contact not found: sip:b of alice" {
		t.Errorf("RemoveURI of a missing URI: %v", err)
	}
	if err := v.T.RemoveURI("nobody", "sip:b", noKey); !errors.Is(err, noKey) || err.Error() != "AOR not found: nobody" {
		t.Errorf("RemoveURI of a missing key: %v", err)
	}
	if err := v.T.RemoveURI("nobody", "sip:b", nil); !errors.Is(err, ErrNoContact) {
		t.Errorf("RemoveURI of a missing key without noKey: %v", err)
	}
	if err := v.T.RemoveURI("alice", "sip:a", noKey); err != nil {
		t.Errorf("RemoveURI: %v", err)
	}
	if _, found, _ := v.Get("alice"); found {
		t.Error("alice still has contacts")
	}

	v.Update("bob", false, set(tc{URI: "sip:b1"}, tc{URI: "sip:b2"}))
	info := func(c *tc) map[string]any {
		if c.URI == "sip:b2" {
			return nil
		}
		return map[string]any{"Contact": c.URI}
	}
	got, err := v.T.Lookup("bob", noKey, info)
	if err != nil || fmt.Sprint(got) != "map[AoR:bob Contacts:[map[Contact:sip:b1]]]" {
		t.Errorf("Lookup: %v %v", got, err)
	}
	if _, err := v.T.Lookup("carol", noKey, info); !errors.Is(err, noKey) || err.Error() != "AOR not found: carol" {
		t.Errorf("Lookup of a missing key: %v", err)
	}
	if err := v.Delete("bob", false); err != nil {
		t.Error(err)
	}

	for _, tc := range []struct {
		params []string
		table  string
		key    string
		err    error
	}{
		{[]string{" location ", "alice "}, "location", "alice ", nil},
		{[]string{"aliases", "alice"}, "", "", ErrNoTable},
		{[]string{"location"}, "", "", rpc.ErrParams},
	} {
		tb, key, err := s.TableArg(&rpc.Request{Params: tc.params})
		if !errors.Is(err, tc.err) || (err == nil && (tb.Name() != tc.table || key != tc.key)) {
			t.Errorf("TableArg(%q) = %v %q %v", tc.params, tb, key, err)
		}
	}

	now := time.Unix(1000, 0)
	if ExpiresIn(true, time.Time{}, now) != "permanent" || ExpiresIn(false, now.Add(90*time.Second), now) != "90" {
		t.Error("ExpiresIn")
	}
}
