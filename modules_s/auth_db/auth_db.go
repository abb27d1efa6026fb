// Package authdb is SER's auth_db module (modules_s): digest
// authentication of requests against the credentials table, which maps
// the digest username and realm of a user agent to SER's user identity,
// the uid. On success the columns listed in load_credentials (the uid by
// default) become user-class attributes of the from-track ($uid, $fu.uid);
// on failure the challenge header is left in auth's challenge attribute
// ($digest_challenge) for the script to reply with.
//
// It is not Kamailio's auth_db (modules_k/auth_db), which checks the
// subscriber table and sends no challenges either.
package authdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/auth"
)

// Return codes of www_authenticate and proxy_authenticate, as SER's.
const (
	codeOK         = 1
	codeNotAuth    = -1 // not authenticated: challenge in $digest_challenge
	codeError      = -2 // internal error (database)
	codeBadRequest = -3 // malformed credentials
)

// CredentialsVersion is the version of the credentials table: the
// <version> of SER 3.0's lib/srdb2/schema/credentials.xml.
const CredentialsVersion = 7

// Flag bits of the flags column this module reads (lib/srdb2/db.h).
const (
	FlagLoadSER  = 1 // SER may use the row
	FlagDisabled = 2 // the row is disabled
)

// maxRows bounds the rows read for one username and realm.
const maxRows = 32

// DefaultDID is the did of the credentials of a domain SER does not know.
const DefaultDID = "_default"

type authDB struct {
	DBURL               string `modparam:"db_url"`
	UsernameColumn      string `modparam:"username_column"`
	DIDColumn           string `modparam:"did_column"`
	RealmColumn         string `modparam:"realm_column"`
	PasswordColumn      string `modparam:"password_column"`
	PasswordColumn2     string `modparam:"password_column_2"`
	PlainPasswordColumn string `modparam:"plain_password_column"`
	FlagsColumn         string `modparam:"flags_column"`
	CalculateHA1        bool   `modparam:"calculate_ha1"`
	LoadCredentials     string `modparam:"load_credentials"`
	UseDID              bool   `modparam:"use_did"`
	CheckAllHA1         bool   `modparam:"check_all_ha1"`

	url    string
	creds  []string     // load_credentials columns
	tables dbmod.Tables // the tables the script's calls name
	auth   auth.API
	db     *db.DB
}

func init() {
	fn := func(name string, k auth.HeaderKind) module.Func[*authDB] {
		return module.Func[*authDB]{Name: name, Args: []int{2}, Routes: sr.RouteRequest, Fixup: fixupAuthenticate,
			Call: func(m *authDB, c *sr.Ctx, p []any) int { return m.authenticate(c, p, k) }}
	}
	module.Register(module.Spec[*authDB]{
		Name:    "auth_db",
		Tree:    "modules_s",
		Deps:    []string{"modules_s/auth"},
		Summary: "Digest authentication against SER's credentials table (uid/did user model)",
		New: func() *authDB {
			return &authDB{
				UsernameColumn: "auth_username", DIDColumn: "did", RealmColumn: "realm",
				PasswordColumn: "ha1", PasswordColumn2: "ha1b", PlainPasswordColumn: "password",
				FlagsColumn: "flags", LoadCredentials: "uid",
				tables: dbmod.Tables{Version: CredentialsVersion},
			}
		},
		Funcs: []module.Func[*authDB]{
			fn("www_authenticate", auth.WWW),
			fn("www_authorize", auth.WWW),
			fn("proxy_authenticate", auth.Proxy),
			fn("proxy_authorize", auth.Proxy),
		},
		Tables: []*schema.Table{Credentials()},
	})
}

// Credentials is the credentials table (version 7), as SER 3.0's
// credentials.xml declares it.
func Credentials() *schema.Table {
	return &schema.Table{
		Name:    "credentials",
		Version: CredentialsVersion,
		Comment: "Digest credentials (username and realm) of the users, each mapped to a uid",
		Columns: []schema.Column{
			{Name: "auth_username", Type: schema.String, Size: 64, Comment: "digest username"},
			{Name: "did", Type: schema.String, Size: 64, Default: "'" + DefaultDID + "'", Comment: "domain id of the username"},
			{Name: "realm", Type: schema.String, Size: 64, Comment: "digest realm"},
			{Name: "password", Type: schema.String, Size: 28, Default: "''", Comment: "plaintext password (calculate_ha1)"},
			{Name: "flags", Type: schema.Int, Default: "0", Comment: "1 for SER, 2 disabled, 32 for SERWeb …"},
			{Name: "ha1", Type: schema.String, Size: 32, Default: "''", Comment: "md5(username:realm:password)"},
			{Name: "ha1b", Type: schema.String, Size: 32, Default: "''", Comment: "md5(username@domain:realm:password)"},
			{Name: "uid", Type: schema.String, Size: 64, Comment: "user the credentials belong to"},
		},
		Indexes: []schema.Index{
			{Name: "cred_idx", Columns: []string{"auth_username", "did"}},
			{Name: "uid", Columns: []string{"uid"}},
			{Name: "did_idx", Columns: []string{"did"}},
			{Name: "realm_idx", Columns: []string{"realm"}},
		},
	}
}

