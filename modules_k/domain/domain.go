// Package domain is Kamailio's domain module: it tells whether a host
// is one of the domains this server is responsible for, as listed in the
// domain table, either by querying the table each time (db_mode 0) or
// from a copy in memory (db_mode 1) that the domain.reload command
// refreshes.
package domain

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

// TableVersion is the version of the domain table this module reads.
const TableVersion = 1

type domainMod struct {
	DBURL          string `modparam:"db_url"`
	DBMode         int    `modparam:"db_mode" min:"0" max:"1"`
	DomainTable    string `modparam:"domain_table"`
	DomainCol      string `modparam:"domain_col"`
	RegisterMyself bool   `modparam:"register_myself"`

	url   string
	db    *db.DB
	log   *slog.Logger
	cache atomic.Pointer[map[string]struct{}]
	mu    sync.Mutex // serialises reloads
	query string
}

func init() {
	module.Register(module.Spec[*domainMod]{
		Name:    "domain",
		Tree:    "modules_k",
		Summary: "Checks hosts against the table of local domains",
		New: func() *domainMod {
			return &domainMod{DomainTable: "domain", DomainCol: "domain"}
		},
		Funcs: []module.Func[*domainMod]{
			{Name: "is_from_local", Routes: routes, Call: (*domainMod).isFromLocal},
			{Name: "is_uri_host_local", Routes: routes, Call: (*domainMod).isURIHostLocal},
			{Name: "is_domain_local", Args: []int{1}, Routes: routes, Fixup: fixupDomain, Call: (*domainMod).isDomainLocal},
		},
		RPCs: []module.RPC[*domainMod]{
			{Name: "domain.reload", Doc: "Reload the domain table into memory (db_mode 1).", Call: (*domainMod).rpcReload},
			{Name: "domain.dump", Doc: "List the domains held in memory (db_mode 1).", Call: (*domainMod).rpcDump},
		},
		Tables: []*schema.Table{Table()},
	})
}

const routes = sr.RouteRequest | sr.RouteFailure | sr.RouteBranch | sr.RouteLocal

// Table is the domain table (version 1), as Kamailio 3.0's
// domain-create.sql declares it, with the shape fix that brings OpenSER
// 1.0's and 1.2's domain table to it (see history.go).
func Table() *schema.Table {
	t := &schema.Table{
		Name:    "domain",
		Version: TableVersion,
		Comment: "The domains this server is responsible for",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		},
		Keys: []schema.Index{{Name: "domain_idx", Columns: []string{"domain"}}},
	}
	t.Fixes = TableFixes(t)
	return t
}

var (
	_ module.Configurer = (*domainMod)(nil)
	_ module.Initer     = (*domainMod)(nil)
	_ module.Destroyer  = (*domainMod)(nil)
)

// Configure checks the URL and the names.
func (m *domainMod) Configure(env *module.ConfigEnv) error {
	url, err := dbmod.URL(env, m.DBURL)
	if err != nil {
		return err
	}
	m.url = url
	if err := dbmod.CheckTable("domain_table", m.DomainTable); err != nil {
		return err
	}
	return dbmod.CheckColumns("domain_col", m.DomainCol)
}

// Init opens the database, checks the table's version and, in db_mode 1,
// loads the domains.
func (m *domainMod) Init(env *module.InitEnv) error {
	m.log = env.Log
	d, err := dbmod.Open(env, m.url, dbmod.Table{Name: m.DomainTable, Version: TableVersion})
	if err != nil {
		return err
	}
	m.db = d
	q := d.Dialect().Quote
	m.query = "SELECT " + q(m.DomainCol) + " FROM " + q(m.DomainTable) + " WHERE LOWER(" + q(m.DomainCol) + ") = ? LIMIT 1"
	if m.RegisterMyself {
		log := env.Log
		env.AddMyself(func(host string, _ int) bool { return m.isLocal(log, host) })
	}
	if m.DBMode == 1 {
		n, err := m.reload(env.Ctx)
		if err != nil {
			return err
		}
		env.Log.Info("domain: domains loaded", "count", n)
	}
	return nil
}

