package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// scenario is one load scenario of the harness.
type scenario struct {
	// Key names it on the command line (-scenarios) and in the report.
	Key   string
	Title string
	// Cfg is the config file both servers load (scripts/bench/), "" for
	// the ceiling (no server).
	Cfg string
	// UAC is the sipp scenario of the load generator; UAS the sipp
	// scenario of the next hop ("" without one).
	UAC, UAS string
	// UACArgs are extra sipp options of each UAC run; run is a token
	// unique to the run (for unique AORs).
	UACArgs func(env *scenarioEnv, run string) []string
	// ShmMB is Kamailio's shared memory (-m).
	ShmMB int
	// Setup prepares what a server needs (a database) and returns the
	// -A defines to pass it; nil for none.
	Setup func(ctx context.Context, h *harness, im *impl, dir string) (*scenarioEnv, error)
}

// scenarioEnv is what Setup prepared for one server.
type scenarioEnv struct {
	Defines []string
	// Users is the sipp injection file (-inf), "" for none.
	Users string
}

func scenarios() []*scenario {
	call := func(_ *scenarioEnv, _ string) []string { return []string{"-s", "bob"} }
	reg := func(_ *scenarioEnv, run string) []string { return []string{"-key", "run", run} }
	auth := func(env *scenarioEnv, _ string) []string { return []string{"-inf", env.Users} }
	list := []*scenario{
		{Key: "ceiling", Title: "ceiling: sipp UAC → sipp UAS, no proxy", UAC: "uac.xml", UAS: "uas.xml", UACArgs: call},
		{Key: "stateless", Title: "stateless proxy (forward)", Cfg: "stateless.cfg", UAC: "uac.xml", UAS: "uas.xml", UACArgs: call, ShmMB: 256},
		{Key: "stateful", Title: "stateful proxy (record_route, loose_route, t_relay), INVITE/ACK/BYE", Cfg: "stateful.cfg", UAC: "uac.xml", UAS: "uas.xml", UACArgs: call, ShmMB: 256},
		{Key: "register", Title: "registrar, no auth, usrloc db_mode 0, one new AOR per REGISTER", Cfg: "register.cfg", UAC: "register.xml", UACArgs: reg, ShmMB: 256},
	}
	for _, db := range dbKinds {
		d := db
		list = append(list, &scenario{
			Key: "auth-" + d.Name, Title: "registrar with digest auth on " + d.Title + " (401 + REGISTER with credentials)",
			Cfg: "register-auth.cfg", UAC: "register-auth.xml", UACArgs: auth, ShmMB: 256,
			Setup: func(ctx context.Context, h *harness, im *impl, dir string) (*scenarioEnv, error) {
				return setupAuthDB(ctx, h, d, im, dir)
			},
		})
	}
	return list
}

// dbKind is a database the auth scenario runs on.
type dbKind struct {
	Name, Title string
	// KamailioDir holds Debian's create scripts for this database.
	KamailioDir string
	// Module is the DB module to load.
	Module string
	// SchemaDir is the folder of our --dump-schema output.
	SchemaDir string
	// prepare creates an empty database for one server and returns its
	// URL and a function that runs an SQL script in it.
	prepare func(ctx context.Context, name, dir string) (url string, exec func(sql string) error, err error)
}

var dbKinds = []*dbKind{
	{Name: "sqlite", Title: "SQLite", KamailioDir: "/usr/share/kamailio/db_sqlite", Module: "db_sqlite.so", SchemaDir: "sqlite", prepare: prepareSQLite},
	{Name: "mysql", Title: "MySQL/MariaDB", KamailioDir: "/usr/share/kamailio/mysql", Module: "db_mysql.so", SchemaDir: "mysql", prepare: prepareMySQL},
	{Name: "postgres", Title: "PostgreSQL", KamailioDir: "/usr/share/kamailio/postgres", Module: "db_postgres.so", SchemaDir: "postgres", prepare: preparePostgres},
}

// errSkip marks a scenario that cannot run here (a missing tool or
// database); the report says why.
type errSkip struct{ why string }

func (e errSkip) Error() string { return e.why }

func skipf(format string, a ...any) error { return errSkip{fmt.Sprintf(format, a...)} }

// authUsers is the number of subscribers of the auth scenarios; each call
// registers the next one (sipp's SEQUENTIAL injection), round robin.
const authUsers = 2000

