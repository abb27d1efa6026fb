package main

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest/legacytest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
	"sip-router.org/modules_k/acc"
	aliasdb "sip-router.org/modules_k/alias_db"
	authdb "sip-router.org/modules_k/auth_db"
	"sip-router.org/modules_k/domain"
	uridb "sip-router.org/modules_k/uri_db"
	"sip-router.org/modules_k/usrloc"
	"sip-router.org/tools/schemas"
)

// declared returns the declaration of a table as the tool sees it: from
// the share folder's schema, else the tools' own.
func declared(t *testing.T, name string) *schema.Table {
	t.Helper()
	groups, err := db.LoadDump(shareDir)
	if err != nil {
		t.Fatal(err)
	}
	groups = append(groups, schemas.Kamailio()...)
	for _, g := range groups {
		for _, tb := range g.Tables {
			if tb.Name == name {
				return tb
			}
		}
	}
	t.Fatalf("no declaration of %s", name)
	return nil
}

func ipText(old string) string {
	n, err := strconv.ParseInt(old, 10, 64)
	if err != nil {
		return "bad " + old
	}
	u := uint32(n)
	return strconv.Quote(fmt.Sprintf("%d.%d.%d.%d", u&255, u>>8&255, u>>16&255, u>>24))
}

func ipValue(i int, d *db.Dialect) any {
	u := uint32(10) | uint32(i%256)<<8 | uint32(i/256)<<16 | uint32(200+i%50)<<24
	if d == db.Postgres {
		return int64(int32(u))
	}
	return int64(u)
}

// openser10 are the tables of an OpenSER 1.0 database (and sip_trace of
// 1.1) as the acceptance test makes them, with the versions they lead to.
// domain, uri and dbaliases keep version 1 and get Kamailio 3.0's shape
// by a shape fix.
func openser10(t *testing.T) []*legacytest.Legacy {
	// gen makes the values of columns from formats taking the row number
	// (column, format, column, format …).
	gen := func(colFormats ...string) map[string]func(int, *db.Dialect) any {
		m := map[string]func(int, *db.Dialect) any{}
		for i := 0; i < len(colFormats); i += 2 {
			format := colFormats[i+1]
			m[colFormats[i]] = func(i int, _ *db.Dialect) any { return fmt.Sprintf(format, i) }
		}
		return m
	}
	var accs []*legacytest.Legacy
	for _, name := range []string{"acc", "missed_calls"} {
		accs = append(accs, &legacytest.Legacy{Old: acc.TableOpenSER10(name), New: declared(t, name), Key: []string{"sip_callid"},
			Renamed: acc.RenamedIn12(), Backup: schema.BackupName(name, 2)})
	}
	return append([]*legacytest.Legacy{
		{Old: usrloc.TableV1001("location"), New: declared(t, "location"), Key: []string{"username", "domain", "contact"}},
		{Old: usrloc.TableV1001("aliases"), New: declared(t, "aliases"), Key: []string{"username", "domain", "contact"}},
		{Old: authdb.SubscriberOpenSER10(), New: declared(t, "subscriber"), Key: []string{"username", "domain"},
			Gen: gen("phplib_id", "%032x", "username", "s%d"), Backup: schema.BackupName("subscriber", 5)},
		{Old: schemas.Oldest("trusted"), New: declared(t, "trusted"), Key: []string{"src_ip", "proto", "from_pattern"}},
		{Old: schemas.Oldest("silo"), New: declared(t, "silo"), Key: []string{"mid"}, Renamed: map[string]string{"mid": "id"}},
		{Old: schemas.Oldest("gw"), New: declared(t, "gw"), Key: []string{"gw_name"},
			Gen:     map[string]func(int, *db.Dialect) any{"ip_addr": ipValue},
			Convert: map[string]func(string) string{"ip_addr": ipText}},
		{Old: schemas.Oldest("lcr"), New: declared(t, "lcr"), Key: []string{"prefix"}},
		{Old: schemas.Oldest("sip_trace"), New: declared(t, "sip_trace"), Key: []string{"id"}, Renamed: map[string]string{"date": "time_stamp"}},
		{Old: schemas.Oldest("grp"), New: declared(t, "grp"), Key: []string{"username", "domain", "grp"}},
		{Old: domain.TableOpenSER10(), New: declared(t, "domain"), Key: []string{"domain"},
			Gen: gen("domain", "d%d.example.org")},
		{Old: uridb.TableOpenSER10(), New: declared(t, "uri"), Key: []string{"username", "domain", "uri_user"}},
		{Old: aliasdb.TableOpenSER10(), New: declared(t, "dbaliases"), Key: []string{"alias_username"},
			Gen: gen("alias_username", "a%d")},
	}, accs...)
}

