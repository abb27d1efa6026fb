package avp_test

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
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/textops"
	_ "sip-router.org/modules/tm"
	_ "sip-router.org/modules_s/acc_db"
	_ "sip-router.org/modules_s/avp_db"
	_ "sip-router.org/modules_s/domain"
	_ "sip-router.org/modules_s/gflags"
	_ "sip-router.org/modules_s/uri_db"
	_ "sip-router.org/modules_s/xlog"
)

// Modules other helpers write (or that are deferred), and the functions
// they export: errors about them are expected until they exist.
var (
	pending    = regexp.MustCompile(`module "(usrloc|registrar|auth|auth_db|xmlrpc)" is not built into this binary`)
	pendingFns = regexp.MustCompile(`unknown function "(save_contacts|lookup_contacts|www_authenticate|proxy_authenticate|dispatch_rpc)"`)
)

// The SER default configurations load with every function of this tree's
// uid/did modules resolved: what errors remain concern only the modules
// not written yet.
func TestSERConfigs(t *testing.T) {
	for _, path := range []string{
		"../../../shared/testdata/configs/ser-3.0.3.cfg",
		"../../../shared/testdata/configs/ser-basic-3.0.3.cfg",
		"../../flavors/ser/etc/ser.cfg",
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = siptest.LoadErr(t, string(text))
			if err == nil {
				return
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !pending.MatchString(line) && !pendingFns.MatchString(line) {
					t.Errorf("unexpected error: %s", line)
				}
			}
			t.Logf("remaining errors (modules not written yet):\n%v", err)
		})
	}
}
