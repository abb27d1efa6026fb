package siputils_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/rr"
	_ "sip-router.org/modules/sanity"
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

// ours matches what the sl, rr, sanity and siputils modules register, in
// an error message.
var ours = regexp.MustCompile(`\b(sl|rr|sanity|siputils|sl_send_reply|sl_reply|send_reply|sl_reply_error|` +
	`loose_route|record_route|record_route_preset|add_rr_param|check_route_param|is_direction|remove_record_route|` +
	`sanity_check|has_totag|is_request|is_reply|is_user|uri_param|add_uri_param|is_uri_user_e164|options_reply|` +
	`cmp_uri|cmp_aor|tel2sip)\b`)

// The default configurations of both flavors use these modules' functions
// and parameters in every route where they appear, with each set of
// defines. The other modules they load may be missing from this test
// binary: only errors about ours count.
func TestDefaultConfigs(t *testing.T) {
	if configDir == "" {
		t.Skip("shared/testdata/configs not found")
	}
	tests := []struct {
		file    string
		defines []string
	}{
		{"kamailio-3.0.0.cfg", nil},
		{"kamailio-3.0.0.cfg", []string{"WITH_NAT"}},
		{"kamailio-3.0.0.cfg", []string{"WITH_MYSQL", "WITH_AUTH", "WITH_USRLOCDB", "WITH_PRESENCE", "WITH_NAT", "WITH_PSTN"}},
		{"kamailio-5.6.3.cfg", nil},
		{"kamailio-5.6.3.cfg", []string{"WITH_MYSQL", "WITH_AUTH", "WITH_NAT", "WITH_PRESENCE", "WITH_ANTIFLOOD"}},
		{"ser-3.0.3.cfg", nil},
		{"ser-basic-3.0.3.cfg", nil},
	}
	for _, tc := range tests {
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
			for _, line := range strings.Split(err.Error(), "\n") {
				if ours.MatchString(line) {
					t.Errorf("%s", line)
				}
			}
		})
	}
}
