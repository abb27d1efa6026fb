package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// pool is one *sql.DB shared by every handle opened on the same URL.
type pool struct {
	key       string
	url       *URL
	drv       Driver
	sqldb     *sql.DB
	refs      int // guarded by poolsMu
	retries   atomic.Uint64
	conflicts atomic.Uint64

	// embedded: statements run on the caller's goroutine and are
	// prepared once (Settings.Embedded).
	embedded bool
	stmts    sync.Map // query text → *sql.Stmt
	nstmts   atomic.Int32
}

// prepared returns the kept statement of query q, preparing it on first
// use, or nil when the pool keeps none (not embedded, or MaxPrepared
// reached). A statement that fails to prepare is not kept; its error is
// the one running it would give.
func (p *pool) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if !p.embedded {
		return nil, nil
	}
	if st, ok := p.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	if p.nstmts.Load() >= MaxPrepared {
		return nil, nil
	}
	st, err := p.sqldb.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if old, loaded := p.stmts.LoadOrStore(q, st); loaded {
		_ = st.Close()
		return old.(*sql.Stmt), nil
	}
	p.nstmts.Add(1)
	return st, nil
}

// close closes the kept statements, then the pool.
func (p *pool) close() error {
	p.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		p.stmts.Delete(k)
		return true
	})
	return p.sqldb.Close()
}

var (
	poolsMu sync.Mutex
	pools   = map[string]*pool{}
)

// DB is a handle on a database: a connection pool shared by every module
// that opened the same URL, its dialect, and the statement defaults
// (timeout, retries). Statements take ? placeholders whatever the
// dialect; they are rewritten for PostgreSQL.
//
// Statements that fail because the connection was lost (the server went
// away, restarted, or killed the connection) run again, up to Retries
// times, on a fresh connection, within the same timeout, as Kamailio's
// db_mysql does. A statement that failed by itself (syntax, constraint) is
// never run again. database/sql also retries on its own when a pooled
// connection turns out dead before the statement is sent.
type DB struct {
	p       *pool
	timeout time.Duration
	retries int
	log     *slog.Logger
	owner   bool
	closed  atomic.Bool
}

// Open returns a handle on the database of a URL given in module parameter
// db_url. loaded tells whether a module is loaded by the configuration: a
// URL works only when its driver module is (loadmodule "db_mysql.so"), as
// in Kamailio; nil skips that check. Handles of one URL share one pool;
// Close releases the handle, the last one closes the pool. Open connects
// (and checks the connection) within the driver's statement timeout.
func Open(ctx context.Context, rawURL string, loaded func(module string) bool) (*DB, error) {
	return OpenWith(ctx, rawURL, Options{Loaded: loaded})
}

// OpenParam is Open for a URL from module parameter param.
func OpenParam(ctx context.Context, param, rawURL string, loaded func(module string) bool) (*DB, error) {
	return OpenWith(ctx, rawURL, Options{Param: param, Loaded: loaded})
}

