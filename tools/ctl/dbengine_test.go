package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sip-router.org/core/db"
)

func rcOf(t *testing.T, text string) *RC {
	t.Helper()
	f := filepath.Join(t.TempDir(), "kamctlrc")
	writeFile(t, f, text)
	rc, err := LoadRC([]string{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestDBSettings(t *testing.T) {
	def := DBDefaults{Name: "kamailio", Path: "/var/lib/kamailio/kamailio.db"}
	tests := []struct {
		name, rc string
		role     Role
		db       string
		want     string
	}{
		{"mysql defaults", "DBENGINE=MySQL", RoleRW, "", "mysql://kamailio:kamailiorw@localhost/kamailio"},
		{"mysql ro", "DBENGINE=mysql\nDBHOST=127.0.0.1\nDBPORT=3307", RoleRO, "", "mysql://kamailioro:kamailioro@127.0.0.1:3307/kamailio"},
		{"mysql admin", "DBENGINE=MYSQL\nDBROOTUSER=root", RoleRoot, "-", "mysql://root@localhost/mysql"},
		{"pgsql admin", "DBENGINE=postgresql\nDBROOTPW='s:e@cret'", RoleRoot, "-", "postgres://postgres:s:e@cret@localhost/postgres"},
		{"pgsql other db", "DBENGINE=PGSQL\nDBNAME=openser\nDBRWUSER=openser\nDBRWPW=openserrw", RoleRW, "copy", "postgres://openser:openserrw@localhost/copy"},
		{"sqlite default", "DBENGINE=SQLITE", RoleRW, "", "sqlite:///var/lib/kamailio/kamailio.db"},
		{"sqlite DB_PATH", "DBENGINE=sqlite\nDB_PATH=/tmp/x.db", RoleRoot, "-", "sqlite:///tmp/x.db"},
		{"sqlite DBNAME path", "DBENGINE=sqlite\nDBNAME=/tmp/y.db", RoleRW, "", "sqlite:///tmp/y.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := rcOf(t, tc.rc).DB(def)
			if err != nil {
				t.Fatal(err)
			}
			got := s.URL(tc.role, tc.db)
			if got != tc.want {
				t.Errorf("URL = %q, want %q", got, tc.want)
			}
			if _, err := db.ParseURL(got); err != nil {
				t.Fatalf("the URL does not parse: %v", err)
			}
		})
	}
}

// A password with ':' and '@' reaches the driver as written in the rc
// file: Kamailio URLs are not percent-encoded.
func TestDBPasswordRoundTrip(t *testing.T) {
	s, err := rcOf(t, "DBENGINE=PGSQL\nDBRWUSER=u\nDBRWPW='p:a@ss'").DB(DBDefaults{Name: "ser"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.ParseURL(s.URL(RoleRW, ""))
	if err != nil {
		t.Fatal(err)
	}
	if u.User != "u" || u.Password != "p:a@ss" || u.Database != "ser" {
		t.Errorf("parsed back as user %q password %q database %q", u.User, u.Password, u.Database)
	}
}

func TestDBEngineErrors(t *testing.T) {
	for rc, want := range map[string]string{
		"DBHOST=x":         "DBENGINE is not set",
		"DBENGINE=DBTEXT":  "kamctlrc:1: DBENGINE=DBTEXT is not supported",
		"DBENGINE=mongodb": "kamctlrc:1: DBENGINE=mongodb is unknown",
	} {
		_, err := rcOf(t, rc).DB(DBDefaults{Name: "ser"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", rc, err, want)
		}
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
