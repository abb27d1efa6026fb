package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

// Unavailable ends a test whose database server cannot be reached: a skip
// with the reason, or a failure under CI (SIPROUTER_CI=1), where every
// server must be there.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("SIPROUTER_CI") == "1" {
		t.Fatalf("%s (SIPROUTER_CI=1: the database server must be available)", msg)
	}
	t.Skipf("%s (set SIPROUTER_CI=1 to make this a failure)", msg)
}

// Backend is a database server as the suite needs it.
type Backend struct {
	// NewDatabase creates a fresh, empty database with a unique name and
	// returns its URL; it removes the database in t.Cleanup. It calls
	// Unavailable when the server cannot be reached.
	NewDatabase func(t *testing.T) string
	// KillConnections ends, on the server side, every connection to the
	// database of the URL, and returns once they are gone. Nil for
	// embedded databases.
	KillConnections func(t *testing.T, url string)
	// KillRunning waits until a statement containing marker runs and
	// kills its connection on the server side. Nil when not possible.
	KillRunning func(t *testing.T, marker string)
	// SlowSQL is a query that runs for about the given time (unless
	// interrupted) and returns one row.
	SlowSQL func(d time.Duration) string
	// Addr is the server's host:port as the URLs of NewDatabase write
	// it, for the outage test (through a Proxy). Empty for embedded
	// databases.
	Addr string
	// OwnRetry says that a connection killed during a statement fails
	// that statement with an error the layer itself retries (rather than
	// database/sql).
	OwnRetry bool
}

// Open opens a URL with no module check and closes it at the end of the
// test.
func Open(t testing.TB, url string) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Run runs the integration suite against a backend.
func Run(t *testing.T, b Backend) {
	t.Run("Versions", func(t *testing.T) { testVersions(t, b) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, b) })
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, b) })
	t.Run("ShapeFix", func(t *testing.T) { testShapeFix(t, b) })
	t.Run("DoneCondition", func(t *testing.T) { testDoneCondition(t, b) })
	t.Run("Transactions", func(t *testing.T) { testTx(t, b) })
	t.Run("Pool", func(t *testing.T) { testPool(t, b) })
	t.Run("StatementErrorsNotRetried", func(t *testing.T) { testNoRetry(t, b) })
	t.Run("Timeout", func(t *testing.T) { testTimeout(t, b) })
	if b.KillConnections != nil {
		t.Run("ReconnectIdle", func(t *testing.T) { testReconnectIdle(t, b) })
	}
	if b.KillRunning != nil {
		t.Run("ReconnectRunning", func(t *testing.T) { testReconnectRunning(t, b) })
	}
	if b.Addr != "" {
		t.Run("Outage", func(t *testing.T) { testOutage(t, b) })
		t.Run("Deadlock", func(t *testing.T) { testDeadlock(t, b) })
	}
}

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testVersions(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t))
	ctx := bg(t)
	// No version table yet: version 0, as Kamailio reads a missing row.
	if v, err := db.TableVersion(ctx, d, "location"); err != nil || v != 0 {
		t.Fatalf("TableVersion without version table = %d, %v; want 0, nil", v, err)
	}
	err := db.CheckVersion(ctx, d, "location", 1004, "kamdbctl create")
	want := "table location has no version (no row in table version), expected 1004: run kamdbctl create"
	if err == nil || err.Error() != want {
		t.Fatalf("CheckVersion on an empty database: %v\nwant: %s", err, want)
	}

	tables := []*schema.Table{Location(), Subscriber(), Commented()}
	if err := db.CreateTables(ctx, d, tables); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	for _, tc := range []struct {
		table string
		want  int
	}{{"location", 1004}, {"subscriber", 6}, {"commented", 2}, {"nothing", 0}} {
		if v, err := db.TableVersion(ctx, d, tc.table); err != nil || v != tc.want {
			t.Errorf("TableVersion(%s) = %d, %v; want %d", tc.table, v, err, tc.want)
		}
	}
	if err := db.CheckVersion(ctx, d, "location", 1004, "kamdbctl migrate"); err != nil {
		t.Errorf("CheckVersion after create: %v", err)
	}

	// The version table has Kamailio 4.0's unique key on table_name.
	if _, err := d.Exec(ctx, "INSERT INTO version (table_name, table_version) VALUES (?, ?)", "location", 1); err == nil {
		t.Error("a second version row for location was accepted: no unique key on table_name")
	}

	// Creating again is refused and changes nothing.
	err = db.CreateTables(ctx, d, []*schema.Table{Subscriber()})
	if !errors.Is(err, db.ErrTableExists) || !strings.Contains(err.Error(), "subscriber") {
		t.Errorf("CreateTables of an existing table: %v", err)
	}

	if err := db.SetVersion(ctx, d, "location", 1003); err != nil {
		t.Fatal(err)
	}
	err = db.CheckVersion(ctx, d, "location", 1004, "kamdbctl migrate")
	want = "table location has version 1003, expected 1004: run kamdbctl migrate"
	if err == nil || err.Error() != want || !errors.Is(err, db.ErrVersion) {
		t.Errorf("CheckVersion mismatch: %v\nwant: %s", err, want)
	}
	if v, _ := db.TableVersion(ctx, d, "location"); v != 1003 {
		t.Errorf("after SetVersion 1003: version %d", v)
	}

	// A failed CreateTables leaves nothing behind. The second table's
	// CREATE fails on the server: its default is a syntax error in every
	// dialect.
	bad := WidgetV1()
	bad.Name = "widget_bad"
	bad.Columns[2].Default = "1 +"
	err = db.CreateTables(ctx, d, []*schema.Table{WidgetV3(), bad})
	if err == nil {
		t.Fatal("CreateTables with an invalid default succeeded")
	}
	for _, name := range []string{"widget", "widget_bad"} {
		if ok, _ := db.TableExists(ctx, d, name); ok {
			t.Errorf("a failed CreateTables left table %s behind (%v)", name, err)
		}
	}
	if v, _ := db.TableVersion(ctx, d, "widget"); v != 0 {
		t.Errorf("a failed CreateTables left widget's version row (%d)", v)
	}
}

