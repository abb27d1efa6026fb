package cfg

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that the parser never panics and always ends, whatever
// the input, and that what it returns is consistent. The seeds are in
// testdata/fuzz/FuzzParse; the real configurations are added here.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"kamailio-3.0.0.cfg", "kamailio-5.6.3.cfg", "ser-3.0.3.cfg", "ser-basic-3.0.3.cfg"} {
		src, err := os.ReadFile(configDir + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	included := []byte("x=1\nroute[INC] { include_file \"inc.cfg\" exit; }\n")
	read := func(name string) ([]byte, error) {
		if name == "inc.cfg" {
			return included, nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.cfg", src, Options{
			ReadFile: read,
			Defines:  map[string]string{"WITH_AUTH": "", "WITH_MYSQL": "", "DBURL": `"mysql://x"`},
		})
		if file == nil {
			t.Fatal("nil File")
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || len(list) > maxErrors+1 {
				t.Fatalf("error is not a sensible ErrorList: %T %v", err, err)
			}
			for _, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Pos.File == "" {
					t.Fatalf("error without a position: %v", e)
				}
			}
		}
		// The tree, even a partial one, prints and walks.
		var b strings.Builder
		if err := Fprint(&b, file); err != nil {
			t.Fatal(err)
		}
		Inspect(file, func(n Node) bool {
			if p := n.Position(); p.Line < 1 {
				t.Fatalf("%T without a position", n)
			}
			return true
		})
	})
}
