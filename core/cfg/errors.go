package cfg

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"sip-router.org/core/sr"
)

// ErrorList is the error Parse and ParseFile return when the configuration
// has problems: every error found, each with its position, sorted by
// position. Errors in an included file sort by the order in which the
// files were first read.
type ErrorList []*sr.PosError

// Error joins the errors, one per line, each as "file:line:col: message".
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the errors, so that errors.Is and errors.As look at each.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// maxErrors bounds the errors collected from one configuration; the parse
// stops at that point, so garbage input cannot produce endless output.
const maxErrors = 100

// errorCollector gathers the errors of one parse.
type errorCollector struct {
	list []*sr.PosError
	// fileOrder ranks file names by first appearance, for sorting.
	fileOrder map[string]int
	full      bool
}

func (c *errorCollector) fileRank(name string) int {
	if c.fileOrder == nil {
		c.fileOrder = make(map[string]int)
	}
	r, ok := c.fileOrder[name]
	if !ok {
		r = len(c.fileOrder)
		c.fileOrder[name] = r
	}
	return r
}

// add records an error. It reports false once the error limit is reached.
func (c *errorCollector) add(pos sr.Pos, err error) bool {
	if c.full {
		return false
	}
	c.fileRank(pos.File)
	if len(c.list) == maxErrors {
		c.list = append(c.list, &sr.PosError{Pos: pos, Err: fmt.Errorf("too many errors (more than %d), giving up", maxErrors)})
		c.full = true
		return false
	}
	c.list = append(c.list, &sr.PosError{Pos: pos, Err: err})
	return true
}

func (c *errorCollector) errorf(pos sr.Pos, format string, args ...any) bool {
	if c.full {
		return false
	}
	return c.add(pos, fmt.Errorf(format, args...))
}

// result sorts the errors by position, drops all but the first error at
// any one position, and returns them, or nil when there are none.
func (c *errorCollector) result() error {
	if len(c.list) == 0 {
		return nil
	}
	list := make([]*sr.PosError, len(c.list))
	copy(list, c.list)
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].Pos, list[j].Pos
		if a.File != b.File {
			return c.fileOrder[a.File] < c.fileOrder[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := list[:0]
	for i, e := range list {
		if i > 0 && e.Pos == list[i-1].Pos {
			continue
		}
		out = append(out, e)
	}
	return ErrorList(out)
}

// IncludeError reports an include_file whose file could not be read.
type IncludeError struct {
	// Name is the file name as written in the configuration.
	Name string
	// Tried lists the paths that were tried, in order.
	Tried []string
	// Err is the error of the last attempt.
	Err error
}

func (e *IncludeError) Error() string {
	msg := fmt.Sprintf("cannot open included file %q (tried %s)", e.Name, strings.Join(e.Tried, ", "))
	if e.Err != nil && !errors.Is(e.Err, fs.ErrNotExist) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *IncludeError) Unwrap() error { return e.Err }
