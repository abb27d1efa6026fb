package pv

import (
	"fmt"
	"strconv"
	"strings"

	"sip-router.org/core/sr"
)

// AVPs are kept in c.AVPs (an sr.AVPList) with class and track bits, and
// searched the way SER 3.0's usr_avp.c does it, so that Kamailio's
// $avp(x) and SER's attributes address the same values:
//
//   - A name without a class searches the URI, user, domain and global
//     classes in that order; without a track it searches the from track.
//     Within a class the newest value comes first.
//   - A value added without a class goes to the URI class, without a
//     track to the from track. Global values belong to both tracks.
//   - String names compare case-insensitively, as strncasecmp does there.
//   - An AVP stored with no class or track bits (added directly by a
//     module) counts as URI class, from track.

// avpIdent names an AVP and the part of the list it lives in.
type avpIdent struct {
	name  sr.AVPName
	flags sr.AVPFlags // track and class bits as written; 0 when none
	dyn   *Spec       // $avp($var(x)): the name comes from a PV
}

const avpTrackAll = sr.AVPTrackFrom | sr.AVPTrackTo

// attrPrefixes are the SER track/class prefixes ($fu.x …).
var attrPrefixes = map[string]sr.AVPFlags{
	"f":  sr.AVPTrackFrom,
	"t":  sr.AVPTrackTo,
	"fr": sr.AVPTrackFrom | sr.AVPClassURI,
	"tr": sr.AVPTrackTo | sr.AVPClassURI,
	"fu": sr.AVPTrackFrom | sr.AVPClassUser,
	"tu": sr.AVPTrackTo | sr.AVPClassUser,
	"fd": sr.AVPTrackFrom | sr.AVPClassDomain,
	"td": sr.AVPTrackTo | sr.AVPClassDomain,
	"g":  avpTrackAll | sr.AVPClassGlobal,
}

func isAttrPrefix(p string) bool {
	_, ok := attrPrefixes[p]
	return ok
}

// parseAVPName parses an AVP name as parse_avp_ident does (no alias
// lookup): "i:10", "s:name", "name", or a SER ident "f.did", "tu.uid".
func parseAVPName(s string) (avpIdent, error) {
	var id avpIdent
	if s == "" {
		return id, fmt.Errorf("empty AVP name")
	}
	if len(s) >= 2 && s[1] == ':' {
		rest := s[2:]
		if rest == "" {
			return id, fmt.Errorf("empty AVP name after %q", s[:2])
		}
		switch s[0] {
		case 's', 'S':
			id.name = sr.AVPName{S: rest}
			return id, nil
		case 'i', 'I':
			n, err := strconv.ParseUint(rest, 10, 31)
			if err != nil {
				return id, fmt.Errorf("AVP id %q is not a number: %w", rest, err)
			}
			id.name = sr.AVPName{ID: int(n), IsID: true}
			return id, nil
		}
		return id, fmt.Errorf("unknown AVP name type %q (use i: or s:)", s[:1])
	}
	if strings.ContainsAny(s, "[]/") {
		return id, fmt.Errorf("invalid character in AVP name %q", s)
	}
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		f, ok := attrPrefixes[s[:dot]]
		if !ok {
			return id, fmt.Errorf("unknown AVP class prefix %q in %q (use f, t, fr, tr, fu, tu, fd, td or g)", s[:dot], s)
		}
		name := s[dot+1:]
		if name == "" {
			return id, fmt.Errorf("no AVP name after %q", s[:dot+1])
		}
		if strings.IndexByte(name, '.') >= 0 {
			return id, fmt.Errorf("invalid AVP name %q", s)
		}
		id.flags = f
		s = name
	}
	id.name = sr.AVPName{S: s}
	return id, nil
}

// parseAVPInner parses the name of $avp(...): a PV giving the name, an
// alias, or an AVP name.
func (r *Registry) parseAVPInner(inner string, mode Compat, text string) (avpIdent, error) {
	s := strings.TrimSpace(inner)
	if strings.HasPrefix(s, "$") {
		sp, err := r.Parse(s, mode)
		if err != nil {
			return avpIdent{}, fmt.Errorf("%s: name: %w", text, err)
		}
		return avpIdent{dyn: sp}, nil
	}
	if strings.IndexByte(s, ':') < 0 {
		if id, ok := r.aliases[strings.ToLower(s)]; ok {
			return id, nil
		}
	}
	id, err := parseAVPName(s)
	if err != nil {
		return id, synErrf("%s: %w", text, err)
	}
	return id, nil
}

// resolve returns the AVP name for a message.
func (id *avpIdent) resolve(c *sr.Ctx) (sr.AVPName, bool) {
	if id.dyn == nil {
		return id.name, true
	}
	v := id.dyn.Get(c)
	switch v.K {
	case sr.Int:
		return sr.AVPName{ID: v.I, IsID: true}, true
	case sr.Str:
		if v.S != "" {
			return sr.AVPName{S: v.S}, true
		}
	}
	return sr.AVPName{}, false
}

