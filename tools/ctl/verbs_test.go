package ctl

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kamSQLite gives the sandbox a SQLite database with the Kamailio tables
// and returns its URL; the user rc file points the tool at it.
func kamSQLite(t *testing.T, e *toolEnv, extra string) string {
	t.Helper()
	p := sqliteDB(t, filepath.Join(e.work, "kamailio.db"), kamTables()...)
	e.userRC("DBENGINE=SQLITE\nDB_PATH=" + p + "\nSIP_DOMAIN=example.com\n" + extra)
	return "sqlite://" + p
}

func TestUsage(t *testing.T) {
	t.Run("no settings", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		out := e.ok()
		for _, want := range []string{
			"kamctl 3.0.0 - control tool of the kamailio SIP server",
			"(none found)",
			"Database engine: none: DBENGINE is not set: set DBENGINE=MYSQL, PGSQL or SQLITE in " +
				filepath.Join(e.etc, "kamailio", "kamctlrc") + " or " + filepath.Join(e.home, ".kamctlrc"),
			"add <user> <password>", "add a new subscriber (*)  [no DB]",
			"ul show [<user>|--brief]", "rpid show", "alias_db add",
			"Control engine: FIFO, " + filepath.Join(e.work, "default_fifo"),
		} {
			if !strings.Contains(out, want) {
				t.Errorf("usage lacks %q:\n%s", want, out)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "ul show") && strings.Contains(line, "[no") {
				t.Errorf("a control verb is marked unavailable: %q", line)
			}
		}
		if out2 := e.ok("-h"); out2 != out {
			t.Errorf("-h and no arguments differ")
		}
	})
	t.Run("bad CTLENGINE", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		e.sysRC("DBENGINE=PGSQL\nCTLENGINE=binrpc\n")
		out := e.ok("help")
		for _, want := range []string{
			"Database engine: PGSQL, postgres://kamailio:***@localhost/kamailio",
			"Control engine: none: " + filepath.Join(e.etc, "kamailio", "kamctlrc") + ":2: CTLENGINE=binrpc is unknown",
			"online                                    list the users that have contacts  [no control engine]",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("usage lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "[no DB]") {
			t.Errorf("DB verbs marked unavailable with DBENGINE set:\n%s", out)
		}
	})
	t.Run("ser", func(t *testing.T) {
		e := newToolEnv(t, "ser")
		out := e.ok()
		if !strings.Contains(out, "serctl 3.0.0 - control tool of the ser SIP server") ||
			!strings.Contains(out, "domain add <domain> [<did> [<flags>]]") || !strings.Contains(out, "avp add <user|uid>") {
			t.Errorf("ser usage:\n%s", out)
		}
		if want := "Control engine: UNIXSOCK, unix:" + filepath.Join(e.work, "default_ctl"); !strings.Contains(out, want) {
			t.Errorf("ser usage lacks %q (SER talks to the ctl socket by default)", want)
		}
		for _, kamOnly := range []string{"rpid", "alias_db", "usr_preferences", "-T <table>"} {
			if strings.Contains(out, kamOnly) {
				t.Errorf("ser usage lists %q", kamOnly)
			}
		}
		e.fails("rpid is not a command of the ser flavor", "rpid", "show")
	})
}

// The rc chain: ~/.kamctlrc overrides /etc/kamailio/kamctlrc, seen in
// which database file add writes.
func TestRCChainPicksDatabase(t *testing.T) {
	e := newToolEnv(t, "kamailio")
	sysDB := sqliteDB(t, filepath.Join(e.work, "system.db"), kamTables()...)
	userDB := sqliteDB(t, filepath.Join(e.work, "user.db"), kamTables()...)
	e.sysRC("DBENGINE=SQLITE\nDB_PATH=" + sysDB + "\nSIP_DOMAIN=example.com\n")
	e.ok("add", "alice", "secret")
	e.userRC("DB_PATH=" + userDB + "\n")
	e.ok("add", "bob", "secret")
	if rows := query(t, "sqlite://"+sysDB, "SELECT username FROM subscriber ORDER BY username"); strings.Join(rows, ",") != "alice" {
		t.Errorf("system database has %q", rows)
	}
	if rows := query(t, "sqlite://"+userDB, "SELECT username, domain FROM subscriber"); strings.Join(rows, ",") != "bob\texample.com" {
		t.Errorf("user database has %q", rows)
	}
	// The environment overrides both files.
	envDB := sqliteDB(t, filepath.Join(e.work, "env.db"), kamTables()...)
	t.Setenv("DB_PATH", envDB)
	e.ok("add", "carol", "secret")
	if rows := query(t, "sqlite://"+envDB, "SELECT username FROM subscriber"); strings.Join(rows, ",") != "carol" {
		t.Errorf("environment database has %q", rows)
	}
}