// setupAuthDB creates the subscriber table of one server's schema (ours:
// version 6 from its --dump-schema; Kamailio 5.6: version 7 from
// Debian's scripts) in a database of its own, fills it with authUsers
// accounts, and writes the matching sipp injection file.
func setupAuthDB(ctx context.Context, h *harness, d *dbKind, im *impl, dir string) (*scenarioEnv, error) {
	var scripts []string
	if im.Ours {
		sd := filepath.Join(dir, "schema")
		if out, err := exec.CommandContext(ctx, im.Bin, "--dump-schema", sd).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s --dump-schema: %w: %s", im.Bin, err, out)
		}
		scripts = []string{filepath.Join(sd, d.SchemaDir, "standard-create.sql"), filepath.Join(sd, d.SchemaDir, "auth_db-create.sql")}
	} else {
		scripts = []string{filepath.Join(d.KamailioDir, "standard-create.sql"), filepath.Join(d.KamailioDir, "auth_db-create.sql")}
	}
	var sql strings.Builder
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, skipf("no create script: %v", err)
		}
		sql.Write(b)
		sql.WriteString("\n")
	}
	var users strings.Builder
	users.WriteString("SEQUENTIAL\n")
	sql.WriteString("BEGIN;\n")
	for i := 1; i <= authUsers; i++ {
		u, pw := fmt.Sprintf("b%05d", i), fmt.Sprintf("pw%05d", i)
		fmt.Fprintf(&sql, "INSERT INTO subscriber (username, domain, password) VALUES ('%s', 'bench.test', '%s');\n", u, pw)
		// sipp expands a keyword that comes whole from a field, not a
		// field inside [authentication].
		fmt.Fprintf(&users, "%s;[authentication username=%s password=%s]\n", u, u, pw)
	}
	sql.WriteString("COMMIT;\n")
	name := "srbench_" + strings.NewReplacer(" ", "", ".", "").Replace(im.Name)
	url, run, err := d.prepare(ctx, name, dir)
	if err != nil {
		return nil, err
	}
	if err := run(sql.String()); err != nil {
		return nil, fmt.Errorf("create the %s tables: %w", d.Title, err)
	}
	uf := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(uf, []byte(users.String()), 0o644); err != nil {
		return nil, err
	}
	return &scenarioEnv{
		Defines: []string{fmt.Sprintf("DBURL=%q", url), fmt.Sprintf("DBMODULE=%q", d.Module)},
		Users:   uf,
	}, nil
}

// runSQL pipes sql into a command line client.
func runSQL(ctx context.Context, sql string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func prepareSQLite(ctx context.Context, name, dir string) (string, func(string) error, error) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		return "", nil, skipf("sqlite3 not installed (apt-get install sqlite3)")
	}
	path := filepath.Join(dir, name+".db")
	_ = os.Remove(path)
	return "sqlite://" + path, func(sql string) error { return runSQL(ctx, sql, "sqlite3", path) }, nil
}

// benchDBUser is the account the harness creates on a local MySQL or
// PostgreSQL server for its databases (srbench_*), which it drops and
// creates again at each run.
const benchDBUser, benchDBPass = "srbench", "srbench"

func prepareMySQL(ctx context.Context, name, _ string) (string, func(string) error, error) {
	if _, err := exec.LookPath("mysql"); err != nil {
		return "", nil, skipf("mysql client not installed")
	}
	admin := func(sql string) error { return runSQL(ctx, sql, "mysql", "-uroot") }
	if err := admin("SELECT 1;"); err != nil {
		return "", nil, skipf("no local MySQL/MariaDB reachable as root: %v", firstLineOf(err))
	}
	setup := fmt.Sprintf(`DROP DATABASE IF EXISTS %[1]s; CREATE DATABASE %[1]s;
CREATE USER IF NOT EXISTS '%[2]s'@'127.0.0.1' IDENTIFIED BY '%[3]s';
CREATE USER IF NOT EXISTS '%[2]s'@'localhost' IDENTIFIED BY '%[3]s';
GRANT ALL ON %[1]s.* TO '%[2]s'@'127.0.0.1'; GRANT ALL ON %[1]s.* TO '%[2]s'@'localhost';`, name, benchDBUser, benchDBPass)
	if err := admin(setup); err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("mysql://%s:%s@127.0.0.1/%s", benchDBUser, benchDBPass, name)
	return url, func(sql string) error {
		return runSQL(ctx, sql, "mysql", "-uroot", name)
	}, nil
}

func preparePostgres(ctx context.Context, name, _ string) (string, func(string) error, error) {
	if _, err := exec.LookPath("psql"); err != nil {
		return "", nil, skipf("psql not installed")
	}
	admin := func(db, sql string) error {
		return runSQL(ctx, sql, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", db)
	}
	if err := admin("postgres", "SELECT 1;"); err != nil {
		return "", nil, skipf("no local PostgreSQL reachable as postgres on 127.0.0.1: %v", firstLineOf(err))
	}
	role := fmt.Sprintf(`DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN CREATE ROLE %[1]s LOGIN PASSWORD '%[2]s'; END IF; END$$;`, benchDBUser, benchDBPass)
	if err := admin("postgres", role); err != nil {
		return "", nil, err
	}
	if err := admin("postgres", fmt.Sprintf("DROP DATABASE IF EXISTS %s;", name)); err != nil {
		return "", nil, err
	}
	if err := admin("postgres", fmt.Sprintf("CREATE DATABASE %s OWNER %s;", name, benchDBUser)); err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("postgres://%s:%s@127.0.0.1/%s", benchDBUser, benchDBPass, name)
	return url, func(sql string) error {
		cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", benchDBUser, "-d", name)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+benchDBPass)
		cmd.Stdin = strings.NewReader(sql)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}, nil
}

func firstLineOf(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// isSkip reports whether err says a scenario cannot run here.
func isSkip(err error) bool {
	var s errSkip
	return errors.As(err, &s)
}

// runToken is a short token unique to one UAC run of the harness.
func runToken(n int) string { return strconv.Itoa(n) }
