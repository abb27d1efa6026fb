// Package uridb is SER 3.0's uri_db module: the uri table maps the URIs a
// user owns (username and domain id, per scheme) to the user's uid.
// lookup_user stores the uid found in an attribute ($tu.uid, $fu.uid),
// check_uri only tests that the URI belongs to a local user.
//
// It is not Kamailio's uri_db module (modules_k/uri_db), whose uri table
// has no uid.
package uridb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
	"sip-router.org/modules_s/domain"
)

// TableVersion is the version of the uri table (lib/srdb2/schema/uri.xml).
const TableVersion = 3

type uriDB struct {
	DBURL       string `modparam:"db_url"`
	URITable    string `modparam:"uri_table"`
	UIDColumn   string `modparam:"uid_column"`
	DIDColumn   string `modparam:"did_column"`
	UserColumn  string `modparam:"username_column"`
	FlagsColumn string `modparam:"flags_column"`
	SchemeCol   string `modparam:"scheme_column"`

	url   string
	db    *db.DB
	log   *slog.Logger
	dom   *domain.Domain
	reg   *pv.Registry
	query string
}

const routes = sr.RouteRequest | sr.RouteFailure

func init() {
	module.Register(module.Spec[*uriDB]{
		Name:    "uri_db",
		Tree:    "modules_s",
		Deps:    []string{"modules_s/domain"},
		Summary: "Maps the URIs of local users to their uid (SER's uri table)",
		New: func() *uriDB {
			return &uriDB{URITable: "uri", UIDColumn: "uid", DIDColumn: "did", UserColumn: "username",
				FlagsColumn: "flags", SchemeCol: "scheme"}
		},
		Funcs: []module.Func[*uriDB]{
			{Name: "lookup_user", Args: []int{1}, Routes: routes, Fixup: fixHeader, Call: (*uriDB).lookupUser1},
			{Name: "lookup_user", Args: []int{2}, Routes: routes, Fixup: (*uriDB).fixLookup, Call: (*uriDB).lookupUser2},
			{Name: "check_uri", Args: []int{1}, Routes: routes, Fixup: fixHeader, Call: (*uriDB).checkURI},
		},
		Tables: []*schema.Table{Table()},
	})
}

// Table is the uri table, version 3.
func Table() *schema.Table {
	return &schema.Table{
		Name: "uri", Version: TableVersion,
		Comment: "URIs of local users: username and domain id (did) mapped to the user's uid",
		Columns: []schema.Column{
			{Name: "uid", Type: schema.String, Size: 64},
			{Name: "did", Type: schema.String, Size: 64},
			{Name: "username", Type: schema.String, Size: 64},
			{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0",
				Comment: "1 load by SER, 2 disabled, 4 canonical, 8 allowed in To/R-URI, 16 allowed in From"},
			{Name: "scheme", Type: schema.String, Size: 8, Default: "'sip'"},
		},
		Indexes: []schema.Index{
			{Name: "uri_idx1", Columns: []string{"username", "did", "scheme"}},
			{Name: "uri_uid", Columns: []string{"uid"}},
		},
	}
}

var (
	_ module.Configurer = (*uriDB)(nil)
	_ module.Initer     = (*uriDB)(nil)
	_ module.Destroyer  = (*uriDB)(nil)
)

// Configure checks the URL and the names and keeps the registry for the
// attribute arguments.
func (m *uriDB) Configure(env *module.ConfigEnv) error {
	m.reg, _ = env.PVs.(*pv.Registry)
	url, err := dbmod.URL(env, m.DBURL)
	if err != nil {
		return err
	}
	m.url = url
	return serattr.CheckIdents(
		"uri_table", m.URITable, "uid_column", m.UIDColumn, "did_column", m.DIDColumn,
		"username_column", m.UserColumn, "flags_column", m.FlagsColumn, "scheme_column", m.SchemeCol,
	)
}

// Init opens the database, checks the table version and binds the domain
// module.
func (m *uriDB) Init(env *module.InitEnv) error {
	m.log = env.Log
	dom, err := domain.Bind(env)
	if err != nil {
		return err
	}
	m.dom = dom
	d, err := dbmod.Open(env, m.url, dbmod.Table{Name: m.URITable, Version: TableVersion})
	if err != nil {
		return err
	}
	m.db = d
	m.query = dbmod.Select(d.Dialect(), m.URITable, []string{m.UIDColumn, m.FlagsColumn},
		[]string{m.UserColumn, m.DIDColumn, m.SchemeCol})
	return nil
}

// Destroy closes the database.
func (m *uriDB) Destroy() {
	dbmod.Close(&m.db)
}

// Where the one-argument forms take the URI from.
type header int

const (
	hdrRURI header = iota
	hdrFrom
	hdrTo
)

func fixHeader(_ *uriDB, fx *module.Fixup, args []module.Arg) ([]any, error) {
	s, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "request-uri":
		return []any{hdrRURI}, nil
	case "from":
		return []any{hdrFrom}, nil
	case "to":
		return []any{hdrTo}, nil
	}
	return nil, fx.Errorf(args[0], "%s: unknown parameter %q (Request-URI, From or To)", fx.Func, s)
}

