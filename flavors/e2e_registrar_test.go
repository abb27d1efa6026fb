package flavors_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
)

// The acceptance of the registrar and authentication of a flavor's
// shipped config on one database: the schema made by the DB tool, alice
// and bob added by the control tool, bob's digest REGISTER (401, then
// 200), a wrong password and an unknown user refused (401 again), and a
// call from alice (407, then authenticated) to bob's registered UAS.
func shippedAcceptance(ctx context.Context, t *testing.T, flavor string, b dbBackend) (*database, *toolEnv, *instance, account, account) {
	t.Helper()
	d := newDatabase(t, b, flavor, "")
	tools := newToolEnv(t, flavor, d.vars)
	if out := tools.db("-y", "create"); !strings.Contains(out, "created ") {
		t.Fatalf("%s create said:\n%s", flavorTools[flavor].db, out)
	}
	tools = tools.with("SIP_DOMAIN", "127.0.0.1")
	alice := account{"alice", "alice-" + randHex(3), freePort(t)}
	bob := account{"bob", "bob-" + randHex(3), freePort(t)}
	for _, u := range []account{alice, bob} {
		if out := tools.ctl("add", u.user, u.password); !strings.Contains(out, "new user '"+u.user+"@127.0.0.1' added") {
			t.Fatalf("add %s: %q", u.user, out)
		}
	}
	srv := startShipped(t, flavor, d)
	registerAuth(ctx, t, srv.port, bob)
	registerRefused(ctx, t, srv.port,
		account{bob.user, "not-" + bob.password, bob.port},
		account{"carol", "whatever", bob.port})
	call(ctx, t, srv.port, alice, bob)
	return d, tools, srv, alice, bob
}

// Issue 5 on each database (SQLite, MariaDB, PostgreSQL): kamailio's
// shipped config (usrloc in db_mode 2) with kamdbctl and kamctl.
//   - digest REGISTER 401 → 200; a wrong password and an unknown user get
//     401; a call between the two registered users completes;
//   - 100 more users register, SIGTERM stops the server (exit 0) with
//     every contact in the location table, and the server started again
//     has them all (kamctl online) and routes a call to bob's contact it
//     read back;
//   - a location table at version 1003 stops the start with the hint to
//     run kamdbctl migrate, exit status not 0.
func TestKamailioShippedConfig(t *testing.T) {
	need(t, "sipp")
	for _, b := range dbBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			d, tools, srv, alice, bob := shippedAcceptance(ctx, t, "kamailio", b)
			admin := d.open(t)

			// 100 subscribers, straight into the table (kamctl add
			// takes ~0.1 s a run), then their digest REGISTERs.
			var many []account
			var names []string
			for i := range 100 {
				u := account{fmt.Sprintf("u%03d", i), "pw" + strconv.Itoa(i), 40000 + i}
				many = append(many, u)
				names = append(names, u.user)
			}
			insertSubscribers(ctx, t, admin, many)
			registerAuth(ctx, t, srv.port, many...)

			if code := srv.stop(); code != 0 {
				t.Fatalf("kamailio exited with %d on SIGTERM\n%s", code, tail(srv.Log(), 30))
			}
			stored := column(t, admin, "SELECT username FROM location")
			for _, n := range append(names, bob.user) {
				if !slices.Contains(stored, n) {
					t.Errorf("after SIGTERM, %s has no row in the location table (%d rows)", n, len(stored))
				}
			}

			srv = srv.restart(t)
			online := tools.with("CTLENGINE", "FIFO", "OSER_FIFO", srv.fifo).ctl("online")
			lines := strings.Fields(online)
			missing := 0
			for _, n := range append(names, bob.user) {
				if !slices.Contains(lines, n) {
					missing++
				}
			}
			if missing > 0 || len(lines) != len(names)+1 {
				t.Errorf("after the restart kamctl online lists %d AoRs, %d of the 101 registered missing:\n%s", len(lines), missing, online)
			}
			call(ctx, t, srv.port, alice, bob)
			if code := srv.stop(); code != 0 {
				t.Errorf("kamailio exited with %d on SIGTERM", code)
			}

			// An old location table: the server refuses to start.
			if _, err := admin.Exec(ctx, "UPDATE version SET table_version = 1003 WHERE table_name = 'location'"); err != nil {
				t.Fatal(err)
			}
			p := launch(t, "kamailio", srv.cmd.Args[3:]...)
			code := p.wait(20 * time.Second)
			const want = "table location has version 1003, expected 1004: run kamdbctl migrate"
			if code == 0 || !strings.Contains(p.Log(), want) {
				t.Errorf("kamailio on a location table at version 1003: exit %d, want not 0 and %q in:\n%s", code, want, p.Log())
			}
		})
	}
}

