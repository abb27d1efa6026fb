// Package avpdb is SER 3.0's avp_db module: load_attrs loads the
// attributes (preferences) of a user from the user_attrs table, keyed by
// uid, or those of a URI from the uri_attrs table, keyed by username,
// domain id and scheme, into the user or URI class of the from or to
// track ($fu, $tu, $fr, $tr).
package avpdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
	"sip-router.org/modules_s/domain"
)

// Table versions (lib/srdb2/schema).
const (
	UserAttrsVersion = 3
	URIAttrsVersion  = 2
	AttrTypesVersion = 4
)

type avpDB struct {
	DBURL          string `modparam:"db_url"`
	UserAttrsTable string `modparam:"user_attrs_table"`
	URIAttrsTable  string `modparam:"uri_attrs_table"`
	UIDColumn      string `modparam:"uid_column"`
	UsernameColumn string `modparam:"username_column"`
	DIDColumn      string `modparam:"did_column"`
	NameColumn     string `modparam:"name_column"`
	TypeColumn     string `modparam:"type_column"`
	ValueColumn    string `modparam:"value_column"`
	FlagsColumn    string `modparam:"flags_column"`
	SchemeColumn   string `modparam:"scheme_column"`

	url       string
	db        *db.DB
	log       *slog.Logger
	dom       *domain.Domain
	userQuery string
	uriQuery  string
}

const routes = sr.RouteRequest | sr.RouteFailure

func init() {
	module.Register(module.Spec[*avpDB]{
		Name:    "avp_db",
		Tree:    "modules_s",
		Deps:    []string{"modules_s/domain"},
		Summary: "Loads user and URI attributes (preferences) from the database",
		New: func() *avpDB {
			return &avpDB{
				UserAttrsTable: "user_attrs", URIAttrsTable: "uri_attrs",
				UIDColumn: "uid", UsernameColumn: "username", DIDColumn: "did", NameColumn: "name",
				TypeColumn: "type", ValueColumn: "value", FlagsColumn: "flags", SchemeColumn: "scheme",
			}
		},
		Funcs: []module.Func[*avpDB]{
			{Name: "load_attrs", Args: []int{2}, Routes: routes, Fixup: fixLoadAttrs, Call: (*avpDB).loadAttrs},
		},
		Tables: Tables(),
	})
}

