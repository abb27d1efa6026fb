// Package dbmysql is the db_mysql module: the MySQL/MariaDB driver behind
// mysql:// database URLs (github.com/go-sql-driver/mysql).
package dbmysql

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
)

// Defaults of the parameters, as Kamailio's db_mysql.
const (
	DefaultPingInterval    = 300 // s
	DefaultTimeoutInterval = 2   // s
	DefaultRetries         = 1
	DefaultPort            = 3306
)

// Pool limits: a flood of requests while the server is slow must not open
// connections without bound.
const (
	maxOpenConns = 32
	maxIdleConns = 8
)

// Options are the module parameters the driver applies to new pools.
type Options struct {
	// PingInterval: a connection idle longer than this (seconds) is
	// closed and replaced rather than reused (0: kept).
	PingInterval int
	// TimeoutInterval is the connect and write timeout in seconds; reads
	// get twice as long. It is also the statement timeout.
	TimeoutInterval int
	// AutoReconnect allows statements to run again on a new connection.
	AutoReconnect bool
	// Retries is how many times.
	Retries int
}

// DefaultOptions are the parameters' defaults.
var DefaultOptions = Options{PingInterval: DefaultPingInterval, TimeoutInterval: DefaultTimeoutInterval,
	AutoReconnect: true, Retries: DefaultRetries}

// Driver is the mysql driver registered with the database layer.
type Driver struct {
	mu   sync.Mutex
	opts Options
}

var drv = &Driver{opts: DefaultOptions}

type dbMySQL struct {
	PingInterval    int  `modparam:"ping_interval" min:"0"`
	TimeoutInterval int  `modparam:"timeout_interval" min:"1" max:"300"`
	AutoReconnect   bool `modparam:"auto_reconnect"`
	Retries         int  `modparam:"retries" min:"0" max:"10"`
}

func init() {
	db.RegisterDriver(drv)
	module.Register(module.Spec[*dbMySQL]{
		Name:    "db_mysql",
		Tree:    "modules",
		Summary: "MySQL and MariaDB database driver (mysql:// URLs)",
		New: func() *dbMySQL {
			o := DefaultOptions
			return &dbMySQL{PingInterval: o.PingInterval, TimeoutInterval: o.TimeoutInterval,
				AutoReconnect: o.AutoReconnect, Retries: o.Retries}
		},
	})
}

// Configure hands the parameters to the driver; they apply to the pools
// opened afterwards.
func (m *dbMySQL) Configure(*module.ConfigEnv) error {
	drv.mu.Lock()
	drv.opts = Options{PingInterval: m.PingInterval, TimeoutInterval: m.TimeoutInterval,
		AutoReconnect: m.AutoReconnect, Retries: m.Retries}
	drv.mu.Unlock()
	return nil
}

func (d *Driver) options() Options {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opts
}

// Module is the module that must be loaded.
func (d *Driver) Module() string { return "db_mysql" }

// Schemes are the URL schemes served.
func (d *Driver) Schemes() []string { return []string{"mysql"} }

// Dialect is MySQL's.
func (d *Driver) Dialect() *db.Dialect { return db.MySQL }

// Check validates the URL's parameters.
func (d *Driver) Check(u *db.URL) error {
	_, err := Config(u, d.options())
	return err
}

// Settings: statement timeout timeout_interval; retries when
// auto_reconnect is on.
func (d *Driver) Settings() db.Settings {
	o := d.options()
	s := db.Settings{Timeout: time.Duration(o.TimeoutInterval) * time.Second, Retries: o.Retries}
	if !o.AutoReconnect {
		s.Retries = 0
	}
	return s
}

// tlsModes are the values of the tls URL parameter.
var tlsModes = map[string]bool{"true": true, "false": true, "skip-verify": true, "preferred": true}