// kamDB gives the sandbox a database of a backend with the Kamailio
// tables and returns its URL; the user rc file points the tool at it.
func kamDB(t *testing.T, e *toolEnv, b backend, extra string) string {
	t.Helper()
	url, rc := b.newDB(t, e)
	createTables(t, url, kamTables()...)
	e.userRC(rc + "SIP_DOMAIN=example.com\n" + extra)
	return url
}

func TestSubscriberVerbs(t *testing.T) { forEachBackend(t, testSubscriberVerbs) }

func testSubscriberVerbs(t *testing.T, b backend) {
	e := newToolEnv(t, "kamailio")
	url := kamDB(t, e, b, "")
	a := Account{"alice", "example.com"}
	if out := e.ok("add", "alice", "secret"); out != "new user 'alice@example.com' added\n" {
		t.Errorf("add: %q", out)
	}
	e.fails("user 'alice@example.com' already exists", "add", "alice@example.com", "other")
	if rows := query(t, url, "SELECT password, ha1, ha1b FROM subscriber"); len(rows) != 1 ||
		rows[0] != "secret\t"+a.HA1("secret")+"\t"+a.HA1B("secret") {
		t.Fatalf("subscriber %q", rows)
	}
	e.ok("passwd", "sip:alice@example.com", "newpw")
	if rows := query(t, url, "SELECT password, ha1 FROM subscriber"); rows[0] != "newpw\t"+a.HA1("newpw") {
		t.Errorf("after passwd: %q", rows)
	}
	e.fails("non-existent user 'bob@example.com'", "passwd", "bob", "x")

	e.ok("rpid", "add", "alice", "<sip:+4930123@example.com>")
	if out := e.ok("rpid", "show", "alice"); out != "username\tdomain\trpid\nalice\texample.com\t<sip:+4930123@example.com>\n" {
		t.Errorf("rpid show: %q", out)
	}
	e.ok("rpid", "rm", "alice")
	if rows := query(t, url, "SELECT rpid FROM subscriber"); rows[0] != "NULL" {
		t.Errorf("rpid after rm: %q", rows)
	}
	e.fails("rpid: invalid user 'nobody@example.com'", "rpid", "add", "nobody", "x")

	e.ok("rm", "alice")
	if rows := query(t, url, "SELECT COUNT(*) FROM subscriber"); rows[0] != "0" {
		t.Errorf("after rm: %q", rows)
	}
	e.fails("non-existent user 'alice@example.com'", "rm", "alice")
}

// STORE_PLAINTEXT_PW=0 leaves the password column empty, as kamctl does.
func TestHashedOnly(t *testing.T) {
	e := newToolEnv(t, "kamailio")
	url := kamSQLite(t, e, "STORE_PLAINTEXT_PW=0\n")
	e.ok("add", "alice", "secret")
	a := Account{"alice", "example.com"}
	if rows := query(t, url, "SELECT password, ha1 FROM subscriber"); rows[0] != "\t"+a.HA1("secret") {
		t.Errorf("subscriber %q", rows)
	}
}

func TestDomainAliasAVPAndDBShow(t *testing.T) { forEachBackend(t, testDomainAliasAVPAndDBShow) }

