package nathelper_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/ctl"
	_ "sip-router.org/modules/maxfwd"
	_ "sip-router.org/modules/mi_rpc"
	_ "sip-router.org/modules/rr"
	_ "sip-router.org/modules/sanity"
	_ "sip-router.org/modules_k/acc"
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

// ours matches nathelper and its functions and parameters in an error.
var ours = regexp.MustCompile(`\b(nathelper|nat_uac_test|fix_nated_register|fix_nated_contact|fix_nated_sdp|add_rcv_param|` +
	`force_rtp_proxy|unforce_rtp_proxy|rtpproxy_offer|rtpproxy_answer|start_recording|set_rtp_proxy_set|add_contact_alias|` +
	`handle_ruri_alias|rtpproxy_sock|natping_interval|ping_nated_only|sipping_bflag|sipping_from|received_avp)\b`)

// Kamailio 3.0's default configuration with WITH_NAT (and with everything)
// loads without an error about nathelper.
func TestDefaultConfigWithNAT(t *testing.T) {
	if configDir == "" {
		t.Skip("shared/testdata/configs not found")
	}
	b, err := os.ReadFile(filepath.Join(configDir, "kamailio-3.0.0.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, defs := range [][]string{{"WITH_NAT"}, {"WITH_NAT", "WITH_AUTH", "WITH_PSTN", "WITH_DEBUG"}} {
		t.Run(strings.Join(defs, ","), func(t *testing.T) {
			text := string(b)
			for _, d := range defs {
				text = "#!define " + d + "\n" + text
			}
			_, err := siptest.LoadErr(t, text)
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

// The check above sees nathelper's errors: a bad value in the default
// configuration is reported.
func TestDefaultConfigCheckSeesOurErrors(t *testing.T) {
	if configDir == "" {
		t.Skip("shared/testdata/configs not found")
	}
	b, err := os.ReadFile(filepath.Join(configDir, "kamailio-3.0.0.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	text := "#!define WITH_NAT\n" + string(b)
	for _, bad := range []struct{ from, to string }{
		{`"rtpproxy_sock", "udp:127.0.0.1:7722"`, `"rtpproxy_sock", "udp:127.0.0.1:77229"`},
		{`nat_uac_test("19")`, `nat_uac_test("nineteen")`},
		{`force_rtp_proxy();`, `force_rtp_proxy("x");`},
	} {
		if !strings.Contains(text, bad.from) {
			t.Fatalf("the configuration has no %s", bad.from)
		}
		_, err := siptest.LoadErr(t, strings.Replace(text, bad.from, bad.to, 1))
		if err == nil || !ours.MatchString(err.Error()) {
			t.Errorf("%s: error %v does not name nathelper", bad.to, err)
		}
	}
}