var classOrder = [4]sr.AVPFlags{sr.AVPClassURI, sr.AVPClassUser, sr.AVPClassDomain, sr.AVPClassGlobal}

// scope returns the track and the classes, in search order, of an AVP
// written with flags.
func scope(flags sr.AVPFlags) (sr.AVPFlags, []sr.AVPFlags) {
	track := flags & sr.AVPTrackMask
	if track == 0 {
		track = sr.AVPTrackFrom
	}
	switch flags & sr.AVPClassMask {
	case sr.AVPClassURI:
		return track, classOrder[0:1]
	case sr.AVPClassUser:
		return track, classOrder[1:2]
	case sr.AVPClassDomain:
		return track, classOrder[2:3]
	case sr.AVPClassGlobal:
		return track, classOrder[3:4]
	}
	return track, classOrder[:]
}

// addFlags are the bits a new AVP written with flags gets.
func addFlags(flags sr.AVPFlags) sr.AVPFlags {
	cl := flags & sr.AVPClassMask
	switch {
	case cl == 0:
		cl = sr.AVPClassURI
	case cl&sr.AVPClassURI != 0:
		cl = sr.AVPClassURI
	case cl&sr.AVPClassUser != 0:
		cl = sr.AVPClassUser
	case cl&sr.AVPClassDomain != 0:
		cl = sr.AVPClassDomain
	default:
		return sr.AVPClassGlobal | avpTrackAll
	}
	tr := flags & sr.AVPTrackMask
	if tr == 0 || tr == avpTrackAll {
		tr = sr.AVPTrackFrom
	}
	return cl | tr
}

func avpMatch(a *sr.AVP, name sr.AVPName, track, class sr.AVPFlags) bool {
	if a.Name.IsID != name.IsID {
		return false
	}
	if name.IsID {
		if a.Name.ID != name.ID {
			return false
		}
	} else if !strings.EqualFold(a.Name.S, name.S) {
		return false
	}
	ac := a.Flags & sr.AVPClassMask
	if ac == 0 {
		ac = sr.AVPClassURI
	}
	if ac&class == 0 {
		return false
	}
	if class == sr.AVPClassGlobal {
		return true
	}
	at := a.Flags & sr.AVPTrackMask
	if at == 0 {
		at = sr.AVPTrackFrom
	}
	return at&track != 0
}

// avpWalk calls fn for every AVP of name within flags' scope, in search
// order, until fn returns false.
func avpWalk(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, fn func(a *sr.AVP) bool) {
	if l == nil || l.Len() == 0 {
		return
	}
	track, classes := scope(flags)
	stop := false
	for _, cl := range classes {
		l.Each(func(a *sr.AVP) bool {
			if avpMatch(a, name, track, cl) && !fn(a) {
				stop = true
				return false
			}
			return true
		})
		if stop {
			return
		}
	}
}

// avpAt returns value number pos (0 = first in search order).
func avpAt(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, pos int) sr.Value {
	if pos < 0 {
		return sr.NullVal
	}
	v := sr.NullVal
	n := 0
	avpWalk(l, name, flags, func(a *sr.AVP) bool {
		if n == pos {
			v = a.Val
			return false
		}
		n++
		return true
	})
	return v
}

func avpCount(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags) int {
	n := 0
	avpWalk(l, name, flags, func(*sr.AVP) bool { n++; return true })
	return n
}

// avpJoin returns every value joined with ", " (Kamailio's $(avp(x)[*])),
// or null when there is none.
func avpJoin(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags) sr.Value {
	var b []byte
	n := 0
	avpWalk(l, name, flags, func(a *sr.AVP) bool {
		if n > 0 {
			b = append(b, ", "...)
		}
		n++
		b = appendValue(b, a.Val)
		return true
	})
	if n == 0 {
		return sr.NullVal
	}
	return sr.StrVal(string(b))
}

// avpDelete removes the first value in search order, or all of them.
// sr.AVPList deletes by name, not by position, so the AVPs to remove are
// first renamed to a name no AVP of the list has.
func avpDelete(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, all bool) int {
	if l == nil || l.Len() == 0 {
		return 0
	}
	mark := sr.AVPName{S: "\x00pv:delete"}
	for avpNameUsed(l, mark) {
		mark.S += "!"
	}
	n := 0
	avpWalk(l, name, flags, func(a *sr.AVP) bool {
		a.Name = mark
		n++
		return all
	})
	if n > 0 {
		l.Delete(mark, 0, true)
	}
	return n
}

func avpNameUsed(l *sr.AVPList, name sr.AVPName) bool {
	used := false
	l.Each(func(a *sr.AVP) bool {
		used = !a.Name.IsID && a.Name.S == name.S
		return !used
	})
	return used
}

