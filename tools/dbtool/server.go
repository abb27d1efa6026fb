package dbtool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"sip-router.org/core/db"
	"sip-router.org/tools/ctl"
)

// server is the database server (or the SQLite file) behind one database
// name: whether the database exists, its creation with its users and
// grants, its removal, and handles on it. Every handle the tool opens is
// an administrator's (DBROOTUSER), as kamdbctl connects as root.
type server struct {
	s    ctl.DBSettings
	name string // the database: its name, or the SQLite file
}

// target returns the server of the configured database, or of another
// one (a name given on the command line: DB name, or SQLite file).
func (c *Config) target(name string) *server {
	s := &server{s: c.DB, name: c.DB.Name}
	if c.DB.Engine == ctl.SQLite {
		s.name = c.DB.Path
	}
	if name != "" {
		s.name = name
	}
	if c.DB.Engine == ctl.SQLite {
		if abs, err := filepath.Abs(s.name); err == nil {
			s.name = abs
		}
	}
	return s
}

// URL is the administrator's URL of the database (password hidden).
func (v *server) URL() string { return db.Redact(v.url()) }

func (v *server) url() string { return v.s.URL(ctl.RoleRoot, v.name) }

// String names the database for messages.
func (v *server) String() string {
	if v.s.Engine == ctl.SQLite {
		return "database " + v.name
	}
	return fmt.Sprintf("database %s (%s)", v.name, v.URL())
}

func open(ctx context.Context, url string) (*db.DB, error) {
	return db.OpenWith(ctx, url, db.Options{Param: "database", Maintenance: true})
}

// Open opens the database as the administrator.
func (v *server) Open(ctx context.Context) (*db.DB, error) {
	return open(ctx, v.url())
}

// admin opens the server's administrative database (mysql, postgres).
func (v *server) admin(ctx context.Context) (*db.DB, error) {
	return open(ctx, v.s.URL(ctl.RoleRoot, "-"))
}

func (v *server) validName() error {
	if v.s.Engine == ctl.SQLite {
		if v.name == "" {
			return fmt.Errorf("no SQLite file: set DB_PATH (or DBNAME to a path)")
		}
		return nil
	}
	if v.name == "" || strings.ContainsAny(v.name, "`\"'\\/;\x00") || len(v.name) > 63 {
		return fmt.Errorf("database name %q is not usable (letters, digits, _ and -, at most 63 bytes)", v.name)
	}
	return nil
}

// Exists reports whether the database exists (the SQLite file, with any
// content).
func (v *server) Exists(ctx context.Context) (bool, error) {
	if err := v.validName(); err != nil {
		return false, err
	}
	if v.s.Engine == ctl.SQLite {
		st, err := os.Stat(v.name)
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("database file: %w", err)
		case st.IsDir():
			return false, fmt.Errorf("database file %s is a folder", v.name)
		}
		return true, nil
	}
	a, err := v.admin(ctx)
	if err != nil {
		return false, err
	}
	defer a.Close()
	q := "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
	if v.s.Engine == ctl.PgSQL {
		q = "SELECT COUNT(*) FROM pg_database WHERE datname = ?"
	}
	var n int
	if err := a.QueryRow(ctx, q, v.name).Scan(&n); err != nil {
		return false, fmt.Errorf("does database %s exist: %w", v.name, err)
	}
	return n > 0, nil
}

// user is a database user kamdbctl creates.
type user struct {
	name, password string
	readOnly       bool
}

func (v *server) users() []user {
	var us []user
	for _, u := range []user{{v.s.RWUser, v.s.RWPW, false}, {v.s.ROUser, v.s.ROPW, true}} {
		// Never touch the administrator's own account.
		if u.name != "" && u.name != v.s.RootUser {
			us = append(us, u)
		}
	}
	return us
}

// CreateDB creates the empty database with its users and their grants:
// on MySQL with the utf8mb4 character set, users 'user'@'%' and
// 'user'@'DBHOST' (as kamdbctl's 'user' and 'user'@'$DBHOST'), ALL
// PRIVILEGES for DBRWUSER and SELECT for DBROUSER; on PostgreSQL in UTF8,
// with login roles (their grants come with the tables: Grant). An
// existing user gets the configured password. SQLite needs nothing: the
// file and its folder are made when opened.
func (v *server) CreateDB(ctx context.Context) error {
	if err := v.validName(); err != nil {
		return err
	}
	switch v.s.Engine {
	case ctl.SQLite:
		return nil
	case ctl.MySQL:
		return v.createMySQL(ctx)
	}
	return v.createPostgres(ctx)
}

