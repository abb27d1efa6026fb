package module

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sip-router.org/core/sr"
)

// FixupEnv is what the script loader offers to fixups: compiling
// pseudo-variables and formats, and knowing the routes and flag names of
// the configuration being loaded.
type FixupEnv interface {
	// Format compiles a string with pseudo-variables in it.
	Format(s string, pos sr.Pos) (sr.Format, error)
	// XLFormat compiles a SER xl format string (%ru, %$attr, %@select).
	XLFormat(s string, pos sr.Pos) (sr.Format, error)
	// Getter compiles one pseudo-variable or attribute ("$ru", "$avp(x)").
	Getter(s string, pos sr.Pos) (sr.Getter, error)
	// Setter compiles one writable pseudo-variable or attribute.
	Setter(s string, pos sr.Pos) (sr.Setter, error)
	// RouteDefined reports whether a route block of that type and name exists.
	RouteDefined(t sr.RouteType, name string) bool
	// Flag resolves a SER flag name declared with "flags".
	Flag(name string) (int, bool)
	// Warn reports a problem that does not stop the load.
	Warn(pos sr.Pos, msg string)
}

// Fixup is handed to a function's fixup. It carries the loader's
// environment and helpers that turn arguments into prepared values with
// errors that point at the argument.
type Fixup struct {
	Env FixupEnv
	// Func is the name of the function being fixed up.
	Func string
	// Route is the type of the route block the call is in.
	Route sr.RouteType
	// Mode is the script mode where the call is written: a module that
	// serves both flavors reads SER xl formats (%ru, %$attr) in SER and
	// max-compat configs and Kamailio PV formats ($ru) in #!KAMAILIO ones.
	Mode Compat
}

// Compat is a script compatibility mode.
type Compat uint8

// The modes; the zero value is max compat (a config without a #! line).
const (
	MaxCompat Compat = iota
	Kamailio
	SER
)

// String names the mode as its #! line does.
func (m Compat) String() string {
	switch m {
	case Kamailio:
		return "KAMAILIO"
	case SER:
		return "SER"
	}
	return "MAXCOMPAT"
}

// TextFormat compiles a text argument the way the call site's mode reads
// it: a Kamailio PV format in #!KAMAILIO configs; in SER and max-compat
// configs an xl format when the text holds '%' (SER modules' "%$attr",
// "%ru"), a PV format otherwise.
func (fx *Fixup) TextFormat(a Arg) (sr.Format, error) {
	if fx.Mode != Kamailio && a.Kind == ArgStr && strings.Contains(a.S, "%") {
		return fx.XLFormat(a)
	}
	return fx.Format(a)
}

// Errorf returns an error located at the argument.
func (fx *Fixup) Errorf(a Arg, format string, args ...any) error {
	return &sr.PosError{Pos: a.Pos, Err: fmt.Errorf(format, args...)}
}

// Str returns the argument as plain text. A number is accepted as its text.
func (fx *Fixup) Str(a Arg) (string, error) {
	if a.Kind == ArgPV {
		return "", fx.Errorf(a, "%s: this argument must be a constant string, not %s", fx.Func, a.S)
	}
	return a.S, nil
}

// Int returns the argument as an integer: a number, or a string holding one
// ("10"), as Kamailio's int fixups accept.
func (fx *Fixup) Int(a Arg) (int, error) {
	switch a.Kind {
	case ArgInt:
		return a.I, nil
	case ArgStr:
		n, err := parseIntLiteral(strings.TrimSpace(a.S))
		if err != nil {
			return 0, fx.Errorf(a, "%s: %q is not a number", fx.Func, a.S)
		}
		return n, nil
	}
	return 0, fx.Errorf(a, "%s: this argument must be a number, not %s", fx.Func, a.S)
}

func parseIntLiteral(s string) (int, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// Format compiles the argument as a string that may hold pseudo-variables.
func (fx *Fixup) Format(a Arg) (sr.Format, error) {
	switch a.Kind {
	case ArgInt:
		return sr.StaticFormat(a.S), nil
	}
	f, err := fx.Env.Format(a.S, a.Pos)
	if err != nil {
		return nil, fx.wrap(a, err)
	}
	return f, nil
}

// XLFormat compiles the argument as a SER xl format (%ru, %$attr,
// %@select), as SER modules read their text arguments.
func (fx *Fixup) XLFormat(a Arg) (sr.Format, error) {
	f, err := fx.Env.XLFormat(a.S, a.Pos)
	if err != nil {
		return nil, fx.wrap(a, err)
	}
	return f, nil
}

// Getter compiles the argument as one pseudo-variable to read.
func (fx *Fixup) Getter(a Arg) (sr.Getter, error) {
	g, err := fx.Env.Getter(strings.TrimSpace(a.S), a.Pos)
	if err != nil {
		return nil, fx.wrap(a, err)
	}
	return g, nil
}

// Setter compiles the argument as one writable pseudo-variable.
func (fx *Fixup) Setter(a Arg) (sr.Setter, error) {
	s, err := fx.Env.Setter(strings.TrimSpace(a.S), a.Pos)
	if err != nil {
		return nil, fx.wrap(a, err)
	}
	return s, nil
}

// Regex compiles the argument as a POSIX extended regular expression
// (Go's syntax restricted to what ERE allows is close enough for the
// expressions configs use). icase makes it case-insensitive.
func (fx *Fixup) Regex(a Arg, icase bool) (*regexp.Regexp, error) {
	expr := a.S
	if icase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fx.Errorf(a, "%s: bad regular expression %q: %v", fx.Func, a.S, err)
	}
	return re, nil
}

// RouteName checks that the argument names a route block of type t. A missing
// route is a warning, as in Kamailio; the name is returned either way.
func (fx *Fixup) RouteName(a Arg, t sr.RouteType) (string, error) {
	name, err := fx.Str(a)
	if err != nil {
		return "", err
	}
	if name != "" && !fx.Env.RouteDefined(t, name) {
		fx.Env.Warn(a.Pos, fmt.Sprintf("%s(%q): %s %q is not defined", fx.Func, name, t, name))
	}
	return name, nil
}

// Flag returns the argument as a flag number 0..31: a number, a string
// holding one, or a SER flag name.
func (fx *Fixup) Flag(a Arg) (int, error) {
	if a.Kind == ArgStr {
		if n, ok := fx.Env.Flag(strings.TrimSpace(a.S)); ok {
			return n, nil
		}
	}
	n, err := fx.Int(a)
	if err != nil {
		return 0, fx.Errorf(a, "%s: %q is neither a flag number nor a declared flag name", fx.Func, a.S)
	}
	if n < 0 || n > 31 {
		return 0, fx.Errorf(a, "%s: flag %d is out of range 0..31", fx.Func, n)
	}
	return n, nil
}

func (fx *Fixup) wrap(a Arg, err error) error {
	if _, ok := err.(*sr.PosError); ok {
		return err
	}
	return &sr.PosError{Pos: a.Pos, Err: fmt.Errorf("%s: %w", fx.Func, err)}
}
