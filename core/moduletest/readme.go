// Package moduletest is the test kit every module tree uses: it checks
// that a module's README.md has the fixed shape and documents exactly what
// the module registers, and that the config examples in it load.
package moduletest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/server"
)

// Sections are the README sections, in order.
var Sections = []string{
	"Description", "Dependencies", "Parameters", "Functions",
	"Pseudo-Variables", "RPC Commands", "Tables", "Examples",
}

// README is a module README split into its parts.
type README struct {
	Title    string
	Sections map[string]*Section
	Order    []string
}

// Section is one "## Name" part: its text, its "### heading" entries and
// its fenced code blocks.
type Section struct {
	Text     []string
	Headings []string
	Code     []Code
	Items    []string // "- item" lines
}

// Code is a fenced block and its info string (```cfg).
type Code struct {
	Lang string
	Text string
	Line int
}

// ParseREADME reads a README.
func ParseREADME(path string) (*README, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &README{Sections: map[string]*Section{}}
	var cur *Section
	var code *Code
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if code != nil {
			if strings.HasPrefix(line, "```") {
				if cur != nil {
					cur.Code = append(cur.Code, *code)
				}
				code = nil
				continue
			}
			code.Text += line + "\n"
			continue
		}
		switch {
		case strings.HasPrefix(line, "```"):
			code = &Code{Lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), Line: n + 1}
		case strings.HasPrefix(line, "# "):
			r.Title = strings.TrimSpace(line[2:])
		case strings.HasPrefix(line, "## "):
			name := strings.TrimSpace(line[3:])
			cur = &Section{}
			r.Sections[name] = cur
			r.Order = append(r.Order, name)
		case strings.HasPrefix(line, "### ") && cur != nil:
			cur.Headings = append(cur.Headings, strings.TrimSpace(line[4:]))
		case strings.HasPrefix(line, "- ") && cur != nil:
			cur.Items = append(cur.Items, strings.TrimSpace(line[2:]))
			cur.Text = append(cur.Text, line)
		case cur != nil && strings.TrimSpace(line) != "":
			cur.Text = append(cur.Text, line)
		}
	}
	return r, sc.Err()
}

// isNone reports whether a section says "None.".
func (s *Section) isNone() bool {
	return len(s.Headings) == 0 && len(s.Items) == 0 && len(s.Text) == 1 && strings.TrimSpace(s.Text[0]) == "None."
}

// CheckTree checks the README of every compiled-in module of a tree. dir
// is the tree's folder (the test's working directory: ".").
func CheckTree(t *testing.T, tree, dir string) {
	t.Helper()
	var mods []*module.Module
	for _, m := range module.All() {
		if m.Tree == tree {
			mods = append(mods, m)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, m := range mods {
		registered[m.Name] = true
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && e.Name() != "testdata" && !registered[e.Name()] {
			if files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.go")); len(files) > 0 {
				t.Errorf("%s/%s is not imported by this tree's test (run make generate)", tree, e.Name())
			}
		}
	}
	for _, m := range mods {
		t.Run(m.Name, func(t *testing.T) { CheckModule(t, m, filepath.Join(dir, m.Name, "README.md")) })
	}
}

// CheckModule checks one module's README against its registration.
func CheckModule(t *testing.T, m *module.Module, path string) {
	t.Helper()
	r, err := ParseREADME(path)
	if err != nil {
		t.Fatalf("README: %v", err)
	}
	if r.Title != m.Name {
		t.Errorf("%s: title %q, want %q", path, r.Title, m.Name)
	}
	if strings.Join(r.Order, "|") != strings.Join(Sections, "|") {
		t.Errorf("%s: sections %q, want exactly %q in this order", path, r.Order, Sections)
		return
	}
	if s := r.Sections["Description"]; len(s.Text) == 0 {
		t.Errorf("%s: empty Description", path)
	}

	compare := func(section string, got, want []string) {
		t.Helper()
		s := r.Sections[section]
		if len(want) == 0 {
			if !s.isNone() {
				t.Errorf("%s: %s: the module registers none, the section must say exactly \"None.\"", path, section)
			}
			return
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %s documents\n  %s\nthe module registers\n  %s", path, section,
				strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}

	compare("Dependencies", r.Sections["Dependencies"].Items, m.Deps)

	var params []string
	for _, p := range m.Params {
		params = append(params, p.Describe())
	}
	compare("Parameters", r.Sections["Parameters"].Headings, params)

	seen := map[string]bool{}
	var funcs []string
	for _, f := range m.Funcs {
		if !seen[f.Name] {
			seen[f.Name] = true
			funcs = append(funcs, f.Name)
		}
	}
	compare("Functions", headingNames(r.Sections["Functions"].Headings), funcs)

	var pvs []string
	for _, p := range m.PVs {
		pvs = append(pvs, "$"+p.Name)
	}
	compare("Pseudo-Variables", headingNames(r.Sections["Pseudo-Variables"].Headings), pvs)

	var rpcs []string
	for _, c := range m.RPCs {
		rpcs = append(rpcs, c.Name)
	}
	compare("RPC Commands", headingNames(r.Sections["RPC Commands"].Headings), rpcs)

	compare("Tables", headingNames(r.Sections["Tables"].Headings), m.Tables)

	ex := r.Sections["Examples"]
	n := 0
	for _, c := range ex.Code {
		if c.Lang != "cfg" {
			continue
		}
		n++
		checkExample(t, path, c)
	}
	if n == 0 {
		t.Errorf("%s: Examples has no ```cfg block", path)
	}
}

// headingNames takes the name of each "### name(args)" or "### $name(x)"
// heading: the text before "(" or a blank.
func headingNames(hs []string) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		if i := strings.IndexAny(h, "( "); i > 0 {
			h = h[:i]
		}
		out = append(out, h)
	}
	return out
}

// checkExample loads a README config example as -c would, with every
// compiled-in module available.
func checkExample(t *testing.T, path string, c Code) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "example.cfg")
	if err := os.WriteFile(cfgPath, []byte(c.Text), 0o644); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, m := range module.All() {
		all = append(all, m.ID())
	}
	f := &flavor.Flavor{Name: "test", Binary: "test", Compat: "maxcompat", Modules: all, Available: all}
	if _, err := server.Load(f, server.LoadOptions{Path: cfgPath}); err != nil {
		t.Errorf("%s:%d: the example does not load:\n%s", path, c.Line,
			strings.ReplaceAll(err.Error(), cfgPath, fmt.Sprintf("example at README line %d", c.Line)))
	}
}