// Options are the options of OpenWith.
type Options struct {
	// Param is the module parameter the URL comes from, for errors
	// (default "db_url").
	Param string
	// Loaded tells whether a module is loaded; nil skips the check.
	Loaded func(module string) bool
	// Maintenance opens a pool of its own without I/O timeouts and
	// without statement timeout (the context bounds statements), for
	// tools that migrate or load tables: an ALTER TABLE of a big table
	// outlasts the timeouts meant for SIP traffic.
	Maintenance bool
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, rawURL string, o Options) (*DB, error) {
	param := o.Param
	if param == "" {
		param = "db_url"
	}
	u, drv, err := driverFor(param, rawURL)
	if err != nil {
		return nil, err
	}
	if o.Loaded != nil && !o.Loaded(drv.Module()) {
		return nil, &URLError{Param: param, URL: u.String(), Err: &notLoadedError{drv.Module()}}
	}
	p, err := acquire(u, drv, o.Maintenance)
	if err != nil {
		return nil, &URLError{Param: param, URL: u.String(), Err: scrub(err, u.Password)}
	}
	s := drv.Settings()
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	d := &DB{p: p, timeout: s.Timeout, retries: max(s.Retries, 0), log: slog.Default(), owner: true}
	if o.Maintenance {
		d.timeout = 0
	}
	pingCtx := ctx
	if o.Maintenance {
		var cancel context.CancelFunc
		pingCtx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	if err := d.Ping(pingCtx); err != nil {
		d.Close()
		return nil, &URLError{Param: param, URL: u.String(), Err: fmt.Errorf("cannot connect: %w", scrub(err, u.Password))}
	}
	return d, nil
}

type notLoadedError struct{ module string }

func (e *notLoadedError) Error() string {
	return fmt.Sprintf("module %s is not loaded (add loadmodule \"%s.so\")", e.module, e.module)
}

func (e *notLoadedError) Unwrap() error { return ErrNotLoaded }

func acquire(u *URL, drv Driver, maintenance bool) (*pool, error) {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	key := u.Raw()
	if maintenance {
		key = "maintenance " + key
	}
	if p, ok := pools[key]; ok {
		p.refs++
		return p, nil
	}
	sqldb, err := drv.Open(u, maintenance)
	if err != nil {
		return nil, err
	}
	p := &pool{key: key, url: u, drv: drv, sqldb: sqldb, refs: 1, embedded: drv.Settings().Embedded}
	pools[key] = p
	return p, nil
}

// Close releases the handle. The pool closes when its last handle does.
// Closing twice, or closing a handle made by WithTimeout, does nothing.
func (d *DB) Close() error {
	if !d.owner || d.closed.Swap(true) {
		return nil
	}
	poolsMu.Lock()
	d.p.refs--
	last := d.p.refs == 0
	if last {
		delete(pools, d.p.key)
	}
	poolsMu.Unlock()
	if last {
		return d.p.close()
	}
	return nil
}

// WithTimeout returns a view of the handle whose statements have another
// timeout (migrations, bulk loads). The view shares the handle's pool and
// need not be closed.
func (d *DB) WithTimeout(t time.Duration) *DB {
	return &DB{p: d.p, timeout: t, retries: d.retries, log: d.log}
}

// WithRetries returns a view of the handle with another retry count.
func (d *DB) WithRetries(n int) *DB {
	return &DB{p: d.p, timeout: d.timeout, retries: max(n, 0), log: d.log}
}

// SetLogger sets the logger of retries (the module's logger). Call it
// before the handle is used.
func (d *DB) SetLogger(l *slog.Logger) {
	if l != nil {
		d.log = l
	}
}

// Dialect is the database's SQL dialect.
func (d *DB) Dialect() *Dialect { return d.p.drv.Dialect() }

// URL is the parsed URL (String hides the password).
func (d *DB) URL() *URL { return d.p.url }

// Timeout is the statement timeout.
func (d *DB) Timeout() time.Duration { return d.timeout }

// SQL is the underlying pool, for what the handle does not offer. Its
// statements bypass the timeout and the retries.
func (d *DB) SQL() *sql.DB { return d.p.sqldb }

// Retried counts the statements of the pool that ran again after a lost
// connection.
func (d *DB) Retried() uint64 { return d.p.retries.Load() }

// Conflicts counts the statements and transactions of the pool that ran
// again after a lost lock conflict.
func (d *DB) Conflicts() uint64 { return d.p.conflicts.Load() }

// ctx bounds a statement by the handle's timeout (or the caller's earlier
// deadline).
func (d *DB) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if d.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d.timeout)
}

