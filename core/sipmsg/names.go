package sipmsg

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// compact maps the RFC 3261 (and extension) compact header forms to their
// long names, lower-case.
var compact = map[string]string{
	"a": "accept-contact",
	"b": "referred-by",
	"c": "content-type",
	"d": "request-disposition",
	"e": "content-encoding",
	"f": "from",
	"i": "call-id",
	"j": "reject-contact",
	"k": "supported",
	"l": "content-length",
	"m": "contact",
	"n": "identity-info",
	"o": "event",
	"r": "refer-to",
	"s": "subject",
	"t": "to",
	"u": "allow-events",
	"v": "via",
	"x": "session-expires",
	"y": "identity",
}

// Canonical returns the canonical form of a header name: blanks around it
// removed, lower-cased, compact forms expanded. Every header lookup,
// removal and comparison in the project goes through it, so "X-Foo",
// "x-foo " and "X-Foo\t" are one name, and "v" is "via": a header cannot be
// smuggled past a removal by spelling its name differently.
func Canonical(name string) string {
	n := strings.ToLower(strings.Trim(name, " \t\r\n"))
	if long, ok := compact[n]; ok {
		return long
	}
	return n
}

// Same reports whether two header names are the same header.
func Same(a, b string) bool { return matches(a, Canonical(b)) }

// matches reports whether header name h is the canonical name want,
// without allocating.
func matches(h, want string) bool {
	h = strings.Trim(h, " \t\r\n")
	if len(h) == 1 {
		c := h[0] | 0x20
		if long, ok := compact[string(c)]; ok {
			return long == want
		}
	}
	return strings.EqualFold(h, want)
}

// Headers returns every header of msg with the given name, in order.
func Headers(msg sip.Message, name string) []sip.Header {
	want := Canonical(name)
	var out []sip.Header
	for _, h := range allHeaders(msg) {
		if matches(h.Name(), want) {
			out = append(out, h)
		}
	}
	return out
}

// Header returns the first header with the given name, or nil.
func Header(msg sip.Message, name string) sip.Header {
	want := Canonical(name)
	for _, h := range allHeaders(msg) {
		if matches(h.Name(), want) {
			return h
		}
	}
	return nil
}

// Has reports whether msg has a header with that name.
func Has(msg sip.Message, name string) bool { return Header(msg, name) != nil }

// Remove deletes every header with the given name and returns how many.
func Remove(msg sip.Message, name string) int {
	want := Canonical(name)
	n := 0
	for {
		found := ""
		for _, h := range allHeaders(msg) {
			if matches(h.Name(), want) {
				found = h.Name()
				break
			}
		}
		if found == "" {
			return n
		}
		removeFirst(msg, found)
		n++
	}
}

func allHeaders(msg sip.Message) []sip.Header {
	switch m := msg.(type) {
	case *sip.Request:
		return m.Headers()
	case *sip.Response:
		return m.Headers()
	}
	return nil
}

func removeFirst(msg sip.Message, name string) {
	switch m := msg.(type) {
	case *sip.Request:
		m.RemoveHeader(name)
	case *sip.Response:
		m.RemoveHeader(name)
	}
}
