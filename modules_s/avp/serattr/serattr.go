// Package serattr is what the SER uid/did modules (avp, avp_db, domain,
// uri_db, gflags, acc_db) share: SER 3.0's way of handling attributes
// (tracks, classes, search order, whole-group replacement), the uid and did
// identities kept in attributes, the flag bits of the SER tables, and the
// URI parts those tables are keyed by.
//
// Attributes live in the message's sr.AVPList, the same list the core's
// $f.x, $tu.x, $g.x and $avp(x) read, so what a module stores here the
// script reads there and the other way round. The search rules are those
// of the core (and of SER's usr_avp.c): a name without a class is searched
// in the URI, user, domain and global classes, in that order; without a
// track in the from track; names compare case-insensitively; a value
// added without class or track goes to the URI class of the from track.
package serattr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
)

// Flag bits of the flags column of the SER tables (lib/srdb2/db.h).
const (
	FlagLoadSER       = 1
	FlagDisabled      = 2
	FlagCanon         = 4
	FlagIsTo          = 8
	FlagIsFrom        = 16
	FlagForSERWeb     = 32
	FlagPending       = 64
	FlagDeleted       = 128
	FlagCallerDeleted = 256
	FlagCalleeDeleted = 512
)

// TypeStr is the value of the type column of the *_attrs tables for a
// string attribute (SER's AVP_VAL_STR); any other value is an integer.
const TypeStr = 2

// DefaultDID is the domain id used when a domain is unknown or a URI has
// no host (tel: URIs).
const DefaultDID = "_default"

// Group flags: the track and class of a whole group of attributes, as the
// "$fu", "$td", "$g" … arguments of load_attrs, lookup_domain and
// del_attrs name them.
const (
	GroupFromURI    = sr.AVPTrackFrom | sr.AVPClassURI
	GroupToURI      = sr.AVPTrackTo | sr.AVPClassURI
	GroupFromUser   = sr.AVPTrackFrom | sr.AVPClassUser
	GroupToUser     = sr.AVPTrackTo | sr.AVPClassUser
	GroupFromDomain = sr.AVPTrackFrom | sr.AVPClassDomain
	GroupToDomain   = sr.AVPTrackTo | sr.AVPClassDomain
	GroupGlobal     = sr.AVPTrackFrom | sr.AVPTrackTo | sr.AVPClassGlobal
)

var groups = map[string]sr.AVPFlags{
	"fr": GroupFromURI, "tr": GroupToURI,
	"fu": GroupFromUser, "tu": GroupToUser,
	"fd": GroupFromDomain, "td": GroupToDomain,
	"g": GroupGlobal,
}

// ParseGroup reads a group argument: "$fu", "$fr", "$tu", "$tr", "$fd",
// "$td" or "$g" (letters in any case). allowed lists the names the caller
// accepts ("fu", "tu" …).
func ParseGroup(s string, allowed ...string) (sr.AVPFlags, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if !strings.HasPrefix(t, "$") {
		return 0, fmt.Errorf("%q is not a group of attributes: $%s expected", s, strings.Join(allowed, ", $"))
	}
	t = t[1:]
	for _, a := range allowed {
		if a == t {
			return groups[t], nil
		}
	}
	return 0, fmt.Errorf("%q is not a group of attributes: $%s expected", s, strings.Join(allowed, ", $"))
}

// GroupName names a group as the script writes it ("$fu").
func GroupName(g sr.AVPFlags) string {
	for n, f := range groups {
		if f == g {
			return "$" + n
		}
	}
	return "$?"
}

// Norm returns the flags an attribute added with flags gets: one class
// (URI when none), one track (from when none); global attributes belong to
// both tracks. Custom flag bits (avpflags) are kept.
func Norm(flags sr.AVPFlags) sr.AVPFlags {
	return flags&^(sr.AVPClassMask|sr.AVPTrackMask) | pv.AVPAddFlags(flags)
}

// Add pushes a value: it becomes the newest value of its name, older ones
// stay (SER's add_avp).
func Add(c *sr.Ctx, name sr.AVPName, v sr.Value, flags sr.AVPFlags) {
	if c.AVPs == nil {
		c.AVPs = sr.NewAVPList()
	}
	c.AVPs.Add(name, v, Norm(flags))
}

// Name returns a string attribute name.
func Name(s string) sr.AVPName { return sr.AVPName{S: s} }

// Walk calls fn for every value of name within the scope of flags, in SER's
// search order (class by class, newest first within a class), until fn
// returns false.
func Walk(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, fn func(a *sr.AVP) bool) {
	pv.AVPWalk(l, name, flags, fn)
}

// Values returns every value of name within the scope of flags, in search
// order.
func Values(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags) []sr.AVP {
	var out []sr.AVP
	Walk(l, name, flags, func(a *sr.AVP) bool { out = append(out, *a); return true })
	return out
}