func (v *server) createMySQL(ctx context.Context) error {
	a, err := v.admin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	d := db.MySQL
	if _, err := a.Exec(ctx, "CREATE DATABASE "+d.Quote(v.name)+" CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("create database %s: %w", v.name, err)
	}
	hosts := []string{"%"}
	if h := v.s.Host; h != "" && h != "%" {
		hosts = append(hosts, h)
	}
	for _, u := range v.users() {
		priv := "ALL PRIVILEGES"
		if u.readOnly {
			priv = "SELECT"
		}
		for _, h := range hosts {
			acct := d.Literal(u.name) + "@" + d.Literal(h)
			for _, q := range []string{
				"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY " + d.Literal(u.password),
				"ALTER USER " + acct + " IDENTIFIED BY " + d.Literal(u.password),
				"GRANT " + priv + " ON " + d.Quote(v.name) + ".* TO " + acct,
			} {
				if _, err := a.Exec(ctx, q); err != nil {
					_, _ = a.Exec(ctx, "DROP DATABASE IF EXISTS "+d.Quote(v.name))
					return fmt.Errorf("user %s@%s: %w", u.name, h, err)
				}
			}
		}
	}
	return nil
}

func (v *server) createPostgres(ctx context.Context) error {
	a, err := v.admin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	d := db.Postgres
	for _, u := range v.users() {
		var n int
		if err := a.QueryRow(ctx, "SELECT COUNT(*) FROM pg_roles WHERE rolname = ?", u.name).Scan(&n); err != nil {
			return fmt.Errorf("role %s: %w", u.name, err)
		}
		q := "CREATE ROLE " + d.Quote(u.name) + " LOGIN PASSWORD " + d.Literal(u.password)
		if n > 0 {
			q = "ALTER ROLE " + d.Quote(u.name) + " LOGIN PASSWORD " + d.Literal(u.password)
		}
		if _, err := a.Exec(ctx, q); err != nil {
			return fmt.Errorf("role %s: %w", u.name, err)
		}
	}
	if _, err := a.Exec(ctx, "CREATE DATABASE "+d.Quote(v.name)+" ENCODING 'UTF8' TEMPLATE template0"); err != nil {
		return fmt.Errorf("create database %s: %w", v.name, err)
	}
	return nil
}

// Grant gives the users their rights on every table and sequence of the
// database (PostgreSQL grants per table; MySQL's grants cover the whole
// database already), and on those made later by the administrator.
func (v *server) Grant(ctx context.Context, h *db.DB) error {
	if v.s.Engine != ctl.PgSQL {
		return nil
	}
	d := db.Postgres
	for _, u := range v.users() {
		var n int
		if err := h.QueryRow(ctx, "SELECT COUNT(*) FROM pg_roles WHERE rolname = ?", u.name).Scan(&n); err != nil {
			return fmt.Errorf("role %s: %w", u.name, err)
		}
		if n == 0 {
			continue
		}
		r := d.Quote(u.name)
		stmts := []string{
			"GRANT CONNECT ON DATABASE " + d.Quote(v.name) + " TO " + r,
			"GRANT USAGE ON SCHEMA public TO " + r,
			"GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + r,
			"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO " + r,
			"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO " + r,
		}
		if !u.readOnly {
			stmts = []string{
				"GRANT CONNECT ON DATABASE " + d.Quote(v.name) + " TO " + r,
				"GRANT USAGE ON SCHEMA public TO " + r,
				"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO " + r,
				"GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public TO " + r,
				"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL PRIVILEGES ON TABLES TO " + r,
				"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL PRIVILEGES ON SEQUENCES TO " + r,
			}
		}
		for _, q := range stmts {
			if _, err := h.Exec(ctx, q); err != nil {
				return fmt.Errorf("grant to %s: %w", u.name, err)
			}
		}
	}
	return nil
}

// DropDB removes the database (the SQLite file with its journal files).
// The users stay, as with kamdbctl.
func (v *server) DropDB(ctx context.Context) error {
	if err := v.validName(); err != nil {
		return err
	}
	if v.s.Engine == ctl.SQLite {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			if err := os.Remove(v.name + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("drop %s: %w", v.name, err)
			}
		}
		return nil
	}
	a, err := v.admin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	var d *db.Dialect = db.MySQL
	if v.s.Engine == ctl.PgSQL {
		d = db.Postgres
	}
	if _, err := a.Exec(ctx, "DROP DATABASE IF EXISTS "+d.Quote(v.name)); err != nil {
		return fmt.Errorf("drop database %s: %w", v.name, err)
	}
	return nil
}
