// Package rpc is the registry of control commands (core.version, ul.dump,
// tm.stats …) that the control transports (mi_fifo, ctl) serve.
package rpc

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
)

// Request is one command call: the method name and its parameters, as the
// control transport delivered them (text).
type Request struct {
	Method string
	Params []string
}

// Int returns parameter i as an integer.
func (r *Request) Int(i int) (int, error) {
	if i >= len(r.Params) {
		return 0, fmt.Errorf("%w: parameter %d missing", ErrParams, i+1)
	}
	n, err := strconv.Atoi(r.Params[i])
	if err != nil {
		return 0, fmt.Errorf("%w: parameter %d: %q is not a number", ErrParams, i+1, r.Params[i])
	}
	return n, nil
}

// Str returns parameter i.
func (r *Request) Str(i int) (string, error) {
	if i >= len(r.Params) {
		return "", fmt.Errorf("%w: parameter %d missing", ErrParams, i+1)
	}
	return r.Params[i], nil
}

// ErrParams marks an error in the parameters of a call.
var ErrParams = errors.New("invalid parameters")

// ErrNoMethod is returned for an unknown method.
var ErrNoMethod = errors.New("command not found")

// Func runs a command. The result is a value that the transports can
// encode: nil, a string, a number, a bool, a []any or a map[string]any
// (nested freely).
type Func func(req *Request) (any, error)

// Method is a registered command.
type Method struct {
	Name string
	Doc  string
	Func Func
}

// Registry holds the commands of one running server.
type Registry struct {
	mu      sync.RWMutex
	methods map[string]Method
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{methods: map[string]Method{}} }

// Add registers a command. A second command with the same name is an error,
// as in Kamailio ("duplicate RPCs name detected").
func (r *Registry) Add(m Method) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.methods[m.Name]; dup {
		return fmt.Errorf("duplicate RPC name %q", m.Name)
	}
	r.methods[m.Name] = m
	return nil
}

// Call runs a command.
func (r *Registry) Call(req *Request) (any, error) {
	r.mu.RLock()
	m, ok := r.methods[req.Method]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoMethod, req.Method)
	}
	return m.Func(req)
}

// Lookup returns a command by name.
func (r *Registry) Lookup(name string) (Method, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.methods[name]
	return m, ok
}

// Names lists the registered commands, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.methods))
	for n := range r.methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
