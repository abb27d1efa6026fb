// Package domain is SER 3.0's domain module: the domains this server is
// responsible for, each with a domain id (did) shared by all its names and
// attributes of its own (table domain_attrs). lookup_domain("$fd", host)
// makes the domain's did and attributes the domain-class attributes of the
// from (or to) track, so the script reads $f.did, $fd.digest_realm …; the
// other SER modules (uri_db, avp_db) ask it for the did of a host.
//
// It is not Kamailio's domain module (modules_k/domain), whose table has
// no did.
package domain

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
)

// Table versions (lib/srdb2/schema).
const (
	DomainVersion      = 2
	DomainAttrsVersion = 1
)

// Domain is the module instance. Other modules that declare
// modules_s/domain as a dependency get it from env.Dep and call DID.
type Domain struct {
	DBURL           string `modparam:"db_url"`
	DBMode          int    `modparam:"db_mode" min:"0" max:"1"`
	DomainTable     string `modparam:"domain_table"`
	DomainCol       string `modparam:"domain_col"`
	DIDCol          string `modparam:"did_col"`
	FlagsCol        string `modparam:"flags_col"`
	DomAttrTable    string `modparam:"domattr_table"`
	DomAttrDID      string `modparam:"domattr_did"`
	DomAttrName     string `modparam:"domattr_name"`
	DomAttrType     string `modparam:"domattr_type"`
	DomAttrValue    string `modparam:"domattr_value"`
	DomAttrFlags    string `modparam:"domattr_flags"`
	LoadDomainAttrs int    `modparam:"load_domain_attrs" min:"0" max:"1"`

	url   string
	db    *db.DB
	log   *slog.Logger
	cache atomic.Pointer[cache]
	mu    sync.Mutex // serialises reloads
}

// entry is one domain: its did, its names and its attributes (the did
// attribute first, then domain_attrs in table order).
type entry struct {
	did   string
	names []nameFlags
	attrs []attr
}

type nameFlags struct {
	name  string
	flags int
}

type attr struct {
	name string
	val  sr.Value
}

type cache struct {
	byName map[string]*entry
	list   []*entry // in the order the dids first appeared
}

const routes = sr.RouteRequest | sr.RouteFailure

func init() {
	module.Register(module.Spec[*Domain]{
		Name:    "domain",
		Tree:    "modules_s",
		Summary: "SER's multi-domain support: domain ids (did) and domain attributes",
		New: func() *Domain {
			return &Domain{
				DBMode:      1,
				DomainTable: "domain", DomainCol: "domain", DIDCol: "did", FlagsCol: "flags",
				DomAttrTable: "domain_attrs", DomAttrDID: "did", DomAttrName: "name",
				DomAttrType: "type", DomAttrValue: "value", DomAttrFlags: "flags",
			}
		},
		Funcs: []module.Func[*Domain]{
			{Name: "is_local", Args: []int{1}, Routes: routes, Fixup: fixIsLocal, Call: (*Domain).isLocal},
			{Name: "lookup_domain", Args: []int{2}, Routes: routes, Fixup: fixLookup, Call: (*Domain).lookupDomain},
		},
		RPCs: []module.RPC[*Domain]{
			{Name: "domain.reload", Doc: "Reload domain table from database", Call: (*Domain).rpcReload},
			{Name: "domain.dump", Doc: "Return the contents of domain table", Call: (*Domain).rpcDump},
		},
		Tables: Tables(),
	})
}