var (
	_ module.Configurer = (*authDB)(nil)
	_ module.Initer     = (*authDB)(nil)
	_ module.Destroyer  = (*authDB)(nil)
)

// Configure checks the URL and the column names and reads
// load_credentials.
func (m *authDB) Configure(env *module.ConfigEnv) error {
	url, err := dbmod.URLColumns(env, m.DBURL,
		"username_column", m.UsernameColumn, "did_column", m.DIDColumn,
		"realm_column", m.RealmColumn, "password_column", m.PasswordColumn,
		"password_column_2", m.PasswordColumn2, "plain_password_column", m.PlainPasswordColumn,
		"flags_column", m.FlagsColumn,
	)
	if err != nil {
		return err
	}
	m.url = url
	creds, err := parseCredentials(m.LoadCredentials)
	if err != nil {
		return fmt.Errorf("load_credentials %q: %w", m.LoadCredentials, err)
	}
	m.creds = creds
	return nil
}

// parseCredentials reads load_credentials: column names separated by '|'
// (SER's separator; ',' and ';' are taken too).
func parseCredentials(s string) ([]string, error) {
	var out []string
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' || r == ';' }) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !dbmod.ValidName(item) {
			return nil, fmt.Errorf("%q is not a column name", item)
		}
		if !slices.Contains(out, item) {
			out = append(out, item)
		}
	}
	return out, nil
}

// Init binds auth, opens the database and checks the version of every
// table the script's calls name.
func (m *authDB) Init(env *module.InitEnv) error {
	dep, err := env.Dep("modules_s/auth")
	if err != nil {
		return err
	}
	a, ok := dep.(auth.API)
	if !ok {
		return fmt.Errorf("module auth (%T) does not offer the auth API", dep)
	}
	m.auth = a
	if m.url == "" { // Configure was not run (a set built by hand)
		m.url = m.DBURL
	}
	m.db, err = m.tables.Open(env, m.url)
	return err
}

// Destroy closes the database.
func (m *authDB) Destroy() {
	dbmod.Close(&m.db)
}

// realmArg is the realm argument: a constant, or an attribute or select
// read for each request.
type realmArg struct {
	s string
	g sr.Getter
}

func (r realmArg) value(c *sr.Ctx) string {
	if r.g == nil {
		return r.s
	}
	v := r.g.Get(c)
	if v.IsNull() {
		return ""
	}
	return v.Text()
}

// fixupAuthenticate prepares (realm, table): the realm a string, an
// attribute ("$fd.digest_realm") or a select; the table a constant name.
func fixupAuthenticate(m *authDB, fx *module.Fixup, args []module.Arg) ([]any, error) {
	var realm realmArg
	a := args[0]
	s := strings.TrimSpace(a.S)
	if a.Kind == module.ArgPV || strings.HasPrefix(s, "$") || strings.HasPrefix(s, "@") {
		g, err := fx.Getter(a)
		if err != nil {
			return nil, err
		}
		realm.g = g
	} else {
		realm.s = a.S
	}
	table, err := fx.Str(args[1])
	if err != nil {
		return nil, err
	}
	table = strings.TrimSpace(table)
	if err := m.tables.Add(fx, args[1], table); err != nil {
		return nil, err
	}
	return []any{realm, table}, nil
}

// authenticate is www_authenticate (WWW) and proxy_authenticate (Proxy):
// it checks the request's credentials for the realm (the argument, or
// when it is empty the To host of a REGISTER, the From host otherwise)
// against the table. It returns 1, -1 (not authenticated: unknown user,
// wrong password, no credentials, stale or foreign nonce), -2 (internal
// error) or -3 (malformed credentials); on every failure a challenge is
// added to auth's challenge attribute, with stale=true when the nonce was
// stale. ACK, CANCEL and PRACK, which cannot be challenged, pass.
func (m *authDB) authenticate(c *sr.Ctx, p []any, k auth.HeaderKind) int {
	if c.Req == nil || m.auth == nil {
		return codeError
	}
	realm := m.auth.Realm(c, p[0].(realmArg).value(c), k)
	ret, stale := m.check(c, realm, p[1].(string), k)
	if ret < 0 && realm != "" {
		if err := m.auth.Challenge(c, realm, k, stale); err != nil {
			c.Log.Error("auth_db: building the challenge failed", "error", err)
			return codeError
		}
	}
	return ret
}

