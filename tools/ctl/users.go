package ctl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/digest"
)

// Account is a subscriber: user@domain. The domain is the digest realm
// kamctl writes (realm = domain), as the default configs authenticate with
// an empty realm (the From/To host).
type Account struct {
	User, Domain string
}

func (a Account) String() string { return a.User + "@" + a.Domain }

// HA1 is MD5(user:realm:password), the subscriber's ha1 column.
func (a Account) HA1(password string) string { return digest.HA1(a.User, a.Domain, password) }

// HA1B is MD5(user@domain:realm:password), the ha1b column, for user
// agents that put the whole address in the digest username.
func (a Account) HA1B(password string) string {
	return digest.HA1(a.User+"@"+a.Domain, a.Domain, password)
}

// ErrNoDomain is returned by ParseAccount for a name without a domain when
// SIP_DOMAIN is not set.
var ErrNoDomain = errors.New("no domain")

// maxNamePart is the width of the user and domain columns.
const maxNamePart = 64

// ParseAccount reads user@domain (also sip:user@domain); a bare user
// takes sipDomain (SIP_DOMAIN), and without one it fails with ErrNoDomain.
func ParseAccount(s, sipDomain string) (Account, error) {
	in := s
	s = strings.TrimSpace(s)
	for _, scheme := range []string{"sip:", "sips:"} {
		if len(s) > len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	user, domain, hasAt := strings.Cut(s, "@")
	if !hasAt {
		domain = strings.TrimSpace(sipDomain)
		if domain == "" {
			return Account{}, fmt.Errorf("%q has no domain: write %s@<domain> or set SIP_DOMAIN: %w", in, s, ErrNoDomain)
		}
	}
	if err := checkUser(user); err != nil {
		return Account{}, fmt.Errorf("%q: %w", in, err)
	}
	if err := checkDomain(domain); err != nil {
		return Account{}, fmt.Errorf("%q: %w", in, err)
	}
	return Account{User: user, Domain: domain}, nil
}

// checkUser accepts the characters of a SIP URI's user part (unreserved,
// escapes and user-unreserved), which excludes blanks, quotes, brackets,
// '@' and ':'.
func checkUser(u string) error {
	switch {
	case u == "":
		return errors.New("empty user name")
	case len(u) > maxNamePart:
		return fmt.Errorf("user name longer than %d characters", maxNamePart)
	}
	for _, c := range u {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.ContainsRune("-_.!~*'()%&=+$,;?/", c) {
			continue
		}
		return fmt.Errorf("character %q is not allowed in a user name", c)
	}
	return nil
}

// checkDomain accepts a host name, an IPv4 address or a bracketed IPv6
// address.
func checkDomain(d string) error {
	switch {
	case d == "":
		return errors.New("empty domain")
	case len(d) > maxNamePart:
		return fmt.Errorf("domain longer than %d characters", maxNamePart)
	case strings.HasPrefix(d, "["):
		if !strings.HasSuffix(d, "]") || strings.Trim(d[1:len(d)-1], "0123456789abcdefABCDEF:.") != "" || len(d) < 4 {
			return fmt.Errorf("domain %q is not a valid IPv6 reference", d)
		}
		return nil
	}
	for i, c := range d {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0 || c == '.' && i > 0 {
			continue
		}
		return fmt.Errorf("domain %q is not a host name", d)
	}
	return nil
}

// DBPlugin is a database-engine plug-in (DBENGINE): it opens the database
// the DB verbs work on. MYSQL, PGSQL and SQLITE differ only in the URL and
// in the SQL spellings core/db's dialects hide.
type DBPlugin interface {
	// Engine is the plug-in's DBENGINE.
	Engine() DBEngine
	// Where names the database for messages (the URL without its
	// password, or the SQLite file).
	Where() string
	// Open connects as the read-write user. It writes nothing: a
	// missing SQLite file is an error, not a new empty database.
	Open(ctx context.Context) (*db.DB, error)
}

// Plugin returns the plug-in of the settings. createHint is what to run to
// create a missing database ("kamdbctl create").
func (s DBSettings) Plugin(createHint string) DBPlugin {
	return &sqlPlugin{s: s, hint: createHint}
}

type sqlPlugin struct {
	s    DBSettings
	hint string
}

func (p *sqlPlugin) Engine() DBEngine { return p.s.Engine }

func (p *sqlPlugin) Where() string {
	raw := p.s.URL(RoleRW, "")
	if u, err := db.ParseURL(raw); err == nil {
		return u.String()
	}
	return raw
}

// driverModules are the modules whose drivers the tool links.
var driverModules = map[string]bool{"db_mysql": true, "db_postgres": true, "db_sqlite": true}

func (p *sqlPlugin) Open(ctx context.Context) (*db.DB, error) {
	raw := p.s.URL(RoleRW, "")
	if p.s.Engine == SQLite {
		path := strings.TrimPrefix(raw, "sqlite://")
		st, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("database file %s does not exist: create it with %s (or set DB_PATH)", path, p.hint)
		case err != nil:
			return nil, fmt.Errorf("database file: %w", err)
		case st.IsDir():
			return nil, fmt.Errorf("database file %s is a folder", path)
		}
	}
	d, err := db.OpenWith(ctx, raw, db.Options{Param: "DBENGINE=" + string(p.s.Engine),
		Loaded: func(m string) bool { return driverModules[m] }})
	if err != nil {
		return nil, err
	}
	d.SetLogger(quietLog)
	return d, nil
}

