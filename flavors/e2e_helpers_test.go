package flavors_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"

	// The database drivers, for the tests' own connections (creating and
	// dropping databases, reading the tables the servers wrote).
	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/db_postgres"
	_ "sip-router.org/modules/db_sqlite"
)

// The command-line tools of each flavor, as the build names them.
var flavorTools = map[string]struct{ ctl, db string }{
	"kamailio": {"kamctl", "kamdbctl"},
	"ser":      {"serctl", "ser_db"},
}

// buildTools builds the control and database tools of both flavors into
// dir, bound to their flavor as srbuild binds them, and writes what they
// read from share/<flavor>: the schema the flavor's binary dumps and the
// flavor record srbuild writes beside it (srbuild info prints that
// record). The flavor binaries must be in dir already.
func buildTools(dir string) error {
	var wg sync.WaitGroup
	errs := make([]error, 0, 4)
	var mu sync.Mutex
	for flavor, tools := range flavorTools {
		for tool, pkg := range map[string]string{tools.ctl: "ctltool", tools.db: "dbtool"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command("go", "build", "-o", filepath.Join(dir, tool),
					"-ldflags", "-X main.toolName="+tool+" -X main.flavorName="+flavor, "./tools/cmd/"+pkg)
				cmd.Dir = ".."
				if out, err := cmd.CombinedOutput(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("building %s: %w\n%s", tool, err, out))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for flavor := range flavorTools {
		share := filepath.Join(dir, "share", flavor)
		if out, err := exec.Command(filepath.Join(dir, flavor), "--dump-schema", share).CombinedOutput(); err != nil {
			return fmt.Errorf("%s --dump-schema: %w\n%s", flavor, err, out)
		}
		info := exec.Command("go", "run", "./tools/cmd/srbuild", "-flavor", flavor, "info")
		info.Dir = ".."
		var stderr bytes.Buffer
		info.Stderr = &stderr
		rec, err := info.Output()
		if err != nil {
			return fmt.Errorf("srbuild -flavor %s info: %w\n%s", flavor, err, stderr.String())
		}
		if err := os.WriteFile(filepath.Join(share, "flavor.json"), rec, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// toolEnv runs the tools of a flavor with an empty HOME and system config
// folder (no rc file is read: every setting comes from the environment),
// the share folder of the build, and the settings of vars.
type toolEnv struct {
	t         *testing.T
	flavor    string
	home, etc string
	vars      map[string]string
}

func newToolEnv(t *testing.T, flavor string, vars map[string]string) *toolEnv {
	e := &toolEnv{t: t, flavor: flavor, home: t.TempDir(), etc: t.TempDir(), vars: map[string]string{}}
	for k, v := range vars {
		e.vars[k] = v
	}
	return e
}

// with returns a copy of the environment with more settings.
func (e *toolEnv) with(kv ...string) *toolEnv {
	c := *e
	c.vars = map[string]string{}
	for k, v := range e.vars {
		c.vars[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c.vars[kv[i]] = kv[i+1]
	}
	return &c
}

// run runs a tool and returns its output and exit status.
func (e *toolEnv) run(tool string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, tool), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.home, "SIPROUTER_SYSCONFDIR=" + e.etc,
		"SIPROUTER_SHAREDIR=" + filepath.Join(binDir, "share", e.flavor)}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	}
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("%s %s: %v", tool, strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// ok runs a tool and fails the test unless it exits 0.
func (e *toolEnv) ok(tool string, args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(tool, args...)
	if code != 0 {
		e.t.Fatalf("%s %s: exit %d\nstderr: %s\nstdout: %s", tool, strings.Join(args, " "), code, errs, out)
	}
	return out
}

// ctl and db run the flavor's control tool (kamctl, serctl) and database
// tool (kamdbctl, ser_db).
func (e *toolEnv) ctl(args ...string) string {
	e.t.Helper()
	return e.ok(flavorTools[e.flavor].ctl, args...)
}
func (e *toolEnv) db(args ...string) string {
	e.t.Helper()
	return e.ok(flavorTools[e.flavor].db, args...)
}

// dbBackend is a database engine the end-to-end tests run on.
type dbBackend struct {
	name   string // subtest name
	engine string // DBENGINE of the tools
	define string // the config define that loads the driver module
	addr   string // the server's host:port ("" for SQLite)
	root   string // the administrator's URL of the server's own database
	what   string // for the message when the server is not there
}

var (
	sqliteDB   = dbBackend{name: "sqlite", engine: "SQLITE"}
	mysqlDB    = dbBackend{name: "mysql", engine: "MYSQL", define: "WITH_MYSQL", addr: "127.0.0.1:3306", root: "mysql://root@127.0.0.1:3306/mysql", what: "MariaDB on 127.0.0.1:3306 (root, no password)"}
	postgresDB = dbBackend{name: "postgres", engine: "PGSQL", define: "WITH_PGSQL", addr: "127.0.0.1:5432", root: "postgres://postgres@127.0.0.1:5432/postgres", what: "PostgreSQL on 127.0.0.1:5432 (postgres, trusted)"}
	dbBackends = []dbBackend{sqliteDB, mysqlDB, postgresDB}
)

// admin opens the administrator's connection to the server (to its own
// database), ending the test with dbtest.Unavailable when the server is
// not there.
func (b dbBackend) admin(t *testing.T) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := db.Open(ctx, b.root, nil)
	if err == nil {
		err = d.Ping(ctx)
	}
	if err != nil {
		dbtest.Unavailable(t, "%s is not reachable: %v", b.what, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// database is the database of a flavor in one test: the settings the
// tools get (DBENGINE, DBNAME, the users …) and the URL the server uses.
type database struct {
	b      dbBackend
	flavor string
	name   string // the database name, or the SQLite file
	rwUser string
	rwPW   string
	vars   map[string]string
}

// newDatabase picks a database of a backend for a flavor: a fresh unique
// name and users (name "" ) or the name given, with users of their own.
// Nothing is created: the flavor's DB tool does that. The database and
// the users are dropped at the end of the test.
func newDatabase(t *testing.T, b dbBackend, flavor, name string) *database {
	t.Helper()
	d := &database{b: b, flavor: flavor, vars: map[string]string{"DBENGINE": b.engine}}
	if b.engine == "SQLITE" {
		d.name = filepath.Join(t.TempDir(), flavor+".db")
		d.vars["DB_PATH"] = d.name
		return d
	}
	admin := b.admin(t)
	unique := "srte" + randHex(5)
	if name == "" {
		name = unique
	}
	d.name, d.rwUser, d.rwPW = name, unique+"rw", "rw-"+randHex(4)
	host, port, _ := strings.Cut(b.addr, ":")
	root := "root"
	if b.engine == "PGSQL" {
		root = "postgres"
	}
	d.vars["DBNAME"] = name
	for k, v := range map[string]string{"DBHOST": host, "DBPORT": port, "DBRWUSER": d.rwUser, "DBRWPW": d.rwPW,
		"DBROUSER": unique + "ro", "DBROPW": "ro-" + randHex(4), "DBROOTUSER": root} {
		d.vars[k] = v
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stmts := []string{"DROP DATABASE IF EXISTS `" + d.name + "`"}
		for _, u := range []string{unique + "rw", unique + "ro"} {
			for _, h := range []string{"%", host, "localhost"} {
				stmts = append(stmts, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", u, h))
			}
		}
		if b.engine == "PGSQL" {
			stmts = []string{`DROP DATABASE IF EXISTS "` + d.name + `" WITH (FORCE)`,
				`DROP ROLE IF EXISTS "` + unique + `rw"`, `DROP ROLE IF EXISTS "` + unique + `ro"`}
		}
		for _, s := range stmts {
			if _, err := admin.Exec(ctx, s); err != nil {
				t.Errorf("cleanup: %s: %v", s, err)
			}
		}
	})
	return d
}

// defaultName leaves the database name to the tools' default (the
// flavor's: kamailio, ser), which the test must then know.
func (d *database) defaultName(name string) {
	delete(d.vars, "DBNAME")
	d.name = name
}

// url is the URL the server uses: the read-write user on the database,
// at addr (a proxy) or at the server itself.
func (d *database) url(addr string) string {
	switch d.b.engine {
	case "SQLITE":
		return "sqlite://" + d.name
	case "MYSQL":
		if addr == "" {
			addr = d.b.addr
		}
		return fmt.Sprintf("mysql://%s:%s@%s/%s", d.rwUser, d.rwPW, addr, d.name)
	}
	if addr == "" {
		addr = d.b.addr
	}
	return fmt.Sprintf("postgres://%s:%s@%s/%s", d.rwUser, d.rwPW, addr, d.name)
}

// open opens the database as its administrator, for the test's checks.
func (d *database) open(t *testing.T) *db.DB {
	t.Helper()
	u := "sqlite://" + d.name
	switch d.b.engine {
	case "MYSQL":
		u = "mysql://root@" + d.b.addr + "/" + d.name
	case "PGSQL":
		u = "postgres://postgres@" + d.b.addr + "/" + d.name
	}
	return dbtest.Open(t, u)
}

// column reads one text column of a table.
func column(t *testing.T, d *db.DB, query string, args ...any) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rows, err := d.Query(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// proc is a server binary running in the foreground (-DD -E), stopped
// at the end of the test.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    strings.Builder
	exited chan struct{}
	err    error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

// Log returns what the process printed so far.
func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// launch starts a flavor's binary with arguments (-DD -E added). At the end
// of the test it gets SIGTERM, then SIGKILL after 10 s, and its output is
// logged if the test failed.
func launch(t *testing.T, binary string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: binary, exited: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, binary), append([]string{"-DD", "-E"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if !p.done() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
				t.Errorf("%s did not stop within 10 s of SIGTERM", binary)
			}
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", binary, tail(p.Log(), 60))
		}
	})
	return p
}

func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// ready waits until the process has bound UDP 127.0.0.1:port and every
// path given exists (its FIFO, its control socket).
func (p *proc) ready(port int, paths ...string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := bound("udp", port)
		for _, f := range paths {
			if _, err := os.Stat(f); err != nil {
				ok = false
			}
		}
		if ok {
			return
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited at start: %v\n%s", p.name, p.err, p.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready on udp 127.0.0.1:%d within 20 s\n%s", p.name, port, p.Log())
		}
	}
}

// wait waits for the process to exit by itself and returns its status.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		p.t.Fatalf("%s still runs after %s\n%s", p.name, d, p.Log())
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM and returns the exit status.
func (p *proc) stop() int {
	p.t.Helper()
	if p.done() {
		p.t.Fatalf("%s had exited already (%v)\n%s", p.name, p.err, p.Log())
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(20 * time.Second)
}

// instance is a server of a flavor on its default config (or another):
// its SIP port and, for kamailio, its FIFO and control socket.
type instance struct {
	*proc
	port      int
	fifo, ctl string
}

// controlPaths returns a short folder's FIFO and socket paths (a unix
// socket path is limited to 108 bytes; t.TempDir's may be longer).
func controlPaths(t *testing.T) (fifo, sock string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "fifo"), filepath.Join(dir, "ctl")
}

// shippedConfig is the default config of a flavor, read where it is.
func shippedConfig(flavor string) string {
	return filepath.Join(flavor, "etc", flavor+".cfg")
}

// startShipped runs a flavor's shipped config on a database, listening on
// a free UDP port, with the FIFO and control socket in a folder of the
// test. extra are more arguments (-A defines).
func startShipped(t *testing.T, flavor string, d *database, extra ...string) *instance {
	t.Helper()
	fifo, sock := controlPaths(t)
	in := &instance{port: freePort(t), fifo: fifo, ctl: sock}
	args := []string{"-f", shippedConfig(flavor), "-l", fmt.Sprintf("udp:127.0.0.1:%d", in.port),
		"-A", fmt.Sprintf("DBURL=%q", d.url("")), "-A", fmt.Sprintf("CTLSOCK=%q", "unix:"+sock)}
	if flavor == "kamailio" {
		args = append(args, "-A", fmt.Sprintf("FIFO=%q", fifo))
	} else {
		in.fifo = ""
	}
	if d.b.define != "" {
		args = append(args, "-A", d.b.define)
	}
	in.proc = launch(t, flavor, append(args, extra...)...)
	if in.fifo != "" {
		in.ready(in.port, in.fifo, in.ctl)
	} else {
		in.ready(in.port, in.ctl)
	}
	return in
}

// restart starts the same server again (same port, config and paths).
func (in *instance) restart(t *testing.T) *instance {
	t.Helper()
	args := in.cmd.Args[3:] // after the binary, -DD and -E
	for _, f := range []string{in.fifo, in.ctl} {
		if f != "" {
			_ = os.Remove(f)
		}
	}
	n := &instance{port: in.port, fifo: in.fifo, ctl: in.ctl}
	n.proc = launch(t, in.name, args...)
	var paths []string
	for _, f := range []string{in.fifo, in.ctl} {
		if f != "" {
			paths = append(paths, f)
		}
	}
	n.ready(n.port, paths...)
	return n
}

// account is a user of a test: the name, the password the tools stored,
// and, for a callee, the port its UAS listens on.
type account struct {
	user, password string
	port           int
}

// credentials is the sipp keyword that answers a challenge as the user.
func (a account) credentials() string {
	return fmt.Sprintf("[authentication username=%s password=%s]", a.user, a.password)
}

// injection writes a sipp injection file (SEQUENTIAL, one row per call).
func injection(t *testing.T, rows [][]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, ";") + "\n")
	}
	p := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sippAll runs a UAC scenario against a server, one call per injection
// row, and fails the test unless every call succeeded (the scenario's
// expected replies came).
func sippAll(ctx context.Context, t *testing.T, scen string, port int, rate int, rows [][]string, extra ...string) {
	t.Helper()
	args := append([]string{"-sf", scenario(t, scen), fmt.Sprintf("127.0.0.1:%d", port),
		"-inf", injection(t, rows), "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)),
		"-m", strconv.Itoa(len(rows)), "-r", strconv.Itoa(rate), "-nostdin", "-timeout", "60s"}, extra...)
	out, err := sipp(ctx, t, args...)
	ok, failed := sippCalls(out)
	if err != nil || ok != len(rows) || failed != 0 {
		t.Fatalf("sipp %s: %d successful, %d failed of %d (err %v)\n%s", scen, ok, failed, len(rows), err, tail(out, 40))
	}
}

// registerAuth registers users with digest authentication (401, then
// 200), each with the contact 127.0.0.1:port.
func registerAuth(ctx context.Context, t *testing.T, port int, users ...account) {
	t.Helper()
	var rows [][]string
	for _, u := range users {
		rows = append(rows, []string{u.user, u.credentials(), strconv.Itoa(u.port)})
	}
	sippAll(ctx, t, "register_auth.xml", port, 50, rows)
}

// registerRefused checks that the answer to the challenge is refused with
// 401 again, for each user.
func registerRefused(ctx context.Context, t *testing.T, port int, users ...account) {
	t.Helper()
	var rows [][]string
	for _, u := range users {
		rows = append(rows, []string{u.user, u.credentials(), strconv.Itoa(u.port)})
	}
	sippAll(ctx, t, "register_auth_refused.xml", port, 50, rows)
}

// call places one call from caller (answering the 407 with its password)
// to callee, whose UAS (sipp uas.xml) listens on its port, and fails the
// test unless both sides complete the call.
func call(ctx context.Context, t *testing.T, port int, caller, callee account) {
	t.Helper()
	uas := sippUAS(ctx, t, "uas.xml", callee.port, 1, "u1")
	sippAll(ctx, t, "uac_auth.xml", port, 1, [][]string{{caller.user, caller.credentials(), callee.user}})
	if ok, failed := uas(); ok != 1 || failed != 0 {
		t.Fatalf("the callee's UAS: %d successful, %d failed calls", ok, failed)
	}
}

// udpAddr is 127.0.0.1:port.
func udpAddr(port int) *net.UDPAddr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port} }