func testRoundTrip(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t))
	ctx := bg(t)
	if err := db.CreateTables(ctx, d, []*schema.Table{Location(), Subscriber()}); err != nil {
		t.Fatal(err)
	}
	// Defaults fill what the INSERT leaves out.
	if _, err := d.Exec(ctx, "INSERT INTO location (username, contact) VALUES (?, ?)", "alice", "sip:alice@127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	var (
		q        float64
		cseq     int
		callid   string
		expires  time.Time
		domain   *string
		received *string
	)
	err := d.QueryRow(ctx, "SELECT q, cseq, callid, expires, domain, received FROM location WHERE username = ?", "alice").
		Scan(&q, &cseq, &callid, &expires, &domain, &received)
	if err != nil {
		t.Fatal(err)
	}
	wantExp := time.Date(2020, 5, 28, 21, 32, 15, 0, time.UTC)
	if q != 1.0 || cseq != 13 || callid != "Default-Call-ID" || !expires.Equal(wantExp) || domain != nil || received != nil {
		t.Errorf("defaults: q=%v cseq=%d callid=%q expires=%v domain=%v received=%v", q, cseq, callid, expires, domain, received)
	}

	// Times go in as UTC, to the second, whatever their zone.
	zone := time.FixedZone("X", 5*3600+1800)
	at := time.Date(2031, 1, 2, 3, 4, 5, 678_000_000, zone)
	if _, err := d.Exec(ctx, "UPDATE location SET expires = ?, domain = ? WHERE username = ?", at, "example.org", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := d.QueryRow(ctx, "SELECT expires, domain FROM location WHERE username = ?", "alice").Scan(&expires, &domain); err != nil {
		t.Fatal(err)
	}
	if want := at.Truncate(time.Second); !expires.Equal(want) || domain == nil || *domain != "example.org" {
		t.Errorf("round trip: expires %v (want %v), domain %v", expires, want, domain)
	}
	// Comparisons with time arguments work in every dialect.
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM location WHERE expires > ?", at.Add(-time.Hour)).Scan(&n); err != nil || n != 1 {
		t.Errorf("expires > an hour before: %d rows, %v", n, err)
	}
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM location WHERE expires > ?", at.Add(time.Hour)).Scan(&n); err != nil || n != 0 {
		t.Errorf("expires > an hour after: %d rows, %v", n, err)
	}

	// Upsert on the unique key account_idx.
	up := d.Dialect().Upsert("subscriber", []string{"username", "domain"}, []string{"username", "domain", "password", "rpid"})
	for _, pw := range []string{"first", "second"} {
		if _, err := d.Exec(ctx, up, "bob", "example.org", pw, nil); err != nil {
			t.Fatalf("upsert %s: %v", pw, err)
		}
	}
	var pw string
	if err := d.QueryRow(ctx, "SELECT COUNT(*), MAX(password) FROM subscriber").Scan(&n, &pw); err != nil || n != 1 || pw != "second" {
		t.Errorf("after two upserts: %d rows, password %q, %v", n, pw, err)
	}
	// No row: sql.ErrNoRows, as database/sql.
	if err := d.QueryRow(ctx, "SELECT password FROM subscriber WHERE username = ?", "nobody").Scan(&pw); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("no row: %v", err)
	}
}