// First returns the first value of name in search order.
func First(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags) (sr.AVP, bool) {
	var out sr.AVP
	found := false
	Walk(l, name, flags, func(a *sr.AVP) bool { out, found = *a, true; return false })
	return out, found
}

// remove deletes the AVPs that mark selects; sr.AVPList deletes by name,
// so they are first renamed to a name no AVP of the list carries.
func remove(l *sr.AVPList, mark func(a *sr.AVP) bool) int {
	if l == nil || l.Len() == 0 {
		return 0
	}
	tmp := sr.AVPName{S: "\x00serattr:delete"}
	for used(l, tmp) {
		tmp.S += "!"
	}
	n := 0
	l.Each(func(a *sr.AVP) bool {
		if mark(a) {
			a.Name = tmp
			n++
		}
		return true
	})
	if n > 0 {
		l.Delete(tmp, 0, true)
	}
	return n
}

func used(l *sr.AVPList, name sr.AVPName) bool {
	found := false
	l.Each(func(a *sr.AVP) bool {
		found = !a.Name.IsID && a.Name.S == name.S
		return !found
	})
	return found
}

// Delete removes the first value of name in search order, or all of them,
// and returns how many it removed.
func Delete(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, all bool) int {
	return pv.AVPDelete(l, name, flags, all)
}

// ClearGroup removes every attribute of a group (one class, and for the
// non-global classes one track), as SER's reset_avp_list does.
func ClearGroup(l *sr.AVPList, group sr.AVPFlags) int {
	track, classes := pv.AVPScope(group)
	if len(classes) != 1 {
		return 0
	}
	cl := classes[0]
	return remove(l, func(a *sr.AVP) bool { return pv.AVPInGroup(a, track, cl) })
}

// Replace swaps the first value of name (search order) for v, keeping its
// place and flags; it reports whether there was one.
func Replace(l *sr.AVPList, name sr.AVPName, flags sr.AVPFlags, v sr.Value) bool {
	done := false
	Walk(l, name, flags, func(a *sr.AVP) bool {
		a.Val = v
		done = true
		return false
	})
	return done
}

// Ident is an attribute as a function argument names it.
type Ident struct {
	Name  sr.AVPName
	Flags sr.AVPFlags
	// Text is the argument as written.
	Text string
}

// avpSpec is what the core's compiled attributes offer (*pv.Spec).
type avpSpec interface {
	AVP() (sr.AVPName, sr.AVPFlags, bool)
}

// IdentOf returns the attribute a compiled pseudo-variable addresses.
func IdentOf(g sr.Getter) (Ident, bool) {
	s, ok := g.(avpSpec)
	if !ok {
		return Ident{}, false
	}
	name, flags, ok := s.AVP()
	if !ok {
		return Ident{}, false
	}
	text := ""
	if st, ok := g.(fmt.Stringer); ok {
		text = st.String()
	}
	return Ident{Name: name, Flags: flags, Text: text}, true
}

var prefixes = map[string]sr.AVPFlags{
	"f": sr.AVPTrackFrom, "t": sr.AVPTrackTo,
	"fr": GroupFromURI, "tr": GroupToURI,
	"fu": GroupFromUser, "tu": GroupToUser,
	"fd": GroupFromDomain, "td": GroupToDomain,
	"g": GroupGlobal,
}

// ParseIdent parses an attribute name given as text at run time (the
// value of another attribute, as set_sattr($x, …) uses it): "name",
// "$name", "fu.name", "$t.name", "s:name", "i:10"; an index ("[2]") is
// ignored.
func ParseIdent(s string) (Ident, error) {
	text := s
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "$")
	if i := strings.IndexByte(s, '['); i >= 0 && strings.HasSuffix(s, "]") {
		s = s[:i]
	}
	if s == "" {
		return Ident{}, fmt.Errorf("empty attribute name")
	}
	if len(s) >= 2 && s[1] == ':' {
		rest := s[2:]
		switch s[0] {
		case 's', 'S':
			if rest == "" {
				return Ident{}, fmt.Errorf("empty attribute name in %q", text)
			}
			return Ident{Name: Name(rest), Text: text}, nil
		case 'i', 'I':
			n, err := strconv.ParseUint(rest, 10, 31)
			if err != nil {
				return Ident{}, fmt.Errorf("attribute id %q is not a number", rest)
			}
			return Ident{Name: sr.AVPName{ID: int(n), IsID: true}, Text: text}, nil
		}
		return Ident{}, fmt.Errorf("unknown attribute name type in %q", text)
	}
	var flags sr.AVPFlags
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		f, ok := prefixes[strings.ToLower(s[:dot])]
		if !ok {
			return Ident{}, fmt.Errorf("unknown attribute class %q in %q", s[:dot], text)
		}
		flags = f
		s = s[dot+1:]
	}
	if !ValidName(s) {
		return Ident{}, fmt.Errorf("invalid attribute name %q", text)
	}
	return Ident{Name: Name(s), Flags: flags, Text: text}, nil
}

