// Package uridb is Kamailio's uri_db module: it checks that the From or
// To user of an authenticated request is one the authenticated user may
// use, and whether the Request-URI names a local user, against the
// subscriber table or the uri table.
package uridb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// Table versions this module reads.
const (
	URIVersion        = 1
	SubscriberVersion = 6
)

// Return codes (Kamailio's).
const (
	codeNoCredentials = -2
	codeNoDB          = -1
	codeNoUser        = -4
	codeDBError       = -8
	codeSpoofed       = -9
	codeMismatch      = -10
	codeNotFound      = -5
)

type uriDB struct {
	DBURL         optString `modparam:"db_url"`
	DBTable       string    `modparam:"db_table"`
	UserColumn    string    `modparam:"user_column"`
	DomainColumn  string    `modparam:"domain_column"`
	URIUserColumn string    `modparam:"uriuser_column"`
	UseURITable   bool      `modparam:"use_uri_table"`
	UseDomain     bool      `modparam:"use_domain"`

	url   string
	table string
	db    *db.DB
}

// optString is a string parameter that remembers whether the
// configuration set it: db_url "" switches the database off, no db_url
// means the flavor's default.
type optString struct {
	v   string
	set bool
}

func (o *optString) SetParam(v sr.Value, _ *module.ParamEnv) error {
	if v.K != sr.Str {
		return fmt.Errorf("%w: it is a string, the value given is an int (write it in quotes)", module.ErrParamType)
	}
	o.v, o.set = v.S, true
	return nil
}

func (o *optString) ParamType() string { return "string" }

func (o optString) String() string { return o.v }

func init() {
	module.Register(module.Spec[*uriDB]{
		Name:    "uri_db",
		Tree:    "modules_k",
		Summary: "Checks of From/To users against the credentials, and of local users",
		New: func() *uriDB {
			return &uriDB{UserColumn: "username", DomainColumn: "domain", URIUserColumn: "uri_user"}
		},
		Funcs: []module.Func[*uriDB]{
			{Name: "check_to", Routes: sr.RouteRequest, Call: (*uriDB).checkTo},
			{Name: "check_from", Routes: sr.RouteRequest, Call: (*uriDB).checkFrom},
			{Name: "does_uri_exist", Routes: sr.RouteRequest | sr.RouteLocal, Call: (*uriDB).doesURIExist},
		},
		Tables: []*schema.Table{Table()},
	})
}

// Table is the uri table (version 1), as Kamailio 3.0's uri_db-create.sql
// declares it: which URI users (uri_user) an account (username, domain)
// may use. Its shape fix brings OpenSER 1.0's and 1.2's uri table to it
// (see history.go).
func Table() *schema.Table {
	t := &schema.Table{
		Name:    "uri",
		Version: URIVersion,
		Comment: "URI users each account may use",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
			{Name: "uri_user", Type: schema.String, Size: 64, Default: "''"},
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		},
		Keys: []schema.Index{{Name: "account_idx", Columns: []string{"username", "domain", "uri_user"}}},
	}
	t.Fixes = TableFixes(t)
	return t
}

var (
	_ module.Configurer = (*uriDB)(nil)
	_ module.Initer     = (*uriDB)(nil)
	_ module.Destroyer  = (*uriDB)(nil)
)

// Configure picks the URL (db_url "" means no database) and the table.
func (m *uriDB) Configure(env *module.ConfigEnv) error {
	m.url = m.DBURL.v
	if !m.DBURL.set {
		m.url = env.Defaults["db_url"]
	}
	m.table = m.DBTable
	if m.table == "" {
		m.table = "subscriber"
		if m.UseURITable {
			m.table = "uri"
		}
	}
	if err := dbmod.CheckTable("db_table", m.table); err != nil {
		return err
	}
	if err := dbmod.CheckColumns(
		"user_column", m.UserColumn, "domain_column", m.DomainColumn,
		"uriuser_column", m.URIUserColumn,
	); err != nil {
		return err
	}
	if m.url == "" {
		if m.UseURITable {
			return errors.New("use_uri_table is set but there is no database (db_url is empty)")
		}
		return nil
	}
	return db.CheckURL("db_url", m.url)
}

