package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
)

// This file holds the checks every driver module's tests make (db_mysql,
// db_postgres, db_sqlite): the server-side session killing the Run suite
// needs, the refusal of a URL whose module is not loaded, the URL to
// driver configuration tables and the ConnLost tables.

// AdminSQL opens the server's admin database (Server.Admin, through the
// driver module linked into the test) and returns its database/sql pool,
// closed at the end of the test. A server that cannot be reached is
// Unavailable.
func (s Server) AdminSQL(t *testing.T) *sql.DB {
	t.Helper()
	return s.openAdmin(t).SQL()
}

// Sessions finds and ends a server's sessions (connections) for the
// reconnect tests of Run, through an admin pool.
type Sessions struct {
	// Admin is the pool the queries and kills run on (Server.Backend
	// opens one when it is nil).
	Admin *sql.DB
	// List is a query of the ids of the server's sessions, the admin's
	// own excepted, ending in "AND ": a condition with one parameter
	// follows.
	List string
	// OnDatabase is the condition selecting the sessions on a database,
	// its name the parameter.
	OnDatabase string
	// Running is the condition selecting the sessions running a
	// statement, a LIKE pattern of its text the parameter.
	Running string
	// Kill ends the session of an id; a session that is already gone is
	// no error.
	Kill func(a *sql.DB, id int64) error
}

// Backend is the Run suite's view of the server: fresh databases named
// srtest_…, the sessions ended through ss (on an AdminSQL pool when
// ss.Admin is nil), and sleep, the server's sleep function of one
// argument in seconds (SLEEP, pg_sleep), for the slow statements.
func (s Server) Backend(t *testing.T, ss Sessions, sleep string) Backend {
	t.Helper()
	if ss.Admin == nil {
		ss.Admin = s.AdminSQL(t)
	}
	return Backend{
		NewDatabase:     func(t *testing.T) string { return s.NewDatabase(t, "srtest_") },
		KillConnections: ss.KillConnections,
		KillRunning:     ss.KillRunning,
		SlowSQL: func(d time.Duration) string {
			return fmt.Sprintf("SELECT %s(%g)", sleep, d.Seconds())
		},
		Addr: s.Addr,
	}
}

// ids lists the sessions the condition where selects.
func (s Sessions) ids(t *testing.T, where string, arg any) []int64 {
	t.Helper()
	rows, err := s.Admin.Query(s.List+where, arg)
	if err != nil {
		t.Fatalf("list server sessions: %v", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("list server sessions: %v", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list server sessions: %v", err)
	}
	return ids
}

func (s Sessions) kill(t *testing.T, id int64) {
	t.Helper()
	if err := s.Kill(s.Admin, id); err != nil {
		t.Fatalf("end server session %d: %v", id, err)
	}
}

// KillConnections is Backend.KillConnections: it ends every session on
// the database of the URL and waits until the server has dropped them.
func (s Sessions) KillConnections(t *testing.T, url string) {
	t.Helper()
	name := url[strings.LastIndex(url, "/")+1:]
	ids := s.ids(t, s.OnDatabase, name)
	if len(ids) == 0 {
		t.Fatal("no server connection to kill")
	}
	for _, id := range ids {
		s.kill(t, id)
	}
	WaitFor(t, "the killed connections to go", 5*time.Second, func() bool {
		return len(s.ids(t, s.OnDatabase, name)) == 0
	})
}

// KillRunning is Backend.KillRunning: it waits until a statement
// containing marker runs and ends its session.
func (s Sessions) KillRunning(t *testing.T, marker string) {
	t.Helper()
	var ids []int64
	WaitFor(t, "the statement to run", 10*time.Second, func() bool {
		ids = s.ids(t, s.Running, "%"+marker+"%")
		return len(ids) > 0
	})
	s.kill(t, ids[0])
}

// CheckNotLoaded checks that db.Open refuses url while loaded says its
// driver module is not loaded, with an error that shows the URL as shown
// (the password masked) and names the module.
func CheckNotLoaded(t *testing.T, url, shown, module string, loaded func(string) bool) {
	t.Helper()
	d, err := db.Open(context.Background(), url, loaded)
	if err == nil {
		d.Close()
	}
	want := `db_url "` + shown + `": module ` + module + ` is not loaded (add loadmodule "` + module + `.so")`
	if err == nil || err.Error() != want || !errors.Is(err, db.ErrNotLoaded) {
		t.Errorf("open without the module: %v\nwant: %s", err, want)
	}
}

// OpenLoaded opens url with the module check of loaded, which must pass,
// checks the handle's dialect and closes it at the end of the test.
func OpenLoaded(t *testing.T, url string, loaded func(string) bool, dialect *db.Dialect) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url, loaded)
	if err != nil {
		t.Fatalf("open with the module: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if d.Dialect() != dialect {
		t.Errorf("dialect %s, want %s", d.Dialect(), dialect)
	}
	return d
}

// URLCase is a database URL and what a driver makes of it: the
// connection string it gives, or a part of the error it returns.
type URLCase struct {
	URL, Want, Err string
}

// CheckURLCases runs conv, a driver's translation of a parsed URL into
// its connection string, on each case.
func CheckURLCases(t *testing.T, cases []URLCase, conv func(*db.URL) (string, error)) {
	t.Helper()
	for _, tc := range cases {
		u, err := db.ParseURL(tc.URL)
		if err != nil {
			t.Fatalf("%s: %v", tc.URL, err)
		}
		got, err := conv(u)
		switch {
		case tc.Err != "":
			if err == nil || !strings.Contains(err.Error(), tc.Err) {
				t.Errorf("%s: error %v, want %q", tc.URL, err, tc.Err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.URL, err)
		case got != tc.Want:
			t.Errorf("%s:\n got %s\nwant %s", tc.URL, got, tc.Want)
		}
	}
}

// CheckConnLost checks the ConnLost of the driver of a URL scheme: true
// for each error of lost, false for each of kept.
func CheckConnLost(t *testing.T, scheme string, lost, kept []error) {
	t.Helper()
	checkClass(t, scheme, "ConnLost", db.Driver.ConnLost, lost, kept)
}

// CheckConflict checks the Conflict of the driver of a URL scheme: true
// for each error of conflict, false for each of other.
func CheckConflict(t *testing.T, scheme string, conflict, other []error) {
	t.Helper()
	checkClass(t, scheme, "Conflict", db.Driver.Conflict, conflict, other)
}

// checkClass checks a classification of errors by a driver.
func checkClass(t *testing.T, scheme, name string, class func(db.Driver, error) bool, yes, no []error) {
	t.Helper()
	drv, ok := db.LookupDriver(scheme)
	if !ok {
		t.Fatalf("%s scheme not registered", scheme)
	}
	for _, want := range []bool{true, false} {
		errs := yes
		if !want {
			errs = no
		}
		for _, err := range errs {
			if got := class(drv, err); got != want {
				t.Errorf("%s(%v) = %v, want %v", name, err, got, want)
			}
		}
	}
}
