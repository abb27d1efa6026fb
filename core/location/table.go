package location

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/stats"
)

// Table is one location table ("location", "aliases" …; Kamailio's
// udomain): records of contacts by key, in memory (every mode but
// DBOnly) with their rows in the database (every mode but NoDB). Its
// methods are safe for concurrent use.
type Table[C any, X Extra[X]] struct {
	s    *Service[C, X]
	name string
	mem  *memTable[X] // nil in DBOnly
	st   *store[X]    // nil in NoDB

	expired *stats.Counter
}

// Name is the table name.
func (t *Table[C, X]) Name() string { return t.name }

// Shards is the number of slots of the in-memory hash (0 in DBOnly).
func (t *Table[C, X]) Shards() int {
	if t.mem == nil {
		return 0
	}
	return len(t.mem.shards)
}

// Expired counts the contacts expired so far.
func (t *Table[C, X]) Expired() int64 { return t.expired.Value() }

// writes reports whether changes go to the database.
func (t *Table[C, X]) writes() bool { return t.st != nil && t.s.cfg.Mode.writes() }

func (t *Table[C, X]) opts(memOnly bool) applyOpts {
	return applyOpts{memOnly: memOnly, writes: t.writes(), in: &t.s.strs}
}

// Get returns the key's contacts: every one, expired ones included, in
// the order lookups serve them. found is false when the key has no
// contact at all (in DBOnly: no row).
func (t *Table[C, X]) Get(key string) (cs []C, found bool, err error) {
	if t.mem == nil {
		ctx, cancel := t.s.stmtCtx()
		defer cancel()
		es, err := t.st.loadKey(ctx, t.st.d, key)
		if err != nil {
			return nil, false, err
		}
		r := t.dbRecord(key, es)
		return live(r, t.s.cfg.Unpack), len(es) > 0, nil
	}
	sh := t.mem.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.recs[key]
	if r == nil {
		return nil, false, nil
	}
	cs = live(r, t.s.cfg.Unpack)
	return cs, len(cs) > 0, nil
}

// dbRecord makes a record of rows read from the database: duplicates
// (two rows of one contact key) merged, the most recent kept, in lookup
// order.
func (t *Table[C, X]) dbRecord(key string, es []Entry[X]) *record[X] {
	ru := &t.s.ru
	r := &record[X]{key: key}
	idx := map[string]int{}
	for _, e := range es {
		k := ru.key(e.URI, e.CallID)
		if i, ok := idx[k]; ok {
			if e.LastMod > r.contacts[i].LastMod {
				r.contacts[i] = contact[X]{Entry: e, state: stSync}
			}
			continue
		}
		idx[k] = len(r.contacts)
		r.contacts = append(r.contacts, contact[X]{Entry: e, state: stSync})
	}
	r.sort(ru)
	return r
}

func (t *Table[C, X]) pack(cs []C) []Entry[X] {
	if cs == nil {
		return nil
	}
	out := make([]Entry[X], len(cs))
	for i := range cs {
		out[i] = t.s.cfg.Pack(&cs[i])
	}
	return out
}

// Update changes the key's record atomically: fn receives a copy of its
// contacts (nil for a new key) and returns the contacts the record must
// hold. Contacts are told apart by their key (the URI, or URI and
// Call-ID with Config.ByCallID): a key missing from the result is
// deleted, a new one inserted, a changed one updated. fn runs with the
// record locked and must not block. memOnly keeps the changes out of the
// database. Update returns the contacts afterwards. An error of fn is
// returned as it is, with the contacts fn received, and nothing changes.
func (t *Table[C, X]) Update(key string, memOnly bool, fn func(cur []C) ([]C, error)) ([]C, error) {
	if t.mem == nil {
		return t.updateDB(key, fn)
	}
	r, out, changed, err := t.updateMem(key, memOnly, fn)
	if err != nil {
		return out, err
	}
	if changed && t.s.cfg.Mode == WriteThrough && !memOnly {
		t.writeThrough(r)
	}
	return out, nil
}

// updateMem is the in-memory part of Update, under the shard lock
// (released even if fn panics).
func (t *Table[C, X]) updateMem(key string, memOnly bool, fn func(cur []C) ([]C, error)) (*record[X], []C, bool, error) {
	sh := t.mem.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.recs[key]
	var cur []C
	if r != nil {
		cur = live(r, t.s.cfg.Unpack)
	}
	next, err := fn(cur)
	if err != nil {
		return nil, cur, false, err
	}
	if r == nil {
		if len(next) == 0 {
			return nil, nil, false, nil
		}
		r = &record[X]{key: strings.Clone(key)}
		sh.recs[r.key] = r
	}
	changed := r.apply(&t.s.ru, t.pack(next), t.opts(memOnly))
	out := live(r, t.s.cfg.Unpack)
	if len(r.contacts) == 0 {
		delete(sh.recs, r.key)
	}
	return r, out, changed, nil
}

