package nonce

import "sync"

// table remembers the nonces this process issued, so that a nonce can be
// used once (one_time_nonce) or with a strictly increasing nonce count
// (nonce_count). It is bounded: when full, the oldest nonce is
// forgotten, and a forgotten nonce counts as stale (the client is
// challenged again with stale=true and retries without asking its user).
// Entries need no expiry of their own: an expired nonce is refused before
// the table is asked.
type table struct {
	shards [tableShards]shard
}

const tableShards = 16

type shard struct {
	mu    sync.Mutex
	idx   map[uint64]int32 // nonce id → slot
	slots []entry          // ring, allocated as it fills
	next  int
	size  int // capacity
}

type entry struct {
	id   uint64
	nc   uint32 // highest nonce count seen
	used bool   // used once (without qop)
}

// outcome of a check against the table.
type outcome uint8

const (
	accepted outcome = iota
	forgotten
	replay
)

func newTable(capacity int) *table {
	per := max(capacity/tableShards, 1)
	t := &table{}
	for i := range t.shards {
		t.shards[i].idx = map[uint64]int32{}
		t.shards[i].size = per
	}
	return t
}

func (t *table) shard(id uint64) *shard { return &t.shards[id%tableShards] }

// add records a newly issued nonce, forgetting the oldest one of its
// shard when the shard is full.
func (t *table) add(id uint64) {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.idx[id]; ok {
		return
	}
	if len(s.slots) < s.size {
		s.slots = append(s.slots, entry{id: id})
		s.idx[id] = int32(len(s.slots) - 1)
		return
	}
	old := s.slots[s.next]
	delete(s.idx, old.id)
	s.slots[s.next] = entry{id: id}
	s.idx[id] = int32(s.next)
	s.next = (s.next + 1) % s.size
}

// check tells whether a use of nonce id would be accepted: with useNC, nc
// must be above every nc seen for it; without, the nonce must be unused.
// A nonce used once without a count takes no count afterwards, and the
// other way round. commit records the use when it is accepted.
func (t *table) check(id uint64, useNC bool, nc uint32, commit bool) outcome {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.idx[id]
	if !ok {
		return forgotten
	}
	e := &s.slots[i]
	if useNC {
		if e.used || nc <= e.nc {
			return replay
		}
		if commit {
			e.nc = nc
		}
		return accepted
	}
	if e.used || e.nc > 0 {
		return replay
	}
	if commit {
		e.used = true
	}
	return accepted
}

// len counts the nonces remembered.
func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.idx)
		s.mu.Unlock()
	}
	return n
}