func avpAdd(c *sr.Ctx, name sr.AVPName, flags sr.AVPFlags, v sr.Value) {
	if c.AVPs == nil {
		c.AVPs = sr.NewAVPList()
	}
	c.AVPs.Add(name, v, addFlags(flags))
}

func appendValue(b []byte, v sr.Value) []byte {
	switch v.K {
	case sr.Int:
		return strconv.AppendInt(b, int64(v.I), 10)
	case sr.Str:
		return append(b, v.S...)
	}
	return append(b, "<null>"...)
}

// avpClass is $avp(name): Kamailio semantics. Reading without an index
// gives the newest value; [n] counts from the newest (0) and [-n] from the
// oldest (-1); [*] joins all values with ", ". Assigning pushes a value
// and keeps the older ones; assigning null deletes the newest; with [*]
// all values are deleted first (and none added for null).
func avpClass() *class {
	return &class{name: "avp", inner: innerNeed, index: true, build: func(b *build) (getFn, setFn, error) {
		id, err := b.r.parseAVPInner(b.inner, b.mode, b.text)
		if err != nil {
			return nil, nil, err
		}
		b.avp = &id
		ix := b.idx
		get := func(c *sr.Ctx) sr.Value {
			name, ok := id.resolve(c)
			if !ok {
				return sr.NullVal
			}
			n, all, ok := ix.at(c)
			switch {
			case !ok:
				return sr.NullVal
			case all:
				return avpJoin(c.AVPs, name, id.flags)
			case n < 0:
				n += avpCount(c.AVPs, name, id.flags)
			}
			return avpAt(c.AVPs, name, id.flags, n)
		}
		set := func(c *sr.Ctx, v sr.Value) error {
			name, ok := id.resolve(c)
			if !ok {
				return fmt.Errorf("%s: the AVP name is empty", b.text)
			}
			_, all, _ := ix.at(c)
			if v.IsNull() {
				avpDelete(c.AVPs, name, id.flags, all)
				return nil
			}
			if all {
				avpDelete(c.AVPs, name, id.flags, true)
			}
			avpAdd(c, name, id.flags, v)
			return nil
		}
		return get, set, nil
	}}
}

// isAttrChar is a character of a SER attribute ident (name and class
// prefix).
func isAttrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

// parseAttrPrefix parses a SER attribute: $name, $f.name, $fu.name …,
// with an optional index: [n] (1 is the oldest value), [-n] (-1 is the
// newest), [] or [*] (all values).
func (r *Registry) parseAttrPrefix(text string) (*Spec, int, error) {
	i := 1
	for i < len(text) && isAttrChar(text[i]) {
		i++
	}
	for i > 2 && text[i-1] == '.' && (i >= len(text) || text[i] != '[') {
		i-- // "$account." is $account and a full stop
	}
	ident := text[1:i]
	var ix index
	if i < len(text) && text[i] == '[' {
		e := strings.IndexByte(text[i:], ']')
		if e < 0 {
			return nil, 0, synErrf("%s: missing ']'", clip(text))
		}
		in := strings.TrimSpace(text[i+1 : i+e])
		i += e + 1
		switch in {
		case "", "*":
			ix = index{kind: idxAll}
		default:
			n, err := strconv.Atoi(in)
			if err != nil || n == 0 || in[0] == '+' {
				return nil, 0, synErrf("%s: invalid attribute index [%s] (SER indexes are 1, 2, … from the oldest value, -1, -2, … from the newest, or [] for all)", text[:i], in)
			}
			ix = index{kind: idxInt, n: n}
		}
	}
	full := text[:i]
	if ident == "" {
		return nil, 0, synErrf("%q: \"$\" must be followed by a name (write $$ for a literal $)", clip(text))
	}
	id, err := parseAVPName(ident)
	if err != nil {
		return nil, 0, synErrf("%s: %w", full, err)
	}
	return attrSpec(full, id, ix), i, nil
}

// attrSpec builds a SER attribute. Reading without an index gives the
// newest value (SER 3.0 reads null when several values exist; we do not
// follow that). Assigning replaces every value in the attribute's scope;
// assigning null deletes them.
func attrSpec(text string, id avpIdent, ix index) *Spec {
	get := func(c *sr.Ctx) sr.Value {
		switch ix.kind {
		case idxAll:
			return avpJoin(c.AVPs, id.name, id.flags)
		case idxInt:
			if ix.n > 0 {
				return avpAt(c.AVPs, id.name, id.flags, avpCount(c.AVPs, id.name, id.flags)-ix.n)
			}
			return avpAt(c.AVPs, id.name, id.flags, -ix.n-1)
		}
		return avpAt(c.AVPs, id.name, id.flags, 0)
	}
	set := func(c *sr.Ctx, v sr.Value) error {
		avpDelete(c.AVPs, id.name, id.flags, true)
		if !v.IsNull() {
			avpAdd(c, id.name, id.flags, v)
		}
		return nil
	}
	return &Spec{text: text, kind: KindAttr, get: get, set: set, avp: &id}
}