// pick returns the tables of ls with the given names, in that order.
func pick(t *testing.T, ls []*legacytest.Legacy, names ...string) []*legacytest.Legacy {
	var out []*legacytest.Legacy
	for _, n := range names {
		i := slices.IndexFunc(ls, func(l *legacytest.Legacy) bool { return l.Old.Name == n })
		if i < 0 {
			t.Fatalf("no legacy table %s", n)
		}
		out = append(out, ls[i])
	}
	return out
}

// createEmpty creates the empty database of the settings, as an old
// kamdbctl (or an administrator) did, with OpenSER's version table.
func createEmpty(t *testing.T, b backend, vars map[string]string) *db.DB {
	t.Helper()
	ctx := context.Background()
	switch b.engine {
	case "MYSQL":
		a := b.admin(t, "")
		if _, err := a.Exec(ctx, "CREATE DATABASE `"+vars["DBNAME"]+"` CHARACTER SET utf8mb4"); err != nil {
			t.Fatal(err)
		}
	case "PGSQL":
		a := b.admin(t, "")
		if _, err := a.Exec(ctx, `CREATE DATABASE "`+vars["DBNAME"]+`" ENCODING 'UTF8' TEMPLATE template0`); err != nil {
			t.Fatal(err)
		}
	}
	h, err := db.OpenWith(ctx, dbURL(vars), db.Options{Maintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	// OpenSER 1.0's version table: no key, a smallint version.
	q := "CREATE TABLE version (table_name varchar(64) NOT NULL, table_version smallint DEFAULT '0' NOT NULL)"
	if _, err := h.Exec(ctx, q); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestMigrateOpenSER10 is the acceptance test of the migrations: an
// OpenSER 1.0 database with 1000 rows per table upgrades with one
// command, every row keeps its values, new columns get their defaults, a
// second run changes nothing, and the server starts on the result.
func TestMigrateOpenSER10(t *testing.T) {
	for _, b := range []backend{mysqlBackend(), postgresBackend(), sqliteBackend()} {
		t.Run(b.name, func(t *testing.T) { testMigrateOpenSER10(t, b) })
	}
}

func testMigrateOpenSER10(t *testing.T, b backend) {
	const rows = 1000
	vars := b.newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := createEmpty(t, b, vars)
	legacy := openser10(t)
	var old []*schema.Table
	for _, l := range legacy {
		old = append(old, l.Old)
	}
	if err := db.CreateTables(ctx, h, old); err != nil {
		t.Fatal(err)
	}
	before := map[string]legacytest.Rows{}
	for _, l := range legacy {
		legacytest.Fill(t, ctx, h, l, rows)
		before[l.Old.Name] = legacytest.Before(t, ctx, h, l)
		if len(before[l.Old.Name]) != rows {
			t.Fatalf("%s: %d rows", l.Old.Name, len(before[l.Old.Name]))
		}
	}
	e := newEnv(t, vars)

	// The dry run shows the SQL and changes nothing.
	out := e.ok("migrate", "--dry-run")
	for _, want := range []string{"-- table location: version 1001 → 1004", "-- table gw: version 3 → 10",
		"-- table acc: version 2 → 4", "-- table subscriber: version 5 → 6", "-- table domain: version 1 in another shape",
		"-- table re_grp: missing, created at version 1", "ALTER TABLE", "nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run does not show %q:\n%.3000s", want, out)
		}
	}
	if v, _ := db.TableVersion(ctx, h, "location"); v != 1001 {
		t.Errorf("after the dry run, location has version %d", v)
	}
	if ok, _ := db.TableExists(ctx, h, "re_grp"); ok {
		t.Error("the dry run created table re_grp")
	}
	if cols, _ := db.Columns(ctx, h, "domain"); slices.Contains(cols, "id") {
		t.Error("the dry run added column id to table domain")
	}

	// version tells what migrate will do.
	out = e.ok("version")
	for _, want := range []string{"older (kamdbctl migrate)", "older shape (kamdbctl migrate)"} {
		if !strings.Contains(out, want) {
			t.Errorf("version before the migration does not say %q:\n%s", want, out)
		}
	}

	out = e.ok("migrate")
	for _, want := range []string{"table location: version 1001 → 1004 (rows as they were kept in location_bak_v1003)",
		"table gw: version 3 → 10", "table acc: version 2 → 4 (rows as they were kept in acc_bak_v2)",
		"table missed_calls: version 2 → 3 (rows as they were kept in missed_calls_bak_v2)",
		"table subscriber: version 5 → 6 (rows as they were kept in subscriber_bak_v5)",
		"table domain: version 1, shape fixed", "table grp: version 2, shape fixed", "table uri: version 1, shape fixed", "table dbaliases: version 1, shape fixed",
		"table re_grp: created (version 1)", "is up to date"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate does not say %q:\n%s", want, out)
		}
	}
	for _, l := range legacy {
		legacytest.Check(t, ctx, h, l, before[l.Old.Name])
		if l.Backup != "" {
			legacytest.CheckBackup(t, ctx, h, l, before[l.Old.Name])
		}
	}
	out = e.ok("version")
	for _, line := range strings.Split(out, "\n")[3:] {
		if line != "" && !strings.HasSuffix(line, " ok") {
			t.Errorf("version: %s", line)
		}
	}
	// The ip addresses of the gateways, as text.
	var ip string
	if err := h.QueryRow(ctx, "SELECT ip_addr FROM gw WHERE gw_name LIKE 'k1-%'").Scan(&ip); err != nil || ip != "10.1.0.201" {
		t.Errorf("gw k1: ip_addr %q, %v", ip, err)
	}

	// A second run changes nothing.
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.sql"), filepath.Join(dir, "second.sql")
	e.ok("backup", first)
	out = e.ok("migrate")
	if !strings.Contains(out, "nothing to do") || strings.Contains(out, "\ntable ") || strings.HasPrefix(out, "table ") {
		t.Errorf("the second migrate said:\n%s", out)
	}
	e.ok("backup", second)
	if dumpBody(t, first) != dumpBody(t, second) {
		t.Error("the second migrate changed the database")
	}

	// The server starts on the migrated database and registers a contact.
	startServer(t, ctx, b, vars, h)
}