// await runs op and returns its outcome, or the context's error as soon
// as the context is done: a driver that does not give up when the
// context ends (a server frozen mid-reply) cannot hold the caller beyond
// the timeout. An abandoned op finishes in the background, and release
// frees what it returns then. An embedded database ends its statements
// with their context, so its op runs on the caller's goroutine, without
// the hand-off to another one and back.
func await[T any](d *DB, ctx context.Context, op func() (T, error), release func(T)) (T, error) {
	if d.p.embedded {
		return op()
	}
	done := make(chan result[T], 1)
	go func() {
		v, err := op()
		done <- result[T]{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil && release != nil {
				release(r.v)
			}
		}()
		var zero T
		return zero, ctx.Err()
	}
}

type result[T any] struct {
	v   T
	err error
}

// ConflictRetries is how many times a statement or a transaction that
// lost a lock conflict (Driver.Conflict: a deadlock, a serialization
// failure) runs again, whatever the handle's Retries: the server undid
// it, so running it again is always safe.
const ConflictRetries = 3

// retry runs op within ctx, and again on a lost connection (up to the
// handle's Retries) or a lost lock conflict (up to ConflictRetries).
func retry[T any](d *DB, ctx context.Context, what string, op func() (T, error), release func(T)) (T, error) {
	r := rerun{d: d, op: what, backoff: true,
		lostMsg:     "database connection lost, retrying",
		conflictMsg: "database lock conflict, running the statement again"}
	for {
		v, err := await(d, ctx, op, release)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return v, d.timeoutErr(ctx, err)
		}
		wait, again := r.next(err)
		if !again {
			return v, err
		}
		if err := pause(ctx, wait); err != nil {
			return v, d.timeoutErr(ctx, err)
		}
	}
}

// rerun decides, for one statement (retry) or one transaction (WithTx),
// whether a failed run is followed by another: after a lost connection
// up to the handle's Retries, after a lost lock conflict up to
// ConflictRetries. It counts and logs each new run.
type rerun struct {
	d  *DB
	op string // logged when set
	// backoff: after the first new run for a lost connection, wait 100 ms
	// more for each (statements; a transaction starts again at once).
	backoff              bool
	lostMsg, conflictMsg string
	lost, conflicts      int
}

// next reports whether the run that failed with err is followed by
// another, and the pause before it.
func (r *rerun) next(err error) (wait time.Duration, again bool) {
	d := r.d
	switch {
	case d.connLost(err) && r.lost < d.retries:
		r.lost++
		d.p.retries.Add(1)
		d.log.Warn(r.lostMsg, r.logArgs(err)...)
		if r.backoff {
			// The first retry is immediate (a fresh connection usually
			// works); later ones give a restarting server a moment.
			wait = time.Duration(r.lost-1) * 100 * time.Millisecond
		}
		return wait, true
	case d.p.drv.Conflict(err) && r.conflicts < ConflictRetries:
		r.conflicts++
		d.p.conflicts.Add(1)
		d.log.Info(r.conflictMsg, r.logArgs(err)...)
		return conflictPause(r.conflicts), true
	}
	return 0, false
}

// logArgs are the attributes of a new run's log line.
func (r *rerun) logArgs(err error) []any {
	args := []any{"db", r.d.p.url.String()}
	if r.op != "" {
		args = append(args, "op", r.op)
	}
	return append(args, "attempt", r.lost+r.conflicts+1, "error", scrub(err, r.d.p.url.Password))
}

// conflictPause is the pause before the n-th new run after a lock
// conflict: a few milliseconds, random, so that the two sides of a
// deadlock do not meet again at once.
func conflictPause(n int) time.Duration {
	return time.Duration(1+rand.IntN(4*n)) * time.Millisecond
}

// pause waits for d, or less if ctx ends first (its error is returned).
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// connLost classifies an error: generic lost-connection cases, then the
// driver's own codes.
func (d *DB) connLost(err error) bool {
	return ConnLost(err) || d.p.drv.ConnLost(err)
}

// ErrTimeout is wrapped by errors of statements cut by their timeout (and
// context.DeadlineExceeded too, when the deadline was the cause).
var ErrTimeout = errors.New("database statement timed out")

func (d *DB) timeoutErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &timeoutError{timeout: d.timeout, err: err}
	}
	return err
}

