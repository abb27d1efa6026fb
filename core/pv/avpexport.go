package pv

import "sip-router.org/core/sr"

// The AVP search rules of $avp(...), exported for the modules that work on
// the same list: avpops (Kamailio) and the SER attribute modules. One set
// of rules keeps a value that one of them writes where the others look.

// AVPScope returns the track and the classes, in search order, that a
// name written with flags looks in: the from track when flags has no
// track; the URI, user, domain and global classes when it has no class.
func AVPScope(flags sr.AVPFlags) (track sr.AVPFlags, classes []sr.AVPFlags) {
	return scope(flags)
}

// AVPInGroup reports whether a belongs to class in track: an AVP without
// class or track bits counts as URI class, from track; a global AVP is in
// both tracks.
func AVPInGroup(a *sr.AVP, track, class sr.AVPFlags) bool {
	return avpMatch(a, a.Name, track, class)
}

// AVPWalk calls fn for every AVP of name (string names compare without
// case) within the scope of flags, class by class in search order, the
// newest first within a class, until fn returns false.
func AVPWalk(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, fn func(a *sr.AVP) bool) {
	avpWalk(l, name, flags, fn)
}

// AVPAddFlags returns the class and track bits a new AVP written with
// flags gets: one class (URI when none), one track (from when none or
// both); a global AVP gets both tracks. Other bits of flags are dropped.
func AVPAddFlags(flags sr.AVPFlags) sr.AVPFlags {
	return addFlags(flags)
}

// AVPDelete removes the first AVP of name in search order within the
// scope of flags, or all of them, and returns how many it removed.
func AVPDelete(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, all bool) int {
	return avpDelete(l, name, flags, all)
}
