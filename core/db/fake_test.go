package db_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"time"

	"sip-router.org/core/db"
)

// fake is a database driver scripted by the tests: each statement takes
// the next error of errs (nil: success), or blocks on block ignoring its
// context, as a frozen server would.
type fake struct {
	scheme  string
	dialect *db.Dialect
	retries int

	mu      sync.Mutex
	errs    []error
	calls   int
	queries []string
	args    [][]driver.NamedValue
	opens   int
	block   chan struct{}
	pingErr error
}

var (
	fakeSQLite = &fake{scheme: "fake", dialect: db.SQLite, retries: 2}
	fakePG     = &fake{scheme: "fakepg", dialect: db.Postgres, retries: 1}
)

func init() {
	db.RegisterDriver(fakeSQLite)
	db.RegisterDriver(fakePG)
}

// lostErr is the fake's own "connection lost" error (like MySQL's 1927).
type lostErr struct{}

func (lostErr) Error() string { return "fake: connection was killed" }

// deadlockErr is the fake's lock conflict (like MySQL's 1213).
type deadlockErr struct{}

func (deadlockErr) Error() string { return "fake: deadlock found" }

var errSyntax = errors.New("fake: syntax error")

func (f *fake) reset(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs, f.calls, f.queries, f.args, f.block, f.pingErr = errs, 0, nil, nil, nil, nil
}

func (f *fake) setBlock(c chan struct{}) {
	f.mu.Lock()
	f.block = c
	f.mu.Unlock()
}

func (f *fake) setPingErr(err error) {
	f.mu.Lock()
	f.pingErr = err
	f.mu.Unlock()
}

func (f *fake) stats() (calls, opens int, queries []string, args [][]driver.NamedValue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.opens, append([]string(nil), f.queries...), append([][]driver.NamedValue(nil), f.args...)
}

// next records a statement and returns its scripted outcome.
func (f *fake) next(query string, args []driver.NamedValue) error {
	f.mu.Lock()
	f.calls++
	f.queries = append(f.queries, query)
	f.args = append(f.args, args)
	block := f.block
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	return err
}

func (f *fake) Module() string                               { return "db_" + f.scheme }
func (f *fake) Schemes() []string                            { return []string{f.scheme} }
func (f *fake) Dialect() *db.Dialect                         { return f.dialect }
func (f *fake) Check(u *db.URL) error                        { return nil }
func (f *fake) ConnLost(err error) bool                      { return errors.As(err, new(lostErr)) }
func (f *fake) Conflict(err error) bool                      { return errors.As(err, new(deadlockErr)) }
func (f *fake) Settings() db.Settings                        { return db.Settings{Retries: f.retries} }
func (f *fake) Connect(context.Context) (driver.Conn, error) { return &fakeConn{f: f}, nil }
func (f *fake) Driver() driver.Driver                        { return fakeSQLDriver{} }

func (f *fake) Open(u *db.URL, _ bool) (*sql.DB, error) {
	f.mu.Lock()
	f.opens++
	f.mu.Unlock()
	return sql.OpenDB(f), nil
}

type fakeSQLDriver struct{}

func (fakeSQLDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("fake: use the connector")
}

type fakeConn struct{ f *fake }

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fake: no prepare") }
func (c *fakeConn) Close() error                        { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)           { return fakeTx{}, nil }

func (c *fakeConn) Ping(context.Context) error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.f.pingErr
}

func (c *fakeConn) ExecContext(_ context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.f.next(q, args); err != nil {
		return nil, err
	}
	return driver.RowsAffected(1), nil
}

func (c *fakeConn) QueryContext(_ context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.f.next(q, args); err != nil {
		return nil, err
	}
	return &fakeRows{}, nil
}

// The fake's connections are never bad: the scripted errors are the
// statements', which database/sql must hand to the layer.
func (c *fakeConn) IsValid() bool { return true }

type fakeTx struct{}

func (fakeTx) Commit() error   { return nil }
func (fakeTx) Rollback() error { return nil }

// fakeRows is one row with one column x = 1.
type fakeRows struct{ done bool }

func (r *fakeRows) Columns() []string { return []string{"x"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = int64(1)
	return nil
}

// wait is a short deadline for the fake's statements.
func wait() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}
