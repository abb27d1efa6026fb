package server_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/server"
	"sip-router.org/core/sr"
)

var update = flag.Bool("update", false, "rewrite the expected part of testdata/load/*.cfgtest")

// testmod is a module registered only in this test binary, to exercise
// function resolution, route masks and parameters.
type testmod struct {
	Num  int      `modparam:"num" min:"0" max:"10"`
	Str  string   `modparam:"str"`
	List []string `modparam:"list"`
}

func init() {
	module.Register(module.Spec[*testmod]{
		Name: "testmod",
		Tree: "modules",
		New:  func() *testmod { return &testmod{} },
		Funcs: []module.Func[*testmod]{
			{Name: "req_only", Args: []int{1}, Routes: sr.RouteRequest, Call: func(*testmod, *sr.Ctx, []any) int { return 1 }},
			{Name: "reply_only", Routes: sr.RouteOnReply, Call: func(*testmod, *sr.Ctx, []any) int { return 1 }},
			{Name: "two_ways", Args: []int{1, 2}, Routes: sr.RouteAny, Call: func(*testmod, *sr.Ctx, []any) int { return 1 }},
			{Name: "want_int", Args: []int{1}, Routes: sr.RouteAny,
				Fixup: func(_ *testmod, fx *module.Fixup, a []module.Arg) ([]any, error) {
					n, err := fx.Int(a[0])
					return []any{n}, err
				},
				Call: func(*testmod, *sr.Ctx, []any) int { return 1 }},
			{Name: "want_route", Args: []int{1}, Routes: sr.RouteAny,
				Fixup: func(_ *testmod, fx *module.Fixup, a []module.Arg) ([]any, error) {
					n, err := fx.RouteName(a[0], sr.RouteFailure)
					return []any{n}, err
				},
				Call: func(*testmod, *sr.Ctx, []any) int { return 1 }},
		},
	})
	// A module compiled in that configs do not load, for "not loaded" hints.
	module.Register(module.Spec[*struct{}]{
		Name: "idle", Tree: "modules",
		New: func() *struct{} { return &struct{}{} },
		Funcs: []module.Func[*struct{}]{
			{Name: "idle_func", Routes: sr.RouteAny, Call: func(*struct{}, *sr.Ctx, []any) int { return 1 }},
		},
	})
}

func testFlavor() *flavor.Flavor {
	return &flavor.Flavor{
		Name: "kamailio", Binary: "kamailio", Compat: "kamailio",
		Modules:   []string{"modules/testmod", "modules/idle"},
		Available: []string{"modules/testmod", "modules/idle", "modules_k/registrar"},
	}
}

// TestLoadGolden loads each testdata/load/*.cfgtest config (the part before
// the "----" line) and compares the outcome — "ok" plus warnings, or the
// exact error lines — with the part after it.
func TestLoadGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/load/*.cfgtest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".cfgtest")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfgText, want, ok := strings.Cut(string(raw), "\n----\n")
			if !ok {
				t.Fatalf("%s: no ---- separator", f)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, name+".cfg")
			if err := os.WriteFile(path, []byte(cfgText+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var got string
			l, err := server.Load(testFlavor(), server.LoadOptions{Path: path})
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir+"/", "") + "\n"
			} else {
				got = "ok\n"
				for _, w := range l.Warnings {
					got += strings.ReplaceAll(w.Pos.String(), dir+"/", "") + ": warning: " + w.Msg + "\n"
				}
			}
			if *update {
				if err := os.WriteFile(f, []byte(cfgText+"\n----\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s:\ngot:\n%swant:\n%s", f, got, want)
			}
		})
	}
}
