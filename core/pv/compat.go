package pv

import (
	"errors"
	"fmt"
)

// Compat is the compatibility mode the configuration is in where a
// pseudo-variable is written (#!KAMAILIO, #!SER, #!MAXCOMPAT). It decides
// what a "$" starts.
type Compat uint8

// Compatibility modes. The zero value is MaxCompat, the 3.0 default when a
// configuration has no #! header line.
const (
	// MaxCompat: $name(...) and $(...) are pseudo-variables; $f.x, $t.x,
	// $fu.x, $tu.x, $fd.x, $td.x, $fr.x, $tr.x, $g.x and $name[...] are SER
	// attributes; a bare $name is a pseudo-variable if one of that name
	// exists (and takes no inner name), otherwise the attribute name.
	MaxCompat Compat = iota
	// Kamailio: every $name is a pseudo-variable; an unknown one is an
	// error.
	Kamailio
	// SER: "$" always starts a SER attribute ($ru is the attribute "ru");
	// $(...) and $name(...) do not exist. $? (the return code) is the one
	// exception: it is not a valid attribute name, so it keeps its meaning.
	SER
)

// String names the mode as the #! directive does.
func (m Compat) String() string {
	switch m {
	case Kamailio:
		return "KAMAILIO"
	case SER:
		return "SER"
	}
	return "MAXCOMPAT"
}

// Errors that callers may test for with errors.Is. The messages built on
// them name the pseudo-variable: "unknown pseudo-variable $foo".
var (
	// ErrUnknown: no pseudo-variable class of that name is registered.
	ErrUnknown = errors.New("unknown pseudo-variable")
	// ErrReadOnly: the pseudo-variable cannot be assigned to.
	ErrReadOnly = errors.New("read-only pseudo-variable")
	// ErrUnknownTransformation: no transformation of that name exists.
	ErrUnknownTransformation = errors.New("unknown transformation")
	// ErrSyntax: the text is not a well-formed pseudo-variable, attribute,
	// select or format.
	ErrSyntax = errors.New("syntax error")
)

// syntaxError carries a precise message and matches ErrSyntax.
type syntaxError struct{ err error }

func (e *syntaxError) Error() string   { return e.err.Error() }
func (e *syntaxError) Unwrap() []error { return []error{ErrSyntax, e.err} }

// synErrf formats a syntax error; %w in format wraps a cause.
func synErrf(format string, args ...any) error {
	return &syntaxError{fmt.Errorf(format, args...)}
}
