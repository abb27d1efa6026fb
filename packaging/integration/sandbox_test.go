package integration_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runner runs commands in the system the packages are installed into:
// a throwaway root (an overlay over / in a private mount namespace, so
// that dpkg and the maintainer scripts run for real and the machine is
// left untouched) or, under CI, the machine itself.
type runner interface {
	// Command prepares a command inside the system.
	Command(name string, args ...string) *exec.Cmd
	// Path is where a file of the test's temporary folder is seen inside.
	Path(host string) string
	// Kind names the system for messages.
	Kind() string
}

type hostRunner struct{}

func (hostRunner) Command(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
func (hostRunner) Path(p string) string                          { return p }
func (hostRunner) Kind() string                                  { return "this machine" }

// sandbox is an overlay of the root file system: writes go to a
// temporary upper layer, in a mount namespace of its own held open by a
// sleeping process. /dev, /proc, a fresh /run and /tmp, and the test's
// folder (at /mnt/srtest) are mounted inside.
type sandbox struct {
	proc   *exec.Cmd
	merged string
	share  string // the host folder seen at /mnt/srtest
}

const sandboxScript = `set -e
mount -t overlay overlay -o "lowerdir=/,upperdir=$SB/upper,workdir=$SB/work" "$SB/merged"
mount --rbind /dev "$SB/merged/dev"
mount -t proc proc "$SB/merged/proc"
mkdir -p "$SB/merged/mnt/srtest"
mount --bind "$SHARE" "$SB/merged/mnt/srtest"
mount -t tmpfs tmpfs "$SB/merged/run"
mount -t tmpfs tmpfs "$SB/merged/tmp"
echo ready
exec sleep 100000
`

// newSandbox makes a throwaway root; share is a host folder to see
// inside. It returns an error when the machine cannot (not root, no
// overlayfs, no unshare/nsenter).
func newSandbox(t *testing.T, share string) (*sandbox, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("not root")
	}
	for _, p := range []string{"unshare", "nsenter", "chroot"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	dir, err := os.MkdirTemp("", "srtest-root-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", sandboxScript)
	cmd.Env = append(os.Environ(), "SB="+dir, "SHARE="+share)
	// The namespace dies with the test, even a killed one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &sandbox{proc: cmd, merged: filepath.Join(dir, "merged"), share: share}
	t.Cleanup(s.close)
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			return nil, fmt.Errorf("setting up the overlay failed: %s", strings.TrimSpace(stderr.String()))
		}
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("the overlay was not ready within 20s")
	}
	return s, nil
}

func (s *sandbox) close() {
	if s.proc.Process != nil {
		_ = s.proc.Process.Kill() // the namespace and its mounts go with it
		_ = s.proc.Wait()
	}
}

func (s *sandbox) Command(name string, args ...string) *exec.Cmd {
	a := append([]string{"-t", strconv.Itoa(s.proc.Process.Pid), "-m", "--", "chroot", s.merged, name}, args...)
	cmd := exec.Command("nsenter", a...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LC_ALL=C"}
	return cmd
}

func (s *sandbox) Path(p string) string {
	rel, err := filepath.Rel(s.share, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return filepath.Join("/mnt/srtest", rel)
}

func (s *sandbox) Kind() string { return "a throwaway root (overlay over /)" }

// sh runs a shell command in the system and returns its output; it fails
// the test when the command fails.
func sh(t *testing.T, r runner, script string) string {
	t.Helper()
	out, err := shErr(r, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

func shErr(r runner, script string) (string, error) {
	out, err := r.Command("sh", "-c", script).CombinedOutput()
	return string(out), err
}
