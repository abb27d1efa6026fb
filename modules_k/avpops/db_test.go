package avpops_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules_k/avpops"
)

// backend is a database the tests run against: SQLite always, MariaDB and
// PostgreSQL on 127.0.0.1 when they are there (under CI they must be).
type backend struct {
	name, module string
	newDB        func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", "db_sqlite", func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "kamailio.db")
	}},
	{"mysql", "db_mysql", func(t *testing.T) string { return dbtest.MySQL.NewDatabase(t, "srtest_avpops_") }},
	{"postgres", "db_postgres", func(t *testing.T) string { return dbtest.Postgres.NewDatabase(t, "srtest_avpops_") }},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b backend, url string, d *db.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.newDB(t)
			d := dbtest.Open(t, url)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			extra := &schema.Table{Name: "gw", Version: 1, Columns: []schema.Column{
				{Name: "id", Type: schema.Int, Auto: true},
				{Name: "name", Type: schema.String, Size: 64, Default: "''"},
				{Name: "ip", Type: schema.String, Size: 64, Null: true},
				{Name: "port", Type: schema.Int, Default: "0"},
			}}
			prefs := &schema.Table{Name: "subscriber_prefs", Version: 1, Columns: []schema.Column{
				{Name: "id", Type: schema.Int, Auto: true},
				{Name: "user_id", Type: schema.String, Size: 64, Default: "''"},
				{Name: "dom", Type: schema.String, Size: 64, Default: "''"},
				{Name: "fwd", Type: schema.String, Size: 128, Default: "''"},
				{Name: "limit_calls", Type: schema.Int, Default: "0"},
			}}
			if err := db.CreateTables(ctx, d, []*schema.Table{avpops.Table(), extra, prefs}); err != nil {
				t.Fatalf("create tables: %v", err)
			}
			fn(t, b, url, d)
		})
	}
}

func exec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

type prefRow struct {
	uuid, user, domain, attr, value string
	typ                             int
}

func prefRows(t *testing.T, d *db.DB) []prefRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := d.Query(ctx, "SELECT uuid, username, domain, attribute, value, type FROM usr_preferences")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []prefRow
	for rows.Next() {
		var r prefRow
		if err := rows.Scan(&r.uuid, &r.user, &r.domain, &r.attr, &r.value, &r.typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.uuid+a.user+a.domain+a.attr+a.value < b.uuid+b.user+b.domain+b.attr+b.value
	})
	return out
}

func dbParams(b backend, url string, extra string) string {
	return `loadmodule "` + b.module + `.so"
modparam("avpops", "db_url", "` + url + `")
modparam("avpops", "avp_table", "usr_preferences")
modparam("avpops", "db_scheme", "fwd:table=subscriber_prefs;uuid_col=user_id;value_col=fwd")
modparam("avpops", "db_scheme", "lim:table=subscriber_prefs;username_col=user_id;domain_col=dom;value_col=limit_calls;value_type=integer")
` + extra
}

func TestDBLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, url string, d *db.DB) {
		ins := "INSERT INTO usr_preferences (uuid, username, domain, attribute, type, value) VALUES (?, ?, ?, ?, ?, ?)"
		exec(t, d, ins, "u-100", "alice", "example.org", "fwd", 0, "sip:voicemail@example.org")
		exec(t, d, ins, "u-100", "alice", "example.org", "fwd", 0, "sip:mobile@example.org")
		exec(t, d, ins, "u-100", "alice", "example.org", "maxcalls", 1, "3")
		exec(t, d, ins, "u-100", "alice", "example.org", "80", 3, "42")
		exec(t, d, ins, "", "alice", "other.org", "fwd", 0, "sip:other@other.org")
		exec(t, d, ins, "", "bob", "example.org", "lang", 0, "fr")
		exec(t, d, ins, "", "bob", "example.org", "badint", 1, "notanumber")
		exec(t, d, "INSERT INTO subscriber_prefs (user_id, dom, fwd, limit_calls) VALUES (?, ?, ?, ?)", "u-100", "example.org", "sip:fwd@example.org", 5)

		for _, useDomain := range []bool{false, true} {
			extra := ""
			if useDomain {
				extra = `modparam("avpops", "use_domain", 1)` + "\n"
			}
			s := script(t, dbParams(b, url, extra), map[string]string{
				"uuid":      call("", `avp_db_load("u-100", "$avp(s:fwd)")`),
				"uuidpv":    call(`$avp(s:id) = "u-100";`, `avp_db_load("$avp(s:id)", "$avp(s:maxcalls)")`),
				"uri":       call("", `avp_db_load("$fu", "$avp(s:fwd)")`),
				"username":  call("", `avp_db_load("$fu/username", "$avp(s:fwd)")`),
				"domain":    call("", `avp_db_load("$tu/domain", "$avp(s:lang)")`),
				"intname":   call("", `avp_db_load("u-100", "$avp(i:80)")`),
				"all":       call("", `avp_db_load("u-100", "a")`),
				"strs":      call("", `avp_db_load("u-100", "s")`),
				"intnames":  call("", `avp_db_load("u-100", "i")`),
				"flags":     call("", `avp_db_load("u-100", "i3")`),
				"none":      call("", `avp_db_load("u-999", "$avp(s:fwd)")`),
				"badint":    call("", `avp_db_load("$tu", "$avp(s:badint)")`),
				"scheme":    call("", `avp_db_load("u-100", "$avp(s:target)/$fwd")`),
				"schemeint": call("", `avp_db_load("sip:u-100@example.org/uri", "$avp(s:lim)/$lim")`),
				"table":     call("", `avp_db_load("u-100", "$avp(s:fwd)/usr_preferences")`),
				"nosource":  call("", `avp_db_load("$avp(s:nothing)", "$avp(s:fwd)")`),
				"inject":    call("", `avp_db_load("$hdr(X-Id)", "$avp(s:fwd)")`),
			})
			name := "use_domain=0"
			if useDomain {
				name = "use_domain=1"
			}
			t.Run(name, func(t *testing.T) {
				for _, tc := range []struct {
					name, avp string
					rc        int
					want      []sr.Value
				}{
					{"uuid", "fwd", 1, strs("sip:mobile@example.org", "sip:voicemail@example.org")},
					{"uuidpv", "maxcalls", 1, ints(3)},
					{"username", "fwd", 1, nil}, // checked below: depends on use_domain
					{"domain", "lang", 1, strs("fr")},
					{"intname", "i:80", 1, ints(42)},
					{"strs", "maxcalls", 1, ints(3)},
					{"strs", "i:80", 1, nil},
					{"intnames", "i:80", 1, ints(42)},
					{"intnames", "fwd", 1, nil},
					{"none", "fwd", -1, nil},
					{"badint", "badint", -1, nil},
					{"scheme", "target", 1, strs("sip:fwd@example.org")},
					{"schemeint", "lim", 1, ints(5)},
					{"table", "fwd", 1, strs("sip:mobile@example.org", "sip:voicemail@example.org")},
					{"nosource", "fwd", -1, nil},
					{"inject", "fwd", -1, nil},
				} {
					c := run(t, s, tc.name, "X-Id: u-999' OR '1'='1\n")
					if rc(c) != tc.rc {
						t.Errorf("%s: rc = %d, want %d", tc.name, rc(c), tc.rc)
					}
					if tc.want == nil && tc.name != "strs" && tc.name != "intnames" {
						continue
					}
					if got := vals(c, tc.avp); !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
						t.Errorf("%s: $avp(%s) = %v, want %v", tc.name, tc.avp, got, tc.want)
					}
				}
				// By username only, alice has three forwards (two domains);
				// with use_domain the From domain narrows them to two.
				c := run(t, s, "username")
				if n := len(vals(c, "fwd")); n != 3 {
					t.Errorf("/username: %d values, want 3", n)
				}
				c = run(t, s, "uri")
				want := 3
				if useDomain {
					want = 2
				}
				if n := len(vals(c, "fwd")); n != want {
					t.Errorf("$fu (/uri): %d values, want %d", n, want)
				}
				c = run(t, s, "all")
				if len(vals(c, "fwd")) != 2 || len(vals(c, "maxcalls")) != 1 || len(vals(c, "i:80")) != 1 {
					t.Errorf("all: %d AVPs", c.AVPs.Len())
				}
				// avpflags given with the selector go on the loaded AVPs.
				c = run(t, s, "flags")
				flagged := 0
				c.AVPs.Each(func(a *sr.AVP) bool {
					if a.Name == (sr.AVPName{ID: 80, IsID: true}) && a.Flags&(3<<8) == 3<<8 {
						flagged++
					}
					return true
				})
				if flagged != 1 {
					t.Errorf("i3: %d AVPs with flags 3", flagged)
				}
			})
		}
	})
}

func TestDBStoreDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, url string, d *db.DB) {
		s := script(t, dbParams(b, url, `modparam("avpops", "use_domain", 1)`+"\n"), map[string]string{
			"store":      call(`$avp(s:color) = "blue"; $avp(s:color) = "red"; $avp(i:7) = 9;`, `avp_db_store("$fu", "$avp(s:color)")`),
			"storeid":    call(`$avp(i:7) = 9;`, `avp_db_store("u-200", "$avp(i:7)")`),
			"storeall":   call(`$avp(s:k1) = "v1"; $avp(i:8) = 1;`, `avp_db_store("u-300", "a")`),
			"storenone":  call("", `avp_db_store("u-300", "$avp(s:missing)")`),
			"roundtrip":  call(`avp_db_load("$fu", "$avp(s:color)"); $avp(s:color) = "green";`, `avp_db_store("$fu", "$avp(s:color)")`),
			"quote":      call(`$avp(s:q) = $hdr(X-Val);`, `avp_db_store("u-400", "$avp(s:q)")`),
			"delete":     call("", `avp_db_delete("$fu", "$avp(s:color)")`),
			"deleteall":  call("", `avp_db_delete("u-300", "a")`),
			"deletenone": call("", `avp_db_delete("u-999", "$avp(s:color)")`),
		})
		if c := run(t, s, "store"); rc(c) != 1 {
			t.Fatalf("store: rc %d", rc(c))
		}
		want := []prefRow{
			{"", "alice", "example.org", "color", "blue", 0},
			{"", "alice", "example.org", "color", "red", 0},
		}
		if got := prefRows(t, d); !reflect.DeepEqual(got, want) {
			t.Fatalf("rows after store: %+v", got)
		}
		if c := run(t, s, "storeid"); rc(c) != 1 {
			t.Errorf("storeid: rc %d", rc(c))
		}
		if c := run(t, s, "storeall"); rc(c) != 1 {
			t.Errorf("storeall: rc %d", rc(c))
		}
		if c := run(t, s, "storenone"); rc(c) != -1 {
			t.Errorf("storenone: rc %d", rc(c))
		}
		// What was loaded is not stored again; the new value is.
		if c := run(t, s, "roundtrip"); rc(c) != 1 {
			t.Errorf("roundtrip: rc %d", rc(c))
		}
		// A value with quotes and SQL goes in as data.
		evil := `x'); DELETE FROM usr_preferences; --`
		if c := run(t, s, "quote", "X-Val: "+evil+"\n"); rc(c) != 1 {
			t.Errorf("quote: rc %d", rc(c))
		}
		want = []prefRow{
			{"", "alice", "example.org", "color", "blue", 0},
			{"", "alice", "example.org", "color", "green", 0},
			{"", "alice", "example.org", "color", "red", 0},
			{"u-200", "", "", "7", "9", 3},
			{"u-300", "", "", "8", "1", 3},
			{"u-300", "", "", "k1", "v1", 0},
			{"u-400", "", "", "q", evil, 0},
		}
		if got := prefRows(t, d); !reflect.DeepEqual(got, want) {
			t.Fatalf("rows:\n%+v\nwant\n%+v", got, want)
		}
		for _, tc := range []struct {
			name string
			rc   int
		}{{"delete", 1}, {"deleteall", 1}, {"deletenone", 1}} {
			if c := run(t, s, tc.name); rc(c) != tc.rc {
				t.Errorf("%s: rc %d", tc.name, rc(c))
			}
		}
		want = []prefRow{{"u-200", "", "", "7", "9", 3}, {"u-400", "", "", "q", evil, 0}}
		if got := prefRows(t, d); !reflect.DeepEqual(got, want) {
			t.Errorf("rows after deletes:\n%+v\nwant\n%+v", got, want)
		}
	})
}

func TestDBQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, url string, d *db.DB) {
		for _, g := range [][]any{{"gw1", "192.0.2.1", 5060}, {"gw2", "192.0.2.2", 5070}, {"gw3", nil, 5080}} {
			exec(t, d, "INSERT INTO gw (name, ip, port) VALUES (?, ?, ?)", g...)
		}
		s := script(t, dbParams(b, url, ""), map[string]string{
			"rows":    call("", `avp_db_query("SELECT name, ip, port FROM gw ORDER BY name", "$avp(s:name);$avp(s:ip);$avp(s:port)")`),
			"default": call("", `avp_db_query("SELECT name, port FROM gw WHERE name = 'gw2'")`),
			"pv":      call(`$var(port) = 5070;`, `avp_db_query("SELECT name FROM gw WHERE port = $var(port) AND name LIKE 'gw$hdr(X-N)'", "$avp(s:name)")`),
			"norows":  call("", `avp_db_query("SELECT name FROM gw WHERE port = 1", "$avp(s:name)")`),
			"error":   call("", `avp_db_query("SELECT nosuchcolumn FROM gw", "$avp(s:name)")`),
			"inject":  call("", `avp_db_query("SELECT name FROM gw WHERE name = '$hdr(X-Name)'", "$avp(s:name)")`),
			"fewer":   call("", `avp_db_query("SELECT name, ip, port FROM gw WHERE name = 'gw1'", "$avp(s:name)")`),
			"quoted":  call("", `avp_db_query("SELECT name FROM gw WHERE name = 'gw''s' OR name = 'gw1'", "$avp(s:name)")`),
			"update":  call("", `avp_db_query("UPDATE gw SET port = 6000 WHERE name = '$hdr(X-Name)'")`),
		})
		c := run(t, s, "rows")
		if rc(c) != 1 {
			t.Fatalf("rows: rc %d", rc(c))
		}
		if got := vals(c, "name"); !reflect.DeepEqual(got, strs("gw1", "gw2", "gw3")) {
			t.Errorf("names %v", got)
		}
		if got := vals(c, "ip"); !reflect.DeepEqual(got, strs("192.0.2.1", "192.0.2.2")) {
			t.Errorf("ips %v (the NULL one skipped)", got)
		}
		if got := vals(c, "port"); !reflect.DeepEqual(got, ints(5060, 5070, 5080)) {
			t.Errorf("ports %v", got)
		}
		c = run(t, s, "default")
		if rc(c) != 1 || !reflect.DeepEqual(vals(c, "i:1"), strs("gw2")) || !reflect.DeepEqual(vals(c, "i:2"), ints(5070)) {
			t.Errorf("default names: rc %d, i:1 %v, i:2 %v", rc(c), vals(c, "i:1"), vals(c, "i:2"))
		}
		c = run(t, s, "pv", "X-N: 2\n")
		if rc(c) != 1 || !reflect.DeepEqual(vals(c, "name"), strs("gw2")) {
			t.Errorf("with variables: rc %d, %v", rc(c), vals(c, "name"))
		}
		if c = run(t, s, "norows"); rc(c) != -2 {
			t.Errorf("no rows: rc %d, want -2", rc(c))
		}
		if c = run(t, s, "error"); rc(c) != -1 {
			t.Errorf("bad query: rc %d, want -1", rc(c))
		}
		if c = run(t, s, "inject", "X-Name: x' OR '1'='1\n"); rc(c) != -2 {
			t.Errorf("injection: rc %d, names %v", rc(c), vals(c, "name"))
		}
		if c = run(t, s, "fewer"); !reflect.DeepEqual(vals(c, "name"), strs("gw1")) {
			t.Errorf("more columns than AVPs: %v", vals(c, "name"))
		}
		if c = run(t, s, "quoted"); rc(c) != 1 || !reflect.DeepEqual(vals(c, "name"), strs("gw1")) {
			t.Errorf("quoted literal: rc %d, %v", rc(c), vals(c, "name"))
		}
		// A statement without rows: no rows is -2, as in Kamailio; the
		// injected text matched nothing.
		if c = run(t, s, "update", "X-Name: gw1' OR '1'='1\n"); rc(c) != -2 {
			t.Errorf("UPDATE: rc %d, want -2 (no rows)", rc(c))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var n int
		if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM gw WHERE port = 6000").Scan(&n); err != nil || n != 0 {
			t.Errorf("the UPDATE changed %d rows (%v): injection", n, err)
		}
	})
}