func testDomainAliasAVPAndDBShow(t *testing.T, b backend) {
	e := newToolEnv(t, "kamailio")
	url := kamDB(t, e, b, "")
	if out := e.ok("domain", "add", "example.com"); !strings.Contains(out, "domain 'example.com' added: run 'kamctl domain reload'") {
		t.Errorf("domain add: %q", out)
	}
	if out := e.ok("domain", "add", "example.com"); out != "'example.com' is already in table domain\n" {
		t.Errorf("domain add again: %q", out)
	}
	out := e.ok("domain", "showdb")
	if !strings.HasPrefix(out, "id\tdomain\tlast_modified\n1\texample.com\t") {
		t.Errorf("domain showdb: %q", out)
	}
	e.ok("domain", "rm", "example.com")
	e.fails("domain 'example.com' is not in table domain", "domain", "rm", "example.com")

	e.ok("alias_db", "add", "al@example.org", "alice")
	e.fails("alias 'al@example.org' already exists", "alias_db", "add", "al@example.org", "bob")
	if out := e.ok("alias_db", "show", "al@example.org"); out != "username\tdomain\nalice\texample.com\n" {
		t.Errorf("alias_db show: %q", out)
	}
	if out := e.ok("alias_db", "list", "alice"); out != "alias_username\talias_domain\tusername\tdomain\nal\texample.org\talice\texample.com\n" {
		t.Errorf("alias_db list: %q", out)
	}
	e.ok("alias_db", "rm", "al@example.org")
	e.fails("alias 'al@example.org' does not exist", "alias_db", "rm", "al@example.org")

	// usr_preferences: no module of the flavor declares it.
	e.fails("table usr_preferences does not exist, and the kamailio flavor does not declare it", "avp", "list")
	createTables(t, url, usrPreferences())
	e.ok("avp", "add", "alice@example.com", "lang", "0", "en")
	e.ok("avp", "add", "uuid-7", "lang", "0", "de")
	if out := e.ok("avp", "list", "-u", "alice@example.com", "-a", "lang"); out != "uuid\tusername\tdomain\tattribute\ttype\tvalue\n\talice\texample.com\tlang\t0\ten\n" {
		t.Errorf("avp list: %q", out)
	}
	if out := e.ok("avp", "rm", "-u", "uuid-7"); out != "1 attribute(s) removed\n" {
		t.Errorf("avp rm: %q", out)
	}
	e.fails("avp rm: give at least one of", "avp", "rm")
	e.fails("type \"x\" is not a number", "avp", "add", "alice", "lang", "x", "en")
	e.fails("unknown option \"-z\"", "avp", "list", "-z", "1")

	out = e.ok("db", "show", "usr_preferences")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "id\tuuid\tusername") {
		t.Errorf("db show: %q", out)
	}
	e.fails("table nothing does not exist, and the kamailio flavor does not declare it", "db", "show", "nothing")
	e.fails(`"x; drop table subscriber" is not a table name`, "db", "show", "x; drop table subscriber")
}

func TestSERVerbs(t *testing.T) { forEachBackend(t, testSERVerbs) }

func testSERVerbs(t *testing.T, b backend) {
	e := newToolEnv(t, "ser")
	url, rc := b.newDB(t, e)
	createTables(t, url, serTables()...)
	e.userRC(rc)
	out := e.ok("add", "alice@example.com", "secret")
	if out != "domain 'example.com' added (did 'example.com')\nnew user 'alice@example.com' added\n" {
		t.Errorf("add: %q", out)
	}
	e.fails("has no domain: write user@domain or set SIP_DOMAIN in", "add", "bob", "x")
	e.ok("passwd", "alice@example.com", "new")
	if rows := query(t, url, "SELECT uid, password FROM credentials"); rows[0] != "alice@example.com\tnew" {
		t.Errorf("credentials %q", rows)
	}
	e.ok("domain", "add", "example.org", "example.com")
	if rows := query(t, url, "SELECT did, flags FROM domain WHERE domain = 'example.org'"); rows[0] != "example.com\t37" {
		t.Errorf("domain %q", rows)
	}
	e.ok("avp", "add", "alice@example.com", "lang", "2", "en")
	if out := e.ok("avp", "list", "-u", "alice@example.com"); out != "uid\tname\ttype\tvalue\tflags\nalice@example.com\tlang\t2\ten\t1\n" {
		t.Errorf("avp list: %q", out)
	}
	e.fails("user 'bob@example.com' has no uid", "avp", "list", "-u", "bob@example.com")
	e.ok("rm", "alice@example.com")
	for _, table := range []string{"credentials", "uri", "user_attrs"} {
		if rows := query(t, url, "SELECT COUNT(*) FROM "+table); rows[0] != "0" {
			t.Errorf("%s keeps %s rows after rm", table, rows[0])
		}
	}
	e.fails("alias_db is not a command of the ser flavor", "alias_db", "list")
}

