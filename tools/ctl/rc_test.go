package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rc chain: /etc/<flavor>/<rc>, then ~/.<rc>, later overriding
// earlier, then the environment; tested with a temporary config root and
// HOME.
func TestRCChain(t *testing.T) {
	etc, home := t.TempDir(), t.TempDir()
	t.Setenv("SIPROUTER_SYSCONFDIR", etc)
	t.Setenv("HOME", home)
	t.Setenv("DBPORT", "")
	os.Unsetenv("DBPORT")
	sys := filepath.Join(etc, "kamailio", "kamctlrc")
	if err := os.MkdirAll(filepath.Dir(sys), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(sys, `# system settings
DBENGINE=MYSQL
DBHOST=db.example.com
DBNAME="openser"
SIP_DOMAIN='example.com'
export DBRWUSER=kamailio
DBRWPW="pass with \"quotes\""
OSER_FIFO=/run/${DBRWUSER}/fifo   # comment
`)
	write(filepath.Join(home, ".kamctlrc"), "DBHOST=localhost\nDBNAME=kamailio\n")
	files := RCFiles("kamailio", "kamctlrc")
	if files[0] != sys || files[len(files)-1] != filepath.Join(home, ".kamctlrc") {
		t.Fatalf("rc files %v", files)
	}
	t.Setenv("DBENGINE", "PGSQL")
	rc, err := LoadRC(files, []string{"DBENGINE", "DBPORT"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"DBENGINE":   "PGSQL", // environment over files
		"DBHOST":     "localhost",
		"DBNAME":     "kamailio", // ~/.kamctlrc over /etc
		"SIP_DOMAIN": "example.com",
		"DBRWUSER":   "kamailio",
		"DBRWPW":     `pass with "quotes"`,
		"OSER_FIFO":  "/run/kamailio/fifo",
	} {
		if got := rc.Get(name, ""); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := rc.Get("DBPORT", "3306"); got != "3306" {
		t.Errorf("unset DBPORT default: %q", got)
	}
	if o := rc.Origin("DBHOST"); !strings.HasSuffix(o, ".kamctlrc:1") {
		t.Errorf("DBHOST origin %q", o)
	}
	if o := rc.Origin("DBENGINE"); o != "environment" {
		t.Errorf("DBENGINE origin %q", o)
	}
}

func TestRCErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{"DBENGINE MYSQL\n", "bad:1: not a NAME=value line"},
		{"# ok\nDBNAME=\"unterminated\n", "bad:2: DBNAME: unterminated quote"},
		{"1X=2\n", "bad:1: not a NAME=value line"},
	} {
		p := filepath.Join(dir, "bad")
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadRC([]string{p}, nil)
		if err == nil || !strings.Contains(err.Error(), strings.Replace(tc.want, "bad:", p+":", 1)) {
			t.Errorf("%q: err %v, want %q", tc.text, err, tc.want)
		}
	}
	// A missing rc file is no error: the defaults apply.
	rc, err := LoadRC([]string{filepath.Join(dir, "none")}, nil)
	if err != nil || len(rc.Files) != 0 {
		t.Errorf("missing rc: %v %v", rc, err)
	}
}
