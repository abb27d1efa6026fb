package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"sip-router.org/core/db"
)

func openFake(t *testing.T, url string) *db.DB {
	t.Helper()
	ctx, cancel := wait()
	defer cancel()
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestRetries(t *testing.T) {
	opErr := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	dl := deadlockErr{}
	for _, tc := range []struct {
		name      string
		errs      []error
		ok        bool
		calls     int
		retried   uint64
		conflicts uint64
	}{
		{"success", nil, true, 1, 0, 0},
		{"driver's lost connection retried", []error{lostErr{}}, true, 2, 1, 0},
		{"twice", []error{lostErr{}, lostErr{}}, true, 3, 2, 0},
		{"retries exhausted", []error{lostErr{}, lostErr{}, lostErr{}}, false, 3, 2, 0},
		{"unexpected EOF", []error{io.ErrUnexpectedEOF}, true, 2, 1, 0},
		{"connection reset", []error{opErr}, true, 2, 1, 0},
		{"wrapped", []error{fmt.Errorf("x: %w", lostErr{})}, true, 2, 1, 0},
		{"syntax error not retried", []error{errSyntax}, false, 1, 0, 0},
		{"lost then syntax", []error{lostErr{}, errSyntax}, false, 2, 1, 0},
		// Lock conflicts have their own budget, beyond the handle's 2
		// retries.
		{"deadlock retried", []error{dl}, true, 2, 0, 1},
		{"three deadlocks", []error{dl, dl, dl}, true, 4, 0, 3},
		{"deadlocks exhausted", []error{dl, dl, dl, dl}, false, 4, 0, 3},
		{"lost and deadlocks", []error{lostErr{}, dl, lostErr{}, dl}, true, 5, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openFake(t, "fake://h/retries")
			before, conflicts0 := d.Retried(), d.Conflicts()
			ctx, cancel := wait()
			defer cancel()
			for _, op := range []string{"exec", "query"} {
				fakeSQLite.reset(tc.errs...)
				var err error
				if op == "exec" {
					_, err = d.Exec(ctx, "UPDATE t SET x = 1")
				} else {
					var x int
					err = d.QueryRow(ctx, "SELECT x FROM t").Scan(&x)
					if err == nil && x != 1 {
						t.Errorf("query read %d", x)
					}
				}
				if (err == nil) != tc.ok {
					t.Errorf("%s: error %v, want ok=%v", op, err, tc.ok)
				}
				if calls, _, _, _ := fakeSQLite.stats(); calls != tc.calls {
					t.Errorf("%s: %d attempts, want %d", op, calls, tc.calls)
				}
				if got := d.Retried() - before; got != tc.retried {
					t.Errorf("%s: %d retries counted, want %d", op, got, tc.retried)
				}
				if got := d.Conflicts() - conflicts0; got != tc.conflicts {
					t.Errorf("%s: %d conflicts counted, want %d", op, got, tc.conflicts)
				}
				before, conflicts0 = d.Retried(), d.Conflicts()
			}
		})
	}
}

func TestWithRetriesZero(t *testing.T) {
	d := openFake(t, "fake://h/noretry").WithRetries(0)
	fakeSQLite.reset(lostErr{})
	ctx, cancel := wait()
	defer cancel()
	if _, err := d.Exec(ctx, "UPDATE t SET x = 1"); !errors.As(err, new(lostErr)) {
		t.Errorf("with no retries: %v", err)
	}
}

