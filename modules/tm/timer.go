package tm

import (
	"container/heap"
	"sync"
	"time"
)

// timerKind says what a timer does when it fires.
type timerKind uint8

const (
	// tRetr retransmits a branch request over UDP (RFC 3261 Timers A/E).
	tRetr timerKind = iota
	// tFR is a branch's final-response timer (fr_timer, fr_inv_timer;
	// Timers B/F as Kamailio implements them).
	tFR
	// tCancelRetr retransmits the hop-by-hop CANCEL of a branch over UDP.
	tCancelRetr
	// tReplyRetr retransmits the final non-2xx reply to an INVITE
	// upstream over UDP (Timer G).
	tReplyRetr
	// tWait ends the transaction: Timer H (waiting for the ACK), then the
	// wait timer (wt_timer; Timers I/J/K/D) before deletion.
	tWait
	// tLife bounds the time a transaction may stay without a final
	// reply (max_inv_lifetime, max_noninv_lifetime).
	tLife
)

// heavy reports whether a timer of this kind may run script routes
// (failure_route) and so runs on a timer worker, not on the timer
// goroutine.
func (k timerKind) heavy() bool { return k == tFR || k == tLife }

// init prepares a timer embedded in a transaction or branch.
func (t *timer) init(kind timerKind, tx *Tx, br *branch) {
	t.idx, t.kind, t.tx, t.br = -1, kind, tx, br
}

// timer is one scheduled event of a transaction. It lives inside the
// transaction or branch it belongs to, so scheduling allocates nothing.
// when, idx and gen are guarded by the wheel's mutex.
type timer struct {
	when time.Time
	idx  int    // position in the heap, -1 when not scheduled
	gen  uint64 // bumped by every set and stop: a popped entry whose gen changed is stale
	kind timerKind
	tx   *Tx
	br   *branch
}

type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.idx = -1
	*h = old[:n-1]
	return t
}

// fired is a timer taken off the heap with the generation it had then.
type fired struct {
	t   *timer
	gen uint64
}

// wheel is the module's single timer: a min-heap of deadlines served by
// one goroutine, which runs light handlers itself and hands the ones that
// may run script routes to a few workers. Its mutex is a leaf lock: it is
// taken with or without a transaction's mutex held, never the other way.
type wheel struct {
	mu     sync.Mutex
	h      timerHeap
	wake   chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
	work   chan fired
	fire   func(f fired)
	closed bool
	now    func() time.Time
}

func newWheel(fire func(fired), workers int) *wheel {
	w := &wheel{
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		work: make(chan fired, 4096),
		fire: fire,
		now:  time.Now,
	}
	w.done.Add(1 + workers)
	go w.run()
	for i := 0; i < workers; i++ {
		go w.worker()
	}
	return w
}

// set (re)schedules t to fire after d.
func (w *wheel) set(t *timer, d time.Duration) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	t.gen++
	t.when = w.now().Add(d)
	if t.idx >= 0 {
		heap.Fix(&w.h, t.idx)
	} else {
		heap.Push(&w.h, t)
	}
	first := t.idx == 0
	w.mu.Unlock()
	if first {
		w.kick()
	}
}

// stopTimer unschedules t; a copy already taken off the heap becomes stale.
func (w *wheel) stopTimer(t *timer) {
	w.mu.Lock()
	t.gen++
	if t.idx >= 0 {
		heap.Remove(&w.h, t.idx)
	}
	w.mu.Unlock()
}

// valid reports whether a popped timer is still the current one: nobody
// set or stopped it since.
func (w *wheel) valid(f fired) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return f.t.gen == f.gen && f.t.idx < 0
}

// retry puts a popped timer back d later, unless it was set or stopped
// since (used when its transaction is busy).
func (w *wheel) retry(f fired, d time.Duration) {
	w.mu.Lock()
	if f.t.gen != f.gen || f.t.idx >= 0 || w.closed {
		w.mu.Unlock()
		return
	}
	f.t.when = w.now().Add(d)
	heap.Push(&w.h, f.t)
	first := f.t.idx == 0
	w.mu.Unlock()
	if first {
		w.kick()
	}
}

// pending is the number of scheduled timers.
func (w *wheel) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.h)
}

func (w *wheel) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *wheel) run() {
	defer w.done.Done()
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	var due []fired
	for {
		w.mu.Lock()
		now := w.now()
		due = due[:0]
		for len(w.h) > 0 && !w.h[0].when.After(now) {
			t := heap.Pop(&w.h).(*timer)
			due = append(due, fired{t, t.gen})
		}
		next := time.Hour
		if len(w.h) > 0 {
			next = w.h[0].when.Sub(now)
		}
		w.mu.Unlock()
		for _, f := range due {
			if f.t.kind.heavy() {
				select {
				case w.work <- f:
				default:
					w.fire(f) // every worker busy: run it here (back-pressure)
				}
				continue
			}
			w.fire(f)
		}
		tm.Reset(next)
		select {
		case <-tm.C:
		case <-w.wake:
			if !tm.Stop() {
				select {
				case <-tm.C:
				default:
				}
			}
		case <-w.stop:
			return
		}
	}
}

func (w *wheel) worker() {
	defer w.done.Done()
	for {
		select {
		case f := <-w.work:
			w.fire(f)
		case <-w.stop:
			return
		}
	}
}

// close stops the goroutines and forgets every timer.
func (w *wheel) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	for _, t := range w.h {
		t.idx = -1
		t.gen++
	}
	w.h = nil
	w.mu.Unlock()
	close(w.stop)
	w.done.Wait()
}
