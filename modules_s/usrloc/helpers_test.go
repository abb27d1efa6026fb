package usrloc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/location/locationtest"
	"sip-router.org/core/siptest"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/usrloc"
)

// instance is a usrloc module loaded and initialised from a config, as
// the server does it.
type instance struct {
	*siptest.Modules
	t   testing.TB
	api usrloc.API
}

func bgctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start loads usrloc (and the driver module of b, when the parameters
// hold a db_url) with the given parameters, and initialises it.
func start(t testing.TB, b sertest.Backend, params map[string]any) *instance {
	t.Helper()
	inst, err := startErr(t, b, params)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return inst
}

func startErr(t testing.TB, b sertest.Backend, params map[string]any) (*instance, error) {
	t.Helper()
	f := siptest.TestFlavor()
	f.DBTool = "ser_db"
	mods, err := siptest.InitModules(t, locationtest.Config(params, b.Module, "usrloc"), f)
	if err != nil {
		return nil, err
	}
	return &instance{Modules: mods, t: t, api: mods.Instance("usrloc").(usrloc.API)}, nil
}

// memory is a backend without database, for db_mode 0.
var memory = sertest.Backend{Name: "memory"}

// stop destroys the module (the shutdown flush of db_mode 2).
func (i *instance) stop() { i.Stop() }

func (i *instance) domain(name string) usrloc.Domain {
	i.t.Helper()
	return locationtest.Register(i.t, i.api.RegisterDomain, name)
}

func (i *instance) call(method string, params ...string) (any, error) {
	return i.Call(method, params...)
}

func (i *instance) stat(name string) int64 {
	i.t.Helper()
	return i.Stat("usrloc:" + name)
}

// countRows counts the rows of a table.
func countRows(t testing.TB, d *db.DB, table, where string, args ...any) int {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM " + d.Dialect().Quote(table)
	if where != "" {
		q += " WHERE " + where
	}
	if err := d.QueryRow(bgctx(t), q, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// contact builds a binding as the registrar would.
func contact(uri string, expires time.Duration, q int) usrloc.Contact {
	now := time.Unix(time.Now().Unix(), 0)
	return usrloc.Contact{
		URI: uri, AOR: "sip:alice@example.com", Expires: now.Add(expires), Q: q, CallID: "cid-" + uri, CSeq: 1,
		UserAgent: "test UA", Socket: "udp:127.0.0.1:5060", LastModified: now,
	}
}

// add inserts (or replaces) contacts of a uid.
func add(t testing.TB, d usrloc.Domain, uid string, cs ...usrloc.Contact) usrloc.Record {
	t.Helper()
	return locationtest.Add(t, d.Update, uid, func(c *usrloc.Contact) string { return c.URI }, cs...)
}

// uris lists the contact URIs of a record, in order.
func uris(r usrloc.Record) string {
	var out []string
	for _, c := range r.Contacts {
		out = append(out, c.URI)
	}
	return strings.Join(out, " ")
}