// startServer starts a server on the migrated database with the modules
// that own its tables, each checking its table's version: a migrated
// subscriber authenticates a REGISTER, whose contact goes into the
// migrated location table; the migrated domain and dbaliases tables
// answer.
func startServer(t *testing.T, ctx context.Context, b backend, vars map[string]string, h *db.DB) {
	driver := map[string]string{"MYSQL": "db_mysql", "PGSQL": "db_postgres", "SQLITE": "db_sqlite"}[b.engine]
	url := dbURL(vars)
	cfg := fmt.Sprintf(`
LISTEN
loadmodule "%[1]s.so"
loadmodule "sl.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "domain.so"
loadmodule "uri_db.so"
loadmodule "alias_db.so"
modparam("usrloc", "db_url", "%[2]s")
modparam("usrloc", "db_mode", 1)
modparam("auth_db", "db_url", "%[2]s")
modparam("domain", "db_url", "%[2]s")
modparam("domain", "db_mode", 1)
modparam("uri_db", "db_url", "%[2]s")
modparam("uri_db", "use_uri_table", 1)
modparam("alias_db", "db_url", "%[2]s")
route {
	if (method == "REGISTER") {
		if (!www_authorize("example.org", "subscriber")) {
			www_challenge("example.org", "0");
			exit;
		}
		save("location");
		exit;
	}
	if (method == "MESSAGE") {
		if (alias_db_lookup("dbaliases")) {
			sl_send_reply("200", "Alias");
			exit;
		}
		sl_send_reply("404", "No Alias");
		exit;
	}
	if (is_uri_host_local()) {
		sl_send_reply("200", "Local Domain");
		exit;
	}
	sl_send_reply("404", "Not Found");
}
`, driver, url)
	lv := siptest.Start(t, cfg)
	p := siptest.NewPeer(t)

	// A subscriber of the OpenSER 1.0 table, with the ha1 it had (and no
	// contact in location yet).
	const user = "s5"
	var ha1 string
	if err := h.QueryRow(ctx, "SELECT ha1 FROM subscriber WHERE username = ?", user).Scan(&ha1); err != nil {
		t.Fatal(err)
	}
	register := func(cseq int, auth string) {
		p.Send(lv.UDP, fmt.Sprintf(`REGISTER sip:example.org SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-migrated-%[1]d
From: <sip:%[2]s@example.org>;tag=1
To: <sip:%[2]s@example.org>
Call-ID: migrated-1@test
CSeq: %[1]d REGISTER
Contact: <sip:%[2]s@PEER>;expires=600
%[3]sMax-Forwards: 70
Content-Length: 0

`, cseq, user, auth))
	}
	register(1, "")
	res := p.ExpectReply(5*time.Second, 401)
	nonce := regexp.MustCompile(`nonce="([^"]+)"`).FindStringSubmatch(res.GetHeader("WWW-Authenticate").Value())
	if nonce == nil {
		t.Fatalf("no nonce in the challenge:\n%s", res)
	}
	resp := digest.MD5Hex(ha1, nonce[1], digest.MD5Hex("REGISTER", "sip:example.org"))
	auth := fmt.Sprintf("Authorization: Digest username=%q, realm=\"example.org\", nonce=%q, uri=\"sip:example.org\", response=%q, algorithm=MD5\r\n",
		user, nonce[1], resp)
	register(2, auth)
	p.ExpectReply(5*time.Second, 200)
	var n int
	if err := h.QueryRow(ctx, "SELECT COUNT(*) FROM location WHERE callid = 'migrated-1@test'").Scan(&n); err != nil || n != 1 {
		t.Errorf("the registered contact is not in the migrated location table (%d, %v)", n, err)
	}

	// The migrated domain and dbaliases tables.
	for i, tc := range []struct {
		method, ruri string
		code         int
	}{
		{"OPTIONS", "sip:someone@d7.example.org", 200},
		{"OPTIONS", "sip:someone@elsewhere.example.net", 404},
		{"MESSAGE", "sip:a7@example.org", 200},
		{"MESSAGE", "sip:nobody@example.org", 404},
	} {
		p.Send(lv.UDP, fmt.Sprintf(`%[1]s %[2]s SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-migrated-q%[3]d
From: <sip:tester@example.org>;tag=2
To: <%[2]s>
Call-ID: migrated-q%[3]d@test
CSeq: 1 %[1]s
Max-Forwards: 70
Content-Length: 0

`, tc.method, tc.ruri, i))
		t.Logf("%s %s, expecting %d", tc.method, tc.ruri, tc.code)
		p.ExpectReply(5*time.Second, tc.code)
	}
}

