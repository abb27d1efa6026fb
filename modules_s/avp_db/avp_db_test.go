package avpdb_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
	"sip-router.org/modules_s/avp/sertest"
	avpdb "sip-router.org/modules_s/avp_db"
	"sip-router.org/modules_s/domain"
)

func seed(t *testing.T, url string) *db.DB {
	t.Helper()
	d := sertest.Create(t, url, append(domain.Tables(), avpdb.Tables()...)...)
	sertest.Exec(t, d, "INSERT INTO domain (did, domain, flags) VALUES ('d1', 'example.com', 1)")
	for _, r := range []struct {
		uid, name string
		value     any
		typ, fl   int
	}{
		{"u-alice", "fr_inv_timer", "60000", 0, 1},
		{"u-alice", "asserted_id", "4930123", 2, 1},
		{"u-alice", "fwd", "sip:a@b", 2, 1},
		{"u-alice", "fwd", "sip:c@d", 2, 1},
		{"u-alice", "serweb", "x", 2, 32},
		{"u-alice", "nothing", nil, 2, 1},
		{"u-bob", "fr_timer", "5000", 0, 1},
	} {
		sertest.Exec(t, d, "INSERT INTO user_attrs (uid, name, value, type, flags) VALUES (?, ?, ?, ?, ?)",
			r.uid, r.name, r.value, r.typ, r.fl)
	}
	for _, r := range []struct {
		user, did, name, value, scheme string
	}{
		{"alice", "d1", "uri_attr", "on example.com", "sip"},
		{"alice", "d1", "secure_attr", "over sips", "sips"},
		{"4930123", "_default", "tel_attr", "tel number", "tel"},
	} {
		sertest.Exec(t, d, "INSERT INTO uri_attrs (username, did, name, value, type, flags, scheme) VALUES (?, ?, ?, ?, 2, 1, ?)",
			r.user, r.did, r.name, r.value, r.scheme)
	}
	return d
}

func script(t *testing.T, b sertest.Backend, url, route string) *siptest.Script {
	t.Helper()
	return siptest.NewScript(t, b.DomainConfig("avp_db", url)+"route {\n"+route+"\n}\n")
}

const invite = `INVITE sip:alice@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:alice@example.com>;tag=ft
To: <tel:4930123>
Call-ID: cid
CSeq: 1 INVITE
`

func vals(c *sr.Ctx, name string, flags sr.AVPFlags) string {
	var out []string
	for _, a := range serattr.Values(c.AVPs, serattr.Name(name), flags) {
		if a.Val.K == sr.Int {
			out = append(out, fmt.Sprintf("int:%d", a.Val.I))
		} else {
			out = append(out, a.Val.S)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "|")
}

func TestLoadAttrs(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url := b.NewDB(t)
		seed(t, url)
		s := script(t, b, url, `
	$f.uid = "u-alice";
	$t.uid = "u-bob";
	$var(fu) = load_attrs("$fu", "$f.uid");
	$var(tu) = load_attrs("$tu", "$t.uid");
	$var(fr) = load_attrs("$fr", "@ruri");
	$var(tr) = load_attrs("$tr", "@to.uri");
	$var(none) = load_attrs("$fu", "$f.nouid");
	$var(nobody) = load_attrs("$fu", "nobody");
	$var(timer) = $t.fr_timer;
`)
		c := s.Run(t, invite)
		if got := [6]int{c.Vars["fu"].I, c.Vars["tu"].I, c.Vars["fr"].I, c.Vars["tr"].I, c.Vars["none"].I, c.Vars["nobody"].I}; got != [6]int{1, 1, 1, 1, -1, 1} {
			t.Errorf("load_attrs results: %v", got)
		}
		for _, tc := range []struct {
			name  string
			flags sr.AVPFlags
			want  string
		}{
			{"fr_inv_timer", serattr.GroupFromUser, "int:60000"},
			{"asserted_id", sr.AVPTrackFrom, "4930123"},
			{"fwd", serattr.GroupFromUser, "sip:a@b|sip:c@d"},
			{"serweb", serattr.GroupFromUser, ""},
			{"nothing", serattr.GroupFromUser, ""},
			{"fr_timer", serattr.GroupToUser, "int:5000"},
			{"fr_timer", serattr.GroupFromUser, ""},
			{"uri_attr", serattr.GroupFromURI, "on example.com"},
			{"secure_attr", serattr.GroupFromURI, ""},
			{"tel_attr", serattr.GroupToURI, "tel number"},
		} {
			if got := vals(c, tc.name, tc.flags); got != tc.want {
				t.Errorf("%s (flags %#x) = %q, want %q", tc.name, tc.flags, got, tc.want)
			}
		}
		if c.Vars["timer"].I != 5000 {
			t.Errorf("$t.fr_timer in the script = %v", c.Vars["timer"])
		}
	})
}

func TestConfigErrors(t *testing.T) {
	sertest.CheckConfigErrors(t, sertest.Backends[0].DomainConfig("avp_db", "sqlite:///tmp/x.db"), [][2]string{
		{`route { load_attrs("$fd", "$f.uid"); }`, `"$fd" is not a group of attributes`},
		{`route { load_attrs("$fu"); }`, "load_attrs"},
		{`modparam("avp_db", "name_column", "")`, "not a valid table or column name"},
	})
}

func TestWrongVersion(t *testing.T) {
	url := sertest.Backends[0].NewDB(t)
	sertest.CheckVersionRefused(t, seed(t, url), "uri_attrs", 1, sertest.Backends[0].DomainConfig("avp_db", url),
		"module avp_db: init failed: table uri_attrs has version 1, expected 2: run testdbctl migrate")
}

func TestTables(t *testing.T) {
	if err := db.CheckTables(avpdb.Tables()); err != nil {
		t.Fatal(err)
	}
	seed(t, sertest.Backends[0].NewDB(t))
}
