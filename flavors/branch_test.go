package flavors_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// run runs a command in dir and returns its combined output; it fails the
// test when the command fails.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cloneRepo clones the repository (its committed state, as CI sees it)
// into a temporary folder.
func cloneRepo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skip("not a git checkout: the branch test needs git history")
	}
	dir := filepath.Join(t.TempDir(), "clone")
	run(t, "", "git", "clone", "--quiet", root, dir)
	return dir
}

// Each branch carries its default flavor in flavors/default: a branch
// holding "ser" builds ser with a plain "make build", main builds
// kamailio, and the two outputs live side by side without mixing.
func TestDefaultFlavorPerBranch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two flavors in a clone")
	}
	dir := cloneRepo(t)
	start := strings.TrimSpace(run(t, dir, "git", "rev-parse", "--abbrev-ref", "HEAD"))

	run(t, dir, "git", "checkout", "--quiet", "-b", "sr_3.0")
	if err := os.WriteFile(filepath.Join(dir, "flavors", "default"), []byte("ser\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "git", "commit", "--quiet", "-am", "sr_3.0 builds ser by default")
	run(t, dir, "make", "build")
	ser := filepath.Join(dir, "build", "ser", "sbin", "ser")
	if out := run(t, dir, ser, "-V"); !strings.Contains(out, "flavor: ser\n") {
		t.Errorf("sr_3.0 built something else:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "build", "kamailio")); err == nil {
		t.Error("building ser on sr_3.0 produced build/kamailio")
	}

	run(t, dir, "git", "checkout", "--quiet", start)
	run(t, dir, "make", "build")
	kam := filepath.Join(dir, "build", "kamailio", "sbin", "kamailio")
	if out := run(t, dir, kam, "-V"); !strings.Contains(out, "flavor: kamailio\n") {
		t.Errorf("%s built something else:\n%s", start, out)
	}
	// The ser build from the other branch is still there, untouched.
	if out := run(t, dir, ser, "-V"); !strings.Contains(out, "flavor: ser\n") {
		t.Errorf("the ser build was changed by the kamailio build:\n%s", out)
	}
}

// A manifest with a misspelt key stops the build before compiling, naming
// its line.
func TestMisspeltManifestKey(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make in a clone")
	}
	dir := cloneRepo(t)
	src, err := os.ReadFile(filepath.Join(dir, "flavors", "kamailio.toml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	line := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "binary = ") {
			lines[i] = strings.Replace(l, "binary", "binray", 1)
			line = i + 1
		}
	}
	mine := filepath.Join(dir, "mine.toml")
	if err := os.WriteFile(mine, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runErr(dir, "make", "manifest=mine.toml", "build")
	if err == nil {
		t.Fatalf("make succeeded with a misspelt key:\n%s", out)
	}
	want := "mine.toml:" + strconv.Itoa(line) + `: unknown key "flavor.binray" (did you mean "flavor.binary"?)`
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "go build") || strings.Contains(out, "==> built") {
		t.Errorf("make compiled despite the manifest error:\n%s", out)
	}
}
