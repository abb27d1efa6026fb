// Package authdb is Kamailio's auth_db module: digest authentication of
// requests against the subscriber table. It looks the user up and hands
// the password or HA1 to the auth module's Go API, which owns the
// credentials parsing, the nonces and the challenges.
//
// An unknown user and a wrong password cost the same (one query, one HA1,
// one response computation) and return -1 and -2 only to the script:
// configurations challenge both alike, so nothing tells the client which
// one it was.
package authdb

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
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
	"sip-router.org/modules_k/auth"
)

// Return codes of the authorize functions (Kamailio 3.0's).
const (
	codeOK              = 1
	codeUnknownUser     = -1
	codeInvalidPassword = -2
	codeStale           = -3
	codeNoCredentials   = -4
	codeError           = -5
	codeUserMismatch    = -8
)

// SubscriberVersion is the version of the subscriber table this module
// reads.
const SubscriberVersion = 6

type authDB struct {
	DBURL           string `modparam:"db_url"`
	UserColumn      string `modparam:"user_column"`
	DomainColumn    string `modparam:"domain_column"`
	PasswordColumn  string `modparam:"password_column"`
	PasswordColumn2 string `modparam:"password_column_2"`
	CalculateHA1    bool   `modparam:"calculate_ha1"`
	UseDomain       bool   `modparam:"use_domain"`
	LoadCredentials string `modparam:"load_credentials"`

	url    string
	creds  []credAVP
	tables dbmod.Tables // the tables the script's calls name
	auth   *auth.Auth
	db     *db.DB
}

// credAVP is one load_credentials entry: a column and the AVP it goes to.
type credAVP struct {
	column string
	name   sr.AVPName
	flags  sr.AVPFlags
}

func init() {
	module.Register(module.Spec[*authDB]{
		Name:    "auth_db",
		Tree:    "modules_k",
		Deps:    []string{"modules_k/auth"},
		Summary: "Digest authentication against the subscriber table",
		New: func() *authDB {
			return &authDB{
				UserColumn: "username", DomainColumn: "domain",
				PasswordColumn: "ha1", PasswordColumn2: "ha1b",
				LoadCredentials: "rpid",
				tables:          dbmod.Tables{Version: SubscriberVersion},
			}
		},
		Funcs: []module.Func[*authDB]{
			{Name: "www_authorize", Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupAuthorize, Call: (*authDB).wwwAuthorize},
			{Name: "proxy_authorize", Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupAuthorize, Call: (*authDB).proxyAuthorize},
			{Name: "auth_check", Args: []int{3}, Routes: sr.RouteRequest, Fixup: fixupAuthorize, Call: (*authDB).authCheck},
		},
		Tables: []*schema.Table{Subscriber()},
	})
}

// Subscriber is the subscriber table (version 6), as Kamailio 3.0's
// auth_db-create.sql declares it, except that password holds 64
// characters instead of 25, with its migration from OpenSER 1.0's
// version 5 (see history.go).
func Subscriber() *schema.Table {
	t := &schema.Table{
		Name:    "subscriber",
		Version: SubscriberVersion,
		Comment: "Accounts for digest authentication",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
			{Name: "password", Type: schema.String, Size: 64, Default: "''", Comment: "plaintext password (calculate_ha1)"},
			{Name: "email_address", Type: schema.String, Size: 64, Default: "''"},
			{Name: "ha1", Type: schema.String, Size: 64, Default: "''", Comment: "md5(username:realm:password)"},
			{Name: "ha1b", Type: schema.String, Size: 64, Default: "''", Comment: "md5(username@domain:realm:password)"},
			{Name: "rpid", Type: schema.String, Size: 64, Null: true},
		},
		Keys:    []schema.Index{{Name: "account_idx", Columns: []string{"username", "domain"}}},
		Indexes: []schema.Index{{Name: "username_idx", Columns: []string{"username"}}},
	}
	t.Migrations = SubscriberMigrations(t)
	return t
}

var (
	_ module.Configurer = (*authDB)(nil)
	_ module.Initer     = (*authDB)(nil)
	_ module.Destroyer  = (*authDB)(nil)
)

