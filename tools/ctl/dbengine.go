package ctl

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// DBEngine is a database plug-in, chosen with DBENGINE as in kamctlrc.
type DBEngine string

// The database engines.
const (
	MySQL  DBEngine = "MYSQL"
	PgSQL  DBEngine = "PGSQL"
	SQLite DBEngine = "SQLITE"
)

// ParseDBEngine accepts the spellings kamctl accepts (MYSQL, mysql, MySQL;
// PGSQL, pgsql, postgres, postgresql) and SQLITE/sqlite. Engines kamctl
// knows that we do not ship (DBTEXT, ORACLE, DB_BERKELEY) get an error
// saying so.
func ParseDBEngine(s string) (DBEngine, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "mysql":
		return MySQL, nil
	case "pgsql", "postgres", "postgresql":
		return PgSQL, nil
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "":
		return "", fmt.Errorf("DBENGINE is not set: set it to MYSQL, PGSQL or SQLITE in the rc file")
	case "dbtext", "textdb", "oracle", "db_berkeley", "berkeley":
		return "", fmt.Errorf("DBENGINE=%s is not supported: use MYSQL, PGSQL or SQLITE", s)
	}
	return "", fmt.Errorf("DBENGINE=%s is unknown: use MYSQL, PGSQL or SQLITE", s)
}

// DBDefaults are a flavor's database identity, used where the rc files
// set nothing: kamailio's database, users and SQLite file are named after
// the flavor (DBNAME=kamailio, DBRWUSER=kamailio, DBRWPW=kamailiorw).
type DBDefaults struct {
	// Name is the database name and the base of the user names.
	Name string
	// Path is the SQLite database file.
	Path string
}

// DBSettings are the database settings of a tool, resolved from the rc
// files and the flavor's defaults.
type DBSettings struct {
	Engine           DBEngine
	Host             string // DBHOST
	Port             string // DBPORT (empty: the engine's default)
	Name             string // DBNAME
	RWUser, RWPW     string // DBRWUSER, DBRWPW
	ROUser, ROPW     string // DBROUSER, DBROPW
	RootUser, RootPW string // DBROOTUSER, DBROOTPW
	// Path is the SQLite file: DB_PATH, else DBNAME when it is a path,
	// else the flavor's file.
	Path string
}

// DBSettingNames are the rc settings DB reads, which the environment may
// override too.
var DBSettingNames = []string{"DBENGINE", "DBHOST", "DBPORT", "DBNAME", "DBRWUSER", "DBRWPW",
	"DBROUSER", "DBROPW", "DBROOTUSER", "DBROOTPW", "DB_PATH"}

// DB resolves the database settings. The only error is a missing or
// unknown DBENGINE.
func (rc *RC) DB(def DBDefaults) (DBSettings, error) {
	eng, err := ParseDBEngine(rc.Get("DBENGINE", ""))
	if err != nil {
		if o := rc.Origin("DBENGINE"); o != "" {
			return DBSettings{}, fmt.Errorf("%s: %w", o, err)
		}
		return DBSettings{}, err
	}
	s := DBSettings{
		Engine: eng,
		Host:   rc.Get("DBHOST", "localhost"),
		Port:   rc.Get("DBPORT", ""),
		Name:   rc.Get("DBNAME", def.Name),
		RWUser: rc.Get("DBRWUSER", def.Name),
		RWPW:   rc.Get("DBRWPW", def.Name+"rw"),
		ROUser: rc.Get("DBROUSER", def.Name+"ro"),
		ROPW:   rc.Get("DBROPW", def.Name+"ro"),
		RootPW: rc.Get("DBROOTPW", ""),
		Path:   rc.Get("DB_PATH", ""),
	}
	rootDefault := "root"
	if eng == PgSQL {
		rootDefault = "postgres"
	}
	s.RootUser = rc.Get("DBROOTUSER", rootDefault)
	if s.Path == "" {
		if strings.ContainsRune(s.Name, '/') || strings.HasSuffix(s.Name, ".db") {
			s.Path = s.Name
		} else {
			s.Path = def.Path
		}
	}
	return s, nil
}

// Role is who connects: the read-write user the server and kamctl use,
// the read-only user, or the administrator kamdbctl uses to create the
// database and its users.
type Role uint8

// The roles.
const (
	RoleRW Role = iota
	RoleRO
	RoleRoot
)

// URL is the db_url for role on database name (the configured one when
// name is ""). With name "-" it names the server's administrative
// database ("mysql" on MySQL, "postgres" on PostgreSQL), to create or
// drop databases from. For SQLite it is the database file.
func (s DBSettings) URL(role Role, name string) string {
	if s.Engine == SQLite {
		p := s.Path
		if name != "" && name != "-" {
			p = name
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return "sqlite://" + p
	}
	if name == "" {
		name = s.Name
	}
	user, pw := s.RWUser, s.RWPW
	switch role {
	case RoleRO:
		user, pw = s.ROUser, s.ROPW
	case RoleRoot:
		user, pw = s.RootUser, s.RootPW
	}
	scheme := "mysql"
	if s.Engine == PgSQL {
		scheme = "postgres"
	}
	if name == "-" {
		name = scheme // both servers have an administrative database of that name
	}
	host := s.Host
	if s.Port != "" {
		host = net.JoinHostPort(s.Host, s.Port)
	}
	// Kamailio URLs are not percent-encoded: user and password go in as
	// they are (the parser splits at the last '@' and the first ':').
	cred := ""
	switch {
	case user != "" && pw != "":
		cred = user + ":" + pw + "@"
	case user != "":
		cred = user + "@"
	}
	return scheme + "://" + cred + host + "/" + name
}