// Users is a flavor's user model: the tables add, passwd and rm change.
// Kamailio keeps a subscriber row per account; SER splits it into
// credentials (digest) and uri (the addresses of a uid) in a domain (did).
type Users interface {
	// Tables are the tables the model reads and writes.
	Tables() []string
	// Exists tells whether the account is there.
	Exists(ctx context.Context, q db.Querier, a Account) (bool, error)
	// Add creates the account; it fails when it exists. It returns
	// notes for the operator (a domain created on the way).
	Add(ctx context.Context, tx *db.Tx, a Account, password string, plaintext bool) ([]string, error)
	// Passwd changes the password of an existing account.
	Passwd(ctx context.Context, tx *db.Tx, a Account, password string, plaintext bool) error
	// Remove deletes the account and what belongs to it in the model's
	// tables.
	Remove(ctx context.Context, tx *db.Tx, a Account) error
}

// ErrNoUser is returned by passwd and rm for an account that is not there;
// ErrUserExists by add for one that is.
var (
	ErrNoUser     = errors.New("no such user")
	ErrUserExists = errors.New("user already exists")
)

// kamUsers is Kamailio's subscriber table.
type kamUsers struct{}

func (kamUsers) Tables() []string { return []string{"subscriber"} }

func (kamUsers) Exists(ctx context.Context, q db.Querier, a Account) (bool, error) {
	return exists(ctx, q, "subscriber", []string{"username", "domain"}, a.User, a.Domain)
}

func (u kamUsers) Add(ctx context.Context, tx *db.Tx, a Account, password string, plaintext bool) ([]string, error) {
	if ok, err := u.Exists(ctx, tx, a); err != nil || ok {
		return nil, existsErr(ok, err, a)
	}
	_, err := tx.Exec(ctx, insertSQL(tx.Dialect(), "subscriber", "username", "domain", "password", "ha1", "ha1b"),
		a.User, a.Domain, plainPW(password, plaintext), a.HA1(password), a.HA1B(password))
	if err != nil {
		return nil, fmt.Errorf("insert into subscriber: %w", err)
	}
	return nil, nil
}

func (u kamUsers) Passwd(ctx context.Context, tx *db.Tx, a Account, password string, plaintext bool) error {
	q := tx.Dialect().Quote
	res, err := tx.Exec(ctx, "UPDATE "+q("subscriber")+" SET "+q("password")+" = ?, "+q("ha1")+" = ?, "+q("ha1b")+
		" = ? WHERE "+q("username")+" = ? AND "+q("domain")+" = ?",
		plainPW(password, plaintext), a.HA1(password), a.HA1B(password), a.User, a.Domain)
	return affected(res, err, "update subscriber", a)
}