func (m *uriDB) fixLookup(fx *module.Fixup, args []module.Arg) ([]any, error) {
	_, id, err := serattr.CompileAttr(m.reg, fx, args[0])
	if err != nil {
		return nil, err
	}
	uri, err := serattr.CompileValue(fx, args[1])
	if err != nil {
		return nil, err
	}
	return []any{id, uri}, nil
}

// find looks a URI up in the uri table: the uid of the first row that is
// for SER, not disabled and allowed where the URI was found (flag IS_TO or
// IS_FROM); canon says whether that row is the canonical URI.
func (m *uriDB) find(ctx context.Context, user, did, scheme string, where int) (uid string, canon, found bool, err error) {
	if m.db == nil {
		return "", false, false, errors.New("no database")
	}
	rows, err := m.db.Query(ctx, m.query, user, did, scheme)
	if err != nil {
		return "", false, false, fmt.Errorf("query table %s: %w", m.URITable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var u sql.NullString
		var flags sql.NullInt64
		if err := rows.Scan(&u, &flags); err != nil {
			return "", false, false, fmt.Errorf("query table %s: %w", m.URITable, err)
		}
		if !u.Valid || !flags.Valid {
			m.log.Error("uri_db: bogus row skipped", "table", m.URITable)
			continue
		}
		f := int(flags.Int64)
		if f&serattr.FlagDisabled != 0 || f&serattr.FlagLoadSER == 0 || f&where == 0 {
			continue
		}
		return u.String, f&serattr.FlagCanon != 0, true, nil
	}
	if err := rows.Err(); err != nil {
		return "", false, false, fmt.Errorf("query table %s: %w", m.URITable, err)
	}
	return "", false, false, nil
}

// headerURI returns the URI of the Request-URI, From or To.
func headerURI(c *sr.Ctx, h header) (string, bool) {
	req := c.Req
	if req == nil {
		return "", false
	}
	switch h {
	case hdrFrom:
		if f := req.From(); f != nil {
			return f.Address.String(), true
		}
	case hdrTo:
		if t := req.To(); t != nil {
			return t.Address.String(), true
		}
	default:
		return req.Recipient.String(), true
	}
	return "", false
}

// lookupUID is lookup_user(header) and check_uri(header): the did comes
// from $f.did for From, from $t.did otherwise ("_default" when unset).
func (m *uriDB) lookupUID(c *sr.Ctx, h header, store bool) int {
	s, ok := headerURI(c, h)
	if !ok {
		c.Log.Error("uri_db: the message has no such URI", "where", h.String())
		return -1
	}
	u, err := serattr.ParseURI(s)
	if err != nil {
		c.Log.Error("uri_db: cannot parse the URI", "where", h.String(), "error", err)
		return -1
	}
	track, where := sr.AVPTrackTo, serattr.FlagIsTo
	if h == hdrFrom {
		track, where = sr.AVPTrackFrom, serattr.FlagIsFrom
	}
	did := serattr.DID(c, track)
	if did == "" {
		did = serattr.DefaultDID
	}
	uid, canon, found, err := m.find(context.Background(), u.User, did, u.Scheme, where)
	if err != nil {
		c.Log.Error("uri_db: lookup failed", "error", err)
		return -1
	}
	if !found {
		return -1
	}
	if store {
		serattr.SetUID(c, track, uid)
		if h == hdrRURI && canon {
			serattr.Add(c, serattr.Name("ruri_canonical"), sr.StrVal("1"), sr.AVPTrackTo|sr.AVPClassUser)
		}
	}
	return 1
}

func (h header) String() string {
	switch h {
	case hdrFrom:
		return "From"
	case hdrTo:
		return "To"
	}
	return "Request-URI"
}

func (m *uriDB) lookupUser1(c *sr.Ctx, p []any) int { return m.lookupUID(c, p[0].(header), true) }

func (m *uriDB) checkURI(c *sr.Ctx, p []any) int { return m.lookupUID(c, p[0].(header), false) }

// lookupUser2 is lookup_user(attr, uri): the URI's host gives the did
// through the domain module ("_default" when it is not a local domain or
// there is none, as in tel: URIs); the uid found is added to the
// attribute, whose track says which flag the row must carry.
func (m *uriDB) lookupUser2(c *sr.Ctx, p []any) int {
	id := p[0].(serattr.Ident)
	v := p[1].(sr.Getter).Get(c)
	if v.IsNull() || v.Text() == "" {
		c.Log.Debug("lookup_user: no URI to look up")
		return -1
	}
	u, err := serattr.ParseURI(v.Text())
	if err != nil {
		c.Log.Error("lookup_user: cannot parse the URI", "error", err)
		return -1
	}
	ctx := context.Background()
	did := serattr.DefaultDID
	if u.Host != "" {
		d, ok, err := m.dom.DID(ctx, u.Host)
		if err != nil {
			c.Log.Error("lookup_user: domain lookup failed", "error", err)
		}
		if ok {
			did = d
		}
	}
	where := serattr.FlagIsFrom
	if id.Flags&sr.AVPTrackTo != 0 {
		where = serattr.FlagIsTo
	}
	uid, _, found, err := m.find(ctx, u.User, did, u.Scheme, where)
	if err != nil {
		c.Log.Error("lookup_user: lookup failed", "error", err)
		return -1
	}
	if !found {
		return -1
	}
	serattr.Add(c, id.Name, sr.StrVal(uid), id.Flags)
	return 1
}