// Tables are the domain (version 2) and domain_attrs (version 1) tables
// of SER 3.0.
func Tables() []*schema.Table {
	return []*schema.Table{
		{
			Name: "domain", Version: DomainVersion,
			Comment: "Domain names this server is responsible for, each mapped to a domain id (did)",
			Columns: []schema.Column{
				{Name: "did", Type: schema.String, Size: 64, Comment: "domain id shared by all names of a domain"},
				{Name: "domain", Type: schema.String, Size: 128},
				{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0", Comment: "1 load by SER, 2 disabled, 4 canonical …"},
			},
			Keys: []schema.Index{{Name: "domain_idx", Columns: []string{"domain"}}},
		},
		{
			Name: "domain_attrs", Version: DomainAttrsVersion,
			Comment: "Attributes of domains (loaded into the domain class of a track by lookup_domain)",
			Columns: []schema.Column{
				{Name: "did", Type: schema.String, Size: 64, Null: true},
				{Name: "name", Type: schema.String, Size: 32},
				{Name: "type", Type: schema.Int, Default: "0", Comment: "2 string, otherwise integer"},
				{Name: "value", Type: schema.String, Size: 255, Null: true},
				{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0"},
			},
			Keys:    []schema.Index{{Name: "domain_attr_idx", Columns: []string{"did", "name", "value"}}},
			Indexes: []schema.Index{{Name: "domain_did", Columns: []string{"did", "flags"}}},
		},
	}
}

var (
	_ module.Configurer = (*Domain)(nil)
	_ module.Initer     = (*Domain)(nil)
	_ module.Destroyer  = (*Domain)(nil)
)

// Configure checks the database URL and the table and column names.
func (m *Domain) Configure(env *module.ConfigEnv) error {
	url, err := dbmod.URL(env, m.DBURL)
	if err != nil {
		return err
	}
	m.url = url
	return serattr.CheckIdents(
		"domain_table", m.DomainTable, "domain_col", m.DomainCol, "did_col", m.DIDCol, "flags_col", m.FlagsCol,
		"domattr_table", m.DomAttrTable, "domattr_did", m.DomAttrDID, "domattr_name", m.DomAttrName,
		"domattr_type", m.DomAttrType, "domattr_value", m.DomAttrValue, "domattr_flags", m.DomAttrFlags,
	)
}

// Init opens the database, checks the tables' versions and, with the
// cache on (db_mode 1), loads the domains.
func (m *Domain) Init(env *module.InitEnv) error {
	m.log = env.Log
	tables := []dbmod.Table{{Name: m.DomainTable, Version: DomainVersion}}
	if m.LoadDomainAttrs == 1 {
		tables = append(tables, dbmod.Table{Name: m.DomAttrTable, Version: DomainAttrsVersion})
	}
	d, err := dbmod.Open(env, m.url, tables...)
	if err != nil {
		return err
	}
	m.db = d
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
func (m *Domain) Destroy() {
	dbmod.Close(&m.db)
}

// reload reads the tables into a new cache and swaps it in; on error the
// old cache stays.
func (m *Domain) reload(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.db == nil {
		return 0, errors.New("no database")
	}
	c, err := m.load(ctx)
	if err != nil {
		return 0, err
	}
	m.cache.Store(c)
	return len(c.list), nil
}

func (m *Domain) load(ctx context.Context) (*cache, error) {
	rows, err := m.db.Query(ctx, dbmod.Select(m.db.Dialect(), m.DomainTable, []string{m.DIDCol, m.DomainCol, m.FlagsCol}, nil))
	if err != nil {
		return nil, fmt.Errorf("load table %s: %w", m.DomainTable, err)
	}
	defer rows.Close()
	c := &cache{byName: map[string]*entry{}}
	byDID := map[string]*entry{}
	for rows.Next() {
		var did, name sql.NullString
		var flags sql.NullInt64
		if err := rows.Scan(&did, &name, &flags); err != nil {
			return nil, fmt.Errorf("load table %s: %w", m.DomainTable, err)
		}
		if !did.Valid || !name.Valid || !flags.Valid {
			m.log.Error("domain: row with NULL column(s) skipped", "table", m.DomainTable)
			continue
		}
		f := int(flags.Int64)
		if f&serattr.FlagDisabled != 0 || f&serattr.FlagLoadSER == 0 {
			continue
		}
		host := strings.ToLower(strings.TrimSpace(name.String))
		e := byDID[did.String]
		if e == nil {
			e = &entry{did: did.String, attrs: []attr{{"did", sr.StrVal(did.String)}}}
			byDID[did.String] = e
			c.list = append(c.list, e)
		}
		e.names = append(e.names, nameFlags{host, f})
		c.byName[host] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load table %s: %w", m.DomainTable, err)
	}
	if m.LoadDomainAttrs == 1 {
		if err := m.loadAttrs(ctx, byDID); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// loadAttrs reads domain_attrs into the entries of byDID.
func (m *Domain) loadAttrs(ctx context.Context, byDID map[string]*entry) error {
	rows, err := m.db.Query(ctx, dbmod.Select(m.db.Dialect(), m.DomAttrTable, append([]string{m.DomAttrDID}, m.attrColumns()...), nil))
	if err != nil {
		return fmt.Errorf("load table %s: %w", m.DomAttrTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var did sql.NullString
		a, ok, err := m.scanAttr(rows, &did)
		if err != nil {
			return fmt.Errorf("load table %s: %w", m.DomAttrTable, err)
		}
		if !ok || !did.Valid {
			continue
		}
		if e := byDID[did.String]; e != nil {
			e.attrs = append(e.attrs, a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load table %s: %w", m.DomAttrTable, err)
	}
	return nil
}

// attrColumns are the domain_attrs columns scanAttr reads after the did.
func (m *Domain) attrColumns() []string {
	return []string{m.DomAttrName, m.DomAttrType, m.DomAttrValue, m.DomAttrFlags}
}

type scanner interface{ Scan(dest ...any) error }

// scanAttr reads a (did,) name, type, value, flags row. ok is false for
// rows to skip: NULL name, type or flags, or not flagged for SER.
func (m *Domain) scanAttr(rows scanner, did *sql.NullString) (attr, bool, error) {
	var name, value sql.NullString
	var typ, flags sql.NullInt64
	dest := []any{&name, &typ, &value, &flags}
	if did != nil {
		dest = append([]any{did}, dest...)
	}
	if err := rows.Scan(dest...); err != nil {
		return attr{}, false, err
	}
	if !name.Valid || !typ.Valid || !flags.Valid {
		m.log.Error("domain: attribute row with NULL column(s) skipped", "table", m.DomAttrTable)
		return attr{}, false, nil
	}
	if flags.Int64&serattr.FlagLoadSER == 0 {
		return attr{}, false, nil
	}
	return attr{name.String, AttrValue(int(typ.Int64), value.String)}, true, nil
}

// AttrValue converts the type and value columns of an *_attrs table into
// an attribute value: type 2 is a string, anything else an integer (a
// value that is not a number reads as 0, as SER's str2int leaves it).
func AttrValue(typ int, value string) sr.Value {
	if typ == serattr.TypeStr {
		return sr.StrVal(value)
	}
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil {
		return sr.IntVal(0)
	}
	return sr.IntVal(n)
}

// find returns the domain of a host (lower case), from the cache or the
// database.
func (m *Domain) find(ctx context.Context, host string) (*entry, error) {
	if m.DBMode == 1 {
		c := m.cache.Load()
		if c == nil {
			return nil, nil
		}
		return c.byName[host], nil
	}
	if m.db == nil {
		return nil, errors.New("no database")
	}
	q := m.db.Dialect().Quote
	var did sql.NullString
	var flags sql.NullInt64
	err := m.db.QueryRow(ctx, "SELECT "+q(m.DIDCol)+", "+q(m.FlagsCol)+" FROM "+q(m.DomainTable)+
		" WHERE LOWER("+q(m.DomainCol)+") = ?", host).Scan(&did, &flags)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("query table %s: %w", m.DomainTable, err)
	}
	if !flags.Valid || flags.Int64&serattr.FlagDisabled != 0 || flags.Int64&serattr.FlagLoadSER == 0 {
		return nil, nil
	}
	if !did.Valid {
		m.log.Warn("domain: domain has a NULL did", "domain", host)
	}
	e := &entry{did: did.String, names: []nameFlags{{host, int(flags.Int64)}}, attrs: []attr{{"did", sr.StrVal(did.String)}}}
	if m.LoadDomainAttrs == 1 {
		rows, err := m.db.Query(ctx, dbmod.Select(m.db.Dialect(), m.DomAttrTable, m.attrColumns(), []string{m.DomAttrDID}), did.String)
		if err != nil {
			return nil, fmt.Errorf("query table %s: %w", m.DomAttrTable, err)
		}
		defer rows.Close()
		for rows.Next() {
			a, ok, err := m.scanAttr(rows, nil)
			if err != nil {
				return nil, fmt.Errorf("query table %s: %w", m.DomAttrTable, err)
			}
			if ok {
				e.attrs = append(e.attrs, a)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("query table %s: %w", m.DomAttrTable, err)
		}
	}
	return e, nil
}

// Bind returns the domain module to the Init of a module that lists
// modules_s/domain in its Deps (uri_db, avp_db).
func Bind(env *module.InitEnv) (*Domain, error) {
	dep, err := env.Dep("modules_s/domain")
	if err != nil {
		return nil, err
	}
	dom, ok := dep.(*Domain)
	if !ok {
		return nil, errors.New("modules_s/domain does not offer the domain API")
	}
	return dom, nil
}

// DID returns the domain id of a host: ok is false when the host is not a
// local domain. uri_db and avp_db use it.
func (m *Domain) DID(ctx context.Context, host string) (did string, ok bool, err error) {
	e, err := m.find(ctx, strings.ToLower(strings.TrimSpace(host)))
	if err != nil || e == nil {
		return "", false, err
	}
	return e.did, true, nil
}

func fixIsLocal(_ *Domain, fx *module.Fixup, args []module.Arg) ([]any, error) {
	g, err := serattr.CompileValue(fx, args[0])
	if err != nil {
		return nil, err
	}
	return []any{g}, nil
}

// isLocal is is_local(host): 1 when the host is one of the domains.
func (m *Domain) isLocal(c *sr.Ctx, p []any) int {
	host := strings.ToLower(strings.TrimSpace(p[0].(sr.Getter).Get(c).Text()))
	if host == "" {
		return -1
	}
	e, err := m.find(context.Background(), host)
	if err != nil {
		c.Log.Error("is_local: domain lookup failed", "error", err)
		return -1
	}
	if e == nil {
		return -1
	}
	return 1
}

func fixLookup(_ *Domain, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if args[0].Kind == module.ArgInt {
		return nil, fx.Errorf(args[0], "%s: $fd or $td expected, not %s", fx.Func, args[0].S)
	}
	g, err := serattr.ParseGroup(args[0].S, "fd", "td")
	if err != nil {
		return nil, fx.Errorf(args[0], "%s: %v", fx.Func, err)
	}
	host, err := serattr.CompileValue(fx, args[1])
	if err != nil {
		return nil, err
	}
	return []any{g, host}, nil
}

// lookupDomain is lookup_domain(group, host): when the host is a local
// domain, its did and attributes become the domain-class attributes of the
// group's track (the previous ones of that group are dropped), and the
// result is 1. Otherwise the attributes stay as they were and the result
// is -1.
func (m *Domain) lookupDomain(c *sr.Ctx, p []any) int {
	group := p[0].(sr.AVPFlags)
	host := strings.ToLower(strings.TrimSpace(p[1].(sr.Getter).Get(c).Text()))
	if host == "" {
		return -1
	}
	e, err := m.find(context.Background(), host)
	if err != nil {
		c.Log.Error("lookup_domain: domain lookup failed", "domain", host, "error", err)
		return -1
	}
	if e == nil {
		return -1
	}
	if c.AVPs == nil {
		c.AVPs = sr.NewAVPList()
	}
	serattr.ClearGroup(c.AVPs, group)
	for _, a := range e.attrs {
		c.AVPs.Add(serattr.Name(a.name), a.val, group)
	}
	return 1
}

var errNoCache = errors.New("server domain cache disabled (db_mode 0)")

func (m *Domain) rpcReload(_ *rpc.Request) (any, error) {
	if m.DBMode == 0 {
		return nil, errNoCache
	}
	n, err := m.reload(context.Background())
	if err != nil {
		m.log.Error("domain: reload failed; the previous domains stay", "error", err)
		return nil, fmt.Errorf("domain table reload failed: %w", err)
	}
	return map[string]any{"domains": n}, nil
}

func (m *Domain) rpcDump(_ *rpc.Request) (any, error) {
	if m.DBMode == 0 {
		return nil, errNoCache
	}
	out := []any{}
	c := m.cache.Load()
	if c == nil {
		return out, nil
	}
	list := append([]*entry(nil), c.list...)
	sort.Slice(list, func(i, j int) bool { return list[i].did < list[j].did })
	for _, e := range list {
		names := make([]any, len(e.names))
		for i, n := range e.names {
			names[i] = map[string]any{"domain": n.name, "flags": n.flags}
		}
		attrs := make([]any, 0, len(e.attrs))
		for _, a := range e.attrs {
			attrs = append(attrs, a.name+"="+a.val.Text())
		}
		out = append(out, map[string]any{"did": e.did, "domains": names, "attrs": attrs})
	}
	return out, nil
}
