// Package dbsqlite is the db_sqlite module: the embedded SQLite database
// (pure Go, modernc.org/sqlite) behind sqlite:// database URLs. It is the
// default database of both flavors.
package dbsqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"sip-router.org/core/db"
	"sip-router.org/core/module"
)

// Defaults of the parameters.
const (
	DefaultBusyTimeout = 5000 // ms
	DefaultJournalMode = "WAL"
)

// journalModes are SQLite's journal modes (OFF is refused: a crash could
// corrupt the file).
var journalModes = []string{"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL"}

// Driver is the sqlite driver registered with the database layer.
type Driver struct {
	mu          sync.Mutex
	busyTimeout int
	journalMode string
}

var drv = &Driver{busyTimeout: DefaultBusyTimeout, journalMode: DefaultJournalMode}

type dbSQLite struct {
	// BusyTimeout is how long a statement waits for a lock held by
	// another process (kamctl, a backup), in milliseconds.
	BusyTimeout int `modparam:"busy_timeout" min:"0" max:"600000"`
	// JournalMode is SQLite's journal_mode.
	JournalMode string `modparam:"journal_mode"`
}

func init() {
	db.RegisterDriver(drv)
	module.Register(module.Spec[*dbSQLite]{
		Name:    "db_sqlite",
		Tree:    "modules",
		Summary: "SQLite database driver (sqlite:// URLs), embedded",
		New: func() *dbSQLite {
			return &dbSQLite{BusyTimeout: DefaultBusyTimeout, JournalMode: DefaultJournalMode}
		},
	})
}

// Configure checks the parameters and hands them to the driver; they
// apply to the databases opened afterwards.
func (m *dbSQLite) Configure(*module.ConfigEnv) error {
	mode, err := checkJournalMode(m.JournalMode)
	if err != nil {
		return err
	}
	drv.mu.Lock()
	drv.busyTimeout, drv.journalMode = m.BusyTimeout, mode
	drv.mu.Unlock()
	return nil
}

func checkJournalMode(s string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(s))
	for _, m := range journalModes {
		if up == m {
			return m, nil
		}
	}
	return "", fmt.Errorf("journal_mode %q is not one of %s", s, strings.Join(journalModes, ", "))
}

// Module is the module that must be loaded.
func (d *Driver) Module() string { return "db_sqlite" }

// Schemes are the URL schemes served.
func (d *Driver) Schemes() []string { return []string{"sqlite"} }

// Dialect is SQLite's.
func (d *Driver) Dialect() *db.Dialect { return db.SQLite }

// Check refuses URL parameters: the options are module parameters.
func (d *Driver) Check(u *db.URL) error {
	if names := u.ParamNames(); len(names) > 0 {
		return fmt.Errorf("unknown parameter %s: sqlite URLs take none (set busy_timeout and journal_mode with modparam)", names[0])
	}
	return nil
}

// settings returns the current busy timeout and journal mode.
func (d *Driver) settings() (int, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busyTimeout, d.journalMode
}

// Settings: the statement timeout covers the busy timeout (at least 2 s);
// a local file has no connection to lose, so there are no retries. The
// database is embedded: statements run on the caller's goroutine and are
// prepared once.
func (d *Driver) Settings() db.Settings {
	busy, _ := d.settings()
	t := time.Duration(busy)*time.Millisecond + 500*time.Millisecond
	return db.Settings{Timeout: max(t, db.DefaultTimeout), Embedded: true}
}

// ConnLost: never, for a file.
func (d *Driver) ConnLost(error) bool { return false }

// Conflict: never. SQLite has one writer at a time; a statement waits for
// the lock up to busy_timeout rather than being chosen as a victim.
func (d *Driver) Conflict(error) bool { return false }

// DSN is the modernc.org/sqlite data source name of a file: busy
// timeout, journal mode, synchronous NORMAL (safe with WAL), foreign keys
// off (Kamailio's tables declare none), times written as
// "YYYY-MM-DD HH:MM:SS" (as DATETIME columns hold them in MySQL), and
// transactions that take the write lock when they begin (no deadlock
// between two writers upgrading their locks).
func DSN(path string, busyTimeout int, journalMode string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc +
		"?_pragma=busy_timeout(" + fmt.Sprint(busyTimeout) + ")" +
		"&_pragma=journal_mode(" + journalMode + ")" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(0)" +
		"&_time_format=datetime" +
		"&_txlock=immediate"
}

// Open creates the database's folder (mode 0750) and file (mode 0640)
// when missing, and returns a pool of ONE connection: SQLite has one
// writer at a time, and a single connection serialises the server's
// statements instead of having them wait for each other's locks. Readers
// wait too; the tables that are read per SIP message are cached in memory
// by their modules. A maintenance pool is the same: SQLite has no I/O
// timeouts.
func (d *Driver) Open(u *db.URL, _ bool) (*sql.DB, error) {
	path := u.Database
	if err := prepareFile(path); err != nil {
		return nil, err
	}
	busy, mode := d.settings()
	sqldb, err := sql.Open("sqlite", DSN(path, busy, mode))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	return sqldb, nil
}

// prepareFile makes the folder and an empty file, so that their modes are
// ours rather than the umask's.
func prepareFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create the database folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("database file: %w", err)
		}
		if st.IsDir() {
			return fmt.Errorf("database file %s is a folder", path)
		}
		return nil
	}
	return fmt.Errorf("create the database file: %w", err)
}
