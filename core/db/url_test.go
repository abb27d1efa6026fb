package db_test

import (
	"errors"
	"strings"
	"testing"

	"sip-router.org/core/db"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want db.URL
	}{
		{"mysql://openser:openserrw@localhost/openser",
			db.URL{Scheme: "mysql", User: "openser", Password: "openserrw", Host: "localhost", Database: "openser"}},
		{"mysql://ser:heslo@127.0.0.1:3307/ser",
			db.URL{Scheme: "mysql", User: "ser", Password: "heslo", Host: "127.0.0.1", Port: 3307, Database: "ser"}},
		{"MySQL://root@db.example.org/kamailio",
			db.URL{Scheme: "mysql", User: "root", Host: "db.example.org", Database: "kamailio"}},
		{"mysql://db/k", db.URL{Scheme: "mysql", Host: "db", Database: "k"}},
		// Kamailio takes the user information literally; the last '@'
		// ends it, so a password may hold ':' '@' '/'.
		{"postgres://u:p@ss:w/rd@[2001:db8::1]:5433/k",
			db.URL{Scheme: "postgres", User: "u", Password: "p@ss:w/rd", Host: "2001:db8::1", Port: 5433, Database: "k"}},
		{"pgsql://u@h/k?sslmode=require&application_name=sr",
			db.URL{Scheme: "pgsql", User: "u", Host: "h", Database: "k",
				Params: map[string]string{"sslmode": "require", "application_name": "sr"}}},
		{"postgresql://u:pw@h/k", db.URL{Scheme: "postgresql", User: "u", Password: "pw", Host: "h", Database: "k"}},
		{"sqlite:///var/lib/kamailio/kamailio.db", db.URL{Scheme: "sqlite", Database: "/var/lib/kamailio/kamailio.db"}},
		{"sqlite://relative/path.db", db.URL{Scheme: "sqlite", Database: "relative/path.db"}},
		{"sqlite://k.db", db.URL{Scheme: "sqlite", Database: "k.db"}},
	} {
		u, err := db.ParseURL(tc.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.raw, err)
			continue
		}
		w := tc.want
		if w.Params == nil {
			w.Params = map[string]string{}
		}
		if u.Scheme != w.Scheme || u.User != w.User || u.Password != w.Password || u.Host != w.Host ||
			u.Port != w.Port || u.Database != w.Database || len(u.Params) != len(w.Params) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.raw, *u, w)
			continue
		}
		for k, v := range w.Params {
			if u.Params[k] != v {
				t.Errorf("ParseURL(%q): param %s = %q, want %q", tc.raw, k, u.Params[k], v)
			}
		}
		if u.Raw() != tc.raw {
			t.Errorf("Raw() = %q", u.Raw())
		}
		if w.Password != "" && strings.Contains(u.String(), w.Password) {
			t.Errorf("String() shows the password: %s", u)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", `db_url "": empty database URL`},
		{"mysql//u:pw@h/d", `db_url "mysql//u…": not a database URL: it must start with a scheme such as mysql://, postgres:// or sqlite://`},
		{"/var/lib/k.db", `db_url "/var/lib/k.db": not a database URL`},
		{"my sql://h/d", `db_url "my sql://h/d": bad scheme "my sql"`},
		{"mysql://u:pw@h", `db_url "mysql://u:***@h": no database name: the URL must end in /database`},
		{"mysql://u:pw@h/", `db_url "mysql://u:***@h/": no database name`},
		{"mysql://u:pw@/d", `db_url "mysql://u:***@/d": no host`},
		{"mysql://u:pw@h:x/d", `db_url "mysql://u:***@h:x/d": bad port "x" (1..65535)`},
		{"mysql://u:pw@h:70000/d", `bad port "70000"`},
		{"mysql://u:pw@h:/d", `bad port ""`},
		{"mysql://:pw@h/d", `db_url "mysql://:***@h/d": empty user name before '@'`},
		{"mysql://u:@h/d", `empty password after ':'`},
		{"mysql://u:pw@h/d/e", `database name "d/e" contains '/'`},
		{"mysql://u:pw@::1/d", `an IPv6 address must be written in brackets`},
		{"mysql://u:pw@[::1/d", `unterminated '['`},
		{"mysql://u:pw@[::1]x/d", `junk "x" after the host`},
		{"mysql://u:pw@[host]/d", `is not an IPv6 address`},
		{"mysql://u:pw@h/d?a=1&a=2", `parameter a given 2 times`},
		{"mysql://u:pw@h/d?=1", `parameter without a name`},
		{"mysql://u:pw@h/d?a=%zz", `bad parameters`},
		{" mysql://u:pw@h/d", `leading or trailing blanks`},
		{"mysql://u:pw@h/d\n", `leading or trailing blanks`},
		{"mysql://u:p\x01w@h/d", `control character at byte 11`},
		{"sqlite://", `db_url "sqlite://": no database file`},
		{"sqlite:///", `no database file`},
		{"sqlite:///var/lib/", `the database file "/var/lib/" is a folder name`},
	} {
		_, err := db.ParseURL(tc.raw)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted", tc.raw)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q):\n got %v\nwant %s", tc.raw, err, tc.want)
		}
		var ue *db.URLError
		if !errors.As(err, &ue) || ue.Param != "db_url" {
			t.Errorf("ParseURL(%q): not a URLError for db_url: %T", tc.raw, err)
		}
	}
}

// However the URL is broken, the password does not appear in the error.
func TestPasswordNeverInErrors(t *testing.T) {
	const pw = "Sup3rSecret"
	for _, raw := range []string{
		"mysql://u:" + pw + "@h",
		"mysql://u:" + pw + "@h:99999/d",
		"mysql://u:" + pw + "@/d",
		"mysql://u:" + pw + "@h/d/e",
		"mysql://u:" + pw + "@[::1/d",
		"mysql://u:" + pw + "@h/d?x=%zz",
		"mysql:/u:" + pw + "@h/d",
		"u:" + pw + "@h/d",
		"foo://u:" + pw + "@h/d",
		"mysql://u:" + pw + "@h/d",  // no mysql driver in this test binary
		"fake://u:" + pw + "@h:0/d", // a registered driver, bad port
	} {
		err := db.CheckURL("db_url", raw)
		if err == nil {
			t.Errorf("CheckURL(%q) accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://u:pw@h/d":         "mysql://u:***@h/d",
		"mysql://u@h/d":            "mysql://u@h/d",
		"mysql://h/d":              "mysql://h/d",
		"mysql://u:p@w:x@h/d":      "mysql://u:***@h/d",
		"sqlite:///var/lib/k.db":   "sqlite:///var/lib/k.db",
		"u:pw@h":                   "u…",
		"postgres://u:pw@h/d?a=@b": "postgres://u:***@b",
	} {
		if got := db.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostPort(t *testing.T) {
	for raw, want := range map[string]string{
		"mysql://h/d":          "h:3306",
		"mysql://h:1/d":        "h:1",
		"mysql://[::1]/d":      "[::1]:3306",
		"mysql://[::1]:3307/d": "[::1]:3307",
	} {
		u, err := db.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.HostPort(3306); got != want {
			t.Errorf("%s: HostPort = %s, want %s", raw, got, want)
		}
	}
}