// Init opens the database, if any, and checks the table's version.
func (m *uriDB) Init(env *module.InitEnv) error {
	if m.url == "" {
		env.Log.Info("uri_db: no database; check_to() and check_from() compare with the credentials, does_uri_exist() fails")
		return nil
	}
	want := SubscriberVersion
	if m.UseURITable {
		want = URIVersion
	}
	d, err := dbmod.Open(env, m.url, dbmod.Table{Name: m.table, Version: want})
	if err != nil {
		return err
	}
	m.db = d
	return nil
}

// Destroy closes the database.
func (m *uriDB) Destroy() {
	dbmod.Close(&m.db)
}

func (m *uriDB) checkTo(c *sr.Ctx, _ []any) int {
	if c.Req == nil || c.Req.To() == nil {
		c.Log.Error("uri_db: check_to: no To header")
		return -1
	}
	return m.checkUser(c, &c.Req.To().Address)
}

func (m *uriDB) checkFrom(c *sr.Ctx, _ []any) int {
	if c.Req == nil || c.Req.From() == nil {
		c.Log.Error("uri_db: check_from: no From header")
		return -1
	}
	return m.checkUser(c, &c.Req.From().Address)
}

// checkUser tells whether the user of uri is one the authorized
// credentials may use: with use_uri_table, a row (username = digest
// user, domain = digest realm, uri_user = URI user) must exist; without,
// the URI user must equal the digest user (case-insensitively).
func (m *uriDB) checkUser(c *sr.Ctx, uri *sip.Uri) int {
	au := digest.GetAuthorized(c)
	if au == nil {
		c.Log.Error("uri_db: no authorized credentials: call www_authorize or proxy_authorize first")
		return codeNoCredentials
	}
	if uri.User == "" {
		c.Log.Error("uri_db: the URI has no user")
		return codeNoUser
	}
	if !m.UseURITable {
		if strings.EqualFold(uri.User, au.User) {
			return 1
		}
		c.Log.Debug("uri_db: digest user and URI user differ")
		return codeMismatch
	}
	if m.db == nil {
		c.Log.Error("uri_db: no database (db_url is empty)")
		return codeNoDB
	}
	found, err := m.exists(dbmod.Select(m.db.Dialect(), m.table, []string{m.UserColumn},
		[]string{m.UserColumn, m.DomainColumn, m.URIUserColumn}), au.User, au.Realm, uri.User)
	if err != nil {
		c.Log.Error("uri_db: query failed", "table", m.table, "error", err)
		return codeDBError
	}
	if !found {
		c.Log.Debug("uri_db: the URI user is not one of the authenticated user's")
		return codeSpoofed
	}
	return 1
}

// doesURIExist is does_uri_exist(): the Request-URI's user (and host
// with use_domain) is a subscriber, or a uri_user of the uri table.
func (m *uriDB) doesURIExist(c *sr.Ctx, _ []any) int {
	if c.Req == nil {
		return -1
	}
	if m.db == nil {
		c.Log.Error("uri_db: does_uri_exist: no database (db_url is empty)")
		return codeNoDB
	}
	col := m.UserColumn
	if m.UseURITable {
		col = m.URIUserColumn
	}
	where, args := []string{col}, []any{c.Req.Recipient.User}
	if m.UseDomain {
		where, args = append(where, m.DomainColumn), append(args, c.Req.Recipient.Host)
	}
	found, err := m.exists(dbmod.Select(m.db.Dialect(), m.table, []string{col}, where), args...)
	if err != nil {
		c.Log.Error("uri_db: query failed", "table", m.table, "error", err)
		return codeDBError
	}
	if !found {
		return codeNotFound
	}
	return 1
}

// exists runs a SELECT of one column and tells whether it found a row.
func (m *uriDB) exists(query string, args ...any) (bool, error) {
	var s sql.NullString
	err := m.db.QueryRow(context.Background(), query+" LIMIT 1", args...).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
