package sl

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sip-router.org/core/sipmsg"
)

// stats counts what the module sent. Workers update it concurrently.
type stats struct {
	class  [7]atomic.Int64 // [1..6]: replies per class
	byCode [len(countedCodes)]atomic.Int64
	failed atomic.Int64 // replies that could not be sent
	acks   atomic.Int64 // ACKs absorbed by the filter
}

// countedCodes are the codes counted one by one, as SER's sl.stats lists
// them.
var countedCodes = [...]int{200, 202, 300, 301, 302, 400, 401, 403, 404, 407, 408, 483, 500}

func (s *stats) count(code int) {
	if cl := code / 100; cl >= 1 && cl <= 6 {
		s.class[cl].Add(1)
	}
	for i, c := range countedCodes {
		if c == code {
			s.byCode[i].Add(1)
			return
		}
	}
}

// snapshot returns the counters as sl.stats shows them: "1xx" … "6xx" are
// the totals of each class, "200" … the replies with that exact code,
// "sent" all replies sent, "failed" the ones that could not be sent and
// "filtered_acks" the ACKs absorbed.
func (s *stats) snapshot() map[string]any {
	out := map[string]any{}
	var sent int64
	for cl := 1; cl <= 6; cl++ {
		n := s.class[cl].Load()
		sent += n
		out[strconv.Itoa(cl)+"xx"] = n
	}
	for i, c := range countedCodes {
		out[strconv.Itoa(c)] = s.byCode[i].Load()
	}
	out["sent"] = sent
	out["failed"] = s.failed.Load()
	out["filtered_acks"] = s.acks.Load()
	return out
}

// ackWindow is how long the ACK of a negative reply is expected: Timer H
// (64*T1) of the UAC's INVITE transaction.
const ackWindow = 32 * time.Second

// maxTags bounds the remembered To tags; beyond it new ones are not
// remembered (their ACKs then reach the script, which drops stray ACKs).
const maxTags = 1 << 16

// sentTags remembers the To tags of the negative replies to INVITEs sent
// in the last ackWindow.
type sentTags struct {
	mu    sync.Mutex
	m     map[string]time.Time // tag → expiry
	sweep int                  // size at which expired entries are removed
	last  time.Time            // last sweep
	now   func() time.Time
}

func newSentTags() *sentTags {
	return &sentTags{m: map[string]time.Time{}, sweep: 1024, now: time.Now}
}

func (t *sentTags) add(tag string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	// Sweep when the map has grown, and when it is full, at most once a
	// second (a full map of live tags is not swept on every reply).
	if len(t.m) >= t.sweep || (len(t.m) >= maxTags && now.Sub(t.last) >= time.Second) {
		t.last = now
		for k, exp := range t.m {
			if !now.Before(exp) {
				delete(t.m, k)
			}
		}
		t.sweep = max(1024, 2*len(t.m))
	}
	if _, ok := t.m[tag]; !ok && len(t.m) >= maxTags {
		return
	}
	t.m[tag] = now.Add(ackWindow)
}

func (t *sentTags) has(tag string) bool {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.m[tag]
	return ok && now.Before(exp)
}

// toTag is the To tag the core puts in this server's stateless replies.
var toTag = sipmsg.ToTag