// ValidName reports whether s may be an attribute name as SER writes it:
// letters, digits, '_' and '-', at least one.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CompileAttr compiles an argument that must name an attribute ("$uid",
// "$tu.uid"), as SER's FPARAM_AVP fixups do: "$" always starts an
// attribute there in SER and max-compat configurations; in #!KAMAILIO
// ones the argument is an AVP pseudo-variable ("$avp(s:uid)"). reg is the
// configuration's registry (taken in Configure); without it the call
// site's mode applies.
func CompileAttr(reg *pv.Registry, fx *module.Fixup, a module.Arg) (sr.Setter, Ident, error) {
	text := strings.TrimSpace(a.S)
	if !strings.HasPrefix(text, "$") || a.Kind == module.ArgInt {
		return nil, Ident{}, fx.Errorf(a, "%s: %q is not an attribute ($name expected)", fx.Func, a.S)
	}
	var s sr.Setter
	if reg != nil && fx.Mode != module.Kamailio {
		sp, err := reg.ParseSetter(text, pv.SER)
		if err != nil {
			return nil, Ident{}, fx.Errorf(a, "%s: %v", fx.Func, err)
		}
		s = sp
	} else {
		var err error
		if s, err = fx.Setter(a); err != nil {
			return nil, Ident{}, err
		}
	}
	id, ok := IdentOf(s)
	if !ok {
		return nil, Ident{}, fx.Errorf(a, "%s: %q is not an attribute ($name expected)", fx.Func, a.S)
	}
	id.Text = text
	return s, id, nil
}

// Const is a Getter of a constant value.
type Const sr.Value

// Get returns the value.
func (k Const) Get(*sr.Ctx) sr.Value { return sr.Value(k) }

// CompileValue compiles an argument that gives a value: an attribute, a
// pseudo-variable or a select ("$x", "@from.uri"), or else the text (or
// number) itself, as SER's fixup_var_str does.
func CompileValue(fx *module.Fixup, a module.Arg) (sr.Getter, error) {
	switch {
	case a.Kind == module.ArgInt:
		return Const(sr.IntVal(a.I)), nil
	case a.Kind == module.ArgPV, strings.HasPrefix(strings.TrimSpace(a.S), "$"), strings.HasPrefix(strings.TrimSpace(a.S), "@"):
		return fx.Getter(a)
	}
	return Const(sr.StrVal(a.S)), nil
}

// Identities kept in attributes (SER's id.c).

// DID returns the did of a track ($f.did, $t.did), "" when unknown.
func DID(c *sr.Ctx, track sr.AVPFlags) string {
	if a, ok := First(c.AVPs, Name("did"), track); ok {
		return a.Val.Text()
	}
	return ""
}

// UID returns the uid of a track: the user-class "uid" attribute ($fu.uid,
// $tu.uid).
func UID(c *sr.Ctx, track sr.AVPFlags) (string, bool) {
	if a, ok := First(c.AVPs, Name("uid"), track|sr.AVPClassUser); ok {
		return a.Val.Text(), true
	}
	return "", false
}

// SetUID stores the uid of a track, replacing the previous one.
func SetUID(c *sr.Ctx, track sr.AVPFlags, uid string) {
	Delete(c.AVPs, Name("uid"), track|sr.AVPClassUser, true)
	Add(c, Name("uid"), sr.StrVal(uid), track|sr.AVPClassUser)
}

// URI is the part of a URI the SER tables are keyed by.
type URI struct {
	// Scheme is "sip", "sips", "tel" or "tels" (lower case).
	Scheme string
	User   string
	Host   string
}

// ParseURI parses a SIP, SIPS, TEL or TELS URI (also inside angle brackets,
// as a name-addr).
func ParseURI(s string) (URI, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return URI{}, fmt.Errorf("invalid URI %q: %w", clip(s), err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "" {
		scheme = "sip"
	}
	switch scheme {
	case "sip", "sips":
		if u.Host == "" || u.Wildcard {
			return URI{}, fmt.Errorf("invalid URI %q: no host", clip(s))
		}
		return URI{Scheme: scheme, User: u.User, Host: strings.ToLower(u.Host)}, nil
	case "tel", "tels":
		num, _, _ := strings.Cut(u.Raw(), ";")
		return URI{Scheme: scheme, User: num}, nil
	}
	return URI{}, fmt.Errorf("unsupported URI scheme %q in %q", scheme, clip(s))
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// CheckIdent checks a table or column name given as a parameter, so that
// it can be put into SQL (quoted).
func CheckIdent(param, v string) error {
	if !dbmod.ValidName(v) {
		return fmt.Errorf("%s %q is not a valid table or column name", param, v)
	}
	return nil
}

// CheckIdents is CheckIdent for table and column name parameters given as
// pairs of the parameter's name and its value.
func CheckIdents(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := CheckIdent(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}
