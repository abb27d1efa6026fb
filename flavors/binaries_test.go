package flavors_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// binDir holds the kamailio and ser binaries built once for all scripts.
var binDir string

// binDirEnv passes binDir to a copy of the test binary run in another
// network namespace, so it does not build again.
const binDirEnv = "SIPROUTER_TEST_BIN_DIR"

func TestMain(m *testing.M) {
	if d := os.Getenv(binDirEnv); d != "" {
		binDir = d
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sr-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := func() int {
		for _, f := range []string{"kamailio", "ser"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, f), "./"+f)
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				println("building", f, "failed:", err.Error())
				return 1
			}
		}
		// The flavors' tools and their share folders (e2e_helpers_test.go).
		if err := buildTools(dir); err != nil {
			println("building the tools failed:", err.Error())
			return 1
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestBinaries runs testdata/script/*.txtar against the built kamailio and
// ser binaries: -V, -h, and -c on good and broken configs with the exact
// file:line:col lines on stderr.
func TestBinaries(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			// The real default configs, read where they are (never copied).
			shared, err := filepath.Abs("../../shared/testdata")
			if err != nil {
				return err
			}
			env.Setenv("SHARED", shared)
			return nil
		},
	})
}