// insertSubscribers adds kamailio accounts with their password and HA1
// hashes, as kamctl add writes them.
func insertSubscribers(ctx context.Context, t *testing.T, d *db.DB, users []account) {
	t.Helper()
	md := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	err := d.WithTx(ctx, func(tx *db.Tx) error {
		for _, u := range users {
			_, err := tx.Exec(ctx, "INSERT INTO subscriber (username, domain, password, email_address, ha1, ha1b) VALUES (?, ?, ?, '', ?, ?)",
				u.user, "127.0.0.1", u.password, md(u.user+":127.0.0.1:"+u.password), md(u.user+"@127.0.0.1:127.0.0.1:"+u.password))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert subscribers: %v", err)
	}
}

// usrlocConfig is the test config of a registrar without authentication,
// with usrloc's db_mode and db_url set on the command line.
func startUsrloc(t *testing.T, mode int, url, define string) *instance {
	t.Helper()
	in := &instance{port: freePort(t)}
	args := []string{"-f", filepath.Join("testdata", "configs", "kamailio-usrloc.cfg"),
		"-l", fmt.Sprintf("udp:127.0.0.1:%d", in.port),
		"-A", "DBMODE=" + strconv.Itoa(mode), "-A", fmt.Sprintf("DBURL=%q", url)}
	if define != "" {
		args = append(args, "-A", define)
	}
	in.proc = launch(t, "kamailio", args...)
	in.ready(in.port)
	return in
}

// regClient sends REGISTERs without authentication from its own socket.
type regClient struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	n      int
}

func newRegClient(t *testing.T, port int) *regClient {
	t.Helper()
	conn, err := net.ListenUDP("udp", udpAddr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &regClient{conn: conn, server: udpAddr(port)}
}

// register binds user to a contact for an hour and returns the final
// status (0: none within the deadline). It retransmits as timer E does.
func (c *regClient) register(user string, deadline time.Duration) int {
	c.n++
	branch := "z9hG4bK-e2e-" + randHex(6)
	local := c.conn.LocalAddr().String()
	req := fmt.Sprintf("REGISTER sip:%[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=%[3]s;rport\r\n"+
		"From: <sip:%[4]s@127.0.0.1>;tag=r%[5]d\r\nTo: <sip:%[4]s@127.0.0.1>\r\nCall-ID: %[3]s@e2e\r\n"+
		"CSeq: 1 REGISTER\r\nContact: <sip:%[4]s@%[2]s>\r\nExpires: 3600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		c.server, local, branch, user, c.n)
	end := time.Now().Add(deadline)
	buf := make([]byte, 65535)
	interval := 500 * time.Millisecond
	for time.Now().Before(end) {
		if _, err := c.conn.WriteToUDP([]byte(req), c.server); err != nil {
			return 0
		}
		resend := time.Now().Add(interval)
		if resend.After(end) {
			resend = end
		}
		interval = min(2*interval, 4*time.Second)
		for {
			_ = c.conn.SetReadDeadline(resend)
			n, _, err := c.conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			msg := string(buf[:n])
			if !strings.Contains(msg, branch) {
				continue
			}
			f := strings.Fields(msg)
			if len(f) > 1 && f[0] == "SIP/2.0" {
				if code, _ := strconv.Atoi(f[1]); code >= 200 {
					return code
				}
			}
		}
	}
	return 0
}

// Issue 5, db_mode 1 through a database outage: MariaDB and PostgreSQL
// (through a dbtest.Proxy) go away for 30 s, 15 s down (connections
// refused) then 15 s hanging (bytes held), while REGISTERs keep coming.
// Every REGISTER that got a 200, before, during or after the outage, is in
// the location table soon after the database is back; the server keeps
// running (no panic) and accepts registrations again.
func TestKamailioDBMode1Outage(t *testing.T) {
	if testing.Short() {
		t.Skip("the outage lasts 30 s")
	}
	for _, b := range []dbBackend{mysqlDB, postgresDB} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			d := newDatabase(t, b, "kamailio", "")
			newToolEnv(t, "kamailio", d.vars).db("-y", "create")
			proxy := dbtest.NewProxy(t, b.addr)
			srv := startUsrloc(t, 1, d.url(proxy.Addr()), b.define)

			type result struct {
				user  string
				code  int
				phase string
			}
			var (
				mu      sync.Mutex
				results []result
				phase   = "before"
			)
			count := func(ph string, code int) int {
				mu.Lock()
				defer mu.Unlock()
				n := 0
				for _, r := range results {
					if r.phase == ph && r.code == code {
						n++
					}
				}
				return n
			}
			setPhase := func(ph string) { mu.Lock(); phase = ph; mu.Unlock() }
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := newRegClient(t, srv.port)
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-time.After(100 * time.Millisecond): // pacing
						}
						mu.Lock()
						ph := phase
						mu.Unlock()
						user := fmt.Sprintf("w%d-%05d", w, i)
						code := c.register(user, 10*time.Second)
						mu.Lock()
						results = append(results, result{user, code, ph})
						mu.Unlock()
					}
				}()
			}
			stopWorkers := sync.OnceFunc(func() { close(stop); wg.Wait() })
			defer stopWorkers()
			waitFor(t, 20*time.Second, "10 registrations before the outage", func() bool { return count("before", 200) >= 10 })

			setPhase("down")
			proxy.Stop()
			<-time.After(15 * time.Second) // the outage itself
			setPhase("hung")
			proxy.Freeze()
			proxy.Start()
			<-time.After(15 * time.Second)
			setPhase("after")
			proxy.Thaw()
			back := time.Now()
			waitFor(t, 60*time.Second, "10 registrations after the outage", func() bool { return count("after", 200) >= 10 })
			stopWorkers()
			t.Logf("registrations accepted again %s after the outage", time.Since(back).Round(time.Millisecond))

			byPhase := map[string]map[int]int{}
			var accepted []string
			for _, r := range results {
				if byPhase[r.phase] == nil {
					byPhase[r.phase] = map[int]int{}
				}
				byPhase[r.phase][r.code]++
				if r.code == 200 {
					accepted = append(accepted, r.user)
				}
			}
			t.Logf("final replies by phase (0: none in 10 s): %v", byPhase)
			if srv.done() {
				t.Fatalf("kamailio exited during the outage: %v\n%s", srv.err, tail(srv.Log(), 40))
			}
			admin := d.open(t)
			var missing []string
			waitFor(t, 60*time.Second, "every accepted registration in the location table", func() bool {
				stored := column(t, admin, "SELECT username FROM location")
				sort.Strings(stored)
				missing = missing[:0]
				for _, u := range accepted {
					if _, ok := slices.BinarySearch(stored, u); !ok {
						missing = append(missing, u)
					}
				}
				return len(missing) == 0
			}, func() string {
				return fmt.Sprintf("%d of %d accepted registrations are not in the location table: %v", len(missing), len(accepted), head(missing, 20))
			})
			t.Logf("every accepted registration stored %s after the outage", time.Since(back).Round(time.Millisecond))
			dups := column(t, admin, "SELECT username FROM location GROUP BY username, contact HAVING COUNT(*) > 1")
			if len(dups) > 0 {
				t.Errorf("%d contacts have more than one row in the location table: %v", len(dups), head(dups, 20))
			}
			if strings.Contains(srv.Log(), "panic") {
				t.Errorf("the server log has a panic:\n%s", srv.Log())
			}
			if code := srv.stop(); code != 0 {
				t.Errorf("kamailio exited with %d on SIGTERM", code)
			}
		})
	}
}

