package sr

// AVPFlags are the class, track and user-declared flags of an AVP. SER
// attributes ($f.x, $t.x, $fu.x …) select a track and class; Kamailio
// $avp(x) uses none and matches any.
type AVPFlags uint16

// AVP classes and tracks; bits from AVPCustom0 up are the avpflags a
// config declares by name.
const (
	AVPClassURI AVPFlags = 1 << iota
	AVPClassUser
	AVPClassDomain
	AVPClassGlobal
	AVPTrackFrom
	AVPTrackTo

	AVPClassMask = AVPClassURI | AVPClassUser | AVPClassDomain | AVPClassGlobal
	AVPTrackMask = AVPTrackFrom | AVPTrackTo

	// AVPCustom0 is the first bit available to avpflags declarations.
	AVPCustom0 AVPFlags = 1 << 8
)

// AVPName names an AVP: a string, or an integer id ($avp(i:10)).
type AVPName struct {
	S    string
	ID   int
	IsID bool
}

// String formats the name as Kamailio writes it: i:10 or s:name.
func (n AVPName) String() string {
	if n.IsID {
		return "i:" + IntVal(n.ID).String()
	}
	return n.S
}

// AVP is one attribute-value pair.
type AVP struct {
	Name  AVPName
	Val   Value
	Flags AVPFlags
}

// AVPList holds the AVPs of a message or transaction. The most recently
// added value of a name comes first, as index 0.
type AVPList struct {
	items []AVP // oldest first; searched from the end
}

// NewAVPList returns an empty list.
func NewAVPList() *AVPList { return &AVPList{} }

// match reports whether a carries name and, for each of the class and
// track groups where want has bits, one of those bits.
func match(a *AVP, name AVPName, want AVPFlags) bool {
	if a.Name.IsID != name.IsID {
		return false
	}
	if name.IsID {
		if a.Name.ID != name.ID {
			return false
		}
	} else if a.Name.S != name.S {
		return false
	}
	if c := want & AVPClassMask; c != 0 && a.Flags&c == 0 {
		return false
	}
	if t := want & AVPTrackMask; t != 0 && a.Flags&t == 0 {
		return false
	}
	return true
}

// Add pushes a value; it becomes index 0 of its name.
func (l *AVPList) Add(name AVPName, v Value, flags AVPFlags) {
	l.items = append(l.items, AVP{Name: name, Val: v, Flags: flags})
}

// Get returns value number idx (0 = newest) of name among the AVPs that
// match the class and track bits of want.
func (l *AVPList) Get(name AVPName, want AVPFlags, idx int) (Value, bool) {
	if l == nil || idx < 0 {
		return NullVal, false
	}
	n := 0
	for i := len(l.items) - 1; i >= 0; i-- {
		if match(&l.items[i], name, want) {
			if n == idx {
				return l.items[i].Val, true
			}
			n++
		}
	}
	return NullVal, false
}

// GetAVP is Get returning the whole AVP (flags included).
func (l *AVPList) GetAVP(name AVPName, want AVPFlags, idx int) (*AVP, bool) {
	if l == nil || idx < 0 {
		return nil, false
	}
	n := 0
	for i := len(l.items) - 1; i >= 0; i-- {
		if match(&l.items[i], name, want) {
			if n == idx {
				return &l.items[i], true
			}
			n++
		}
	}
	return nil, false
}

// All returns every value of name, newest first.
func (l *AVPList) All(name AVPName, want AVPFlags) []Value {
	if l == nil {
		return nil
	}
	var out []Value
	for i := len(l.items) - 1; i >= 0; i-- {
		if match(&l.items[i], name, want) {
			out = append(out, l.items[i].Val)
		}
	}
	return out
}

// Delete removes the newest value of name, or all of them.
func (l *AVPList) Delete(name AVPName, want AVPFlags, all bool) int {
	if l == nil {
		return 0
	}
	removed := 0
	for i := len(l.items) - 1; i >= 0; i-- {
		if match(&l.items[i], name, want) {
			l.items = append(l.items[:i], l.items[i+1:]...)
			removed++
			if !all {
				break
			}
		}
	}
	return removed
}

// Replace removes every value of name (within want) and adds v.
func (l *AVPList) Replace(name AVPName, want AVPFlags, v Value, flags AVPFlags) {
	l.Delete(name, want, true)
	l.Add(name, v, flags)
}

// Each calls fn for every AVP, newest first, until fn returns false.
func (l *AVPList) Each(fn func(a *AVP) bool) {
	if l == nil {
		return
	}
	for i := len(l.items) - 1; i >= 0; i-- {
		if !fn(&l.items[i]) {
			return
		}
	}
}

// Len is the number of AVPs.
func (l *AVPList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.items)
}

// Clone returns an independent copy.
func (l *AVPList) Clone() *AVPList {
	if l == nil {
		return NewAVPList()
	}
	return &AVPList{items: append([]AVP(nil), l.items...)}
}
