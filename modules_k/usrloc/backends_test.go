package usrloc_test

import (
	"context"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/flavor"
	"sip-router.org/core/location/locationtest"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/db_postgres"
	_ "sip-router.org/modules/db_sqlite"
	"sip-router.org/modules_k/usrloc"
)

// backend is a database the tests run against: SQLite always, MariaDB
// and PostgreSQL on 127.0.0.1 when they are there (under CI they must
// be: dbtest.Unavailable).
type backend struct {
	name   string
	module string // driver module the config loads
	// newDB returns the URL of a fresh, empty database, removed at the
	// end of the test.
	newDB func(t *testing.T) string
	// addr is the server's host:port as the URLs write it ("" for SQLite).
	addr string
}

var backends = []backend{
	{name: "sqlite", module: "db_sqlite", newDB: func(t *testing.T) string { return dbtest.SQLiteURL(t, "kamailio.db") }},
	{name: "mysql", module: dbtest.MySQL.Module, addr: dbtest.MySQL.Addr, newDB: func(t *testing.T) string {
		return dbtest.MySQL.NewDatabase(t, "srtest_ul_")
	}},
	{name: "postgres", module: dbtest.Postgres.Module, addr: dbtest.Postgres.Addr, newDB: func(t *testing.T) string {
		return dbtest.Postgres.NewDatabase(t, "srtest_ul_")
	}},
}

// forEachBackend runs a test per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func bgctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// createTables creates tables in the database of url, as kamdbctl create.
func createTables(t *testing.T, url string, tables ...*schema.Table) *db.DB {
	t.Helper()
	d := dbtest.Open(t, url)
	if err := db.CreateTables(bgctx(t), d, tables); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	return d
}

// instance is a usrloc module loaded and initialised from a config, as
// the server does it.
type instance struct {
	*siptest.Modules
	t   testing.TB
	api usrloc.API
}

// kamFlavor is the flavor the instances run as: its DB tool is kamdbctl.
func kamFlavor() *flavor.Flavor {
	f := siptest.TestFlavor()
	f.DBTool = "kamdbctl"
	return f
}

// start loads usrloc (and the driver module of b) with the given
// parameters, and initialises it.
func start(t testing.TB, b backend, params map[string]any) *instance {
	t.Helper()
	inst, err := startErr(t, b, params)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return inst
}

func startErr(t testing.TB, b backend, params map[string]any) (*instance, error) {
	t.Helper()
	driver := ""
	if b.module != "" {
		driver = b.module + ".so"
	}
	mods, err := siptest.InitModules(t, locationtest.Config(params, driver, "usrloc.so"), kamFlavor())
	if err != nil {
		return nil, err
	}
	return &instance{Modules: mods, t: t, api: mods.Instance("usrloc").(usrloc.API)}, nil
}

// stop destroys the module (the shutdown flush of db_mode 2).
func (i *instance) stop() { i.Stop() }

func (i *instance) domain(name string) usrloc.Domain {
	i.t.Helper()
	return locationtest.Register(i.t, i.api.RegisterDomain, name)
}

func (i *instance) call(method string, params ...string) (any, error) {
	return i.Call(method, params...)
}

// countRows counts the rows of a table.
func countRows(t *testing.T, d *db.DB, table, where string, args ...any) int {
	t.Helper()
	return dbtest.CountRows(t, d, table, where, args...)
}

// waitFor polls a condition until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	dbtest.WaitFor(t, what, d, cond)
}

// contact builds a binding as the registrar would.
func contact(uri string, expires time.Duration, q int) usrloc.Contact {
	now := time.Unix(time.Now().Unix(), 0)
	return usrloc.Contact{
		URI: uri, Expires: now.Add(expires), Q: q, CallID: "cid-" + uri, CSeq: 1,
		Methods: usrloc.AllMethods, UserAgent: "test UA", Socket: "udp:127.0.0.1:5060", LastModified: now,
	}
}

// add inserts (or replaces) contacts of an AOR.
func add(t *testing.T, d usrloc.Domain, aor string, cs ...usrloc.Contact) usrloc.Record {
	t.Helper()
	return locationtest.Add(t, d.Update, aor, func(c *usrloc.Contact) string { return c.URI }, cs...)
}
