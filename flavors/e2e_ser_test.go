package flavors_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"sip-router.org/core/db/dbtest"
)

// Issue 6: SER 3.0's basic config, unchanged (read where it is, the
// listen address on the command line): a REGISTER is accepted and a sipp
// call to the registered user reaches the contact.
func TestSERBasicConfig(t *testing.T) {
	need(t, "sipp")
	cfg, err := filepath.Abs("../../shared/testdata/configs/ser-basic-3.0.3.cfg")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	srv := launch(t, "ser", "-f", cfg, "-l", fmt.Sprintf("udp:127.0.0.1:%d", port))
	srv.ready(port)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	uasPort := freePort(t)
	run := randHex(3)
	out, err := sipp(ctx, t, "-sf", scenario(t, "register.xml"), fmt.Sprintf("127.0.0.1:%d", port),
		"-key", "run", run, "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", "1", "-nostdin", "-timeout", "30s")
	if ok, failed := sippCalls(out); err != nil || ok != 1 || failed != 0 {
		t.Fatalf("REGISTER: %d ok, %d failed (%v)\n%s", ok, failed, err, tail(out, 30))
	}
	uas := sippUAS(ctx, t, "uas.xml", uasPort, 1, "u1")
	out, err = sipp(ctx, t, "-sf", scenario(t, "uac.xml"), fmt.Sprintf("127.0.0.1:%d", port), "-s", "u"+run+"x1",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-m", "1", "-nostdin", "-timeout", "30s")
	if ok, failed := sippCalls(out); err != nil || ok != 1 || failed != 0 {
		t.Fatalf("call to the registered user: %d ok, %d failed (%v)\n%s", ok, failed, err, tail(out, 30))
	}
	if ok, failed := uas(); ok != 1 || failed != 0 {
		t.Errorf("the UAS: %d successful, %d failed calls", ok, failed)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("ser exited with %d on SIGTERM", code)
	}
}

// Issue 6 on each database (SQLite, MariaDB, PostgreSQL): ser's shipped
// config with ser_db and serctl: the credentials, uri and domain rows
// serctl add writes let bob register (401, then 200), a wrong password
// and an unknown user get 401, and alice's call to bob completes. The
// contact is in SER's location table (db_mode 1: written at once).
func TestSERShippedConfig(t *testing.T) {
	need(t, "sipp")
	for _, b := range dbBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			d, _, srv, _, bob := shippedAcceptance(ctx, t, "ser", b)
			if uids := column(t, d.open(t), "SELECT uid FROM location"); !slices.Contains(uids, bob.user+"@127.0.0.1") {
				t.Errorf("bob's contact is not in the location table (uids %v)", uids)
			}
			if code := srv.stop(); code != 0 {
				t.Errorf("ser exited with %d on SIGTERM", code)
			}
		})
	}
}

// Issue 6: the same user name in the kamailio and ser databases does not
// collide. On one MariaDB server, kamdbctl create and ser_db create with
// their default DBNAME make two databases (kamailio, ser), each with its
// flavor's tables; kamctl add alice and serctl add alice with different
// passwords; each server authenticates alice with its own password and
// refuses the other's. The default names are shared by every run on the
// server: a MariaDB lock keeps two runs apart, and a server that has such
// databases already is left alone.
func TestFlavorDatabasesApart(t *testing.T) {
	need(t, "sipp")
	admin := mysqlDB.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lock(ctx, t, admin, "sip_router_e2e_default_dbs")
	if n := column(t, admin, "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ('kamailio', 'ser')"); len(n) > 0 {
		dbtest.Unavailable(t, "MariaDB on 127.0.0.1:3306 has the database(s) %v already: not touching them", n)
	}
	alice := map[string]account{}
	srvs := map[string]*instance{}
	for _, flavor := range []string{"kamailio", "ser"} {
		d := newDatabase(t, mysqlDB, flavor, "")
		d.defaultName(flavor)
		tools := newToolEnv(t, flavor, d.vars)
		tools.db("-y", "create")
		tools.with("SIP_DOMAIN", "127.0.0.1").ctl("add", "alice", flavor+"-secret")
		alice[flavor] = account{"alice", flavor + "-secret", freePort(t)}
		srvs[flavor] = startShipped(t, flavor, d)
	}
	tables := func(schema string) []string {
		return column(t, admin, "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", schema)
	}
	k, s := tables("kamailio"), tables("ser")
	if !slices.Contains(k, "subscriber") || slices.Contains(k, "credentials") || !slices.Contains(k, "location") {
		t.Errorf("the kamailio database has the tables %v", k)
	}
	if !slices.Contains(s, "credentials") || slices.Contains(s, "subscriber") || !slices.Contains(s, "location") {
		t.Errorf("the ser database has the tables %v", s)
	}
	for flavor, srv := range srvs {
		other := "ser"
		if flavor == "ser" {
			other = "kamailio"
		}
		t.Run(flavor, func(t *testing.T) {
			registerAuth(ctx, t, srv.port, alice[flavor])
			a := alice[other]
			registerRefused(ctx, t, srv.port, a)
		})
	}
}