// Init checks the version of usr_preferences; a wrong one stops the
// start with a hint to migrate.
func TestDBVersion(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "kamailio.db")
	d := dbtest.Open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.CreateTables(ctx, d, []*schema.Table{avpops.Table()}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetVersion(ctx, d, "usr_preferences", 1); err != nil {
		t.Fatal(err)
	}
	l := siptest.Load(t, `loadmodule "db_sqlite.so"
loadmodule "avpops.so"
modparam("avpops", "db_url", "`+url+`")
modparam("avpops", "avp_table", "usr_preferences")
route { avp_db_load("$fu", "$avp(s:x)"); }
`)
	err := l.Modules.Init(moduleEnv())
	l.Modules.Destroy()
	if err == nil || !strings.Contains(err.Error(), "usr_preferences") || !strings.Contains(err.Error(), "migrate") {
		t.Errorf("Init with version 1: %v", err)
	}
	// db_url without avp_table is refused when the config loads.
	if _, err := siptest.LoadErr(t, "loadmodule \"db_sqlite.so\"\nloadmodule \"avpops.so\"\nmodparam(\"avpops\", \"db_url\", \""+url+"\")\n"); err == nil || !strings.Contains(err.Error(), "avp_table") {
		t.Errorf("db_url without avp_table: %v", err)
	}
	// The driver module must be loaded.
	if _, err := siptest.LoadErr(t, "loadmodule \"avpops.so\"\nmodparam(\"avpops\", \"db_url\", \""+url+"\")\nmodparam(\"avpops\", \"avp_table\", \"usr_preferences\")\n"); err == nil || !strings.Contains(err.Error(), "db_sqlite") {
		t.Errorf("db_url without its driver: %v", err)
	}
	for _, bad := range []string{"noname", "x:table=a b", "x:color=red", "x:value_type=float", "x:table=t;table=u"} {
		_, err := siptest.LoadErr(t, "loadmodule \"avpops.so\"\nmodparam(\"avpops\", \"db_scheme\", \""+bad+"\")\n")
		if err == nil || !strings.Contains(err.Error(), "db_scheme") {
			t.Errorf("db_scheme %q: %v", bad, err)
		}
	}
}

func TestTableDeclaration(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{avpops.Table()}); err != nil {
		t.Fatal(err)
	}
}

func moduleEnv() module.InitEnv {
	return module.InitEnv{Log: slog.New(slog.DiscardHandler), Flavor: siptest.TestFlavor()}
}
