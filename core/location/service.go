// Package location is the contact store both usrloc modules are built on
// (modules_k/usrloc, keyed by AOR, and modules_s/usrloc, keyed by uid):
// per table, the contacts registered for each key, in memory (sharded by
// key hash) and, depending on the mode, in a database table: written at
// each change (write-through), by the timer (write-back), only there
// (DBOnly, Kamailio's db_mode 3), or loaded at start and never written
// (ReadOnly, SER's db_mode 3).
//
// What differs between the modules is a parameter (Config): the contact
// type and its compact form in memory (Pack, Unpack, the Extra fields),
// the SQL layout of the table, how contacts are told apart (by URI, or by
// URI and Call-ID), how a permanent contact is marked, the order of
// contacts. The modules keep their parameters, tables, RPCs and API.
package location

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
	"sip-router.org/core/stats"
)

// Mode is how the tables use the database.
type Mode uint8

// The modes.
const (
	// NoDB keeps the contacts in memory only (db_mode 0).
	NoDB Mode = iota
	// WriteThrough writes each change at once (db_mode 1); while the
	// database is away, the timer writes them once it is back.
	WriteThrough
	// WriteBack writes the changes from the timer and at shutdown
	// (db_mode 2).
	WriteBack
	// DBOnly keeps nothing in memory: every call reads and writes the
	// database (Kamailio's db_mode 3).
	DBOnly
	// ReadOnly loads the table at start and never writes it (SER's
	// db_mode 3).
	ReadOnly
)

// writes reports whether changes go to the database.
func (m Mode) writes() bool { return m == WriteThrough || m == WriteBack || m == DBOnly }

// Config are the parameters of a Service.
type Config[C any, X Extra[X]] struct {
	// Name is the module's name, for logs, errors and statistics.
	Name string
	// KeyName names the key in logs ("aor", "uid").
	KeyName string
	Mode    Mode
	// URL is the database URL (every mode but NoDB).
	URL string
	// Version is the version the tables must have.
	Version int
	// TimerInterval is the period of the expiry and flush pass.
	TimerInterval time.Duration
	// Shards is the number of slots of each table's hash.
	Shards int

	// ByCallID tells contacts apart by URI and Call-ID, not URI alone
	// (Kamailio's matching_mode 1).
	ByCallID bool
	// DescTimeOrder orders contacts by last change, the most recent
	// first, rather than by q.
	DescTimeOrder bool
	// UnsetQIsOne sorts a contact without q (-1) as q 1.0 (SER).
	UnsetQIsOne bool
	// PermanentFlag, when not 0, is the flag of a permanent contact
	// (SER's FL_PERMANENT); otherwise a contact with Expires 0 is
	// permanent.
	PermanentFlag uint32
	// MemFlag is the flag of a contact kept in memory only (FL_MEM).
	MemFlag uint32
	// SkipDelete leaves the rows of deleted and expired contacts in the
	// table (SER's db_skip_delete).
	SkipDelete bool
	// CountValidOnly counts, in the statistics, only the contacts that
	// serve lookups (SER); otherwise every contact in memory.
	CountValidOnly bool

	// Pack and Unpack convert the module's contacts to and from Entry.
	Pack   func(c *C) Entry[X]
	Unpack func(e *Entry[X]) C
	// Layout is the SQL shape of a table.
	Layout func(table string) *Layout[X]
}

// Service is a module's set of location tables, with the database and
// the timer that expires contacts and flushes changes.
type Service[C any, X Extra[X]] struct {
	cfg  Config[C, X]
	ru   rules
	hint string // the database tool's migrate command
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
	db   *db.DB
	reg  *stats.Registry

	mu     sync.Mutex
	tables map[string]*Table[C, X]
	strs   interner

	tickMu  sync.Mutex // one expiry/flush pass at a time
	timerWG sync.WaitGroup
	// dbAway is set when a database write failed because the server
	// could not be reached: write-through saves then leave their changes
	// to the timer, which clears it on its next successful pass.
	dbAway atomic.Bool
}

// Start opens the database (every mode but NoDB), registers the
// statistics and starts the timer: a module's Init. The service must be
// stopped with Stop, also when Start fails.
func Start[C any, X Extra[X]](env *module.InitEnv, cfg Config[C, X]) (*Service[C, X], error) {
	s := &Service[C, X]{cfg: cfg, tables: map[string]*Table[C, X]{}, reg: env.Stats, hint: env.MigrateHint()}
	s.ru = rules{byCallID: cfg.ByCallID, descTimeOrder: cfg.DescTimeOrder, unsetQIsOne: cfg.UnsetQIsOne,
		permanentFlag: cfg.PermanentFlag, memFlag: cfg.MemFlag}
	s.log = env.Log
	if s.log == nil {
		s.log = slog.Default()
	}
	parent := env.Ctx
	if parent == nil {
		parent = context.Background()
	}
	s.ctx, s.stop = context.WithCancel(parent)
	if cfg.Mode != NoDB {
		d, err := db.Open(s.ctx, cfg.URL, env.Loaded)
		if err != nil {
			return s, err
		}
		d.SetLogger(s.log)
		s.db = d
	}
	if s.reg != nil {
		s.reg.Gauge(cfg.Name, "registered_users", func() int64 {
			var n int64
			now := time.Now()
			for _, t := range s.Tables() {
				u, _ := t.Counts(now)
				n += u
			}
			return n
		})
	}
	s.timerWG.Add(1)
	go s.timer()
	return s, nil
}

