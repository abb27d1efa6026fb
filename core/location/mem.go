package location

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"
)

// Extra is what a module keeps of a contact besides the fields of Entry
// (Kamailio's path, cflags and methods; SER's aor, instance and
// server_id): a comparable struct whose Clone returns it with its
// strings copied, reusing those of old that are equal.
type Extra[X any] interface {
	comparable
	Clone(old X) X
}

// Entry is a contact as memory keeps it: compact (times in Unix seconds,
// no pointers besides the strings). The module converts its own contact
// type to and from it (Config.Pack, Config.Unpack).
type Entry[X Extra[X]] struct {
	URI, Received, CallID, UserAgent, Socket string

	// Expires is when the binding ends, Unix seconds. Without
	// Config.PermanentFlag, 0 is a permanent contact.
	Expires int64
	// LastMod is when the binding last changed, Unix seconds.
	LastMod int64
	// Q is the q value in thousandths, or -1 when not given.
	Q     int32
	CSeq  uint32
	Flags uint32
	X     X
}

// UnixOrZero is t in Unix seconds, or 0 for the zero time.
func UnixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// TimeOrZero is the time of Unix seconds s, or the zero time for 0.
func TimeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// CloneIfNew returns s, copied unless it equals old (then old is reused),
// so that memory never pins a parsed message's buffer.
func CloneIfNew(old, s string) string {
	if old == s {
		return old
	}
	return strings.Clone(s)
}

// Database state of a contact in memory (write-through and write-back),
// SER's CS_NEW, CS_SYNC and CS_DIRTY.
const (
	stNew   uint8 = iota // not in the database (or not known to be)
	stSync               // the database row holds this version
	stDirty              // the database row holds an older version
)

// contact is an Entry with its bookkeeping.
type contact[X Extra[X]] struct {
	Entry[X]
	// version counts changes, so that a database write done from a
	// snapshot knows whether the contact changed meanwhile.
	version uint32
	state   uint8
	// deleted marks a tombstone (SER's zombie states): gone for lookups,
	// its row still to be deleted from the database.
	deleted bool
}

// record is a key (AOR or uid) with its contacts, in lookup order.
type record[X Extra[X]] struct {
	key      string
	contacts []contact[X]
	// dbMu serialises the database writes of this record (write-through
	// saves and flushes), so that they reach the database in order.
	dbMu sync.Mutex
}

// shard is one slot of a table's hash.
type shard[X Extra[X]] struct {
	mu   sync.Mutex
	recs map[string]*record[X]
}

// memTable is the in-memory part of a table.
type memTable[X Extra[X]] struct {
	seed   maphash.Seed
	shards []shard[X]
}

func newMemTable[X Extra[X]](n int) *memTable[X] {
	t := &memTable[X]{seed: maphash.MakeSeed(), shards: make([]shard[X], max(n, 1))}
	for i := range t.shards {
		t.shards[i].recs = map[string]*record[X]{}
	}
	return t
}

func (t *memTable[X]) shard(key string) *shard[X] {
	h := maphash.String(t.seed, key)
	return &t.shards[h%uint64(len(t.shards))]
}

// rules are the parameters of the in-memory logic.
type rules struct {
	byCallID      bool
	descTimeOrder bool
	unsetQIsOne   bool
	permanentFlag uint32
	memFlag       uint32
}

// key is a contact's identity in a record: its URI, and its Call-ID
// with ByCallID.
func (ru *rules) key(uri, callID string) string {
	if ru.byCallID {
		return uri + "\x00" + callID
	}
	return uri
}

// expired reports whether a contact has expired at now (Unix seconds).
func expired[X Extra[X]](ru *rules, c *contact[X], now int64) bool {
	if ru.permanentFlag != 0 {
		return c.Flags&ru.permanentFlag == 0 && c.Expires <= now
	}
	return c.Expires != 0 && c.Expires <= now
}

// pending reports whether a contact needs a database write.
func pending[X Extra[X]](ru *rules, c *contact[X]) bool {
	return c.Flags&ru.memFlag == 0 && (c.deleted || c.state != stSync)
}

// set copies an entry's values in, cloning the strings so that memory
// never pins a parsed message's buffer.
func (c *contact[X]) set(n *Entry[X], in *interner) {
	c.URI = CloneIfNew(c.URI, n.URI)
	c.Received = CloneIfNew(c.Received, n.Received)
	c.CallID = CloneIfNew(c.CallID, n.CallID)
	c.UserAgent = in.get(n.UserAgent)
	c.Socket = in.get(n.Socket)
	c.Expires = n.Expires
	c.LastMod = n.LastMod
	c.Q = n.Q
	c.CSeq = n.CSeq
	c.Flags = n.Flags
	c.X = n.X.Clone(c.X)
}