// Delete removes every contact of the key.
func (t *Table[C, X]) Delete(key string, memOnly bool) error {
	_, err := t.Update(key, memOnly, func([]C) ([]C, error) { return nil, nil })
	return err
}

// updateDB is Update in DBOnly: the record is read, changed and written
// back in one transaction.
func (t *Table[C, X]) updateDB(key string, fn func(cur []C) ([]C, error)) ([]C, error) {
	ctx, cancel := context.WithTimeout(t.s.ctx, 2*t.st.d.Timeout()+time.Second)
	defer cancel()
	ru := &t.s.ru
	var out []C
	err := t.st.d.WithTx(ctx, func(tx *db.Tx) error {
		es, err := t.st.loadKey(ctx, tx, key)
		if err != nil {
			return err
		}
		r := t.dbRecord(key, es)
		next, err := fn(live(r, t.s.cfg.Unpack))
		if err != nil {
			return err
		}
		// Rows not kept in memory: apply as write-back would, then write
		// every pending contact.
		r.apply(ru, t.pack(next), t.opts(false))
		for i := range r.contacts {
			if c := &r.contacts[i]; pending(ru, c) {
				op := opFor(ru, r, c)
				if err := t.st.execOne(ctx, tx, &op); err != nil {
					return err
				}
			}
		}
		out = live(r, t.s.cfg.Unpack)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// writeThrough writes the record's pending contacts now. While the
// database is known to be away, it leaves them to the timer, so that
// requests do not each wait for a timeout.
func (t *Table[C, X]) writeThrough(r *record[X]) {
	if t.s.dbAway.Load() {
		return
	}
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	ops := t.snapshot(r)
	if len(ops) == 0 {
		return
	}
	ctx, cancel := t.s.stmtCtx()
	defer cancel()
	if err := t.st.exec(ctx, ops); err != nil {
		if dbDown(err) {
			t.s.dbAway.Store(true)
		}
		t.s.log.Warn(t.s.cfg.Name+": write-through failed; the timer retries", "table", t.name, t.s.cfg.KeyName, r.key, "error", err)
		return
	}
	t.done(ops)
}

// snapshot returns the writes a record needs, from a copy taken under
// the shard lock.
func (t *Table[C, X]) snapshot(r *record[X]) []op[X] {
	sh := t.mem.shard(r.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var ops []op[X]
	for i := range r.contacts {
		if c := &r.contacts[i]; pending(&t.s.ru, c) {
			ops = append(ops, opFor(&t.s.ru, r, c))
		}
	}
	return ops
}

// done records that writes reached the database: a contact unchanged
// since its snapshot is in sync (or, deleted, leaves memory); one changed
// meanwhile needs another write.
func (t *Table[C, X]) done(ops []op[X]) {
	ru := &t.s.ru
	for len(ops) > 0 {
		r := ops[0].rec
		n := 1
		for n < len(ops) && ops[n].rec == r {
			n++
		}
		sh := t.mem.shard(r.key)
		sh.mu.Lock()
		for _, o := range ops[:n] {
			i := slices.IndexFunc(r.contacts, func(c contact[X]) bool { return ru.key(c.URI, c.CallID) == o.key })
			if i < 0 {
				continue
			}
			c := &r.contacts[i]
			switch {
			case o.kind == opDelete && c.version == o.version:
				r.contacts = slices.Delete(r.contacts, i, i+1)
			case o.kind == opDelete:
				c.state = stNew // back since: its row is gone
			case c.version == o.version:
				c.state = stSync
			default:
				c.state = stDirty
			}
		}
		if len(r.contacts) == 0 && sh.recs[r.key] == r {
			delete(sh.recs, r.key)
		}
		sh.mu.Unlock()
		ops = ops[n:]
	}
}

// maxBatch bounds the contacts written in one transaction by a flush.
const maxBatch = 200

// tick expires contacts and, when the table writes to the database,
// writes what is pending (flushes). It returns the number of contacts
// written.
func (t *Table[C, X]) tick(ctx context.Context, now time.Time) (int, error) {
	if t.mem == nil {
		n, err := t.st.deleteExpired(ctx, now)
		t.expired.Add(n)
		return 0, err
	}
	ru := &t.s.ru
	writes := t.writes()
	keepRows := writes && !t.s.cfg.SkipDelete
	written := 0
	var batch []*record[X]
	var ops []op[X]
	defer func() { // records still locked if a panic cut the pass
		for _, r := range batch {
			r.dbMu.Unlock()
		}
	}()
	flushBatch := func() error {
		defer func() {
			for _, r := range batch {
				r.dbMu.Unlock()
			}
			batch, ops = batch[:0], ops[:0]
		}()
		if len(ops) == 0 {
			return nil
		}
		n, err := t.write(ctx, ops)
		written += n
		return err
	}
	for i := range t.mem.shards {
		sh := &t.mem.shards[i]
		var todo []*record[X]
		sh.mu.Lock()
		for key, r := range sh.recs {
			if n := r.expire(ru, now.Unix(), keepRows); n > 0 {
				t.expired.Add(int64(n))
			}
			if len(r.contacts) == 0 {
				delete(sh.recs, key)
				continue
			}
			if writes && slices.ContainsFunc(r.contacts, func(c contact[X]) bool { return pending(ru, &c) }) {
				todo = append(todo, r)
			}
		}
		sh.mu.Unlock()
		for _, r := range todo {
			r.dbMu.Lock()
			batch = append(batch, r)
			ops = append(ops, t.snapshot(r)...)
			if len(ops) >= maxBatch {
				if err := flushBatch(); err != nil {
					return written, err
				}
			}
		}
	}
	return written, flushBatch()
}

// write runs a flush batch. When the transaction fails with a statement
// error (the server is there), each record is written on its own, so
// that one bad contact does not hold the others back. It returns how
// many contacts reached the database.
func (t *Table[C, X]) write(ctx context.Context, ops []op[X]) (int, error) {
	err := t.st.exec(ctx, ops)
	if err == nil {
		t.done(ops)
		return len(ops), nil
	}
	if dbDown(err) || ctx.Err() != nil {
		return 0, err
	}
	written := 0
	var errs []error
	for len(ops) > 0 {
		n := 1
		for n < len(ops) && ops[n].rec == ops[0].rec {
			n++
		}
		if err := t.st.exec(ctx, ops[:n]); err != nil {
			if dbDown(err) {
				return written, err
			}
			errs = append(errs, err)
		} else {
			t.done(ops[:n])
			written += n
		}
		ops = ops[n:]
	}
	return written, errors.Join(errs...)
}

// load reads the table into memory (at start). Of two rows of one
// contact key the most recent is kept; rows without a key are skipped.
func (t *Table[C, X]) load(ctx context.Context, st *store[X]) (int, error) {
	ru := &t.s.ru
	n := 0
	err := st.loadAll(ctx, func(row row[X]) {
		if row.key == "" {
			return
		}
		sh := t.mem.shard(row.key)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		r := sh.recs[row.key]
		if r == nil {
			r = &record[X]{key: strings.Clone(row.key)}
			sh.recs[r.key] = r
		}
		var c contact[X]
		c.set(&row.c, &t.s.strs)
		c.version = 1
		c.state = stSync
		k := ru.key(c.URI, c.CallID)
		for i := range r.contacts {
			if ru.key(r.contacts[i].URI, r.contacts[i].CallID) == k {
				if c.LastMod > r.contacts[i].LastMod {
					r.contacts[i] = c
				}
				return
			}
		}
		r.contacts = append(r.contacts, c)
		n++
	})
	if err != nil {
		return n, err
	}
	for i := range t.mem.shards {
		sh := &t.mem.shards[i]
		sh.mu.Lock()
		for _, r := range sh.recs {
			r.sort(ru)
		}
		sh.mu.Unlock()
	}
	return n, nil
}

// Counts returns the records and the contacts in memory (0 in DBOnly):
// those not deleted, and with Config.CountValidOnly only those that
// serve lookups at now.
func (t *Table[C, X]) Counts(now time.Time) (users, contacts int64) {
	if t.mem == nil {
		return 0, 0
	}
	ru := &t.s.ru
	validOnly := t.s.cfg.CountValidOnly
	ts := now.Unix()
	for i := range t.mem.shards {
		sh := &t.mem.shards[i]
		sh.mu.Lock()
		for _, r := range sh.recs {
			n := int64(0)
			for j := range r.contacts {
				c := &r.contacts[j]
				if !c.deleted && (!validOnly || !expired(ru, c, ts)) {
					n++
				}
			}
			if n > 0 {
				users++
				contacts += n
			}
		}
		sh.mu.Unlock()
	}
	return users, contacts
}

// Record is a key with its contacts.
type Record[C any] struct {
	Key      string
	Contacts []C
}

// Records returns a copy of every record, sorted by key, for dumps. In
// DBOnly it reads the table.
func (t *Table[C, X]) Records() ([]Record[C], error) {
	var out []Record[C]
	if t.mem == nil {
		ctx, cancel := context.WithTimeout(t.s.ctx, 30*time.Second)
		defer cancel()
		byKey := map[string][]Entry[X]{}
		if err := t.st.loadAll(ctx, func(r row[X]) { byKey[r.key] = append(byKey[r.key], r.c) }); err != nil {
			return nil, err
		}
		for key, es := range byKey {
			out = append(out, Record[C]{Key: key, Contacts: live(t.dbRecord(key, es), t.s.cfg.Unpack)})
		}
	} else {
		for i := range t.mem.shards {
			sh := &t.mem.shards[i]
			sh.mu.Lock()
			for _, r := range sh.recs {
				if cs := live(r, t.s.cfg.Unpack); len(cs) > 0 {
					out = append(out, Record[C]{Key: r.key, Contacts: cs})
				}
			}
			sh.mu.Unlock()
		}
	}
	slices.SortFunc(out, func(a, b Record[C]) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
