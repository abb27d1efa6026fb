package rr_test

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
)

const cookieParams = `loadmodule "rr"
avpflags other_flag, dialog_cookie;
modparam("rr", "cookie_secret", "SECRET")
FILTER
`

const recordCfg = `
route {
	$account = "yes";
	setavpflag($account, "dialog_cookie");
	$other = 7;
	setavpflag($other, "dialog_cookie");
	$plain = "not flagged";
	setavpflag($plain, "other_flag");
	record_route();
	forward("udp:192.0.2.20:5060");
}
`

const restoreCfg = `
route {
	if (loose_route()) {
		if ($account == "yes") { $var(acc) = "from"; }
		if ($t.account == "yes") { $var(acc) = "to"; }
		if ($other == 7 || $t.other == 7) { $var(other) = 1; }
		if ($plain != $null) { $var(plain) = 1; }
		record_route();
		forward("udp:192.0.2.20:5060");
	}
}
`

func cookieCfg(secret, filter, body string) string {
	if filter != "" {
		filter = `modparam("rr", "cookie_filter", "` + filter + `")`
	}
	return strings.NewReplacer("SECRET", secret, "FILTER", filter).Replace(cookieParams) + body
}

// recordRoute returns the Record-Route URI an INVITE gets with the
// attributes of recordCfg.
func recordRoute(t *testing.T, filter string) string {
	t.Helper()
	s := siptest.NewScript(t, cookieCfg("s3cret", filter, recordCfg))
	_, reqs := forwarded(t, s, invite)
	if len(reqs) != 1 {
		t.Fatalf("%d copies sent", len(reqs))
	}
	rr := rrValues(reqs[0])
	if len(rr) != 1 {
		t.Fatalf("Record-Route %v", rr)
	}
	return strings.Trim(rr[0], "<>")
}

func TestCookieRoundTrip(t *testing.T) {
	withFilter := recordRoute(t, "(account)")
	if !strings.Contains(withFilter, ";avp=") {
		t.Fatalf("no cookie in %s", withFilter)
	}
	noFilter := recordRoute(t, "")
	if len(noFilter) <= len(withFilter) {
		t.Errorf("the filter did not shorten the cookie: %s vs %s", noFilter, withFilter)
	}
	tamper := func(uri string) string {
		i := strings.Index(uri, ";avp=") + len(";avp=") + 3
		b := []byte(uri)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name, route, secret, filter, fromTag string
		want                                 map[string]string
	}{
		{"downstream, filtered", withFilter, "s3cret", "(account)", "a1",
			map[string]string{"acc": "from", "other": "<null>", "plain": "<null>"}},
		{"upstream swaps the tracks", withFilter, "s3cret", "(account)", "b1",
			map[string]string{"acc": "to"}},
		{"no filter: every flagged attribute", noFilter, "s3cret", "", "a1",
			map[string]string{"acc": "from", "other": "1", "plain": "<null>"}},
		{"filter applies on restore too", noFilter, "s3cret", "(account)", "a1",
			map[string]string{"acc": "from", "other": "<null>"}},
		{"other secret", withFilter, "other", "(account)", "a1",
			map[string]string{"acc": "<null>"}},
		{"tampered", tamper(withFilter), "s3cret", "(account)", "a1",
			map[string]string{"acc": "<null>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, cookieCfg(tc.secret, tc.filter, restoreCfg))
			c, reqs := forwarded(t, s, byeText("sip:bob@192.0.2.20", tc.fromTag, "b1", "<"+tc.route+">"))
			for k, v := range tc.want {
				if got := c.Vars[k].String(); got != v {
					t.Errorf("$var(%s) = %s, want %s", k, got, v)
				}
			}
			if len(reqs) != 1 {
				t.Fatalf("%d copies sent", len(reqs))
			}
			// The restored attributes keep their flag, so record_route
			// after loose_route carries them on.
			rr := rrValues(reqs[0])
			restored := tc.want["acc"] != "<null>"
			if len(rr) != 1 || strings.Contains(rr[0], ";avp=") != restored {
				t.Errorf("Record-Route after loose_route %v (cookie expected: %v)", rr, restored)
			}
		})
	}
}

// Garbage in the avp parameter is ignored without harm.
func TestCookieGarbage(t *testing.T) {
	s := siptest.NewScript(t, cookieCfg("s3cret", "", restoreCfg))
	for _, v := range []string{"", "!!!", "AAAA", strings.Repeat("A", 5000), "AQ"} {
		var u sip.Uri
		if err := sip.ParseUri("sip:127.0.0.1;lr;ftag=a1", &u); err != nil {
			t.Fatal(err)
		}
		u.UriParams.Add("avp", v)
		c, _ := forwarded(t, s, byeText("sip:bob@192.0.2.20", "a1", "b1", "<"+u.String()+">"))
		if got := c.Vars["acc"].String(); got != "<null>" {
			t.Errorf("avp=%.20q restored $account", v)
		}
		s.Core.Reset()
	}
}