// waitFor polls a condition until it holds or the deadline passes; msg
// optionally describes the failure.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool, msg ...func() string) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			detail := ""
			if len(msg) > 0 {
				detail = ": " + msg[0]()
			}
			t.Fatalf("no %s within %s%s", what, d, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Issue 5, db_mode 3: two servers on different ports share one database
// (PostgreSQL, and MariaDB): a user registers through one, a call through
// the other reaches the registered contact.
func TestKamailioDBMode3TwoServers(t *testing.T) {
	need(t, "sipp")
	for _, b := range []dbBackend{postgresDB, mysqlDB} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			d := newDatabase(t, b, "kamailio", "")
			newToolEnv(t, "kamailio", d.vars).db("-y", "create")
			one := startUsrloc(t, 3, d.url(""), b.define)
			two := startUsrloc(t, 3, d.url(""), b.define)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			uasPort := freePort(t)
			run := randHex(3)
			// register.xml registers u<run>x1 with its own address as
			// the contact, where the UAS listens next.
			out, err := sipp(ctx, t, "-sf", scenario(t, "register.xml"), fmt.Sprintf("127.0.0.1:%d", one.port),
				"-key", "run", run, "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", "1", "-nostdin", "-timeout", "30s")
			if ok, failed := sippCalls(out); err != nil || ok != 1 || failed != 0 {
				t.Fatalf("REGISTER through the first server: %d ok, %d failed (%v)\n%s", ok, failed, err, tail(out, 30))
			}
			uas := sippUAS(ctx, t, "uas.xml", uasPort, 1, "u1")
			out, err = sipp(ctx, t, "-sf", scenario(t, "uac.xml"), fmt.Sprintf("127.0.0.1:%d", two.port), "-s", "u"+run+"x1",
				"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-m", "1", "-nostdin", "-timeout", "30s")
			if ok, failed := sippCalls(out); err != nil || ok != 1 || failed != 0 {
				t.Fatalf("call through the second server: %d ok, %d failed (%v)\n%s", ok, failed, err, tail(out, 30))
			}
			if ok, failed := uas(); ok != 1 || failed != 0 {
				t.Errorf("the UAS: %d successful, %d failed calls", ok, failed)
			}
		})
	}
}

