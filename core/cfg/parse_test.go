package cfg

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"sip-router.org/core/sr"
)

func mustParse(t *testing.T, src string, opts Options) *File {
	t.Helper()
	f, err := Parse("t.cfg", []byte(src), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

// errorsOf parses src and returns the error lines.
func errorsOf(t *testing.T, src string, opts Options) []string {
	t.Helper()
	_, err := Parse("t.cfg", []byte(src), opts)
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func pos(line, col int) sr.Pos { return sr.Pos{File: "t.cfg", Line: line, Col: col} }

func TestExpressionPositions(t *testing.T) {
	f := mustParse(t, "route {\n\tif ($a == 1 && !uri==myself) f(\"x\", $b);\n}\n", Options{})
	ifs := f.Routes[0].Body.Stmts[0].(*If)
	and := ifs.Cond.(*Binary)
	eq := and.X.(*Binary)
	not := and.Y.(*Unary)
	elem := not.X.(*Elem)
	call := ifs.Then.(*Call)
	checks := []struct {
		what      string
		got, want sr.Pos
	}{
		{"if", ifs.Pos, pos(2, 2)},
		{"&& starts at its left operand", and.Pos, pos(2, 6)},
		{"&& operator", and.OpPos, pos(2, 14)},
		{"==", eq.OpPos, pos(2, 9)},
		{"$a", eq.X.Position(), pos(2, 6)},
		{"1", eq.Y.Position(), pos(2, 12)},
		{"!", not.Pos, pos(2, 17)},
		{"uri element", elem.Pos, pos(2, 18)},
		{"myself", elem.Value.Position(), pos(2, 23)},
		{"call", call.Pos, pos(2, 31)},
		{"first argument", call.Args[0].Pos, pos(2, 33)},
		{"second argument", call.Args[1].Pos, pos(2, 38)},
		{"route body", f.Routes[0].Body.Pos, pos(1, 7)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s at %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestDefinePositions(t *testing.T) {
	// Tokens from a define's value are at the name that was replaced.
	f := mustParse(t, "#!define CALL f(1)\nroute {\n\t  CALL;\n}\n", Options{})
	c := f.Routes[0].Body.Stmts[0].(*Call)
	if c.Pos != pos(3, 4) || c.Args[0].Pos != pos(3, 4) || c.Args[0].Int != 1 {
		t.Errorf("call %+v at %v, argument at %v; want both at 3:4", c, c.Pos, c.Args[0].Pos)
	}
}

func TestItemModes(t *testing.T) {
	f := mustParse(t, "loadmodule \"a\"\n#!KAMAILIO\nmodparam(\"a\", \"b\", 1)\nroute { $x = 1; }\n#!SER\nroute[S] { $x = 1; }\n", Options{})
	lm := f.Items[0].(*LoadModule)
	mp := f.Items[1].(*ModParam)
	if lm.Mode != ModeMaxCompat || mp.Mode != ModeKamailio {
		t.Errorf("loadmodule mode %v, modparam mode %v", lm.Mode, mp.Mode)
	}
	r0, r1 := f.Routes[0], f.Routes[1]
	if r0.Mode != ModeKamailio || r1.Mode != ModeSER {
		t.Errorf("route modes %v, %v", r0.Mode, r1.Mode)
	}
	if pv := r1.Body.Stmts[0].(*Assign).LHS; pv.Mode != ModeSER || pv.Kind != PVAttr {
		t.Errorf("$x in SER mode: %+v", pv)
	}
	// The starting mode comes from the options.
	f = mustParse(t, "route { $x = 1; }", Options{Mode: ModeKamailio})
	if pv := f.Routes[0].Body.Stmts[0].(*Assign).LHS; pv.Mode != ModeKamailio || pv.Kind != PVVar {
		t.Errorf("$x with Options.Mode KAMAILIO: %+v", pv)
	}
}

func TestIncludeError(t *testing.T) {
	denied := errors.New("permission denied")
	read := func(name string) ([]byte, error) {
		switch name {
		case "dir/locked.cfg":
			return nil, &fs.PathError{Op: "open", Path: name, Err: denied}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	_, err := Parse("dir/main.cfg", []byte("include_file \"missing.cfg\"\ninclude_file \"locked.cfg\"\n"), Options{ReadFile: read})
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, denied) {
		t.Errorf("errors.Is does not see the causes: %v", err)
	}
	var ie *IncludeError
	if !errors.As(err, &ie) || ie.Name != "missing.cfg" || strings.Join(ie.Tried, " ") != "./missing.cfg dir/missing.cfg" {
		t.Errorf("IncludeError = %+v", ie)
	}
	want := "dir/main.cfg:1:1: cannot open included file \"missing.cfg\" (tried ./missing.cfg, dir/missing.cfg)\n" +
		"dir/main.cfg:2:1: cannot open included file \"locked.cfg\" (tried ./locked.cfg, dir/locked.cfg): open dir/locked.cfg: permission denied"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestParseFileMissing(t *testing.T) {
	f, err := ParseFile("testdata/does-not-exist.cfg", Options{})
	if f != nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "does-not-exist.cfg") {
		t.Errorf("ParseFile = %v, %v", f, err)
	}
}

func TestLimits(t *testing.T) {
	deep := func(open, close string, n int) string {
		return "route {" + strings.Repeat(open, n) + strings.Repeat(close, n) + "}"
	}
	chain := "#!define D0 x\n"
	for i := 1; i < 100; i++ {
		chain += fmt.Sprintf("#!define D%d D%d\n", i, i-1)
	}
	blowup := "#!define B0 x;\n"
	for i := 1; i < 30; i++ {
		blowup += fmt.Sprintf("#!define B%d B%d B%d\n", i, i-1, i-1)
	}
	tests := []struct {
		name string
		src  string
		opts Options
		want string // a part of the first error
	}{
		{"blocks", deep("{", "}", maxNesting+10), Options{}, "nesting too deep (more than 200 levels)"},
		{"parentheses", "route { $x = " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + "; }", Options{}, "nesting too deep"},
		{"operator chains", "route { $x = 1" + strings.Repeat(" + 1", 300) + "; }", Options{}, "nesting too deep"},
		{"unary operators", "route { $x = " + strings.Repeat("!", 300) + "1; }", Options{}, "nesting too deep"},
		{"if chains", "route {" + strings.Repeat("if (a) ", 300) + "b(); }", Options{}, "nesting too deep"},
		{"include depth", "include_file \"t.cfg\"\n", Options{ReadFile: func(string) ([]byte, error) {
			return []byte("include_file \"t.cfg\"\n"), nil
		}}, "too many nested includes (more than 10)"},
		{"include depth option", "include_file \"t.cfg\"\n", Options{MaxIncludeDepth: 2, ReadFile: func(string) ([]byte, error) {
			return []byte("include_file \"t.cfg\"\n"), nil
		}}, "too many nested includes (more than 2)"},
		{"included files", strings.Repeat("include_file \"a.cfg\"\n", 1001), Options{ReadFile: func(string) ([]byte, error) {
			return []byte("x=1\n"), nil
		}}, "t.cfg:1000:1: include_file \"a.cfg\": too many included files (more than 1000)"},
		{"define chain", chain + "route { D99; }", Options{}, "expansion nested too deeply (more than 64 levels)"},
		{"define blowup", blowup + "route { B29; }", Options{}, "too many #!define expansions (more than 100000, or more than 1048576 bytes)"},
		{"define bytes", "#!define L \"" + strings.Repeat("x", 6000) + "\"\n" + strings.Replace(blowup, "B0 x;", "B0 f(L);", 1) + "route { B29; }", Options{}, "too many #!define expansions"},
		{"open ifdefs", strings.Repeat("#!ifdef X\n", 5), Options{Defines: map[string]string{"X": ""}},
			"t.cfg:6:1: 5 #!ifdef/#!ifndef without #!endif (#!ifdef at t.cfg:1:1, #!ifdef at t.cfg:2:1, #!ifdef at t.cfg:3:1, and 2 more)"},
		{"error count", strings.Repeat("x x\n", 150), Options{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := errorsOf(t, tc.src, tc.opts)
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			if tc.want == "" {
				if len(errs) != maxErrors+1 || !strings.Contains(errs[maxErrors], "too many errors (more than 100), giving up") {
					t.Errorf("%d errors, last %q", len(errs), errs[len(errs)-1])
				}
				return
			}
			if !strings.Contains(errs[0], tc.want) {
				t.Errorf("first error %q, want it to contain %q", errs[0], tc.want)
			}
		})
	}
}

func TestErrorList(t *testing.T) {
	c := &errorCollector{}
	c.fileRank("main.cfg")
	c.errorf(sr.Pos{File: "inc.cfg", Line: 1, Col: 1}, "in the include")
	c.errorf(sr.Pos{File: "main.cfg", Line: 9, Col: 2}, "late")
	c.errorf(sr.Pos{File: "main.cfg", Line: 3, Col: 7}, "early")
	c.errorf(sr.Pos{File: "main.cfg", Line: 3, Col: 7}, "same place, dropped")
	c.errorf(sr.Pos{File: "main.cfg", Line: 3, Col: 1}, "earlier on the line")
	err := c.result()
	want := "main.cfg:3:1: earlier on the line\nmain.cfg:3:7: early\nmain.cfg:9:2: late\ninc.cfg:1:1: in the include"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 4 || len(list.Unwrap()) != 4 {
		t.Errorf("ErrorList = %v", list)
	}
	var pe *sr.PosError
	if !errors.As(err, &pe) || pe.Pos.Line != 3 || pe.Pos.Col != 1 {
		t.Errorf("errors.As *sr.PosError = %+v", pe)
	}
	if (&errorCollector{}).result() != nil {
		t.Error("no errors must give a nil error")
	}
}

func TestInspect(t *testing.T) {
	f := mustParse(t, "debug=1\nroute { if (a()) { b(); } c(); }\n", Options{})
	var all, skipped []string
	Inspect(f, func(n Node) bool {
		all = append(all, fmt.Sprintf("%T", n))
		return true
	})
	Inspect(f, func(n Node) bool {
		skipped = append(skipped, fmt.Sprintf("%T", n))
		_, isIf := n.(*If)
		return !isIf
	})
	want := "*cfg.File *cfg.Global *cfg.Value *cfg.Route *cfg.Block *cfg.If *cfg.Call *cfg.Block *cfg.Call *cfg.Call"
	if got := strings.Join(all, " "); got != want {
		t.Errorf("Inspect visits\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(skipped, " "); got != "*cfg.File *cfg.Global *cfg.Value *cfg.Route *cfg.Block *cfg.If *cfg.Call" {
		t.Errorf("Inspect without the if's children visits %s", got)
	}
}

func TestFprintNodes(t *testing.T) {
	f := mustParse(t, "route { if ($x == 1) exit; }", Options{})
	ifs := f.Routes[0].Body.Stmts[0].(*If)
	tests := []struct {
		node Node
		want string
	}{
		{ifs, "1:9 if (== $x<pv-or-attr:M> 1)\n  then 1:22 exit\n"},
		{ifs.Cond, "1:13 (== $x<pv-or-attr:M> 1)\n"},
		{f.Routes[0], "1:1 route type=request_route\n  1:9 if (== $x<pv-or-attr:M> 1)\n    then 1:22 exit\n"},
	}
	for _, tc := range tests {
		var b strings.Builder
		if err := Fprint(&b, tc.node); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("Fprint(%T) =\n%s\nwant\n%s", tc.node, b.String(), tc.want)
		}
	}
}