func testTx(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t))
	ctx := bg(t)
	if err := db.CreateTables(ctx, d, []*schema.Table{Subscriber()}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO subscriber (username, domain) VALUES (?, ?)", "rolled", "back"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WithTx returned %v, want boom", err)
	}
	err = d.WithTx(ctx, func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO subscriber (username, domain) VALUES (?, ?)", "kept", "here")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	rows, err := d.Query(ctx, "SELECT username FROM subscriber ORDER BY username")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		names = append(names, s)
	}
	rows.Close()
	if strings.Join(names, ",") != "kept" {
		t.Errorf("rows after a rolled back and a committed transaction: %q", names)
	}
}

// testDeadlock runs two transactions that update two rows in opposite
// orders, each waiting for the other to hold its first row: the server
// picks one as the deadlock victim, and WithTx must run it again, so
// both succeed and each leaves its mark on both rows.
func testDeadlock(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t))
	ctx := bg(t)
	if err := db.CreateTables(ctx, d, []*schema.Table{Subscriber()}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"first", "second"} {
		if _, err := d.Exec(ctx, "INSERT INTO subscriber (username, domain) VALUES (?, 'x')", u); err != nil {
			t.Fatal(err)
		}
	}
	conflicts0 := d.Conflicts()
	holding := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	errs := make(chan error, 2)
	for side, order := range [2][2]string{{"first", "second"}, {"second", "first"}} {
		go func() {
			runs := 0
			errs <- d.WithTx(ctx, func(tx *db.Tx) error {
				runs++
				// Each side writes a column of its own: the rows show
				// whether both committed.
				mark := fmt.Sprintf("by%d", side)
				upd := "UPDATE subscriber SET " + [2]string{"ha1", "ha1b"}[side] + " = ? WHERE username = ?"
				if _, err := tx.Exec(ctx, upd, mark, order[0]); err != nil {
					return err
				}
				if runs == 1 {
					// Both hold their first row before either asks for
					// its second.
					close(holding[side])
					select {
					case <-holding[1-side]:
					case <-time.After(10 * time.Second):
						return errors.New("the other transaction never took its first row")
					}
				}
				_, err := tx.Exec(ctx, upd, mark, order[1])
				return err
			})
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("a transaction of the deadlock failed: %v", err)
		}
	}
	if n := d.Conflicts() - conflicts0; n == 0 {
		t.Error("no lock conflict was counted: the transactions did not deadlock")
	}
	for _, u := range []string{"first", "second"} {
		var ha1, ha1b string
		if err := d.QueryRow(ctx, "SELECT ha1, ha1b FROM subscriber WHERE username = ?", u).Scan(&ha1, &ha1b); err != nil {
			t.Fatal(err)
		}
		if ha1 != "by0" || ha1b != "by1" {
			t.Errorf("row %s has ha1 %q and ha1b %q, want by0 and by1 (both transactions)", u, ha1, ha1b)
		}
	}
}

func testPool(t *testing.T, b Backend) {
	url := b.NewDatabase(t)
	ctx := bg(t)
	d1 := Open(t, url)
	d2 := Open(t, url)
	if d1.SQL() != d2.SQL() {
		t.Fatal("two handles on one URL do not share the pool")
	}
	d1.Close()
	d1.Close() // twice is harmless
	if err := d2.Ping(ctx); err != nil {
		t.Fatalf("the second handle stopped working when the first closed: %v", err)
	}
	d2.Close()
	if err := d2.SQL().PingContext(ctx); err == nil {
		t.Error("the pool is still open after its last handle closed")
	}
	d3 := Open(t, url)
	if d3.SQL() == d2.SQL() {
		t.Error("a closed pool was handed out again")
	}
}