type timeoutError struct {
	timeout time.Duration
	err     error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%v (timeout %s): %v", ErrTimeout, e.timeout, e.err)
}

func (e *timeoutError) Unwrap() []error { return []error{ErrTimeout, context.DeadlineExceeded, e.err} }

// normArgs makes time arguments UTC and whole seconds, so that the three
// dialects store and compare the same values (DATETIME has no zone).
func normArgs(args []any) []any {
	var out []any
	for i, a := range args {
		var v any
		switch t := a.(type) {
		case time.Time:
			v = t.UTC().Truncate(time.Second)
		case sql.NullTime:
			if t.Valid {
				t.Time = t.Time.UTC().Truncate(time.Second)
			}
			v = t
		default:
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = v
	}
	if out == nil {
		return args
	}
	return out
}

// Ping checks the connection, with retries.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	_, err := retry(d, ctx, "ping", func() (struct{}, error) { return struct{}{}, d.p.sqldb.PingContext(ctx) }, nil)
	return err
}

// Exec runs a statement that returns no rows.
func (d *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	q, args := d.Dialect().Rebind(query), normArgs(args)
	return retry(d, ctx, "exec", func() (sql.Result, error) { return d.exec(ctx, q, args) }, nil)
}

// exec runs a statement once, prepared when the pool keeps statements.
func (d *DB) exec(ctx context.Context, q string, args []any) (sql.Result, error) {
	st, err := d.p.prepared(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st != nil:
		return st.ExecContext(ctx, args...)
	}
	return d.p.sqldb.ExecContext(ctx, q, args...)
}

// query is exec for a statement that returns rows.
func (d *DB) query(ctx context.Context, q string, args []any) (*sql.Rows, error) {
	st, err := d.p.prepared(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st != nil:
		return st.QueryContext(ctx, args...)
	}
	return d.p.sqldb.QueryContext(ctx, q, args...)
}

// Rows is the result of Query. Close it (defer rows.Close()): that also
// releases the statement's timeout.
type Rows struct {
	*sql.Rows
	cancel context.CancelFunc
}

// Close closes the rows.
func (r *Rows) Close() error {
	err := r.Rows.Close()
	r.cancel()
	return err
}

func closeRows(r *sql.Rows) { _ = r.Close() }

// Query runs a statement that returns rows. The timeout covers reading
// them too.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	ctx, cancel := d.ctx(ctx)
	q, args := d.Dialect().Rebind(query), normArgs(args)
	rows, err := retry(d, ctx, "query", func() (*sql.Rows, error) { return d.query(ctx, q, args) }, closeRows)
	if err != nil {
		cancel()
		return nil, err
	}
	return &Rows{Rows: rows, cancel: cancel}, nil
}

// Row is the result of QueryRow.
type Row struct {
	rows *Rows
	err  error
}

// Err is the error of the query, if any.
func (r *Row) Err() error { return r.err }

// Scan copies the first row's columns into dest, as sql.Row.Scan does:
// sql.ErrNoRows when there is none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}

// QueryRow runs a statement that returns at most one row.
func (d *DB) QueryRow(ctx context.Context, query string, args ...any) *Row {
	rows, err := d.Query(ctx, query, args...)
	return &Row{rows: rows, err: err}
}

// Tx is a transaction. Its statements have the handle's timeout each, but
// are not retried: a lost connection aborts the transaction (WithTx runs
// it again).
type Tx struct {
	tx     *sql.Tx
	d      *DB
	cancel context.CancelFunc
}