// Every error is one line on stderr and exit 1, and nothing is written.
func TestErrors(t *testing.T) {
	t.Run("no rc file", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		e.fails("DBENGINE is not set: set DBENGINE=MYSQL, PGSQL or SQLITE in "+filepath.Join(e.etc, "kamailio", "kamctlrc"), "add", "alice@example.com", "pw")
		if _, err := os.Stat(filepath.Join(e.work, "kamailio.db")); err == nil {
			t.Errorf("the default database file was created")
		}
	})
	t.Run("broken rc file", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		p := e.sysRC("DBENGINE SQLITE\n")
		e.fails(p+":1: not a NAME=value line", "ps")
	})
	t.Run("unreadable rc file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads every file")
		}
		e := newToolEnv(t, "kamailio")
		p := e.userRC("DBENGINE=SQLITE\n")
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		e.fails("rc file "+p, "version")
	})
	t.Run("wrong DBENGINE", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		p := e.userRC("SIP_DOMAIN=example.com\nDBENGINE=mongodb\n")
		e.fails(p+":2: DBENGINE=mongodb is unknown: use MYSQL, PGSQL or SQLITE", "add", "alice", "pw")
		e.userRC("DBENGINE=DBTEXT\n")
		e.fails("DBENGINE=DBTEXT is not supported", "db", "show", "subscriber")
	})
	t.Run("missing sqlite file", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		p := filepath.Join(e.work, "none", "kamailio.db")
		e.userRC("DBENGINE=SQLITE\nDB_PATH=" + p + "\n")
		e.fails("database file "+p+" does not exist: create it with kamdbctl create", "add", "alice@example.com", "pw")
		if _, err := os.Stat(filepath.Dir(p)); err == nil {
			t.Errorf("the tool created %s", filepath.Dir(p))
		}
	})
	t.Run("unreachable database", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close() // nothing listens there now
		for _, eng := range []string{"MYSQL", "PGSQL"} {
			e := newToolEnv(t, "kamailio")
			e.userRC("DBENGINE=" + eng + "\nDBHOST=127.0.0.1\nDBPORT=" + strconv.Itoa(port) + "\n")
			e.fails("cannot connect", "add", "alice@example.com", "pw")
		}
	})
	t.Run("missing table", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		p := sqliteDB(t, filepath.Join(e.work, "k.db"), usrPreferences())
		e.userRC("DBENGINE=SQLITE\nDB_PATH=" + p + "\n")
		e.fails("table subscriber does not exist: create it with kamdbctl create", "add", "alice@example.com", "pw")
	})
	t.Run("usage errors", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		kamSQLite(t, e, "")
		e.fails(`unknown command "frobnicate" (kamctl -h lists the commands)`, "frobnicate")
		e.fails("usage: kamctl add <user> <password>", "add", "alice")
		e.fails("usage: kamctl ul show", "ul")
		e.fails("usage: kamctl db show <table>", "db", "drop", "subscriber")
		e.fails(`"al ice@example.com": character ' ' is not allowed`, "add", "al ice@example.com", "pw")
		e.fails("add: empty password", "add", "alice", "")
	})
	t.Run("no SIP_DOMAIN", func(t *testing.T) {
		e := newToolEnv(t, "kamailio")
		p := sqliteDB(t, filepath.Join(e.work, "k.db"), kamTables()...)
		e.userRC("DBENGINE=SQLITE\nDB_PATH=" + p + "\n")
		e.fails(`"alice" has no domain: write user@domain or set SIP_DOMAIN in`, "add", "alice", "pw")
		e.fails(`"alice" has no domain`, "ul", "rm", "alice")
	})
}

