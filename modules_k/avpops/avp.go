package avpops

import (
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
)

// AVPs live in the message's sr.AVPList, which $avp(...) and the SER
// attributes read too. The functions here search it with the rules the
// core's pseudo-variables use (see package pv): a name without a class is
// looked for in the URI, user, domain and global classes, in that order,
// in the from track unless a track is given; string names compare without
// case; an AVP without class or track bits counts as URI class, from
// track; a new value without a class goes to the URI class of the from
// track. Within a class the newest value comes first.

// avpRef names an AVP in an argument.
type avpRef struct {
	text  string
	name  sr.AVPName
	flags sr.AVPFlags // class and track written in the name; 0 for none
}

// walk calls fn for each AVP of the reference, in search order, until fn
// returns false.
func (r *avpRef) walk(l *sr.AVPList, fn func(a *sr.AVP) bool) {
	pv.AVPWalk(l, r.name, r.flags, fn)
}

// values returns the values of the reference in search order.
func (r *avpRef) values(c *sr.Ctx) []sr.Value {
	var out []sr.Value
	r.walk(c.AVPs, func(a *sr.AVP) bool { out = append(out, a.Val); return true })
	return out
}

// remove deletes the first n values in search order (all with n < 0) and
// returns how many went.
func (r *avpRef) remove(c *sr.Ctx, n int) int {
	if n == 0 {
		return 0
	}
	marked := 0
	mark := deleteMark(c.AVPs)
	r.walk(c.AVPs, func(a *sr.AVP) bool {
		a.Name = mark
		marked++
		return n < 0 || marked < n
	})
	if marked > 0 {
		c.AVPs.Delete(mark, 0, true)
	}
	return marked
}

// deleteMark is a name no AVP of the list has: sr.AVPList deletes by
// name, so the AVPs to delete are renamed to it first.
func deleteMark(l *sr.AVPList) sr.AVPName {
	mark := sr.AVPName{S: "\x00avpops:delete"}
	for {
		used := false
		l.Each(func(a *sr.AVP) bool {
			used = !a.Name.IsID && a.Name.S == mark.S
			return !used
		})
		if !used {
			return mark
		}
		mark.S += "!"
	}
}

// add pushes a value under the reference's name, with extra flag bits
// (the avpflags of a database load).
func (r *avpRef) add(c *sr.Ctx, v sr.Value, extra sr.AVPFlags) {
	addAVP(c, r.name, r.flags, v, extra)
}

// addAVP pushes a value with the class and track a name written with
// flags gets.
func addAVP(c *sr.Ctx, name sr.AVPName, flags sr.AVPFlags, v sr.Value, extra sr.AVPFlags) {
	if c.AVPs == nil {
		c.AVPs = sr.NewAVPList()
	}
	c.AVPs.Add(name, v, pv.AVPAddFlags(flags)|extra&^(sr.AVPClassMask|sr.AVPTrackMask))
}

// nameKind selects the AVPs of the from-track URI list by the kind of
// their name, as the name-less forms ("s", "i", "a") of avp_delete and
// avp_db_store do, and by avpflags bits.
type nameKind struct {
	strNames, intNames bool
	flags              sr.AVPFlags // avpflags the AVP must all have
}

func (k nameKind) match(a *sr.AVP) bool {
	if !pv.AVPInGroup(a, sr.AVPTrackFrom, sr.AVPClassURI) {
		return false
	}
	if a.Name.IsID && !k.intNames || !a.Name.IsID && !k.strNames {
		return false
	}
	return a.Flags&k.flags == k.flags
}

// removeKind deletes the first matching AVP, or all of them.
func removeKind(c *sr.Ctx, k nameKind, all bool) int {
	if c.AVPs == nil {
		return 0
	}
	n := 0
	mark := deleteMark(c.AVPs)
	c.AVPs.Each(func(a *sr.AVP) bool {
		if a.Name != mark && k.match(a) {
			a.Name = mark
			n++
			return all
		}
		return true
	})
	if n > 0 {
		c.AVPs.Delete(mark, 0, true)
	}
	return n
}
