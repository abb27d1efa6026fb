// Package locationtest helps the tests of both usrloc modules: the
// configuration that loads one, and the registrar's way of adding
// contacts.
package locationtest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Config is a configuration that loads the modules of loads in order
// (their loadmodule names: "db_sqlite.so", "usrloc"; "" skipped), sets
// params for usrloc (strings quoted, other values as Go prints them, in
// the order of their names) and has a request route that drops.
func Config(params map[string]any, loads ...string) string {
	var cfg strings.Builder
	for _, m := range loads {
		if m != "" {
			fmt.Fprintf(&cfg, "loadmodule %q\n", m)
		}
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch v := params[k].(type) {
		case string:
			fmt.Fprintf(&cfg, "modparam(\"usrloc\", %q, %q)\n", k, v)
		default:
			fmt.Fprintf(&cfg, "modparam(\"usrloc\", %q, %v)\n", k, v)
		}
	}
	cfg.WriteString("route { drop; }\n")
	return cfg.String()
}

// Register is a module's RegisterDomain(name), failing the test on error.
func Register[D any](t testing.TB, register func(string) (D, error), name string) D {
	t.Helper()
	d, err := register(name)
	if err != nil {
		t.Fatalf("register domain %s: %v", name, err)
	}
	return d
}

// Add inserts contacts into the record of key through a domain's Update,
// each replacing the contact of the same URI (uri tells it) or added at
// the end, and returns the record; an error fails the test.
func Add[C, R any](t testing.TB, update func(string, bool, func([]C) ([]C, error)) (R, error), key string,
	uri func(c *C) string, cs ...C) R {
	t.Helper()
	rec, err := update(key, false, func(cur []C) ([]C, error) {
		out := cur
		for _, c := range cs {
			replaced := false
			for i := range out {
				if uri(&out[i]) == uri(&c) {
					out[i], replaced = c, true
				}
			}
			if !replaced {
				out = append(out, c)
			}
		}
		return out, nil
	})
	if err != nil {
		t.Fatalf("update %s: %v", key, err)
	}
	return rec
}
