// Package stats holds the server's statistics: named counters in groups
// ("tm:relayed_total"), registered by the core and the modules, read and
// reset over RPC (stats.get, stats.reset) as Kamailio's statistics are.
package stats

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Counter is one statistic. Counters are safe for concurrent use.
type Counter struct {
	v     atomic.Int64
	reset bool // whether stats.reset clears it (gauges do not reset)
	fn    func() int64
}

// Add adds n.
func (c *Counter) Add(n int64) {
	if c != nil {
		c.v.Add(n)
	}
}

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Value returns the current value.
func (c *Counter) Value() int64 {
	if c == nil {
		return 0
	}
	if c.fn != nil {
		return c.fn()
	}
	return c.v.Load()
}

// Registry holds the counters of one server.
type Registry struct {
	mu sync.RWMutex
	m  map[string]*Counter // "group:name"
}

// New returns an empty registry.
func New() *Registry { return &Registry{m: map[string]*Counter{}} }

// Counter registers (or returns the existing) counter group:name, cleared
// by stats.reset.
func (r *Registry) Counter(group, name string) *Counter {
	return r.add(group, name, &Counter{reset: true})
}

// Gauge registers a value read from fn (current transactions, contacts in
// memory); stats.reset leaves it.
func (r *Registry) Gauge(group, name string, fn func() int64) *Counter {
	return r.add(group, name, &Counter{fn: fn})
}

func (r *Registry) add(group, name string, c *Counter) *Counter {
	key := group + ":" + name
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.m[key]; ok {
		return old
	}
	r.m[key] = c
	return c
}

// Get returns the counters matching what: "all", a group ("tm:" or "tm"),
// or one counter ("tm:relayed_total"), as name → value.
func (r *Registry) Get(what string) (map[string]int64, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := map[string]int64{}
	for key, c := range r.m {
		if matches(key, what) {
			out[key] = c.Value()
		}
	}
	if len(out) == 0 && what != "all" {
		return nil, fmt.Errorf("no statistic matches %q", what)
	}
	return out, nil
}

// Reset clears the counters matching what (see Get); gauges keep their value.
func (r *Registry) Reset(what string) (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for key, c := range r.m {
		if matches(key, what) && c.reset {
			c.v.Store(0)
			n++
		}
	}
	if n == 0 && what != "all" {
		return 0, fmt.Errorf("no resettable statistic matches %q", what)
	}
	return n, nil
}

// Names lists every counter, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for k := range r.m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func matches(key, what string) bool {
	switch {
	case what == "" || what == "all":
		return true
	case strings.HasSuffix(what, ":"):
		return strings.HasPrefix(key, what)
	case strings.Contains(what, ":"):
		return key == what
	}
	return strings.HasPrefix(key, what+":") || strings.HasSuffix(key, ":"+what)
}