// Issue 5: Kamailio 3.0's own default config, unchanged (read where it
// is, the listen address on the command line), with WITH_AUTH,
// WITH_MYSQL and WITH_USRLOCDB on MariaDB. Its URLs are literal
// ("mysql://openser:openserrw@localhost/openser", no DBURL to override),
// so the test makes that database and user with kamdbctl, holding a
// MariaDB lock so that two runs do not share them; a server that has an
// openser database already is left alone.
func TestKamailio30ConfigMariaDB(t *testing.T) {
	need(t, "sipp")
	admin := mysqlDB.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lock(ctx, t, admin, "sip_router_e2e_openser")
	if n := column(t, admin, "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'openser'"); len(n) > 0 {
		dbtest.Unavailable(t, "MariaDB on 127.0.0.1:3306 has an openser database already: not touching it")
	}
	d := newDatabase(t, mysqlDB, "kamailio", "openser")
	d.rwUser, d.rwPW = "openser", "openserrw"
	d.vars["DBRWUSER"], d.vars["DBRWPW"] = d.rwUser, d.rwPW
	t.Cleanup(func() {
		for _, h := range []string{"%", "127.0.0.1", "localhost"} {
			if _, err := admin.Exec(context.Background(), fmt.Sprintf("DROP USER IF EXISTS 'openser'@'%s'", h)); err != nil {
				t.Errorf("drop user openser@%s: %v", h, err)
			}
		}
	})
	tools := newToolEnv(t, "kamailio", d.vars)
	tools.db("-y", "create")
	tools = tools.with("SIP_DOMAIN", "127.0.0.1")
	alice := account{"alice", "alice-" + randHex(3), freePort(t)}
	bob := account{"bob", "bob-" + randHex(3), freePort(t)}
	for _, u := range []account{alice, bob} {
		tools.ctl("add", u.user, u.password)
	}
	cfg, err := filepath.Abs("../../shared/testdata/configs/kamailio-3.0.0.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// The config loads ctl without a socket: it listens on the flavor's
	// default, under /run/kamailio, which the server makes when missing.
	// Leave the machine as it was.
	if _, err := os.Stat("/run/kamailio"); errors.Is(err, fs.ErrNotExist) {
		t.Cleanup(func() { _ = os.Remove("/run/kamailio") })
	}
	port := freePort(t)
	srv := launch(t, "kamailio", "-f", cfg, "-l", fmt.Sprintf("udp:127.0.0.1:%d", port),
		"-A", "WITH_AUTH", "-A", "WITH_MYSQL", "-A", "WITH_USRLOCDB")
	srv.ready(port)
	registerAuth(ctx, t, port, bob)
	registerRefused(ctx, t, port, account{bob.user, "not-" + bob.password, bob.port}, account{"carol", "x", bob.port})
	call(ctx, t, port, alice, bob)
	if code := srv.stop(); code != 0 {
		t.Errorf("kamailio exited with %d on SIGTERM", code)
	}
	// db_mode 2 wrote bob's contact at the latest on the way out.
	if users := column(t, d.open(t), "SELECT username FROM location"); !slices.Contains(users, bob.user) {
		t.Errorf("bob's contact is not in openser.location: %v", users)
	}
}

// lock takes a MariaDB named lock for the rest of the test, on a
// connection of its own.
func lock(ctx context.Context, t *testing.T, admin *db.DB, name string) {
	t.Helper()
	conn, err := admin.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got int
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 120)", name).Scan(&got); err != nil || got != 1 {
		conn.Close()
		t.Fatalf("MariaDB lock %s: %d, %v", name, got, err)
	}
	t.Cleanup(func() {
		_, _ = conn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", name)
		conn.Close()
	})
}