// interner shares the copies of strings that many contacts repeat (user
// agents, sockets), up to a bound.
type interner struct {
	mu sync.Mutex
	m  map[string]string
}

const maxInterned = 4096

func (in *interner) get(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(in.m) < maxInterned {
		if in.m == nil {
			in.m = map[string]string{}
		}
		in.m[v] = v
	}
	return v
}

// live returns the record's contacts, tombstones left out, converted by
// unpack.
func live[C any, X Extra[X]](r *record[X], unpack func(*Entry[X]) C) []C {
	n := 0
	for i := range r.contacts {
		if !r.contacts[i].deleted {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]C, 0, n)
	for i := range r.contacts {
		if !r.contacts[i].deleted {
			out = append(out, unpack(&r.contacts[i].Entry))
		}
	}
	return out
}

// applyOpts says how apply treats deletions and the database.
type applyOpts struct {
	memOnly bool
	// writes: the table writes to a database, so deleted contacts that
	// may have a row become tombstones.
	writes bool
	in     *interner
}

// apply makes the record hold next (contacts told apart by their key),
// and reports whether anything changed.
func (r *record[X]) apply(ru *rules, next []Entry[X], o applyOpts) bool {
	idx := make(map[string]int, len(r.contacts))
	for i := range r.contacts {
		idx[ru.key(r.contacts[i].URI, r.contacts[i].CallID)] = i
	}
	seen := make([]bool, len(r.contacts))
	changed := false
	var memBit uint32
	if o.memOnly {
		memBit = ru.memFlag
	}
	for k := range next {
		n := next[k]
		key := ru.key(n.URI, n.CallID)
		i, ok := idx[key]
		if ok && i < len(seen) {
			if seen[i] {
				continue // a key given twice: the first wins
			}
			seen[i] = true
			c := &r.contacts[i]
			if !c.deleted {
				// An unchanged contact keeps its memory-only flag; a
				// changed one becomes memory-only or not with this change.
				m := n
				m.Flags = m.Flags&^ru.memFlag | c.Flags&ru.memFlag
				if c.Entry == m {
					continue
				}
			}
			n.Flags = n.Flags&^ru.memFlag | memBit
			c.deleted = false // a tombstone comes back: its row is still there
			c.set(&n, o.in)
			c.version++
			if c.state == stSync {
				c.state = stDirty
			}
			changed = true
			continue
		}
		if ok {
			continue // inserted just before in this loop
		}
		n.Flags = n.Flags&^ru.memFlag | memBit
		var c contact[X]
		c.set(&n, o.in)
		c.version = 1
		c.state = stNew
		r.contacts = append(r.contacts, c)
		idx[key] = len(r.contacts) - 1
		changed = true
	}
	// Contacts missing from next are deleted.
	kept := r.contacts[:0]
	for i := range r.contacts {
		c := r.contacts[i]
		if i < len(seen) && !seen[i] && !c.deleted {
			changed = true
			if !o.writes || o.memOnly || c.Flags&ru.memFlag != 0 {
				continue
			}
			c.deleted = true
			c.version++
		}
		kept = append(kept, c)
	}
	clear(r.contacts[len(kept):])
	r.contacts = kept
	if changed {
		r.sort(ru)
	}
	return changed
}

// sort orders contacts as lookup serves them: by q, highest first, the
// older first among equal q values (Kamailio inserts a new contact after
// those of its q); or, with desc_time_order, the most recently changed
// first.
func (r *record[X]) sort(ru *rules) {
	if ru.descTimeOrder {
		slices.SortStableFunc(r.contacts, func(a, b contact[X]) int { return cmpInt64(b.LastMod, a.LastMod) })
		return
	}
	q := func(c *contact[X]) int64 {
		if ru.unsetQIsOne && c.Q < 0 {
			return 1000 // SER's Q_UNSPECIFIED counts as 1.0 for the order of branches
		}
		return int64(c.Q)
	}
	slices.SortStableFunc(r.contacts, func(a, b contact[X]) int { return cmpInt64(q(&b), q(&a)) })
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// expire removes (or, when they may have a row to delete, turns into
// tombstones) the contacts expired at now, and returns how many expired.
func (r *record[X]) expire(ru *rules, now int64, keepRows bool) int {
	n := 0
	kept := r.contacts[:0]
	for i := range r.contacts {
		c := r.contacts[i]
		if !c.deleted && expired(ru, &c, now) {
			n++
			if !keepRows || c.Flags&ru.memFlag != 0 {
				continue
			}
			c.deleted = true
			c.version++
		}
		kept = append(kept, c)
	}
	clear(r.contacts[len(kept):])
	r.contacts = kept
	return n
}