// Stop stops the timer, writes what is pending (the shutdown flush of
// write-back, and what write-through could not write) and closes the
// database: a module's Destroy. A nil service is stopped.
func (s *Service[C, X]) Stop() {
	if s == nil || s.stop == nil {
		return
	}
	s.stop()
	s.timerWG.Wait()
	if s.db != nil {
		if s.cfg.Mode == WriteThrough || s.cfg.Mode == WriteBack {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if n, err := s.Flush(ctx); err != nil {
				s.log.Error(s.cfg.Name+": shutdown flush failed: changes not written are lost", "written", n, "error", err)
			} else if n > 0 {
				s.log.Info(s.cfg.Name+": shutdown flush", "written", n)
			}
			cancel()
		}
		s.db.Close()
		s.db = nil
	}
	s.stop = nil
}

// timer expires contacts and flushes every TimerInterval. In
// WriteThrough, while the database is away, it retries every second, so
// that the changes accepted meanwhile reach the database soon after it
// is back.
func (s *Service[C, X]) timer() {
	defer s.timerWG.Done()
	interval := s.cfg.TimerInterval
	t := time.NewTicker(min(interval, time.Second))
	defer t.Stop()
	last := time.Now()
	var lastWarn time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(last) < interval && !(s.cfg.Mode == WriteThrough && s.dbAway.Load()) {
				continue
			}
			last = now
			n, err := s.safeFlush()
			switch {
			case err != nil && s.ctx.Err() == nil:
				// Once a minute at most: an outage must not flood the log.
				if now.Sub(lastWarn) >= time.Minute {
					lastWarn = now
					s.log.Warn(s.cfg.Name+": timer: database write failed; retrying", "written", n, "error", err)
				}
			case err == nil && !lastWarn.IsZero():
				lastWarn = time.Time{}
				s.log.Info(s.cfg.Name+": timer: database writes work again", "written", n)
			}
		}
	}
}

// safeFlush is the timer's pass: a panic is logged, not fatal to the
// server.
func (s *Service[C, X]) safeFlush() (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error(s.cfg.Name+": panic in the timer", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("%s: panic in the timer: %v", s.cfg.Name, r)
		}
	}()
	return s.Flush(s.ctx)
}

// Flush runs one expiry and flush pass over every table, and returns
// the number of contacts written.
func (s *Service[C, X]) Flush(ctx context.Context) (int, error) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	now := time.Now()
	total := 0
	var errs []error
	for _, t := range s.Tables() {
		n, err := t.tick(ctx, now)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("table %s: %w", t.name, err))
			if dbDown(err) && t.mem != nil {
				s.dbAway.Store(true)
			}
		}
	}
	err := errors.Join(errs...)
	if err == nil && s.db != nil && s.dbAway.Load() {
		// Nothing written proves nothing: ask the server.
		if total == 0 {
			pctx, cancel := context.WithTimeout(ctx, s.db.Timeout())
			err = s.db.Ping(pctx)
			cancel()
		}
		if err == nil {
			s.dbAway.Store(false)
		}
	}
	return total, err
}

// FlushRPC is the ul.flush (usrloc.flush) command: a pass now, bounded
// by a minute, answering the number of contacts written.
func (s *Service[C, X]) FlushRPC() (any, error) {
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	n, err := s.Flush(ctx)
	if err != nil {
		return nil, fmt.Errorf("flush: %d contacts written: %w", n, err)
	}
	return map[string]any{"Written": n}, nil
}

// stmtCtx bounds one database write of a SIP worker by the statement
// timeout.
func (s *Service[C, X]) stmtCtx() (context.Context, context.CancelFunc) {
	t := db.DefaultTimeout
	if s.db != nil && s.db.Timeout() > 0 {
		t = s.db.Timeout()
	}
	return context.WithTimeout(s.ctx, t)
}

// Tables returns the tables, sorted by name.
func (s *Service[C, X]) Tables() []*Table[C, X] {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Table[C, X], 0, len(s.tables))
	for _, t := range s.tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Table returns the table of that name, if registered.
func (s *Service[C, X]) Table(name string) (*Table[C, X], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[name]
	return t, ok
}

// Register returns the table of that name, creating it: with a database
// after checking the table's version and (but in DBOnly) loading its
// rows. It registers the table's statistics: <name>-expires,
// <name>-users and <name>-contacts.
func (s *Service[C, X]) Register(name string) (*Table[C, X], error) {
	if s == nil || s.tables == nil {
		return nil, errors.New("location: the service is not started")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tables[name]; ok {
		return t, nil
	}
	t := &Table[C, X]{s: s, name: name}
	if s.cfg.Mode != DBOnly {
		t.mem = newMemTable[X](s.cfg.Shards)
	}
	if s.cfg.Mode != NoDB {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		if err := db.CheckVersion(ctx, s.db, name, s.cfg.Version, s.hint); err != nil {
			return nil, err
		}
		t.st = newStore(s.db, name, s.cfg.Layout(name), s.cfg.SkipDelete)
		if t.mem != nil {
			// Loading a big table outlasts the statement timeout.
			ls := *t.st
			ls.d = s.db.WithTimeout(5 * time.Minute)
			n, err := t.load(s.ctx, &ls)
			if err != nil {
				return nil, fmt.Errorf("%s: loading table %s: %w", s.cfg.Name, name, err)
			}
			s.log.Info(s.cfg.Name+": table loaded", "table", name, "contacts", n)
		}
	}
	if s.reg != nil {
		t.expired = s.reg.Counter(s.cfg.Name, name+"-expires")
		s.reg.Gauge(s.cfg.Name, name+"-users", func() int64 { u, _ := t.Counts(time.Now()); return u })
		s.reg.Gauge(s.cfg.Name, name+"-contacts", func() int64 { _, c := t.Counts(time.Now()); return c })
	} else {
		t.expired = &stats.Counter{}
	}
	s.tables[name] = t
	return t, nil
}