// The control verbs over both engines, against a fake server.
func TestControlVerbs(t *testing.T) {
	for _, eng := range []string{"FIFO", "UNIXSOCK"} {
		t.Run(eng, func(t *testing.T) {
			f := newFakeServer()
			e := newToolEnv(t, "kamailio")
			rc := startFIFO(t, f)
			if eng == "UNIXSOCK" {
				rc = startSocket(t, f)
			}
			e.userRC(rc + "SIP_DOMAIN=example.com\n")
			out := e.ok("ul", "show")
			want := "Domain: location (records 1, contacts 1)\nAOR: alice\n" +
				"\tContact: <sip:alice@192.0.2.10:5062> expires=3590 q=1 socket=udp:127.0.0.1:5060 callid=c1 user_agent=\"test UA\"\n"
			if out != want {
				t.Errorf("ul show:\n%q\nwant\n%q", out, want)
			}
			if out := e.ok("ul", "show", "alice"); !strings.HasPrefix(out, "AOR: alice\n\tContact: <sip:alice@192.0.2.10:5062> expires=3590 q=1") {
				t.Errorf("ul show alice: %q", out)
			}
			e.fails("ul.lookup", "ul", "show", "bob")
			e.ok("ul", "add", "bob", "sip:bob@192.0.2.11", "60", "0.5")
			if out := e.ok("online"); out != "alice\nbob\n" {
				t.Errorf("online: %q", out)
			}
			if out := e.ok("ul", "show", "--brief"); out != "alice\nbob\n" {
				t.Errorf("ul show --brief: %q", out)
			}
			e.ok("ul", "rm", "alice")
			e.ok("usrloc", "rm", "bob", "sip:bob@192.0.2.11")
			e.fails(`"bob@x" is not a valid SIP URI`, "ul", "add", "bob", "bob@x")
			if out := e.ok("online"); out != "bob\n" {
				t.Errorf("online after rm: %q", out)
			}
			if out := e.ok("ps"); out != "PID\tDescription\n42\tmain process - attendant\n42\treceiver udp:127.0.0.1:5060\n" {
				t.Errorf("ps: %q", out)
			}
			if out := e.ok("uptime"); out != "Now: Mon, 01 Jan 2024 10:00:00 UTC\nUp since: Mon, 01 Jan 2024 09:00:00 UTC\nUp time: 3600 [sec]\n" {
				t.Errorf("uptime: %q", out)
			}
			if out := e.ok("stats"); out != "core:rcv_requests = 7\nusrloc:registered_users = 1\n" {
				t.Errorf("stats: %q", out)
			}
			if out := e.ok("stats", "usrloc:"); out != "usrloc:registered_users = 1\n" {
				t.Errorf("stats usrloc: %q", out)
			}
			e.fails("invalid parameters: no statistic nosuch", "stats", "nosuch")
			if out := e.ok("fifo", "core.uptime"); out != "now:: Mon, 01 Jan 2024 10:00:00 UTC\nup_since:: Mon, 01 Jan 2024 09:00:00 UTC\nuptime:: 3600\n" {
				t.Errorf("fifo core.uptime: %q", out)
			}
			if out := e.ok("rpc", "core.ps"); out != `[{"desc":"main process - attendant","pid":42},{"desc":"receiver udp:127.0.0.1:5060","pid":42}]`+"\n" &&
				out != `[{"desc":"main process - attendant","pid":"42"},{"desc":"receiver udp:127.0.0.1:5060","pid":"42"}]`+"\n" {
				t.Errorf("rpc core.ps: %q", out)
			}
			e.fails("fifo no.such: the server answered", "fifo", "no.such")
			e.fails("fifo: missing command", "fifo")
			e.fails("malformed command name", "fifo", "core.ps\n:ul.rm:x")
			if out := e.ok("domain", "show"); !strings.Contains(out, "example.org") {
				t.Errorf("domain show: %q", out)
			}
			e.ok("domain", "reload")
			if out := e.ok("version"); out != "kamctl 3.0.0 (kamailio flavor)\nserver: kamailio 3.0.0 (amd64/linux) flavor kamailio\n" {
				t.Errorf("version: %q", out)
			}
		})
	}
}

// Without a running server the control verbs fail with one line naming
// the FIFO or socket, and version still answers.
func TestNoServer(t *testing.T) {
	e := newToolEnv(t, "kamailio")
	e.ok() // usage works
	fifo := filepath.Join(e.work, "default_fifo")
	e.fails("fifo "+fifo, "ps")
	if out := e.ok("version"); !strings.Contains(out, "server: not reachable") {
		t.Errorf("version: %q", out)
	}
	e.userRC("CTLENGINE=UNIXSOCK\n")
	e.fails("control socket unix:"+filepath.Join(e.work, "default_ctl"), "uptime")
	// A FIFO nobody reads (a dead server left it) fails at once too.
	e.userRC("OSER_FIFO=" + fifo + "\n")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.fails("fifo "+fifo, "ps")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a dead FIFO took %s", d)
	}
}
