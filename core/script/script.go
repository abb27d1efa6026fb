// Package script compiles a parsed configuration's route blocks into
// closures and runs them over messages.
//
// Compilation resolves everything once: every function call by name,
// argument count and route type (against the loaded modules and the core
// functions), every pseudo-variable, every route(NAME); module fixups run
// here. Errors are collected with their file:line:col. The result, a
// Script, is immutable and safe for any number of messages in parallel:
// all per-message state lives in the sr.Ctx each run receives.
//
// Return codes follow Kamailio: a function result > 0 is true, < 0 false,
// and 0 stops the script (as exit does). The last result is in $rc / $?.
package script

import (
	"fmt"
	"log/slog"

	"sip-router.org/core/sr"
)

// flow is what a statement tells its block to do next.
type flow uint8

const (
	flowNext   flow = iota
	flowBreak       // leave the enclosing switch or while (or the route)
	flowReturn      // leave the route with x.ret
	flowExit        // stop the script
)

// exec is the state of one script run over one message.
type exec struct {
	c     *sr.Ctx
	s     *Script
	ret   int
	exit  bool // set by exit, drop, a function returning 0
	depth int
}

type (
	stmtFn func(x *exec) flow
	exprFn func(x *exec) sr.Value
	condFn func(x *exec) bool
)

// route is a compiled route block.
type route struct {
	typ  sr.RouteType
	name string
	pos  sr.Pos
	body []stmtFn
	// compiled is false while a forward reference waits for the block.
	defined bool
}

// Script is a compiled configuration script.
type Script struct {
	routes map[routeKey]*route
	// maxWhile bounds while loops (max_while_loops, default 100).
	maxWhile int
	// maxDepth bounds nested route() calls.
	maxDepth int
	log      *slog.Logger
	regexes  regexCache
}

type routeKey struct {
	typ  sr.RouteType
	name string
}

// Has reports whether a route block of that type and name exists. The
// unnamed main route is (RouteRequest, "").
func (s *Script) Has(t sr.RouteType, name string) bool {
	r, ok := s.routes[routeKey{t, name}]
	return ok && r.defined
}

// Run runs a route block over c and returns its code: the value of its
// return, or 1 when it ends without one. A route that does not exist
// returns 1. After Run, c.RC holds the last action's result and
// c.Dropped tells whether drop ran.
func (s *Script) Run(c *sr.Ctx, t sr.RouteType, name string) int {
	r, ok := s.routes[routeKey{t, name}]
	if !ok || !r.defined {
		return 1
	}
	prev := c.RouteType
	c.RouteType = t
	x := &exec{c: c, s: s, ret: 1}
	x.runRoute(r)
	c.RouteType = prev
	return x.ret
}

// runRoute runs a block; a return inside it sets x.ret.
func (x *exec) runRoute(r *route) {
	x.ret = 1
	for _, st := range r.body {
		switch st(x) {
		case flowNext:
			continue
		case flowBreak:
			// break outside switch/while leaves the route, like return 0
			// without stopping the script.
			x.ret = 0
			return
		case flowReturn, flowExit:
			return
		}
	}
}

// callRoute runs a sub-route for route(NAME) and returns its value; a
// return inside it does not end the caller.
func (x *exec) callRoute(r *route, pos sr.Pos) int {
	if x.depth >= x.s.maxDepth {
		x.c.Log.Error("route nesting too deep; route call ignored", "route", r.name, "at", pos.String(), "depth", x.depth)
		return -1
	}
	x.depth++
	x.runRoute(r)
	x.depth--
	return x.ret
}

// String describes the script (routes defined).
func (s *Script) String() string {
	return fmt.Sprintf("script with %d routes", len(s.routes))
}