// Destroy closes the database.
func (m *domainMod) Destroy() {
	dbmod.Close(&m.db)
}

// reload reads the whole table into a new cache and swaps it in.
func (m *domainMod) reload(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.db == nil {
		return 0, errors.New("no database")
	}
	rows, err := m.db.Query(ctx, dbmod.Select(m.db.Dialect(), m.DomainTable, []string{m.DomainCol}, nil))
	if err != nil {
		return 0, fmt.Errorf("load table %s: %w", m.DomainTable, err)
	}
	defer rows.Close()
	set := map[string]struct{}{}
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return 0, fmt.Errorf("load table %s: %w", m.DomainTable, err)
		}
		if s.Valid && s.String != "" {
			set[strings.ToLower(s.String)] = struct{}{}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("load table %s: %w", m.DomainTable, err)
	}
	m.cache.Store(&set)
	return len(set), nil
}

// IsLocal reports whether host is a local domain (case-insensitively).
func (m *domainMod) IsLocal(c *sr.Ctx, host string) int {
	if m.isLocal(c.Log, host) {
		return 1
	}
	return -1
}

func (m *domainMod) isLocal(log *slog.Logger, host string) bool {
	host = strings.ToLower(strings.TrimSpace(host))
	if host == "" {
		return false
	}
	if m.DBMode == 1 {
		p := m.cache.Load()
		if p == nil {
			return false
		}
		_, ok := (*p)[host]
		return ok
	}
	if m.db == nil {
		log.Error("domain: no database")
		return false
	}
	var s sql.NullString
	err := m.db.QueryRow(context.Background(), m.query, host).Scan(&s)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false
	case err != nil:
		log.Error("domain: query failed", "table", m.DomainTable, "error", err)
		return false
	}
	return true
}

// isFromLocal is is_from_local(): the From URI's host is local.
func (m *domainMod) isFromLocal(c *sr.Ctx, _ []any) int {
	req := c.Req
	if req == nil || req.From() == nil {
		c.Log.Error("domain: is_from_local: no From header")
		return -1
	}
	return m.IsLocal(c, req.From().Address.Host)
}

// isURIHostLocal is is_uri_host_local(): the Request-URI's host is local.
func (m *domainMod) isURIHostLocal(c *sr.Ctx, _ []any) int {
	if c.Req == nil {
		return -1
	}
	return m.IsLocal(c, c.Req.Recipient.Host)
}

func fixupDomain(_ *domainMod, fx *module.Fixup, args []module.Arg) ([]any, error) {
	f, err := fx.Format(args[0])
	if err != nil {
		return nil, err
	}
	return []any{f}, nil
}

// isDomainLocal is is_domain_local(pv): the value is a local domain.
func (m *domainMod) isDomainLocal(c *sr.Ctx, p []any) int {
	return m.IsLocal(c, p[0].(sr.Format).Expand(c))
}

var errNoCache = errors.New("the domain cache is off (db_mode 0)")

func (m *domainMod) rpcReload(_ *rpc.Request) (any, error) {
	if m.DBMode != 1 {
		return nil, errNoCache
	}
	n, err := m.reload(context.Background())
	if err != nil {
		m.log.Error("domain: reload failed; the previous domains stay", "error", err)
		return nil, err
	}
	return map[string]any{"domains": n}, nil
}

func (m *domainMod) rpcDump(_ *rpc.Request) (any, error) {
	if m.DBMode != 1 {
		return nil, errNoCache
	}
	var names []string
	if p := m.cache.Load(); p != nil {
		for d := range *p {
			names = append(names, d)
		}
	}
	sort.Strings(names)
	out := make([]any, len(names))
	for i, d := range names {
		out[i] = d
	}
	return out, nil
}
