package cfg

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected part of testdata/*.cfgtest")

// A .cfgtest file holds a configuration, a line "----", then what Parse
// must give: the Fprint dump, or the exact error lines.
//
// The configuration is either plain text (the main file, main.cfg), or a
// list of sections, each starting with a line "-- NAME --": the first is
// the main file, the others are files it may include. Text before the
// first section is a comment. A section "-- @defines --" lists
// predefined names, one NAME or NAME=VALUE per line, like -A.
type cfgTest struct {
	comment string
	main    string
	files   map[string][]byte
	defines map[string]string
	want    string
}

const cfgTestSep = "----\n"

func parseCfgTest(data string) (*cfgTest, error) {
	var input, want string
	switch i := strings.Index(data, "\n"+cfgTestSep); {
	case strings.HasPrefix(data, cfgTestSep):
		want = data[len(cfgTestSep):]
	case i >= 0:
		input, want = data[:i+1], data[i+1+len(cfgTestSep):]
	default:
		return nil, errors.New("no ---- separator line")
	}
	tc := &cfgTest{files: make(map[string][]byte), want: want}
	lines := strings.SplitAfter(input, "\n")
	name, body := "", ""
	flush := func() {
		switch {
		case name == "@defines":
			tc.defines = make(map[string]string)
			for _, l := range strings.Split(body, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					k, v, _ := strings.Cut(l, "=")
					tc.defines[k] = v
				}
			}
		case name != "":
			if tc.main == "" {
				tc.main = name
			}
			tc.files[name] = []byte(body)
		default:
			tc.comment = body
		}
	}
	for _, l := range lines {
		t := strings.TrimSuffix(l, "\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			flush()
			name, body = t[3:len(t)-3], ""
			continue
		}
		body += l
	}
	flush()
	if tc.main == "" {
		tc.main = "main.cfg"
		tc.files["main.cfg"] = []byte(tc.comment)
		tc.comment = ""
	}
	return tc, nil
}

func (tc *cfgTest) format(got string) string {
	var b strings.Builder
	if tc.comment != "" {
		b.WriteString(tc.comment)
	}
	names := make([]string, 0, len(tc.files))
	for n := range tc.files {
		if n != tc.main {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	sections := len(names) > 0 || tc.defines != nil || tc.comment != "" || tc.main != "main.cfg"
	if sections {
		b.WriteString("-- " + tc.main + " --\n")
	}
	b.Write(tc.files[tc.main])
	for _, n := range names {
		b.WriteString("-- " + n + " --\n")
		b.Write(tc.files[n])
	}
	if tc.defines != nil {
		b.WriteString("-- @defines --\n")
		keys := make([]string, 0, len(tc.defines))
		for k := range tc.defines {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v := tc.defines[k]; v != "" {
				b.WriteString(k + "=" + v + "\n")
			} else {
				b.WriteString(k + "\n")
			}
		}
	}
	b.WriteString(cfgTestSep)
	b.WriteString(got)
	return b.String()
}

// memFiles returns a ReadFile over in-memory files.
func memFiles(files map[string][]byte) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if src, ok := files[filepath.Clean(name)]; ok {
			return src, nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

// run parses the test's configuration and renders the result.
func (tc *cfgTest) run() string {
	f, err := ParseFile(tc.main, Options{Defines: tc.defines, ReadFile: memFiles(tc.files)})
	if err != nil {
		return err.Error() + "\n"
	}
	var buf bytes.Buffer
	if err := Fprint(&buf, f); err != nil {
		return "Fprint: " + err.Error() + "\n"
	}
	return buf.String()
}

func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.cfgtest")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no testdata/*.cfgtest files")
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".cfgtest"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc, err := parseCfgTest(string(data))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			got := tc.run()
			if *update {
				if err := os.WriteFile(path, []byte(tc.format(got)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != tc.want {
				t.Errorf("%s: output differs (go test ./cfg -run Golden -update rewrites it)\n--- got:\n%s--- want:\n%s", path, got, tc.want)
			}
		})
	}
}

// The splitter itself, on a round trip.
func TestCfgTestFormat(t *testing.T) {
	tests := []struct {
		name, data string
		main       string
		files      int
	}{
		{"plain", "debug=1\n----\nout\n", "main.cfg", 1},
		{"sections", "about\n-- a.cfg --\nx=1\n-- b.cfg --\ny=2\n-- @defines --\nA\nB=1\n----\nout\n", "a.cfg", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := parseCfgTest(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if ct.main != tc.main || len(ct.files) != tc.files || ct.want != "out\n" {
				t.Fatalf("parsed %+v", ct)
			}
			if back := ct.format("out\n"); back != tc.data {
				t.Errorf("round trip:\n%q\nwant\n%q", back, tc.data)
			}
		})
	}
	if _, err := parseCfgTest("no separator\n"); err == nil {
		t.Error("missing separator accepted")
	}
}