// BeginTx starts a transaction. ctx bounds the whole transaction (no
// default timeout applies to it, only to its start and to each statement).
// Starting is retried on a lost connection.
func (d *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	deadline, cancel := d.ctx(ctx)
	defer cancel()
	return retry(d, deadline, "begin", func() (*Tx, error) {
		// sql.DB.BeginTx ties the transaction to the context it gets, so
		// the transaction gets the caller's context, cancelled only if
		// the start itself outlives the timeout.
		txCtx, txCancel := context.WithCancel(ctx)
		stop := context.AfterFunc(deadline, txCancel)
		t, err := d.p.sqldb.BeginTx(txCtx, opts)
		if !stop() {
			if err == nil {
				_ = t.Rollback()
				err = deadline.Err()
			}
			txCancel()
			return nil, err
		}
		if err != nil {
			txCancel()
			return nil, err
		}
		return &Tx{tx: t, d: d, cancel: txCancel}, nil
	}, func(t *Tx) { _ = t.Rollback() })
}

// Dialect is the database's SQL dialect.
func (t *Tx) Dialect() *Dialect { return t.d.Dialect() }

// Exec runs a statement that returns no rows.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := t.d.ctx(ctx)
	defer cancel()
	q, args := t.Dialect().Rebind(query), normArgs(args)
	res, err := await(t.d, ctx, func() (sql.Result, error) { return t.tx.ExecContext(ctx, q, args...) }, nil)
	if err != nil && ctx.Err() != nil {
		err = t.d.timeoutErr(ctx, err)
	}
	return res, err
}

// Query runs a statement that returns rows.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	ctx, cancel := t.d.ctx(ctx)
	q, args := t.Dialect().Rebind(query), normArgs(args)
	rows, err := await(t.d, ctx, func() (*sql.Rows, error) { return t.tx.QueryContext(ctx, q, args...) }, closeRows)
	if err != nil {
		if ctx.Err() != nil {
			err = t.d.timeoutErr(ctx, err)
		}
		cancel()
		return nil, err
	}
	return &Rows{Rows: rows, cancel: cancel}, nil
}

// QueryRow runs a statement that returns at most one row.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *Row {
	rows, err := t.Query(ctx, query, args...)
	return &Row{rows: rows, err: err}
}

// end commits or rolls back within the statement timeout.
func (t *Tx) end(op func() error) error {
	defer t.cancel()
	ctx, cancel := t.d.ctx(context.Background())
	defer cancel()
	_, err := await(t.d, ctx, func() (struct{}, error) { return struct{}{}, op() }, nil)
	if err != nil && ctx.Err() != nil {
		err = t.d.timeoutErr(ctx, err)
	}
	return err
}

// Commit commits the transaction.
func (t *Tx) Commit() error { return t.end(t.tx.Commit) }

// Rollback aborts the transaction; after Commit it does nothing.
func (t *Tx) Rollback() error {
	err := t.end(t.tx.Rollback)
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// WithTx runs fn in a transaction and commits it, or rolls it back when fn
// returns an error (which WithTx returns). When the connection is lost
// before the commit, the server has rolled the transaction back, and
// WithTx runs fn again in a new one, up to the handle's Retries; when
// the transaction lost a lock conflict (a deadlock, in fn or at the
// commit), it runs again up to ConflictRetries times. fn must therefore
// have no effect outside the transaction. A connection lost during the
// commit is not retried: whether it committed is unknown.
//
// With SQLite (one connection), fn must use tx only: a statement on the
// handle itself would wait for the connection fn holds, until its timeout.
func (d *DB) WithTx(ctx context.Context, fn func(tx *Tx) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	r := rerun{d: d,
		lostMsg:     "database connection lost in a transaction, running it again",
		conflictMsg: "database lock conflict in a transaction, running it again"}
	for {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err = fn(tx); err == nil {
			err = tx.Commit()
			if err == nil || !d.p.drv.Conflict(err) {
				return err
			}
		}
		_ = tx.Rollback()
		if ctx.Err() != nil {
			return err
		}
		wait, again := r.next(err)
		if !again {
			return err
		}
		if perr := pause(ctx, wait); perr != nil {
			return err
		}
	}
}

// Querier is what *DB and *Tx have in common: the functions of this
// package that read or change tables take either.
type Querier interface {
	Dialect() *Dialect
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)