// TestMigrateHalfDone: MySQL commits every ALTER TABLE by itself, so a
// migrate cut half-way leaves steps done without the version row saying
// so; running migrate again completes it, rows intact.
func TestMigrateHalfDone(t *testing.T) {
	b := mysqlBackend()
	vars := b.newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := createEmpty(t, b, vars)
	legacy := pick(t, openser10(t), "location", "subscriber", "trusted", "silo", "gw", "lcr", "acc", "missed_calls")
	var old []*schema.Table
	for _, l := range legacy {
		old = append(old, l.Old)
	}
	if err := db.CreateTables(ctx, h, old); err != nil {
		t.Fatal(err)
	}
	before := map[string]legacytest.Rows{}
	for _, l := range legacy {
		legacytest.Fill(t, ctx, h, l, 100)
		before[l.Old.Name] = legacytest.Before(t, ctx, h, l)
	}
	// Cut each table's first migration after its last step (before the
	// version update), and location's second migration after its first
	// statement too.
	for _, l := range legacy {
		steps, err := db.PlanSteps(db.MySQL, l.New, l.Old.Version)
		if err != nil {
			t.Fatal(err)
		}
		sqls := steps[0].SQL[:len(steps[0].SQL)-2]
		for _, q := range sqls {
			if _, err := h.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %s: %v", l.Old.Name, q, err)
			}
		}
		if l.Old.Name == "location" {
			if _, err := h.Exec(ctx, steps[1].SQL[0]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v, _ := db.TableVersion(ctx, h, "gw"); v != 3 {
		t.Fatalf("gw: version %d after the cut", v)
	}
	e := newEnv(t, vars)
	e.ok("migrate")
	for _, l := range legacy {
		legacytest.Check(t, ctx, h, l, before[l.Old.Name])
		if l.Backup != "" {
			legacytest.CheckBackup(t, ctx, h, l, before[l.Old.Name])
		}
	}
	if out := e.ok("migrate"); !strings.Contains(out, "nothing to do") {
		t.Errorf("the second migrate said:\n%s", out)
	}
}

// TestMigrateNewer: a table newer than this release is refused, nothing
// changed.
func TestMigrateNewer(t *testing.T) {
	b := sqliteBackend()
	vars := b.newDB(t)
	e := newEnv(t, vars)
	e.ok("create")
	h := b.admin(t, vars["DB_PATH"])
	ctx := context.Background()
	if err := db.SetVersion(ctx, h, "gw", 11); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Exec(ctx, "DROP TABLE acc"); err != nil {
		t.Fatal(err)
	}
	h.Close()
	e.fails("", []string{"migrate"}, "table gw has version 11, this server knows version 10 at most")
	h = b.admin(t, vars["DB_PATH"])
	if ok, _ := db.TableExists(ctx, h, "acc"); ok {
		t.Error("a refused migrate created table acc")
	}
	out := e.ok("version")
	if !strings.Contains(out, "newer than this release") || !strings.Contains(out, "missing (kamdbctl migrate creates it)") {
		t.Errorf("version:\n%s", out)
	}
}

// TestSchemaRoundTrip: the tables of the modules, as the share folder's
// schema.json gives them back to the tool, equal their Go declarations,
// migrations and their SQL included.
func TestSchemaRoundTrip(t *testing.T) {
	groups, err := db.LoadDump(shareDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range module.All() {
		if len(m.TableDefs) == 0 {
			continue
		}
		var g *db.Group
		for i := range groups {
			if groups[i].Name == m.Name {
				g = &groups[i]
			}
		}
		if g == nil {
			t.Errorf("module %s: no group in schema.json", m.Name)
			continue
		}
		if !reflect.DeepEqual(g.Tables, m.TableDefs) {
			t.Errorf("module %s: its tables do not read back equal from schema.json", m.Name)
		}
		n++
	}
	if n < 5 || declared(t, "location").Migrations[2].Steps[2].SQL["mysql"] == nil {
		t.Errorf("%d modules with tables; location's SQL step: %+v", n, declared(t, "location").Migrations[2].Steps[2])
	}
}
