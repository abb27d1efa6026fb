package sr

import "strings"

// RouteType is the kind of route block a statement runs in. As a mask it
// says where a module function may be called.
type RouteType uint16

// Route types. EVENT routes accept what REQUEST routes accept, as in
// Kamailio, where EVENT_ROUTE equals REQUEST_ROUTE.
const (
	RouteRequest RouteType = 1 << iota
	RouteFailure
	RouteOnReply
	RouteBranch
	RouteOnSend
	RouteError
	RouteLocal
	RouteEvent

	// RouteAny allows a function everywhere.
	RouteAny RouteType = 0xffff
)

var routeNames = []struct {
	t    RouteType
	name string
}{
	{RouteRequest, "request_route"},
	{RouteFailure, "failure_route"},
	{RouteOnReply, "onreply_route"},
	{RouteBranch, "branch_route"},
	{RouteOnSend, "onsend_route"},
	{RouteError, "error_route"},
	{RouteLocal, "local_route"},
	{RouteEvent, "event_route"},
}

// String names a single route type, or lists the types in a mask.
func (t RouteType) String() string {
	if t == RouteAny {
		return "any route"
	}
	var parts []string
	for _, r := range routeNames {
		if t&r.t != 0 {
			parts = append(parts, r.name)
		}
	}
	if len(parts) == 0 {
		return "no route"
	}
	return strings.Join(parts, "|")
}

// Allows reports whether a function with mask t may run in a route of
// type rt. Event routes take what request routes take.
func (t RouteType) Allows(rt RouteType) bool {
	if rt == RouteEvent {
		return t&(RouteEvent|RouteRequest) != 0
	}
	return t&rt != 0
}