// Configure checks the URL and the column names and compiles
// load_credentials.
func (m *authDB) Configure(env *module.ConfigEnv) error {
	url, err := dbmod.URLColumns(env, m.DBURL,
		"user_column", m.UserColumn, "domain_column", m.DomainColumn,
		"password_column", m.PasswordColumn, "password_column_2", m.PasswordColumn2,
	)
	if err != nil {
		return err
	}
	m.url = url
	reg, _ := env.PVs.(*pv.Registry)
	creds, err := parseLoadCredentials(m.LoadCredentials, reg)
	if err != nil {
		return fmt.Errorf("load_credentials %q: %w", m.LoadCredentials, err)
	}
	m.creds = creds
	return nil
}

// parseLoadCredentials reads "col;$avp(i:13)=col2": each column goes to
// the AVP named like it, or to the AVP given before '='.
func parseLoadCredentials(s string, reg *pv.Registry) ([]credAVP, error) {
	var out []credAVP
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		spec, col, hasSpec := strings.Cut(item, "=")
		if !hasSpec {
			col, spec = spec, ""
		}
		col = strings.TrimSpace(col)
		if !dbmod.ValidName(col) {
			return nil, fmt.Errorf("%q is not a column name", col)
		}
		e := credAVP{column: col, name: sr.AVPName{S: col}}
		if spec = strings.TrimSpace(spec); spec != "" {
			if reg == nil {
				return nil, errors.New("no pseudo-variable registry")
			}
			if !strings.HasPrefix(spec, "$") {
				spec = "$avp(" + spec + ")"
			}
			ps, err := reg.ParseSetter(spec, pv.MaxCompat)
			if err != nil {
				return nil, err
			}
			name, flags, ok := ps.AVP()
			if !ok {
				return nil, fmt.Errorf("%s is not an AVP with a constant name", spec)
			}
			e.name, e.flags = name, flags
		}
		out = append(out, e)
	}
	return out, nil
}

// Init opens the database and checks the version of every table the
// script's calls name.
func (m *authDB) Init(env *module.InitEnv) error {
	dep, err := env.Dep("modules_k/auth")
	if err != nil {
		return err
	}
	a, ok := dep.(*auth.Auth)
	if !ok {
		return fmt.Errorf("module auth is a %T, not *auth.Auth", dep)
	}
	m.auth = a
	m.db, err = m.tables.Open(env, m.url)
	return err
}

// Destroy closes the database.
func (m *authDB) Destroy() {
	dbmod.Close(&m.db)
}

// fixupAuthorize prepares (realm, table[, flags]).
func fixupAuthorize(m *authDB, fx *module.Fixup, args []module.Arg) ([]any, error) {
	realm, err := fx.Format(args[0])
	if err != nil {
		return nil, err
	}
	table, err := fx.Str(args[1])
	if err != nil {
		return nil, err
	}
	if err := m.tables.Add(fx, args[1], table); err != nil {
		return nil, err
	}
	p := []any{realm, table, 0}
	if len(args) == 3 {
		flags, err := fx.Int(args[2])
		if err != nil {
			return nil, err
		}
		p[2] = flags
	}
	return p, nil
}

func (m *authDB) wwwAuthorize(c *sr.Ctx, p []any) int {
	return m.Authorize(c, p[0].(sr.Format).Expand(c), p[1].(string), auth.WWW)
}

func (m *authDB) proxyAuthorize(c *sr.Ctx, p []any) int {
	return m.Authorize(c, p[0].(sr.Format).Expand(c), p[1].(string), auth.Proxy)
}

// authCheck is auth_check(realm, table, flags): www_authorize for
// REGISTER, proxy_authorize otherwise; flag 1 then requires the
// authenticated user to be the To user (REGISTER, PUBLISH) or the From
// user, and for REGISTER and PUBLISH the From user to be the To user.
func (m *authDB) authCheck(c *sr.Ctx, p []any) int {
	ret := m.Authorize(c, p[0].(sr.Format).Expand(c), p[1].(string), auth.KindFor(c.Req))
	if ret != codeOK || p[2].(int)&1 == 0 {
		return ret
	}
	return m.checkIdentity(c)
}

