package db

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Driver is a database driver module's side of the database layer: it
// knows its URL schemes, its dialect, and how to open a connection pool.
// A driver module registers one from its package init with RegisterDriver;
// the core links no driver itself.
type Driver interface {
	// Module is the module that must be loaded for the driver's URLs to
	// work ("db_mysql").
	Module() string
	// Schemes are the URL schemes the driver serves ("mysql").
	Schemes() []string
	// Dialect is the SQL the driver's server speaks.
	Dialect() *Dialect
	// Check validates what is driver-specific in a URL (its parameters)
	// without connecting.
	Check(u *URL) error
	// Open returns a pool for the URL, configured (timeouts, pool sizes)
	// but not necessarily connected. A maintenance pool (migrations, bulk
	// loads by tools) has no I/O timeouts: its statements may run long.
	Open(u *URL, maintenance bool) (*sql.DB, error)
	// ConnLost reports whether an error of the driver says the connection
	// to the server was lost (server gone away, connection killed), so the
	// statement may run again on another connection. Errors of the
	// statement itself (syntax, constraint, permission) must return false.
	// Generic cases (driver.ErrBadConn, a reset or broken TCP connection,
	// an unexpected EOF) are recognised by the core already.
	ConnLost(err error) bool
	// Conflict reports whether an error says the statement or its
	// transaction lost a lock conflict with another one (a deadlock, a
	// serialization failure, a lock wait that timed out): the server
	// undid it, and running it again is safe and likely to succeed.
	Conflict(err error) bool
	// Settings are the statement defaults of new handles.
	Settings() Settings
}

// Settings are the defaults a driver gives the handles that Open returns.
type Settings struct {
	// Timeout bounds each statement, retries included (default 2 s).
	Timeout time.Duration
	// Retries is how many times a statement runs again when the
	// connection was lost (0: never).
	Retries int
	// Embedded says that the database runs inside the process (SQLite):
	// its statements end when their context does, so they run on the
	// caller's goroutine rather than on one of their own (see await),
	// and the statements of DB.Exec and DB.Query are prepared once and
	// kept (up to MaxPrepared of them per pool).
	Embedded bool
}

// MaxPrepared bounds the statements a pool of an embedded database keeps
// prepared: statements beyond it run unprepared, so a caller that builds
// its SQL text from values cannot grow the cache without end.
const MaxPrepared = 256

// DefaultTimeout is the statement timeout when a driver gives none.
const DefaultTimeout = 2 * time.Second

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// RegisterDriver makes a driver's schemes usable. It is called from the
// driver module's package init; registering a scheme twice panics.
func RegisterDriver(d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	for _, s := range d.Schemes() {
		s = strings.ToLower(s)
		if old, dup := drivers[s]; dup {
			panic(fmt.Sprintf("db: scheme %q registered by %s and by %s", s, old.Module(), d.Module()))
		}
		drivers[s] = d
	}
}

// LookupDriver returns the driver registered for a scheme.
func LookupDriver(scheme string) (Driver, bool) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	d, ok := drivers[strings.ToLower(scheme)]
	return d, ok
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	out := make([]string, 0, len(drivers))
	for s := range drivers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// knownSchemes maps the schemes of Kamailio's database modules to the
// module, so that a URL of a driver this binary lacks gets a better
// message than "unknown scheme".
var knownSchemes = map[string]string{
	"mysql":      "db_mysql",
	"postgres":   "db_postgres",
	"postgresql": "db_postgres",
	"pgsql":      "db_postgres",
	"sqlite":     "db_sqlite",
	"text":       "db_text",
	"berkeley":   "db_berkeley",
	"unixodbc":   "db_unixodbc",
	"oracle":     "db_oracle",
	"flatstore":  "db_flatstore",
}

// ErrUnknownScheme is wrapped by errors about a scheme no driver serves.
var ErrUnknownScheme = errors.New("unknown database scheme")

// ErrNotLoaded is wrapped when the driver module of a URL is not loaded.
var ErrNotLoaded = errors.New("module not loaded")

type schemeError struct {
	scheme, param, module string
}

func (e *schemeError) Error() string {
	if e.module != "" {
		return fmt.Sprintf("%s: database scheme %q needs module %s, which is not built into this binary", e.param, e.scheme, e.module)
	}
	return fmt.Sprintf("unknown database scheme %q in %s", e.scheme, e.param)
}

func (e *schemeError) Unwrap() error { return ErrUnknownScheme }

// driverFor parses a URL and finds its driver. param names the module
// parameter in errors.
func driverFor(param, raw string) (*URL, Driver, error) {
	if param == "" {
		param = "db_url"
	}
	u, err := parseURL(raw)
	if err != nil {
		return nil, nil, &URLError{Param: param, URL: Redact(raw), Err: err}
	}
	drv, ok := LookupDriver(u.Scheme)
	if !ok {
		return nil, nil, &schemeError{scheme: u.Scheme, param: param, module: knownSchemes[u.Scheme]}
	}
	if err := drv.Check(u); err != nil {
		return nil, nil, &URLError{Param: param, URL: u.String(), Err: scrub(err, u.Password)}
	}
	return u, drv, nil
}

// CheckURL validates a database URL given in module parameter param
// ("db_url"), without connecting: its syntax, that a compiled-in driver
// serves its scheme, and the driver's options. Modules call it from
// Configure, so a bad URL fails the configuration check (-c) too, with a
// message naming the parameter. It does not check that the driver module
// is loaded: Open does.
func CheckURL(param, raw string) error {
	_, _, err := driverFor(param, raw)
	return err
}

// scrub removes a password from an error message, in case a driver echoes
// its connection string.
func scrub(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &scrubbed{err: err, password: password}
}

type scrubbed struct {
	err      error
	password string
}

func (s *scrubbed) Error() string { return strings.ReplaceAll(s.err.Error(), s.password, "***") }
func (s *scrubbed) Unwrap() error { return s.err }