// Tables are user_attrs (version 3), uri_attrs (version 2) and
// attr_types (version 4), as SER 3.0 declares them.
func Tables() []*schema.Table {
	return []*schema.Table{
		{
			Name: "user_attrs", Version: UserAttrsVersion,
			Comment: "Attributes (preferences) of users, by uid",
			Columns: []schema.Column{
				{Name: "uid", Type: schema.String, Size: 64},
				{Name: "name", Type: schema.String, Size: 32},
				{Name: "value", Type: schema.String, Size: 255, Null: true},
				{Name: "type", Type: schema.Int, Default: "0", Comment: "2 string, otherwise integer"},
				{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0", Comment: "1 load by SER, 32 for SERWeb …"},
			},
			Keys: []schema.Index{{Name: "userattrs_idx", Columns: []string{"uid", "name", "value"}}},
		},
		{
			Name: "uri_attrs", Version: URIAttrsVersion,
			Comment: "Attributes of URIs, by username, domain id and scheme",
			Columns: []schema.Column{
				{Name: "username", Type: schema.String, Size: 64},
				{Name: "did", Type: schema.String, Size: 64},
				{Name: "name", Type: schema.String, Size: 32},
				{Name: "value", Type: schema.String, Size: 255, Null: true},
				{Name: "type", Type: schema.Int, Default: "0"},
				{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0"},
				{Name: "scheme", Type: schema.String, Size: 8, Default: "'sip'"},
			},
			Keys: []schema.Index{{Name: "uriattrs_idx", Columns: []string{"username", "did", "name", "value", "scheme"}}},
		},
		{
			Name: "attr_types", Version: AttrTypesVersion,
			Comment: "Descriptions of the attributes, for the management tools",
			Columns: []schema.Column{
				{Name: "name", Type: schema.String, Size: 32},
				{Name: "rich_type", Type: schema.String, Size: 32, Default: "'string'"},
				{Name: "raw_type", Type: schema.Int, Default: "2"},
				{Name: "type_spec", Type: schema.String, Size: 255, Null: true},
				{Name: "description", Type: schema.String, Size: 255, Null: true},
				{Name: "default_flags", Type: schema.Int, Default: "0"},
				{Name: "flags", Type: schema.Int, Default: "0"},
				{Name: "priority", Type: schema.Int, Default: "0"},
				{Name: "access", Type: schema.Int, Default: "0"},
				{Name: "ordering", Type: schema.Int, Default: "0"},
				{Name: "grp", Type: schema.String, Size: 32, Default: "'other'"},
			},
			Keys: []schema.Index{{Name: "upt_idx1", Columns: []string{"name"}}},
		},
	}
}

var (
	_ module.Configurer = (*avpDB)(nil)
	_ module.Initer     = (*avpDB)(nil)
	_ module.Destroyer  = (*avpDB)(nil)
)

// Configure checks the URL and the names.
func (m *avpDB) Configure(env *module.ConfigEnv) error {
	url, err := dbmod.URL(env, m.DBURL)
	if err != nil {
		return err
	}
	m.url = url
	return serattr.CheckIdents(
		"user_attrs_table", m.UserAttrsTable, "uri_attrs_table", m.URIAttrsTable,
		"uid_column", m.UIDColumn, "username_column", m.UsernameColumn, "did_column", m.DIDColumn,
		"name_column", m.NameColumn, "type_column", m.TypeColumn, "value_column", m.ValueColumn,
		"flags_column", m.FlagsColumn, "scheme_column", m.SchemeColumn,
	)
}

// Init binds the domain module, opens the database and checks the
// versions of the attribute tables.
func (m *avpDB) Init(env *module.InitEnv) error {
	m.log = env.Log
	dom, err := domain.Bind(env)
	if err != nil {
		return err
	}
	m.dom = dom
	d, err := dbmod.Open(env, m.url,
		dbmod.Table{Name: m.UserAttrsTable, Version: UserAttrsVersion}, dbmod.Table{Name: m.URIAttrsTable, Version: URIAttrsVersion})
	if err != nil {
		return err
	}
	m.db = d
	cols := []string{m.NameColumn, m.TypeColumn, m.ValueColumn, m.FlagsColumn}
	m.userQuery = dbmod.Select(d.Dialect(), m.UserAttrsTable, cols, []string{m.UIDColumn})
	m.uriQuery = dbmod.Select(d.Dialect(), m.URIAttrsTable, cols, []string{m.UsernameColumn, m.DIDColumn, m.SchemeColumn})
	return nil
}

// Destroy closes the database.
func (m *avpDB) Destroy() {
	dbmod.Close(&m.db)
}

func fixLoadAttrs(_ *avpDB, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if args[0].Kind == module.ArgInt {
		return nil, fx.Errorf(args[0], "%s: $fu, $tu, $fr or $tr expected, not %s", fx.Func, args[0].S)
	}
	g, err := serattr.ParseGroup(args[0].S, "fu", "tu", "fr", "tr")
	if err != nil {
		return nil, fx.Errorf(args[0], "%s: %v", fx.Func, err)
	}
	v, err := serattr.CompileValue(fx, args[1])
	if err != nil {
		return nil, err
	}
	return []any{g, v}, nil
}

// loadAttrs is load_attrs(group, uid_or_uri): $fu/$tu load user_attrs of
// the uid, $fr/$tr the uri_attrs of the URI. The attributes are added to
// the group; the result is 1 (also when there is none), -1 when the uid or
// URI is missing or the database fails.
func (m *avpDB) loadAttrs(c *sr.Ctx, p []any) int {
	group := p[0].(sr.AVPFlags)
	v := p[1].(sr.Getter).Get(c)
	if v.IsNull() {
		c.Log.Debug("load_attrs: no uid or URI to load the attributes of")
		return -1
	}
	ctx := context.Background()
	var query string
	var args []any
	if group&sr.AVPClassURI != 0 {
		u, err := serattr.ParseURI(v.Text())
		if err != nil {
			c.Log.Error("load_attrs: cannot parse the URI", "error", err)
			return -1
		}
		did := serattr.DefaultDID
		if u.Host != "" {
			d, ok, err := m.dom.DID(ctx, u.Host)
			if err != nil {
				c.Log.Error("load_attrs: domain lookup failed", "error", err)
			}
			if ok {
				did = d
			}
		}
		query, args = m.uriQuery, []any{u.User, did, u.Scheme}
	} else {
		query, args = m.userQuery, []any{v.Text()}
	}
	attrs, err := m.read(ctx, query, args...)
	if err != nil {
		c.Log.Error("load_attrs: database query failed", "error", err)
		return -1
	}
	for _, a := range attrs {
		serattr.Add(c, serattr.Name(a.name), a.val, group)
	}
	return 1
}

type attr struct {
	name string
	val  sr.Value
}

// read runs an attribute query: rows with a NULL name, type or flags, and
// rows not flagged for SER, are skipped.
func (m *avpDB) read(ctx context.Context, query string, args ...any) ([]attr, error) {
	if m.db == nil {
		return nil, errors.New("no database")
	}
	rows, err := m.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var out []attr
	for rows.Next() {
		var name, value sql.NullString
		var typ, flags sql.NullInt64
		if err := rows.Scan(&name, &typ, &value, &flags); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		if !name.Valid || !typ.Valid || !flags.Valid {
			m.log.Error("avp_db: row with NULL columns skipped")
			continue
		}
		if flags.Int64&serattr.FlagLoadSER == 0 {
			continue
		}
		out = append(out, attr{name.String, domain.AttrValue(int(typ.Int64), value.String)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return out, nil
}
