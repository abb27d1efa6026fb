package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	authdb "sip-router.org/modules_k/auth_db"
	"sip-router.org/modules_k/usrloc"
)

// bin holds the kamailio and kamctl binaries, built once.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ctltool-bin-")
	if err != nil {
		panic(err)
	}
	bin = dir
	code := func() int {
		_, file, _, _ := runtime.Caller(0)
		here := filepath.Dir(file)
		builds := []struct{ out, pkg, ldflags string }{
			{"kamailio", "sip-router.org/flavors/kamailio", ""},
			{"kamctl", ".", "-X main.toolName=kamctl -X main.flavorName=kamailio"},
		}
		// SIPROUTER_TEST_KAMAILIO names a kamailio binary built already
		// (by make build, or one that leaves out a module being written).
		if k := os.Getenv("SIPROUTER_TEST_KAMAILIO"); k != "" {
			if err := os.Symlink(k, filepath.Join(dir, "kamailio")); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			builds = builds[1:]
		}
		for _, b := range builds {
			cmd := exec.Command("go", "build", "-ldflags", b.ldflags, "-o", filepath.Join(dir, b.out), b.pkg)
			cmd.Dir = here
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s failed: %v\n", b.out, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandbox is a config root, a HOME and a share folder (the flavor record
// and the schema, as the build installs them) for kamctl runs.
type sandbox struct {
	t                *testing.T
	etc, home, share string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	s := &sandbox{t: t, etc: t.TempDir(), home: t.TempDir(), share: t.TempDir()}
	dump := exec.Command(filepath.Join(bin, "kamailio"), "--dump-schema", s.share)
	if out, err := dump.CombinedOutput(); err != nil {
		t.Fatalf("dump schema: %v\n%s", err, out)
	}
	rec, _ := json.Marshal(map[string]any{
		"name": "kamailio", "binary": "kamailio", "version": "3.0.0", "ctl_tool": "kamctl", "ctl_rc": "kamctlrc",
		"db_tool": "kamdbctl", "defaults": map[string]string{"fifo": "/nonexistent/kamailio_fifo"},
		"db": map[string]any{"name": "kamailio", "tables": []string{"version", "subscriber", "location"}},
	})
	s.write(filepath.Join(s.share, "flavor.json"), string(rec))
	return s
}

func (s *sandbox) write(p, text string) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sandbox) sysRC(text string) { s.write(filepath.Join(s.etc, "kamailio", "kamctlrc"), text) }

func (s *sandbox) userRC(text string) { s.write(filepath.Join(s.home, ".kamctlrc"), text) }

// kamctl runs the built tool in the sandbox.
func (s *sandbox) kamctl(args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "kamctl"), args...)
	env := []string{"HOME=" + s.home, "SIPROUTER_SYSCONFDIR=" + s.etc, "SIPROUTER_SHAREDIR=" + s.share}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "PATH" || name == "TMPDIR" {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		s.t.Fatalf("kamctl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

func (s *sandbox) ok(args ...string) string {
	s.t.Helper()
	out, errs, code := s.kamctl(args...)
	if code != 0 || errs != "" {
		s.t.Fatalf("kamctl %s: exit %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), code, errs, out)
	}
	return out
}

// fails checks exit 1, one line on stderr containing want, no output.
func (s *sandbox) fails(want string, args ...string) {
	s.t.Helper()
	out, errs, code := s.kamctl(args...)
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "kamctl: ") || !strings.Contains(errs, want) || out != "" {
		s.t.Errorf("kamctl %s: exit %d, stdout %q, stderr %q; want exit 1 and one line with %q",
			strings.Join(args, " "), code, out, errs, want)
	}
}

// backend is a database the acceptance test runs on.
type backend struct {
	name string
	// setup creates an empty database and returns the server's db_url,
	// the rc lines that point kamctl at it, and the config define that
	// loads its driver.
	setup func(t *testing.T) (url, rc, define string)
}

var backends = []backend{
	{"sqlite", func(t *testing.T) (string, string, string) {
		p := filepath.Join(t.TempDir(), "kamailio.db")
		return "sqlite://" + p, "DBENGINE=SQLITE\nDB_PATH=" + p + "\n", ""
	}},
	{"mysql", func(t *testing.T) (string, string, string) {
		name := "srtest_ctl_" + randHex(6)
		admin := adminDB(t, "mysql://root@127.0.0.1:3306/mysql", "MySQL/MariaDB on 127.0.0.1:3306 (root, no password)")
		pw := "pw" + randHex(4)
		stmts := []string{"CREATE DATABASE " + name}
		for _, host := range []string{"%", "localhost", "127.0.0.1"} {
			stmts = append(stmts, fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", name, host, pw),
				fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%s'", name, name, host))
		}
		execAll(t, admin, stmts...)
		t.Cleanup(func() {
			execAll(t, admin, "DROP DATABASE IF EXISTS "+name)
			for _, host := range []string{"%", "localhost", "127.0.0.1"} {
				execAll(t, admin, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", name, host))
			}
		})
		rc := fmt.Sprintf("DBENGINE=MYSQL\nDBHOST=127.0.0.1\nDBPORT=3306\nDBNAME=%s\nDBRWUSER=%s\nDBRWPW=%s\n", name, name, pw)
		return fmt.Sprintf("mysql://%s:%s@127.0.0.1:3306/%s", name, pw, name), rc, "WITH_MYSQL"
	}},
	{"postgres", func(t *testing.T) (string, string, string) {
		name := "srtest_ctl_" + randHex(6)
		admin := adminDB(t, "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL on 127.0.0.1:5432 (user postgres)")
		execAll(t, admin, "CREATE DATABASE "+name)
		t.Cleanup(func() { execAll(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
		rc := fmt.Sprintf("DBENGINE=PGSQL\nDBHOST=127.0.0.1\nDBPORT=5432\nDBNAME=%s\nDBRWUSER=postgres\nDBRWPW=trusted\n", name)
		return "postgres://postgres:trusted@127.0.0.1:5432/" + name, rc, "WITH_PGSQL"
	}},
}

func adminDB(t *testing.T, url, what string) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		dbtest.Unavailable(t, "%s is not reachable: %v", what, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func execAll(t *testing.T, d *db.DB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := d.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// server is a running kamailio.
type server struct {
	port       int
	fifo, sock string
	mu         sync.Mutex
	log        bytes.Buffer
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// startKamailio runs the flavor's default config (registrar, usrloc in
// db_mode 2, auth_db, mi_fifo and ctl) on the database of url.
func startKamailio(t *testing.T, url, define string) *server {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "kc") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	s := &server{port: freeUDPPort(t), fifo: filepath.Join(sockDir, "fifo"), sock: filepath.Join(sockDir, "ctl")}
	_, file, _, _ := runtime.Caller(0)
	cfg := filepath.Join(filepath.Dir(file), "..", "..", "..", "flavors", "kamailio", "etc", "kamailio.cfg")
	args := []string{"-DD", "-E", "-f", cfg, "-l", fmt.Sprintf("udp:127.0.0.1:%d", s.port),
		"-A", fmt.Sprintf("DBURL=%q", url), "-A", fmt.Sprintf("FIFO=%q", s.fifo), "-A", fmt.Sprintf("CTLSOCK=%q", "unix:"+s.sock)}
	if define != "" {
		args = append(args, "-A", define)
	}
	cmd := exec.Command(filepath.Join(bin, "kamailio"), args...)
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("kamailio did not stop within 10 s")
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", s.Log())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, ferr := os.Stat(s.fifo)
		_, serr := os.Stat(s.sock)
		if ferr == nil && serr == nil && udpBound(s.port) {
			return s
		}
		select {
		case <-exited:
			t.Fatalf("kamailio exited at start:\n%s", s.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio not ready within 20 s:\n%s", s.Log())
		}
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// udpBound reports whether something is bound on 127.0.0.1:port.
func udpBound(port int) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(fmt.Sprintf("0100007F:%04X", port)))
}

// The acceptance test of the control tool on each database, over FIFO and
// over UNIXSOCK: kamctl add, then a REGISTER with that password succeeds;
// ul show lists the contact; ul rm removes it and a request to the user
// gets 404; passwd changes the password (the old one fails, the new one
// works).
func TestAcceptance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, rc, define := b.setup(t)
			createTables(t, url)
			srv := startKamailio(t, url, define)
			sb := newSandbox(t)
			sb.sysRC(rc + "SIP_DOMAIN=example.com\n")
			for _, tc := range []struct{ engine, user, rc string }{
				{"FIFO", "alice", "CTLENGINE=FIFO\nOSER_FIFO=" + srv.fifo + "\n"},
				{"UNIXSOCK", "bob", "CTLENGINE=UNIXSOCK\nOSER_UNIXSOCK=unix:" + srv.sock + "\n"},
			} {
				t.Run(tc.engine, func(t *testing.T) {
					sb.t = t
					sb.userRC(tc.rc)
					scenario(t, sb, srv, tc.user)
				})
			}
			sb.t = t
			// Errors against the running server: one line, exit 1.
			sb.fails("command not found", "fifo", "no.such.command")
			sb.fails("malformed command name", "fifo", "core.ps\n:ul.rm:x")
			if out := sb.ok("version"); !strings.Contains(out, "server: kamailio 3.0.0") {
				t.Errorf("version: %q", out)
			}
		})
	}
}

func createTables(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := db.CreateTables(ctx, d, []*schema.Table{authdb.Subscriber(), usrloc.Location()}); err != nil {
		t.Fatal(err)
	}
}

func scenario(t *testing.T, sb *sandbox, srv *server, user string) {
	proxy := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: srv.port}
	ua := newUA(t, user, proxy)

	if out := sb.ok("add", user+"@example.com", "secret"); !strings.Contains(out, "new user '"+user+"@example.com' added") {
		t.Errorf("add: %q", out)
	}
	sb.fails("already exists", "add", user, "other")
	if code := ua.register("secret"); code != 200 {
		t.Fatalf("REGISTER with the password kamctl set: %d", code)
	}
	out := sb.ok("ul", "show")
	if !strings.Contains(out, "AOR: "+user+"\n\tContact: <"+ua.contact()+"> expires=") {
		t.Errorf("ul show does not list the contact %s:\n%s", ua.contact(), out)
	}
	if out := sb.ok("ul", "show", user); !strings.Contains(out, "<"+ua.contact()+">") {
		t.Errorf("ul show %s: %q", user, out)
	}
	if out := sb.ok("online"); !strings.Contains(out, user+"\n") {
		t.Errorf("online: %q", out)
	}
	// A request to the user reaches the registered contact.
	if code := sendMessage(t, proxy, user, ua); code != 200 {
		t.Errorf("MESSAGE to the registered %s: %d", user, code)
	}
	sb.ok("ul", "rm", user)
	if out := sb.ok("online"); strings.Contains(out, user+"\n") {
		t.Errorf("online after ul rm: %q", out)
	}
	if code := sendMessage(t, proxy, user, nil); code != 404 {
		t.Errorf("MESSAGE to %s after ul rm: %d, want 404", user, code)
	}
	sb.ok("passwd", user, "changed")
	if code := ua.register("secret"); code != 401 {
		t.Errorf("REGISTER with the old password: %d, want 401", code)
	}
	if code := ua.register("changed"); code != 200 {
		t.Errorf("REGISTER with the new password: %d, want 200", code)
	}
	sb.ok("rm", user)
	if code := ua.register("changed"); code != 401 {
		t.Errorf("REGISTER after rm: %d, want 401", code)
	}
	if out := sb.ok("online"); strings.Contains(out, user+"\n") {
		t.Errorf("the contacts of a removed user stay: %q", out)
	}
}

// ua is a minimal SIP user agent over UDP: it registers with digest
// authentication and answers requests with 200.
type ua struct {
	t     *testing.T
	user  string
	conn  *net.UDPConn
	proxy *net.UDPAddr
	cseq  int
	call  string
}

func newUA(t *testing.T, user string, proxy *net.UDPAddr) *ua {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &ua{t: t, user: user, conn: conn, proxy: proxy, call: randHex(8) + "@test"}
}

func (u *ua) contact() string { return "sip:" + u.user + "@" + u.conn.LocalAddr().String() }

// register sends a REGISTER, answers one challenge with the password and
// returns the final status.
func (u *ua) register(password string) int {
	u.t.Helper()
	auth := ""
	for round := 0; round < 2; round++ {
		u.cseq++
		ruri := fmt.Sprintf("sip:%s", u.proxy)
		branch := "z9hG4bK" + randHex(6)
		req := fmt.Sprintf("REGISTER %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=%s\r\nMax-Forwards: 70\r\n"+
			"From: <sip:%s@example.com>;tag=ft%s\r\nTo: <sip:%s@example.com>\r\nCall-ID: %s\r\nCSeq: %d REGISTER\r\n"+
			"Contact: <%s>\r\nExpires: 3600\r\n%sContent-Length: 0\r\n\r\n",
			ruri, u.conn.LocalAddr(), branch, u.user, u.user, u.user, u.call, u.cseq, u.contact(), auth)
		code, hdrs := u.transact([]byte(req), branch)
		if code != 401 || auth != "" {
			return code
		}
		auth = digestAuth(u.t, hdrs["www-authenticate"], u.user, password, "REGISTER", ruri)
	}
	return 0
}

// transact sends a request and returns the final reply's code and
// headers (lower-case names), retransmitting every 500 ms.
func (u *ua) transact(req []byte, branch string) (int, map[string]string) {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 65535)
	for time.Now().Before(deadline) {
		if _, err := u.conn.WriteToUDP(req, u.proxy); err != nil {
			u.t.Fatal(err)
		}
		resend := time.Now().Add(500 * time.Millisecond)
		for {
			_ = u.conn.SetReadDeadline(resend)
			n, _, err := u.conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			code, hdrs := parseMsg(string(buf[:n]))
			if code >= 200 && strings.Contains(hdrs["via"], branch) {
				return code, hdrs
			}
		}
	}
	u.t.Fatalf("no final reply to\n%s", req)
	return 0, nil
}

// parseMsg returns a reply's code (0 for a request) and its headers.
func parseMsg(msg string) (int, map[string]string) {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	code := 0
	if f := strings.Fields(lines[0]); len(f) >= 2 && f[0] == "SIP/2.0" {
		code, _ = strconv.Atoi(f[1])
	}
	hdrs := map[string]string{}
	for _, l := range lines[1:] {
		if name, val, ok := strings.Cut(l, ":"); ok {
			name = strings.ToLower(strings.TrimSpace(name))
			if _, dup := hdrs[name]; !dup {
				hdrs[name] = strings.TrimSpace(val)
			}
		}
	}
	return code, hdrs
}

// digestAuth answers a WWW-Authenticate challenge (qop=auth when offered).
func digestAuth(t *testing.T, challenge, user, password, method, uri string) string {
	t.Helper()
	params := map[string]string{}
	rest := strings.TrimSpace(strings.TrimPrefix(challenge, "Digest"))
	for _, p := range splitParams(rest) {
		k, v, _ := strings.Cut(p, "=")
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	realm, nonce := params["realm"], params["nonce"]
	if realm != "example.com" || nonce == "" {
		t.Fatalf("challenge %q: want realm example.com and a nonce", challenge)
	}
	md := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	ha1, ha2 := md(user+":"+realm+":"+password), md(method+":"+uri)
	h := fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5`, user, realm, nonce, uri)
	if strings.Contains(params["qop"], "auth") {
		cnonce, nc := randHex(4), "00000001"
		h += fmt.Sprintf(`, qop=auth, nc=%s, cnonce="%s", response="%s"`, nc, cnonce, md(ha1+":"+nonce+":"+nc+":"+cnonce+":auth:"+ha2))
	} else {
		h += fmt.Sprintf(`, response="%s"`, md(ha1+":"+nonce+":"+ha2))
	}
	if op, ok := params["opaque"]; ok {
		h += fmt.Sprintf(`, opaque="%s"`, op)
	}
	return h + "\r\n"
}

// splitParams splits a,b="x,y",c at the commas outside quotes.
func splitParams(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// sendMessage sends a MESSAGE to user through the proxy from a caller
// outside the served domain. When callee is set, it answers the relayed
// request with 200. It returns the final status the caller gets.
func sendMessage(t *testing.T, proxy *net.UDPAddr, user string, callee *ua) int {
	t.Helper()
	caller := newUA(t, "carol", proxy)
	if callee != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			buf := make([]byte, 65535)
			_ = callee.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				n, from, err := callee.conn.ReadFromUDP(buf)
				if err != nil {
					return
				}
				msg := string(buf[:n])
				if !strings.HasPrefix(msg, "MESSAGE ") {
					continue
				}
				_, _ = callee.conn.WriteToUDP([]byte(replyTo(msg, 200, "OK")), from)
				return
			}
		}()
	}
	branch := "z9hG4bK" + randHex(6)
	req := fmt.Sprintf("MESSAGE sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:carol@192.0.2.50>;tag=c%s\r\nTo: <sip:%s@example.com>\r\nCall-ID: %s\r\nCSeq: 1 MESSAGE\r\n"+
		"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
		user, proxy, caller.conn.LocalAddr(), branch, randHex(3), user, randHex(8)+"@test")
	code, _ := caller.transact([]byte(req), branch)
	return code
}

// replyTo builds a reply to a request: its Via, From, To (with a tag),
// Call-ID and CSeq.
func replyTo(req string, code int, reason string) string {
	head, _, _ := strings.Cut(req, "\r\n\r\n")
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, l := range strings.Split(head, "\r\n")[1:] {
		name, _, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v", "from", "f", "call-id", "i", "cseq":
			b.WriteString(l + "\r\n")
		case "to", "t":
			b.WriteString(l + ";tag=callee\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// Errors of the built binary are one line on stderr and exit 1: a wrong
// DBENGINE, no rc file, an unreachable database, no server.
func TestBinaryErrors(t *testing.T) {
	sb := newSandbox(t)
	sb.fails("DBENGINE is not set: set DBENGINE=MYSQL, PGSQL or SQLITE in "+filepath.Join(sb.etc, "kamailio", "kamctlrc"),
		"add", "alice@example.com", "pw")
	sb.sysRC("DBENGINE=ORACLE\n")
	sb.fails("kamctlrc:1: DBENGINE=ORACLE is not supported", "add", "alice@example.com", "pw")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, eng := range []string{"MYSQL", "PGSQL"} {
		sb.sysRC(fmt.Sprintf("DBENGINE=%s\nDBHOST=127.0.0.1\nDBPORT=%d\n", eng, port))
		sb.fails("cannot connect", "rm", "alice@example.com")
	}
	sb.fails("fifo /nonexistent/kamailio_fifo", "ul", "show")
	sb.userRC("CTLENGINE=carrier-pigeon\n")
	sb.fails(".kamctlrc:1: CTLENGINE=carrier-pigeon is unknown", "ps")
	if out := sb.ok(); !strings.Contains(out, "[no control engine]") {
		t.Errorf("usage does not mark the control verbs:\n%s", out)
	}
}
