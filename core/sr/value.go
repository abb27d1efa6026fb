package sr

import "strconv"

// Kind is the type of a script value.
type Kind uint8

// Value kinds.
const (
	Null Kind = iota
	Int
	Str
)

// Value is what expressions, pseudo-variables and AVPs carry: null, an
// integer or a string. The zero Value is null.
type Value struct {
	K Kind
	I int
	S string
}

// NullVal is the null value ($null).
var NullVal = Value{}

// IntVal returns an integer value.
func IntVal(i int) Value { return Value{K: Int, I: i} }

// StrVal returns a string value.
func StrVal(s string) Value { return Value{K: Str, S: s} }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.K == Null }

// String returns the string form of v; null is "<null>" as in Kamailio's
// xlog output, and an empty string in string context is handled by the caller.
func (v Value) String() string {
	switch v.K {
	case Int:
		return strconv.Itoa(v.I)
	case Str:
		return v.S
	}
	return "<null>"
}

// Text returns the value as text for string operations: null is "".
func (v Value) Text() string {
	switch v.K {
	case Int:
		return strconv.Itoa(v.I)
	case Str:
		return v.S
	}
	return ""
}

// AsInt converts v to an integer the way the script does: a string is
// parsed as a decimal number (leading and trailing blanks ignored); a string
// that is not a number, and null, give 0 and false.
func (v Value) AsInt() (int, bool) {
	switch v.K {
	case Int:
		return v.I, true
	case Str:
		n, err := strconv.Atoi(trimSpace(v.S))
		if err != nil {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// Truth is the boolean meaning of a value in a condition: a non-zero int, a
// non-empty string.
func (v Value) Truth() bool {
	switch v.K {
	case Int:
		return v.I != 0
	case Str:
		return v.S != ""
	}
	return false
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}
