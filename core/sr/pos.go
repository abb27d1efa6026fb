package sr

import "strconv"

// Pos is a position in a configuration file. Lines and columns count from 1.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:col, the form every config
// error starts with.
func (p Pos) String() string {
	if p.File == "" && p.Line == 0 {
		return "-"
	}
	s := p.File + ":" + strconv.Itoa(p.Line)
	if p.Col > 0 {
		s += ":" + strconv.Itoa(p.Col)
	}
	return s
}

// IsValid reports whether the position names a line.
func (p Pos) IsValid() bool { return p.Line > 0 }

// PosError is an error at a position in a configuration file.
type PosError struct {
	Pos Pos
	Err error
}

func (e *PosError) Error() string { return e.Pos.String() + ": " + e.Err.Error() }

func (e *PosError) Unwrap() error { return e.Err }