func TestConnLostClassification(t *testing.T) {
	for _, tc := range []struct {
		err  error
		lost bool
	}{
		{nil, false},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("pq: %w", syscall.EPIPE), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, false},
		{context.DeadlineExceeded, false},
		{fmt.Errorf("x: %w", context.Canceled), false},
		{errSyntax, false},
		{errors.New("Error 1062: Duplicate entry"), false},
	} {
		if got := db.ConnLost(tc.err); got != tc.lost {
			t.Errorf("ConnLost(%v) = %v, want %v", tc.err, got, tc.lost)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A statement that hangs (a frozen server, a driver ignoring its
// context) returns at its timeout.
func TestTimeoutAbandonsHungStatement(t *testing.T) {
	d := openFake(t, "fake://h/hang").WithTimeout(100 * time.Millisecond)
	block := make(chan struct{})
	defer close(block)
	fakeSQLite.reset()
	fakeSQLite.setBlock(block)
	defer fakeSQLite.setBlock(nil)
	for _, op := range []func() error{
		func() error { _, err := d.Exec(context.Background(), "UPDATE t SET x = 1"); return err },
		func() error { _, err := d.Query(context.Background(), "SELECT x FROM t"); return err },
	} {
		start := time.Now()
		err := op()
		took := time.Since(start)
		if !errors.Is(err, db.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("hung statement: %v", err)
		}
		if took > time.Second {
			t.Errorf("hung statement returned after %v, timeout 100ms", took)
		}
		if !strings.Contains(err.Error(), "timed out (timeout 100ms)") {
			t.Errorf("message: %v", err)
		}
	}
}

func TestRebindAndTimeArgs(t *testing.T) {
	d := openFake(t, "fakepg://h/rebind")
	fakePG.reset()
	ctx, cancel := wait()
	defer cancel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 999_000_000, time.FixedZone("X", 3600))
	if _, err := d.Exec(ctx, "UPDATE t SET a = ?, b = '?' WHERE c = ? AND d = ?", at, "x", sql.NullTime{Time: at, Valid: true}); err != nil {
		t.Fatal(err)
	}
	_, _, queries, args := fakePG.stats()
	if queries[0] != "UPDATE t SET a = $1, b = '?' WHERE c = $2 AND d = $3" {
		t.Errorf("rebound query %q", queries[0])
	}
	if got := args[0][0].Value.(time.Time); !got.Equal(time.Date(2030, 1, 2, 2, 4, 5, 0, time.UTC)) || got.Location() != time.UTC {
		t.Errorf("time argument %v, want UTC whole seconds", got)
	}
	if got := args[0][2].Value.(time.Time); !got.Equal(time.Date(2030, 1, 2, 2, 4, 5, 0, time.UTC)) {
		t.Errorf("NullTime argument %v, want UTC whole seconds", got)
	}
}

func TestPoolSharing(t *testing.T) {
	ctx, cancel := wait()
	defer cancel()
	_, opens0, _, _ := fakeSQLite.stats()
	d1, err := db.Open(ctx, "fake://h/shared", nil)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := db.Open(ctx, "fake://h/shared", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d1.SQL() != d2.SQL() {
		t.Error("two handles on one URL have two pools")
	}
	other, err := db.Open(ctx, "fake://h/other", nil)
	if err != nil {
		t.Fatal(err)
	}
	if other.SQL() == d1.SQL() {
		t.Error("two URLs share a pool")
	}
	other.Close()
	maint, err := db.OpenWith(ctx, "fake://h/shared", db.Options{Maintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	if maint.SQL() == d1.SQL() || maint.Timeout() != 0 {
		t.Errorf("a maintenance handle shares the pool or has a timeout (%v)", maint.Timeout())
	}
	maint.Close()
	if _, opens, _, _ := fakeSQLite.stats(); opens-opens0 != 3 {
		t.Errorf("%d pools opened, want 3", opens-opens0)
	}
	d1.Close()
	if err := d2.Ping(ctx); err != nil {
		t.Errorf("closing one handle broke the other: %v", err)
	}
	view := d2.WithTimeout(time.Second)
	view.Close() // a view does not own the pool
	if err := d2.Ping(ctx); err != nil {
		t.Errorf("closing a view closed the pool: %v", err)
	}
	d2.Close()
	if err := d2.SQL().Ping(); err == nil {
		t.Error("the pool stayed open after its last handle closed")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := wait()
	defer cancel()
	notLoaded := func(string) bool { return false }
	for _, tc := range []struct {
		url    string
		loaded func(string) bool
		want   string
		is     error
	}{
		{"foo://u:pw@h/d", nil, `unknown database scheme "foo" in db_url`, db.ErrUnknownScheme},
		{"mysql://u:pw@h/d", nil, `db_url: database scheme "mysql" needs module db_mysql, which is not built into this binary`, db.ErrUnknownScheme},
		{"fake://u:secret@h/d", notLoaded, `db_url "fake://u:***@h/d": module db_fake is not loaded (add loadmodule "db_fake.so")`, db.ErrNotLoaded},
		{"fake://u:secret@h", nil, `db_url "fake://u:***@h": no database name: the URL must end in /database`, nil},
	} {
		_, err := db.Open(ctx, tc.url, tc.loaded)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Open(%q):\n got %v\nwant %s", tc.url, err, tc.want)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("Open(%q): %v does not wrap %v", tc.url, err, tc.is)
		}
	}
	_, err := db.OpenParam(ctx, "db_url_ro", "foo://x/y", nil)
	if err == nil || err.Error() != `unknown database scheme "foo" in db_url_ro` {
		t.Errorf("OpenParam: %v", err)
	}
}

// A server that cannot be reached fails Open, and the pool is released.
func TestOpenPingFails(t *testing.T) {
	fakeSQLite.reset()
	fakeSQLite.setPingErr(errors.New("fake: no route to the password secret"))
	defer fakeSQLite.setPingErr(nil)
	_, opens0, _, _ := fakeSQLite.stats()
	ctx, cancel := wait()
	defer cancel()
	_, err := db.Open(ctx, "fake://u:secret@h/ping", nil)
	if err == nil || !strings.HasPrefix(err.Error(), `db_url "fake://u:***@h/ping": cannot connect: `) {
		t.Fatalf("open of an unreachable server: %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
	fakeSQLite.setPingErr(nil)
	d, err := db.Open(ctx, "fake://u:secret@h/ping", nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, opens, _, _ := fakeSQLite.stats(); opens-opens0 != 2 {
		t.Errorf("the failed open kept its pool (%d pools opened, want 2)", opens-opens0)
	}
}

func TestCheckURL(t *testing.T) {
	if err := db.CheckURL("db_url", "fake://u:pw@h:1/d"); err != nil {
		t.Error(err)
	}
	err := db.CheckURL("user_db_url", "fake://u:pw@h:0/d")
	if err == nil || err.Error() != `user_db_url "fake://u:***@h:0/d": bad port "0" (1..65535)` {
		t.Errorf("CheckURL: %v", err)
	}
}

func TestWithTx(t *testing.T) {
	d := openFake(t, "fake://h/tx")
	ctx, cancel := wait()
	defer cancel()
	runs := 0
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		runs++
		if runs == 1 {
			return fmt.Errorf("insert: %w", lostErr{})
		}
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)")
		return err
	})
	if err != nil || runs != 2 {
		t.Errorf("a transaction that lost its connection: %d runs, %v", runs, err)
	}
	// A deadlock runs the transaction again, up to ConflictRetries times,
	// beyond the handle's retries.
	runs = 0
	err = d.WithTx(ctx, func(tx *db.Tx) error {
		runs++
		if runs <= db.ConflictRetries {
			return fmt.Errorf("insert: %w", deadlockErr{})
		}
		return nil
	})
	if err != nil || runs != db.ConflictRetries+1 {
		t.Errorf("a transaction that lost %d lock conflicts: %d runs, %v", db.ConflictRetries, runs, err)
	}
	runs = 0
	err = d.WithTx(ctx, func(tx *db.Tx) error { runs++; return fmt.Errorf("insert: %w", deadlockErr{}) })
	if !errors.As(err, new(deadlockErr)) || runs != db.ConflictRetries+1 {
		t.Errorf("a transaction that always deadlocks: %d runs, %v", runs, err)
	}
	runs = 0
	err = d.WithTx(ctx, func(tx *db.Tx) error { runs++; return errSyntax })
	if !errors.Is(err, errSyntax) || runs != 1 {
		t.Errorf("a failing transaction: %d runs, %v", runs, err)
	}
}
