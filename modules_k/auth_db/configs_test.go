package authdb_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/ctl"
	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/maxfwd"
	_ "sip-router.org/modules/mi_rpc"
	_ "sip-router.org/modules/rr"
	_ "sip-router.org/modules/sanity"
	_ "sip-router.org/modules/textops"
	_ "sip-router.org/modules_k/alias_db"
	_ "sip-router.org/modules_k/domain"
	_ "sip-router.org/modules_k/kex"
	_ "sip-router.org/modules_k/mi_fifo"
	_ "sip-router.org/modules_k/pv"
	_ "sip-router.org/modules_k/siputils"
	_ "sip-router.org/modules_k/tmx"
	_ "sip-router.org/modules_k/uri_db"
	_ "sip-router.org/modules_k/xlog"
)

// configDir holds the default configurations, read at run time.
var configDir = func() string {
	for _, p := range []string{"../../../shared/testdata/configs", "/work/shared/testdata/configs"} {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	return ""
}()

// ours matches an error line about the modules of this task: their names
// and their functions.
var ours = regexp.MustCompile(`\b(auth|auth_db|uri_db|domain|alias_db|www_authorize|proxy_authorize|auth_check|` +
	`www_challenge|proxy_challenge|auth_challenge|consume_credentials|has_credentials|append_rpid_hf|is_rpid_user_e164|` +
	`check_to|check_from|does_uri_exist|is_from_local|is_uri_host_local|is_domain_local|alias_db_lookup)\b`)

// The default configurations load without an error about auth, auth_db,
// uri_db, domain or alias_db, with each set of defines. Other modules they
// load (usrloc, registrar, acc, presence, nathelper …) may be missing from
// this test binary: only errors about ours count.
func TestDefaultConfigs(t *testing.T) {
	if configDir == "" {
		t.Skip("shared/testdata/configs not found")
	}
	for _, tc := range []struct {
		file    string
		defines []string
	}{
		{"kamailio-3.0.0.cfg", nil},
		{"kamailio-3.0.0.cfg", []string{"WITH_AUTH", "WITH_MYSQL"}},
		{"kamailio-3.0.0.cfg", []string{"WITH_MYSQL", "WITH_AUTH", "WITH_USRLOCDB", "WITH_PRESENCE", "WITH_NAT", "WITH_PSTN", "WITH_ACCDB", "WITH_DEBUG"}},
		{"kamailio-5.6.3.cfg", []string{"WITH_MYSQL", "WITH_AUTH"}},
		{"kamailio-5.6.3.cfg", []string{"WITH_MYSQL", "WITH_AUTH", "WITH_MULTIDOMAIN", "WITH_ALIASDB", "WITH_IPAUTH"}},
	} {
		t.Run(tc.file+" "+strings.Join(tc.defines, ","), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(configDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			for _, d := range tc.defines {
				text = "#!define " + d + "\n" + text
			}
			_, err = siptest.LoadErr(t, text)
			if err == nil {
				return
			}
			t.Logf("errors about other modules:\n%v", err)
			for _, line := range strings.Split(err.Error(), "\n") {
				if ours.MatchString(line) {
					t.Errorf("%s", line)
				}
			}
		})
	}
}

// The check above can fail: with the other modules missing, errors of
// ours (a bad parameter value, a function misused) are still reported.
func TestDefaultConfigCheckSeesOurErrors(t *testing.T) {
	if configDir == "" {
		t.Skip("shared/testdata/configs not found")
	}
	b, err := os.ReadFile(filepath.Join(configDir, "kamailio-3.0.0.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	text := "#!define WITH_AUTH\n#!define WITH_MYSQL\n" + string(b)
	for _, bad := range []struct{ from, to, want string }{
		{`modparam("auth_db", "load_credentials", "")`, `modparam("auth_db", "load_credentials", "$avp(i:13)=no such")`, "auth_db"},
		{`www_challenge("", "0")`, `www_challenge("", "zero")`, "www_challenge"},
		{`modparam("uri_db", "db_url", "")`, `modparam("uri_db", "db_url", "nosuch://x/y")`, "uri_db"},
	} {
		if !strings.Contains(text, bad.from) {
			t.Fatalf("the configuration has no %s", bad.from)
		}
		_, err := siptest.LoadErr(t, strings.Replace(text, bad.from, bad.to, 1))
		if err == nil || !regexp.MustCompile(`\b`+bad.want+`\b`).MatchString(err.Error()) {
			t.Errorf("%s: error %v does not name %s", bad.to, err, bad.want)
		}
	}
}