// check does the work of authenticate: its code, and whether the nonce
// was stale.
func (m *authDB) check(c *sr.Ctx, realm, table string, k auth.HeaderKind) (int, bool) {
	if realm == "" {
		c.Log.Error("auth_db: no realm (empty argument and no host in To/From)")
		return codeError, false
	}
	cr, r := m.auth.PreAuth(c, realm, k)
	switch r {
	case auth.Authenticated:
		return codeOK, false
	case auth.Proceed:
	case auth.Stale:
		return codeNotAuth, true
	case auth.BadCredentials:
		return codeBadRequest, false
	default:
		return codeNotAuth, false
	}
	did := ""
	if m.UseDID {
		did = m.did(c)
	}
	matchRealm := realm
	if m.CheckAllHA1 && cr.Domain != "" {
		matchRealm = cr.Domain
	}
	col := m.PasswordColumn
	switch {
	case m.CalculateHA1:
		col = m.PlainPasswordColumn
	case cr.Domain != "":
		col = m.PasswordColumn2
	}
	rows, err := m.lookup(c, table, col, cr.User, matchRealm, did)
	if err != nil {
		c.Log.Error("auth_db: credentials lookup failed", "table", table, "error", err)
		return codeError, false
	}
	if !m.CheckAllHA1 && len(rows) > 1 {
		rows = rows[:1]
	}
	// The same work whether the user exists or not: without a usable row
	// the response is checked against a dummy one (a password, or an HA1
	// made of a random one), and fails whatever it says.
	dummy := credRow{secret: m.auth.DummyHA1(cr.Username, realm), vals: make([]sql.NullString, len(m.creds))}
	found := len(rows) > 0
	if !found {
		rows = []credRow{dummy}
	}
	for _, row := range rows {
		ha1 := row.secret
		if m.CalculateHA1 {
			ha1 = digest.HA1(cr.Username, realm, row.secret)
		}
		if !m.auth.Verify(c, cr, ha1) || !found {
			continue
		}
		if r := m.auth.PostAuth(c, cr); r != auth.Proceed {
			return codeNotAuth, r == auth.Stale
		}
		for i, col := range m.creds {
			if row.vals[i].Valid {
				if c.AVPs == nil {
					c.AVPs = sr.NewAVPList()
				}
				c.AVPs.Add(sr.AVPName{S: col}, sr.StrVal(row.vals[i].String), sr.AVPClassUser|sr.AVPTrackFrom)
			}
		}
		return codeOK, false
	}
	c.Log.Debug("auth_db: authentication failed", "user", cr.Username, "realm", realm)
	return codeNotAuth, false
}

// did is the domain id the credentials are looked up in: the did of the
// to-track for REGISTER, of the from-track otherwise ($t.did, $f.did, set
// by domain's lookup_domain), or _default.
func (m *authDB) did(c *sr.Ctx) string {
	track := sr.AVPTrackFrom
	if c.Req.Method == sip.REGISTER {
		track = sr.AVPTrackTo
	}
	if c.AVPs != nil {
		for _, cl := range []sr.AVPFlags{sr.AVPClassURI, sr.AVPClassUser, sr.AVPClassDomain, sr.AVPClassGlobal} {
			if v, ok := c.AVPs.Get(sr.AVPName{S: "did"}, track|cl, 0); ok && v.Text() != "" {
				return v.Text()
			}
		}
	}
	return DefaultDID
}

// credRow is a usable row: its password or HA1 and its load_credentials
// values.
type credRow struct {
	secret string
	vals   []sql.NullString
}

// lookup reads the rows of a username and realm (and did), keeping those
// SER uses: not NULL, not disabled, flagged for SER.
func (m *authDB) lookup(c *sr.Ctx, table, col, user, realm, did string) ([]credRow, error) {
	if m.db == nil {
		return nil, errors.New("no database")
	}
	cols := append([]string{col, m.FlagsColumn}, m.creds...)
	where := []string{m.UsernameColumn, m.RealmColumn}
	args := []any{user, realm}
	if m.UseDID {
		where = append(where, m.DIDColumn)
		args = append(args, did)
	}
	q := dbmod.Select(m.db.Dialect(), table, cols, where)
	rows, err := m.db.Query(context.Background(), q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []credRow
	for n := 0; rows.Next() && n < maxRows; n++ {
		var secret sql.NullString
		var flags sql.NullInt64
		vals := make([]sql.NullString, len(m.creds))
		dest := make([]any, 0, 2+len(vals))
		dest = append(dest, &secret, &flags)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		switch {
		case !secret.Valid || !flags.Valid:
			c.Log.Warn("auth_db: credentials with a NULL value skipped", "user", user, "realm", realm)
		case flags.Int64&FlagDisabled != 0, flags.Int64&FlagLoadSER == 0:
		default:
			out = append(out, credRow{secret: secret.String, vals: vals})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