func (u kamUsers) Remove(ctx context.Context, tx *db.Tx, a Account) error {
	q := tx.Dialect().Quote
	res, err := tx.Exec(ctx, "DELETE FROM "+q("subscriber")+" WHERE "+q("username")+" = ? AND "+q("domain")+" = ?", a.User, a.Domain)
	if err := affected(res, err, "delete from subscriber", a); err != nil {
		return err
	}
	// Like kamctl, the aliases pointing at the user go with it.
	if ok, err := db.TableExists(ctx, tx, "dbaliases"); err != nil {
		return err
	} else if ok {
		if _, err := tx.Exec(ctx, "DELETE FROM "+q("dbaliases")+" WHERE "+q("username")+" = ? AND "+q("domain")+" = ?", a.User, a.Domain); err != nil {
			return fmt.Errorf("delete from dbaliases: %w", err)
		}
	}
	return nil
}

// SER's flag bits (lib/srdb2/db.h).
const (
	serLoadSER   = 1
	serCanon     = 4
	serIsTo      = 8
	serIsFrom    = 16
	serForSERWeb = 32
)

// Flags of the rows serctl writes: a domain (as kamctl uid_domain add
// writes it), credentials usable by SER and SERWeb, a canonical URI
// usable in To/Request-URI and From.
const (
	SERDomainFlags     = serLoadSER | serCanon | serForSERWeb
	SERCredentialFlags = serLoadSER | serForSERWeb
	SERURIFlags        = serLoadSER | serCanon | serIsTo | serIsFrom
	SERAttrFlags       = serLoadSER
)

// serUsers is SER's uid/did model: credentials (auth_username, realm →
// uid) and uri (username, did → uid), in the did of the domain table. The
// uid of a new account is its address, user@domain: readable, unique,
// and all the default ser.cfg needs is that credentials.uid and uri.uid
// agree.
type serUsers struct{}

func (serUsers) Tables() []string { return []string{"credentials", "uri", "domain"} }

func (serUsers) Exists(ctx context.Context, q db.Querier, a Account) (bool, error) {
	return exists(ctx, q, "credentials", []string{"auth_username", "realm"}, a.User, a.Domain)
}

// serDID returns the did of a domain name ("" when the domain table does
// not have it).
func serDID(ctx context.Context, q db.Querier, domain string) (string, error) {
	qt := q.Dialect().Quote
	var did sql.NullString
	err := q.QueryRow(ctx, "SELECT "+qt("did")+" FROM "+qt("domain")+" WHERE LOWER("+qt("domain")+") = ?",
		strings.ToLower(domain)).Scan(&did)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("query table domain: %w", err)
	}
	return did.String, nil
}

// serUID returns the uid of a user@domain from the uri table ("" when
// unknown).
func serUID(ctx context.Context, q db.Querier, a Account) (string, error) {
	did, err := serDID(ctx, q, a.Domain)
	if err != nil || did == "" {
		return "", err
	}
	qt := q.Dialect().Quote
	var uid sql.NullString
	err = q.QueryRow(ctx, "SELECT "+qt("uid")+" FROM "+qt("uri")+" WHERE "+qt("username")+" = ? AND "+qt("did")+" = ?",
		a.User, did).Scan(&uid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("query table uri: %w", err)
	}
	return uid.String, nil
}

func (u serUsers) Add(ctx context.Context, tx *db.Tx, a Account, password string, plaintext bool) ([]string, error) {
	if ok, err := u.Exists(ctx, tx, a); err != nil || ok {
		return nil, existsErr(ok, err, a)
	}
	var notes []string
	did, err := serDID(ctx, tx, a.Domain)
	if err != nil {
		return nil, err
	}
	if did == "" {
		did = a.Domain
		if _, err := tx.Exec(ctx, insertSQL(tx.Dialect(), "domain", "did", "domain", "flags"), did, a.Domain, SERDomainFlags); err != nil {
			return nil, fmt.Errorf("insert into domain: %w", err)
		}
		notes = append(notes, fmt.Sprintf("domain '%s' added (did '%s')", a.Domain, did))
	}
	if ok, err := exists(ctx, tx, "uri", []string{"username", "did"}, a.User, did); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%w: the uri table has %s in did '%s'", ErrUserExists, a, did)
		}
		return nil, err
	}
	uid := a.String()
	if _, err := tx.Exec(ctx, insertSQL(tx.Dialect(), "credentials", "uid", "did", "auth_username", "realm", "password", "ha1", "ha1b", "flags"),
		uid, did, a.User, a.Domain, plainPW(password, plaintext), a.HA1(password), a.HA1B(password), SERCredentialFlags); err != nil {
		return nil, fmt.Errorf("insert into credentials: %w", err)
	}
	if _, err := tx.Exec(ctx, insertSQL(tx.Dialect(), "uri", "uid", "did", "username", "flags"), uid, did, a.User, SERURIFlags); err != nil {
		return nil, fmt.Errorf("insert into uri: %w", err)
	}
	return notes, nil
}