func (m *authDB) checkIdentity(c *sr.Ctx) int {
	req := c.Req
	au := digest.GetAuthorized(c)
	if req == nil || au == nil {
		return codeOK // ACK and CANCEL pass without credentials
	}
	from, to := req.From(), req.To()
	if from == nil || to == nil {
		return codeUserMismatch
	}
	domain := au.Domain
	if domain == "" {
		domain = au.Realm
	}
	uri := &from.Address
	regPub := req.Method == sip.REGISTER || req.Method == sip.PUBLISH
	if regPub {
		uri = &to.Address
	}
	if uri.User != au.User || (m.UseDomain && !strings.EqualFold(uri.Host, domain)) {
		c.Log.Debug("auth_db: authenticated user is not the caller", "method", string(req.Method))
		return codeUserMismatch
	}
	if regPub && (from.Address.User != to.Address.User ||
		(m.UseDomain && !strings.EqualFold(from.Address.Host, to.Address.Host))) {
		return codeUserMismatch
	}
	return codeOK
}

// Authorize checks the request's credentials for realm ("" = the To host
// of a REGISTER, the From host otherwise) against table. It returns 1,
// -1 unknown user, -2 wrong password, -3 stale nonce, -4 no credentials
// (or a nonce this server did not issue), -5 error. ACK and CANCEL,
// which cannot be challenged, pass.
func (m *authDB) Authorize(c *sr.Ctx, realm, table string, k auth.HeaderKind) int {
	req := c.Req
	if req == nil || m.auth == nil {
		return codeError
	}
	if req.Method == sip.ACK || req.Method == sip.CANCEL {
		return codeOK
	}
	if realm == "" {
		realm = m.auth.Realm(c, k)
	}
	cr, r := m.auth.PreAuth(c, realm, k)
	switch r {
	case auth.Proceed:
	case auth.Stale:
		return codeStale
	default:
		return codeNoCredentials
	}
	domain := realm
	if cr.Domain != "" {
		domain = cr.Domain
	}
	col := m.PasswordColumn
	if cr.Domain != "" && !m.CalculateHA1 {
		col = m.PasswordColumn2
	}
	secret, vals, found, err := m.lookup(c, table, col, cr.User, domain)
	if err != nil {
		c.Log.Error("auth_db: credentials lookup failed", "table", table, "error", err)
		return codeError
	}
	// The same work whether the user exists or not: one HA1 computation
	// (the dummy one is computed in both cases when the table holds
	// HA1s), one response computation.
	var ha1 string
	if m.CalculateHA1 {
		if found {
			ha1 = digest.HA1(cr.Username, realm, secret)
		} else {
			ha1 = m.auth.DummyHA1(cr.Username, realm)
		}
	} else {
		ha1 = m.auth.DummyHA1(cr.Username, realm)
		if found {
			ha1 = secret
		}
	}
	ok := m.auth.Verify(c, cr, ha1)
	switch {
	case !found:
		c.Log.Debug("auth_db: authentication failed", "user", cr.Username, "realm", realm)
		return codeUnknownUser
	case !ok:
		c.Log.Debug("auth_db: authentication failed", "user", cr.Username, "realm", realm)
		return codeInvalidPassword
	}
	if r := m.auth.PostAuth(c, cr); r != auth.Proceed {
		return codeStale
	}
	for i, e := range m.creds {
		if vals[i].Valid {
			c.AVPs.Add(e.name, sr.StrVal(vals[i].String), e.flags)
		}
	}
	return codeOK
}

// lookup reads the password column and the load_credentials columns of
// the user's row. found is false when there is none.
func (m *authDB) lookup(c *sr.Ctx, table, col, user, domain string) (string, []sql.NullString, bool, error) {
	if m.db == nil {
		return "", nil, false, errors.New("no database")
	}
	cols := []string{col}
	for _, e := range m.creds {
		cols = append(cols, e.column)
	}
	where := []string{m.UserColumn}
	args := []any{user}
	if m.UseDomain {
		where = append(where, m.DomainColumn)
		args = append(args, domain)
	}
	q := dbmod.Select(m.db.Dialect(), table, cols, where) + " LIMIT 1"
	var pw sql.NullString
	vals := make([]sql.NullString, len(m.creds))
	dest := make([]any, 0, 1+len(vals))
	dest = append(dest, &pw)
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	ctx := context.Background()
	err := m.db.QueryRow(ctx, q, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", vals, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	return pw.String, vals, true, nil
}
