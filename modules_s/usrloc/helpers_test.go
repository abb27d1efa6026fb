package usrloc_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/server"
	"sip-router.org/core/siptest"
	"sip-router.org/core/stats"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/usrloc"
)

// instance is a usrloc module loaded and initialised from a config, as
// the server does it.
type instance struct {
	t      testing.TB
	loaded *server.Loaded
	api    usrloc.API
	rpc    *rpc.Registry
	stats  *stats.Registry
	done   bool
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
	var cfg strings.Builder
	if b.Module != "" {
		fmt.Fprintf(&cfg, "loadmodule \"%s\"\n", b.Module)
	}
	cfg.WriteString("loadmodule \"usrloc\"\n")
	for k, v := range params {
		switch x := v.(type) {
		case string:
			fmt.Fprintf(&cfg, "modparam(\"usrloc\", %q, %q)\n", k, x)
		default:
			fmt.Fprintf(&cfg, "modparam(\"usrloc\", %q, %v)\n", k, x)
		}
	}
	cfg.WriteString("route { drop; }\n")
	l := siptest.Load(t, cfg.String())
	inst := &instance{t: t, loaded: l, rpc: rpc.NewRegistry(), stats: stats.New()}
	f := siptest.TestFlavor()
	f.DBTool = "ser_db"
	err := l.Modules.Init(module.InitEnv{Log: slog.New(slog.DiscardHandler), RPC: inst.rpc, Stats: inst.stats, Flavor: f})
	t.Cleanup(inst.stop)
	if err != nil {
		return nil, err
	}
	mi, _ := l.Modules.Get("usrloc")
	inst.api = mi.Value.(usrloc.API)
	return inst, nil
}

// memory is a backend without database, for db_mode 0.
var memory = sertest.Backend{Name: "memory"}

// stop destroys the module (the shutdown flush of db_mode 2).
func (i *instance) stop() {
	if !i.done {
		i.done = true
		i.loaded.Modules.Destroy()
	}
}

func (i *instance) domain(name string) usrloc.Domain {
	i.t.Helper()
	d, err := i.api.RegisterDomain(name)
	if err != nil {
		i.t.Fatalf("register domain %s: %v", name, err)
	}
	return d
}

func (i *instance) call(method string, params ...string) (any, error) {
	return i.rpc.Call(&rpc.Request{Method: method, Params: params})
}

func (i *instance) stat(name string) int64 {
	i.t.Helper()
	m, err := i.stats.Get("usrloc:" + name)
	if err != nil {
		i.t.Fatalf("stat %s: %v", name, err)
	}
	return m["usrloc:"+name]
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
	rec, err := d.Update(uid, false, func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
		out := cur
		for _, c := range cs {
			replaced := false
			for i := range out {
				if out[i].URI == c.URI {
					out[i], replaced = c, true
				}
			}
			if !replaced {
				out = append(out, c)
			}
		}
		return out, nil
	})
	if err != nil {
		t.Fatalf("update %s: %v", uid, err)
	}
	return rec
}

// uris lists the contact URIs of a record, in order.
func uris(r usrloc.Record) string {
	var out []string
	for _, c := range r.Contacts {
		out = append(out, c.URI)
	}
	return strings.Join(out, " ")
}
