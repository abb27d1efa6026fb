package flavors_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// need skips the test when a program is missing, except under CI
// (SIPROUTER_CI=1), where a missing tool is a failure.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("SIPROUTER_CI") != "" {
			t.Fatalf("%s is required under CI: %v", prog, err)
		}
		t.Skipf("%s not installed (apt-get install it to run this test)", prog)
	}
	return p
}

// freePort returns a port free on 127.0.0.1 for both UDP and TCP at the
// time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatal("no free port")
	return 0
}

// freeLowPort returns a port below 10000 free on 127.0.0.1 for UDP and
// TCP: sipsak keeps only four digits of a port in its URIs.
func freeLowPort(t *testing.T) int {
	t.Helper()
	for port := 5100 + int(time.Now().UnixNano()%4000); port < 9999; port++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatal("no free port below 10000")
	return 0
}

// server is a running binary of a flavor.
type server struct {
	cmd *exec.Cmd
	mu  *sync.Mutex
	log *strings.Builder
}

// Log returns what the server printed so far.
func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// startServer runs a built binary with a config in the foreground and
// stops it (SIGTERM, then kill) at the end of the test. It waits until the
// UDP port answers.
func startServer(t *testing.T, binary, config string, port int, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "test.cfg")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &strings.Builder{}
	mu := &sync.Mutex{}
	cmd := exec.Command(filepath.Join(binDir, binary), append([]string{"-DD", "-E", "-f", cfgPath}, args...)...)
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu, log}, &lockedWriter{mu, log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, mu: mu, log: log}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not stop within 10 s of SIGINT", binary)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", binary, s.Log())
		}
	})
	// Bound is not yet serving, but datagrams queue in the socket from
	// then on.
	deadline := time.Now().Add(20 * time.Second)
	for !bound("udp", port) {
		select {
		case <-exited:
			t.Fatalf("%s exited at start: %v\n%s", binary, waitErr, s.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not bind udp 127.0.0.1:%d within 20 s\n%s", binary, port, s.Log())
		}
	}
	return s
}

// lockedWriter serialises the writes of a process's stdout and stderr
// copiers into one builder.
type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// bound reports whether a socket is bound on 127.0.0.1:port (UDP) or
// listening there (TCP), from /proc/net/{udp,tcp}.
func bound(proto string, port int) bool {
	want := fmt.Sprintf("0100007F:%04X", port)
	b, err := os.ReadFile("/proc/net/" + proto)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == want && (proto == "udp" || f[3] == "0A") {
			return true
		}
	}
	return false
}

// waitBound waits until something is bound on 127.0.0.1:port.
func waitBound(t *testing.T, proto string, port int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !bound(proto, port) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing bound on %s 127.0.0.1:%d within 20 s", proto, port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var sippResult = regexp.MustCompile(`(?m)^\s+(Successful call|Failed call)\s+\|\s+\d+\s+\|\s+(\d+)`)

// sippCalls parses the final screen of a sipp run.
func sippCalls(out string) (ok, failed int) {
	for _, m := range sippResult.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "Successful call" {
			ok = n
		} else {
			failed = n
		}
	}
	return ok, failed
}

// sipp runs sipp with a deadline and returns its output.
func sipp(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, need(t, "sipp"), args...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A stateless forwarding config passes 1000 sipp calls uac → proxy → uas
// with zero failures, over UDP and over TCP.
func TestStatelessForwardSipp(t *testing.T) {
	need(t, "sipp")
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			proxyPort, uasPort, uacPort := freePort(t), freePort(t), freePort(t)
			cfg := fmt.Sprintf(`#!KAMAILIO
children=2
listen=udp:127.0.0.1:%[1]d
listen=tcp:127.0.0.1:%[1]d
route {
	forward("%[2]s:127.0.0.1:%[3]d");
}
`, proxyPort, proto, uasPort)
			startServer(t, "kamailio", cfg, proxyPort)

			transport := "u1"
			if proto == "tcp" {
				transport = "t1"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			uasDone := make(chan string, 1)
			go func() {
				out, _ := sipp(ctx, t, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort),
					"-t", transport, "-m", "1000", "-nostdin", "-timeout", "90s")
				uasDone <- out
			}()
			waitBound(t, proto, uasPort)
			out, err := sipp(ctx, t, "-sn", "uac", fmt.Sprintf("127.0.0.1:%d", proxyPort),
				"-i", "127.0.0.1", "-p", strconv.Itoa(uacPort), "-t", transport,
				"-r", "200", "-m", "1000", "-nostdin", "-timeout", "90s")
			ok, failed := sippCalls(out)
			if err != nil || ok != 1000 || failed != 0 {
				t.Fatalf("sipp uac: %d successful, %d failed (err %v)\n%s", ok, failed, err, tail(out, 40))
			}
			cancel()
			<-uasDone
		})
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
