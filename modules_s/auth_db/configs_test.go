package authdb_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/cfg_rpc"
	_ "sip-router.org/modules/ctl"
	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/db_sqlite"
	_ "sip-router.org/modules/maxfwd"
	_ "sip-router.org/modules/rr"
	_ "sip-router.org/modules/tm"
	_ "sip-router.org/modules_s/acc_db"
	_ "sip-router.org/modules_s/avp"
	_ "sip-router.org/modules_s/avp_db"
	_ "sip-router.org/modules_s/domain"
	_ "sip-router.org/modules_s/gflags"
	_ "sip-router.org/modules_s/registrar"
	_ "sip-router.org/modules_s/uri_db"
	_ "sip-router.org/modules_s/usrloc"
)

// ours matches what concerns the modules of this folder's owner: their
// names, functions, parameters and attributes.
var ours = regexp.MustCompile(`usrloc|registrar|\bauth\b|auth_db|save_contacts|lookup_contacts|www_authenticate|proxy_authenticate|digest_challenge|consume_credentials`)

// TestSERConfigs loads the SER 3.0.3 configurations (the one with a
// database and the basic one) and the ser flavor's shipped one: every function,
// parameter and attribute of usrloc, registrar, auth and auth_db they use
// must resolve. Errors about other modules (xmlrpc, not written yet) may
// remain; they are logged.
func TestSERConfigs(t *testing.T) {
	for _, p := range []string{
		"../../../shared/testdata/configs/ser-3.0.3.cfg",
		"../../../shared/testdata/configs/ser-basic-3.0.3.cfg",
		"../../flavors/ser/etc/ser.cfg",
	} {
		t.Run(filepath.Base(p), func(t *testing.T) {
			text, err := os.ReadFile(p)
			if err != nil {
				t.Skipf("config not available: %v", err)
			}
			_, err = siptest.LoadErr(t, string(text))
			if err == nil {
				return
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if ours.MatchString(line) {
					t.Errorf("%s", line)
				} else if strings.TrimSpace(line) != "" {
					t.Logf("other module: %s", line)
				}
			}
		})
	}
}
