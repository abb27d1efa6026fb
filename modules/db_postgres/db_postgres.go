// Package dbpostgres is the db_postgres module: the PostgreSQL driver
// behind postgres://, postgresql:// and pgsql:// database URLs
// (github.com/lib/pq).
package dbpostgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
)

// Defaults of the parameters.
const (
	DefaultRetries = 2 // as Kamailio's db_postgres
	DefaultTimeout = 2 // s
	DefaultPort    = 5432
)

const (
	maxOpenConns = 32
	maxIdleConns = 8
)

// Options are the module parameters the driver applies to new pools.
type Options struct {
	// Retries is how many times a statement runs again after a lost
	// connection.
	Retries int
	// Timeout is the connect timeout, the statement timeout and the write
	// timeout in seconds; reads get twice as long.
	Timeout int
}

// DefaultOptions are the parameters' defaults.
var DefaultOptions = Options{Retries: DefaultRetries, Timeout: DefaultTimeout}

// Driver is the postgres driver registered with the database layer.
type Driver struct {
	mu   sync.Mutex
	opts Options
}

var drv = &Driver{opts: DefaultOptions}

type dbPostgres struct {
	Retries int `modparam:"retries" min:"0" max:"10"`
	Timeout int `modparam:"timeout" min:"1" max:"300"`
}

func init() {
	db.RegisterDriver(drv)
	module.Register(module.Spec[*dbPostgres]{
		Name:    "db_postgres",
		Tree:    "modules",
		Summary: "PostgreSQL database driver (postgres:// URLs)",
		New: func() *dbPostgres {
			return &dbPostgres{Retries: DefaultOptions.Retries, Timeout: DefaultOptions.Timeout}
		},
	})
}

// Configure hands the parameters to the driver; they apply to the pools
// opened afterwards.
func (m *dbPostgres) Configure(*module.ConfigEnv) error {
	drv.mu.Lock()
	drv.opts = Options{Retries: m.Retries, Timeout: m.Timeout}
	drv.mu.Unlock()
	return nil
}

func (d *Driver) options() Options {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opts
}

// Module is the module that must be loaded.
func (d *Driver) Module() string { return "db_postgres" }

// Schemes are the URL schemes served: Kamailio's postgres:// and the
// usual spellings.
func (d *Driver) Schemes() []string { return []string{"postgres", "postgresql", "pgsql"} }

// Dialect is PostgreSQL's.
func (d *Driver) Dialect() *db.Dialect { return db.Postgres }

// Check validates the URL's parameters.
func (d *Driver) Check(u *db.URL) error {
	_, err := DSN(u, d.options())
	return err
}

// Settings: statement timeout and retries from the parameters.
func (d *Driver) Settings() db.Settings {
	o := d.options()
	return db.Settings{Timeout: time.Duration(o.Timeout) * time.Second, Retries: o.Retries}
}

// sslModes are libpq's sslmode values.
var sslModes = map[string]bool{"disable": true, "allow": true, "prefer": true, "require": true,
	"verify-ca": true, "verify-full": true}

// urlParams are the URL parameters passed on to the connection as they
// are.
var urlParams = map[string]bool{"sslrootcert": true, "sslcert": true, "sslkey": true,
	"application_name": true, "search_path": true}

// DSN builds the lib/pq connection string of a URL:
//
//	postgres://user:password@host[:port]/database[?sslmode=…&…]
//
// The port defaults to 5432. sslmode is "disable" unless the URL names
// one (lib/pq's own default may change between versions, so it is always
// set); connect_timeout is the timeout parameter; the session's time zone
// is UTC, as the times stored; binary_parameters makes lib/pq send a
// statement with its arguments in one round trip (Parse, Bind and Execute
// together) instead of two (Parse first, then Bind and Execute), as
// Kamailio's db_postgres sends one query per statement. URL parameters:
// sslmode, sslrootcert, sslcert, sslkey, application_name, search_path,
// and socket (the folder of the server's Unix socket, instead of TCP).
func DSN(u *db.URL, o Options) (string, error) {
	kv := map[string]string{
		"host":              u.Host,
		"port":              strconv.Itoa(DefaultPort),
		"dbname":            u.Database,
		"sslmode":           "disable",
		"connect_timeout":   strconv.Itoa(o.Timeout),
		"timezone":          "UTC",
		"binary_parameters": "yes",
	}
	if u.Port != 0 {
		kv["port"] = strconv.Itoa(u.Port)
	}
	if u.User != "" {
		kv["user"] = u.User
	}
	if u.Password != "" {
		kv["password"] = u.Password
	}
	for _, k := range u.ParamNames() {
		v := u.Params[k]
		switch {
		case k == "sslmode":
			if !sslModes[v] {
				return "", fmt.Errorf("sslmode=%q: use disable, allow, prefer, require, verify-ca or verify-full", v)
			}
			kv[k] = v
		case k == "socket":
			if v == "" || v[0] != '/' {
				return "", fmt.Errorf("socket %q is not an absolute path (the folder of the server's socket)", v)
			}
			kv["host"] = v
		case urlParams[k]:
			kv[k] = v
		default:
			return "", fmt.Errorf("unknown parameter %s (db_postgres takes sslmode, sslrootcert, sslcert, sslkey, application_name, search_path, socket)", k)
		}
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + quote(kv[k])
	}
	return strings.Join(parts, " "), nil
}

// quote quotes a connection-string value as libpq reads it.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Open returns a pool for the URL. Its connections time out reads after
// twice the timeout and writes after the timeout, as db_mysql's do: lib/pq
// has no such timeouts, and a frozen server would otherwise keep a
// connection forever. A maintenance pool has none.
func (d *Driver) Open(u *db.URL, maintenance bool) (*sql.DB, error) {
	o := d.options()
	dsn, err := DSN(u, o)
	if err != nil {
		return nil, err
	}
	conn, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !maintenance {
		t := time.Duration(o.Timeout) * time.Second
		conn.Dialer(&deadlineDialer{read: 2 * t, write: t})
	}
	sqldb := sql.OpenDB(conn)
	sqldb.SetMaxOpenConns(maxOpenConns)
	sqldb.SetMaxIdleConns(maxIdleConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return sqldb, nil
}

// ConnLost recognises the server's connection errors: class 08
// (connection exception) and the shutdown codes of class 57P, which a
// terminated backend (pg_terminate_backend, a restart) sends.
func (d *Driver) ConnLost(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case pqerror.AdminShutdown, pqerror.CrashShutdown, pqerror.CannotConnectNow:
		return true
	}
	return pe.Code.Class() == pqerror.ClassConnectionException
}

// Conflict recognises a deadlock (40P01) and a serialization failure
// (40001): the server aborted the transaction.
func (d *Driver) Conflict(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == pqerror.TRDeadlockDetected || pe.Code == pqerror.TRSerializationFailure
}

// deadlineDialer gives each read and write of a connection a deadline.
type deadlineDialer struct {
	d           net.Dialer
	read, write time.Duration
}

func (dd *deadlineDialer) Dial(network, address string) (net.Conn, error) {
	return dd.DialContext(context.Background(), network, address)
}

func (dd *deadlineDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return dd.DialContext(ctx, network, address)
}

func (dd *deadlineDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := dd.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, read: dd.read, write: dd.write}, nil
}

type deadlineConn struct {
	net.Conn
	read, write time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.read)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.write)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