// Config builds the driver configuration of a URL:
//
//	mysql://user:password@host[:port]/database[?socket=/path&tls=mode&collation=name]
//
// The port defaults to 3306. socket connects over a Unix socket instead
// of TCP (the host is then ignored); tls is true, false, skip-verify or
// preferred. Times are read into time.Time (parseTime) in UTC; parameters
// are interpolated client-side, one round trip per statement, as
// Kamailio builds its queries.
func Config(u *db.URL, o Options) (*mysql.Config, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = u.User, u.Password
	cfg.Net, cfg.Addr = "tcp", u.HostPort(DefaultPort)
	cfg.DBName = u.Database
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true
	cfg.Timeout = time.Duration(o.TimeoutInterval) * time.Second
	cfg.WriteTimeout = time.Duration(o.TimeoutInterval) * time.Second
	cfg.ReadTimeout = 2 * time.Duration(o.TimeoutInterval) * time.Second
	cfg.Logger = logger{}
	// The session's clock in UTC, as the times stored: NOW() and
	// CURRENT_TIMESTAMP then compare with them.
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	for _, k := range u.ParamNames() {
		v := u.Params[k]
		switch k {
		case "socket":
			if v == "" || v[0] != '/' {
				return nil, fmt.Errorf("socket %q is not an absolute path", v)
			}
			cfg.Net, cfg.Addr = "unix", v
		case "tls":
			if !tlsModes[v] {
				return nil, fmt.Errorf("tls=%q: use true, false, skip-verify or preferred", v)
			}
			cfg.TLSConfig = v
		case "collation":
			if v == "" {
				return nil, errors.New("empty collation")
			}
			cfg.Collation = v
		default:
			return nil, fmt.Errorf("unknown parameter %s (db_mysql takes socket, tls, collation)", k)
		}
	}
	return cfg, nil
}

// Open returns a pool for the URL. A maintenance pool has no read and
// write timeouts.
func (d *Driver) Open(u *db.URL, maintenance bool) (*sql.DB, error) {
	o := d.options()
	cfg, err := Config(u, o)
	if err != nil {
		return nil, err
	}
	if maintenance {
		cfg.ReadTimeout, cfg.WriteTimeout = 0, 0
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	sqldb := sql.OpenDB(conn)
	sqldb.SetMaxOpenConns(maxOpenConns)
	sqldb.SetMaxIdleConns(maxIdleConns)
	sqldb.SetConnMaxIdleTime(time.Duration(o.PingInterval) * time.Second)
	return sqldb, nil
}

// Server error numbers that mean the connection is gone.
const (
	erServerShutdown    = 1053 // ER_SERVER_SHUTDOWN
	erConnectionKilled  = 1927 // ER_CONNECTION_KILLED (MariaDB)
	crServerGoneError   = 2006 // CR_SERVER_GONE_ERROR
	crServerLost        = 2013 // CR_SERVER_LOST
	erClientInteraction = 4031 // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
)

// ConnLost recognises the driver's broken-connection error and the server
// errors that end a connection, as Kamailio retries on CR_SERVER_GONE_ERROR
// and CR_SERVER_LOST.
func (d *Driver) ConnLost(err error) bool {
	if errors.Is(err, mysql.ErrInvalidConn) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erServerShutdown, erConnectionKilled, crServerGoneError, crServerLost, erClientInteraction:
			return true
		}
	}
	return false
}

// Server errors of a lost lock conflict.
const (
	erLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT
	erLockDeadlock    = 1213 // ER_LOCK_DEADLOCK
)

// Conflict recognises a deadlock (1213: InnoDB rolled the transaction
// back) and a lock wait timeout (1205: the statement was undone; the
// layer rolls the rest of the transaction back before it runs again).
func (d *Driver) Conflict(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == erLockDeadlock || me.Number == erLockWaitTimeout
	}
	return false
}

// logger sends the driver's own messages to the server log.
type logger struct{}

func (logger) Print(v ...any) {
	slog.Default().Warn("mysql driver: "+fmt.Sprint(v...), "module", "db_mysql")
}