func testNoRetry(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t))
	ctx := bg(t)
	if err := db.CreateTables(ctx, d, []*schema.Table{Subscriber()}); err != nil {
		t.Fatal(err)
	}
	before := d.Retried()
	if _, err := d.Exec(ctx, "SELEC 1"); err == nil {
		t.Error("a syntax error succeeded")
	} else if db.ConnLost(err) {
		t.Errorf("a syntax error is classified as a lost connection: %v", err)
	}
	ins := "INSERT INTO subscriber (username, domain) VALUES (?, ?)"
	if _, err := d.Exec(ctx, ins, "dup", "example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, ins, "dup", "example.org"); err == nil {
		t.Error("a duplicate key was accepted")
	}
	if _, err := d.Query(ctx, "SELECT no_such_column FROM subscriber"); err == nil {
		t.Error("an unknown column was accepted")
	}
	if got := d.Retried(); got != before {
		t.Errorf("statement errors were retried (%d retries)", got-before)
	}
	var n int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM subscriber").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows after a refused duplicate: %d, %v", n, err)
	}
}

func testTimeout(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t)).WithTimeout(200 * time.Millisecond)
	ctx := bg(t)
	start := time.Now()
	var x any
	err := d.QueryRow(ctx, b.SlowSQL(5*time.Second)).Scan(&x)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a 5 s statement with a 200 ms timeout succeeded after %v", took)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("the timeout took %v to cut the statement", took)
	}
	if !errors.Is(err, db.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout error %v does not wrap ErrTimeout and DeadlineExceeded", err)
	}
	// The handle still works.
	if err := d.WithTimeout(5*time.Second).QueryRow(ctx, "SELECT 1").Scan(&x); err != nil {
		t.Errorf("statement after a timeout: %v", err)
	}
}

func testReconnectIdle(t *testing.T, b Backend) {
	url := b.NewDatabase(t)
	d := Open(t, url).WithTimeout(5 * time.Second)
	ctx := bg(t)
	var one int
	if err := d.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	b.KillConnections(t, url)
	for i := 0; i < 3; i++ {
		if err := d.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("statement %d after the server killed the connections: %v", i+1, err)
		}
	}
}

func testReconnectRunning(t *testing.T, b Backend) {
	d := Open(t, b.NewDatabase(t)).WithTimeout(20 * time.Second).WithRetries(2)
	ctx := bg(t)
	before := d.Retried()
	marker := "running_kill_marker"
	q := strings.Replace(b.SlowSQL(1500*time.Millisecond), "SELECT", "SELECT /* "+marker+" */", 1)
	done := make(chan error, 1)
	go func() {
		var x any
		done <- d.QueryRow(ctx, q).Scan(&x)
	}()
	b.KillRunning(t, marker)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the statement whose connection was killed failed instead of running again: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the statement whose connection was killed did not return")
	}
	if b.OwnRetry && d.Retried() == before {
		t.Error("the layer did not count a retry")
	}
}

// testOutage: a frozen server (kill -STOP) and a stopped one never hold a
// statement beyond its timeout, and the handle works again, without being
// reopened, as soon as the server is back (R14).
func testOutage(t *testing.T, b Backend) {
	url := b.NewDatabase(t)
	p := NewProxy(t, b.Addr)
	if !strings.Contains(url, b.Addr) {
		t.Fatalf("URL %s does not name %s", url, b.Addr)
	}
	d := Open(t, strings.Replace(url, b.Addr, p.Addr(), 1))
	ctx := bg(t)
	if err := db.CreateTables(ctx, d, []*schema.Table{Subscriber()}); err != nil {
		t.Fatal(err)
	}
	upd := "UPDATE subscriber SET rpid = ? WHERE username = ?"
	short := d.WithTimeout(300 * time.Millisecond)
	// Every statement started during the freeze returns at its timeout.
	p.Freeze()
	start := time.Now()
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		go func() {
			_, err := short.Exec(ctx, upd, fmt.Sprint(i), "frozen")
			errs <- err
		}()
	}
	for i := 0; i < 5; i++ {
		if err := <-errs; !errors.Is(err, db.ErrTimeout) {
			t.Errorf("statement against a frozen server: %v", err)
		}
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("statements against a frozen server took %v (timeout 300ms)", took)
	}
	p.Thaw()
	if _, err := d.Exec(ctx, upd, "thawed", "x"); err != nil {
		t.Fatalf("statement after the freeze: %v", err)
	}

	// A stopped server: the statement fails fast.
	p.Stop()
	start = time.Now()
	if _, err := short.Exec(ctx, upd, "down", "x"); err == nil {
		t.Error("a statement succeeded with the server down")
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("a statement against a stopped server took %v", took)
	}
	// Back within 5 s, same handle.
	p.Start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := d.Exec(ctx, upd, "back", "x")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement succeeded within 5 s of the server's return: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
