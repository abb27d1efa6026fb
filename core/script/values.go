package script

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"sip-router.org/core/sr"
)

// errConv is an operand that cannot be converted to what the operator
// needs (a non-numeric string on the right of an int operation).
var errConv = errors.New("operand is not a number")

var errDivZero = errors.New("division by zero")

// truth is the boolean meaning of a value in a condition: a non-zero int;
// a string that is a non-zero number, or any other non-empty string.
func truth(v sr.Value) bool {
	switch v.K {
	case sr.Int:
		return v.I != 0
	case sr.Str:
		if n, err := strconv.Atoi(v.S); err == nil {
			return n != 0
		}
		return v.S != ""
	}
	return false
}

// equal compares as the left operand's type decides: two nulls are equal,
// a null equals nothing else; an int left compares numerically (a right
// side that is not a number is unequal); a string left compares the text.
func equal(a, b sr.Value) bool {
	if a.K == sr.Null || b.K == sr.Null {
		return a.K == b.K
	}
	if a.K == sr.Int {
		n, ok := b.AsInt()
		return ok && a.I == n
	}
	return a.S == b.Text()
}

// compare orders two values by the left operand's type; ok is false when
// they cannot be compared (a null, a non-numeric right side of an int).
func compare(a, b sr.Value) (int, bool) {
	if a.K == sr.Null || b.K == sr.Null {
		return 0, false
	}
	if a.K == sr.Int {
		n, ok := b.AsInt()
		if !ok {
			return 0, false
		}
		switch {
		case a.I < n:
			return -1, true
		case a.I > n:
			return 1, true
		}
		return 0, true
	}
	return strings.Compare(a.S, b.Text()), true
}

// arith applies + - * / mod | & with the left operand's type: a string
// left makes + a concatenation; everything else is integer arithmetic.
func arith(op string, a, b sr.Value) (sr.Value, error) {
	if op == "+" && a.K == sr.Str {
		return sr.StrVal(a.S + b.Text()), nil
	}
	if op == "+" && a.K == sr.Null {
		// null + x takes the type of x.
		if b.K == sr.Str {
			return sr.StrVal(b.S), nil
		}
		return b, nil
	}
	x, ok := a.AsInt()
	if !ok && a.K != sr.Null {
		return sr.NullVal, errConv
	}
	y, ok := b.AsInt()
	if !ok && b.K != sr.Null {
		return sr.NullVal, errConv
	}
	switch op {
	case "+":
		return sr.IntVal(x + y), nil
	case "-":
		return sr.IntVal(x - y), nil
	case "*":
		return sr.IntVal(x * y), nil
	case "/":
		if y == 0 {
			return sr.NullVal, errDivZero
		}
		return sr.IntVal(x / y), nil
	case "mod":
		if y == 0 {
			return sr.NullVal, errDivZero
		}
		return sr.IntVal(x % y), nil
	case "|":
		return sr.IntVal(x | y), nil
	case "&":
		return sr.IntVal(x & y), nil
	}
	return sr.NullVal, errors.New("unknown operator " + op)
}

// compileRegex compiles a config regular expression: POSIX extended
// syntax, case-insensitive, unanchored, as Kamailio's =~ (REG_EXTENDED|REG_ICASE).
func compileRegex(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("(?i)" + expr)
}

// regexCache holds regular expressions built at run time from values
// (the right side of =~ is not a constant), bounded in size.
type regexCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

const regexCacheMax = 256

func (rc *regexCache) get(expr string) (*regexp.Regexp, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if re, ok := rc.m[expr]; ok {
		return re, nil
	}
	re, err := compileRegex(expr)
	if err != nil {
		return nil, err
	}
	if rc.m == nil || len(rc.m) >= regexCacheMax {
		rc.m = map[string]*regexp.Regexp{}
	}
	rc.m[expr] = re
	return re, nil
}