func (u serUsers) Passwd(ctx context.Context, tx *db.Tx, a Account, password string, plaintext bool) error {
	q := tx.Dialect().Quote
	res, err := tx.Exec(ctx, "UPDATE "+q("credentials")+" SET "+q("password")+" = ?, "+q("ha1")+" = ?, "+q("ha1b")+
		" = ? WHERE "+q("auth_username")+" = ? AND "+q("realm")+" = ?",
		plainPW(password, plaintext), a.HA1(password), a.HA1B(password), a.User, a.Domain)
	return affected(res, err, "update credentials", a)
}

func (u serUsers) Remove(ctx context.Context, tx *db.Tx, a Account) error {
	q := tx.Dialect().Quote
	var uid sql.NullString
	err := tx.QueryRow(ctx, "SELECT "+q("uid")+" FROM "+q("credentials")+" WHERE "+q("auth_username")+" = ? AND "+q("realm")+" = ?",
		a.User, a.Domain).Scan(&uid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s", ErrNoUser, a)
	case err != nil:
		return fmt.Errorf("query table credentials: %w", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+q("credentials")+" WHERE "+q("auth_username")+" = ? AND "+q("realm")+" = ?", a.User, a.Domain); err != nil {
		return fmt.Errorf("delete from credentials: %w", err)
	}
	if !uid.Valid || uid.String == "" {
		return nil
	}
	// The uid's other credentials keep it alive; otherwise its URIs and
	// attributes go too.
	if ok, err := exists(ctx, tx, "credentials", []string{"uid"}, uid.String); err != nil || ok {
		return err
	}
	for _, t := range []string{"uri", "user_attrs"} {
		if ok, err := db.TableExists(ctx, tx, t); err != nil {
			return err
		} else if !ok {
			continue
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+q(t)+" WHERE "+q("uid")+" = ?", uid.String); err != nil {
			return fmt.Errorf("delete from %s: %w", t, err)
		}
	}
	return nil
}

// UsersOf returns the user model of a flavor: SER's when its tables
// include credentials (the ser flavor), Kamailio's subscriber otherwise.
func UsersOf(f *Flavor) Users {
	if f.IsSER() {
		return serUsers{}
	}
	return kamUsers{}
}

// IsSER tells whether the flavor uses SER's uid/did user model.
func (f *Flavor) IsSER() bool {
	if f.Name == "ser" {
		return true
	}
	for _, t := range f.DB.Tables {
		if t == "credentials" {
			return true
		}
	}
	return false
}

func plainPW(pw string, plaintext bool) string {
	if plaintext {
		return pw
	}
	return ""
}

func existsErr(ok bool, err error, a Account) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrUserExists, a)
}

func affected(res sql.Result, err error, what string, a Account) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNoUser, a)
	}
	return nil
}

// exists tells whether a row has the given values in the given columns.
func exists(ctx context.Context, q db.Querier, table string, cols []string, vals ...any) (bool, error) {
	qt := q.Dialect().Quote
	where := make([]string, len(cols))
	for i, c := range cols {
		where[i] = qt(c) + " = ?"
	}
	var n int64
	err := q.QueryRow(ctx, "SELECT COUNT(*) FROM "+qt(table)+" WHERE "+strings.Join(where, " AND "), vals...).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("query table %s: %w", table, err)
	}
	return n > 0, nil
}

// insertSQL is INSERT INTO table (cols) VALUES (?, …).
func insertSQL(d *db.Dialect, table string, cols ...string) string {
	qc := make([]string, len(cols))
	for i, c := range cols {
		qc[i] = d.Quote(c)
	}
	return "INSERT INTO " + d.Quote(table) + " (" + strings.Join(qc, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
}

// dbTimeout bounds one DB verb.
const dbTimeout = 30 * time.Second
