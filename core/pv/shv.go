package pv

import (
	"sort"
	"sync"
	"sync/atomic"

	"sip-router.org/core/sr"
)

// SharedVars is the store behind $shv(name): variables shared by every
// message and worker of the server. It is safe for concurrent use. A
// variable that was never set reads as the integer 0, as in Kamailio,
// where $shv(x) is created with that value when the script names it.
type SharedVars struct {
	mu sync.RWMutex
	m  map[string]*shvCell
}

type shvCell struct {
	v atomic.Pointer[sr.Value]
}

// NewSharedVars returns an empty store.
func NewSharedVars() *SharedVars { return &SharedVars{m: map[string]*shvCell{}} }

// cell returns the variable's cell, creating it.
func (s *SharedVars) cell(name string) *shvCell {
	s.mu.RLock()
	c := s.m[name]
	s.mu.RUnlock()
	if c != nil {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.m[name]; c == nil {
		c = &shvCell{}
		s.m[name] = c
	}
	return c
}

func (c *shvCell) get() sr.Value {
	if p := c.v.Load(); p != nil {
		return *p
	}
	return sr.IntVal(0)
}

func (c *shvCell) set(v sr.Value) {
	if v.IsNull() {
		v = sr.IntVal(0)
	}
	c.v.Store(&v)
}

// Get returns the value of a variable and whether it exists.
func (s *SharedVars) Get(name string) (sr.Value, bool) {
	s.mu.RLock()
	c := s.m[name]
	s.mu.RUnlock()
	if c == nil {
		return sr.NullVal, false
	}
	return c.get(), true
}

// Set sets a variable, creating it. Setting null stores 0.
func (s *SharedVars) Set(name string, v sr.Value) { s.cell(name).set(v) }

// Names lists the variables, sorted.
func (s *SharedVars) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.m))
	for k := range s.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
