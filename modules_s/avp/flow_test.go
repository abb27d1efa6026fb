package avp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/sertest"
	avpdb "sip-router.org/modules_s/avp_db"
	"sip-router.org/modules_s/domain"
	"sip-router.org/modules_s/gflags"
	uridb "sip-router.org/modules_s/uri_db"
)

// flowRoute is the DOMAIN, AUTHENTICATION (after the digest check, which
// sets $uid) and PSTN parts of the SER 3.0 default configuration.
const flowRoute = `
route {
	lookup_domain("$fd", "@from.uri.host");
	lookup_domain("$td", "@ruri.host");
	if (strempty($t.did) && strempty($f.did)) {
		$var(r) = "relay";
		exit;
	}
	$uid = $hdr(X-Auth-UID);
	$authuid = $uid;
	if (!lookup_user("$fu.uid", "@from.uri")) {
		del_attr("$uid");
	}
	if ($fu.uid != $fr.authuid) {
		$var(r) = "fake identity";
		exit;
	}
	load_attrs("$fu", "$f.uid");
	if ($f.did != "" && $gw_ip != "" && uri=~"sips?:\+?[0-9]{3,18}@.*") {
		if ($asserted_id != "") {
			xlset_attr("$rpidheader", "<sip:%$asserted_id@%@ruri.host>;screen=yes");
			replace_attr_hf("Remote-Party-ID", "$rpidheader");
		}
		attr2uri("$gw_ip", "domain");
		$var(r) = "pstn";
		exit;
	}
	$var(r) = "other";
}
`

// The SER default configuration's uid/did flow works on every backend:
// domains, the uid of the caller, its preferences and a global attribute
// route a call to the PSTN gateway with an RPID header.
func TestDefaultConfigFlow(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url := b.NewDB(t)
		tables := append(domain.Tables(), uridb.Table(), gflags.Table())
		d := sertest.Create(t, url, append(tables, avpdb.Tables()...)...)
		for _, q := range []string{
			"INSERT INTO domain (did, domain, flags) VALUES ('d1', 'example.com', 1)",
			"INSERT INTO domain_attrs (did, name, type, value, flags) VALUES ('d1', 'digest_realm', 2, 'example.com', 1)",
			"INSERT INTO uri (uid, did, username, flags, scheme) VALUES ('u-alice', 'd1', 'alice', 25, 'sip')",
			"INSERT INTO user_attrs (uid, name, value, type, flags) VALUES ('u-alice', 'asserted_id', '4930123', 2, 1)",
			"INSERT INTO global_attrs (name, type, value, flags) VALUES ('gw_ip', 2, '192.0.2.1', 1)",
		} {
			sertest.Exec(t, d, q)
		}
		s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "%s"
loadmodule "gflags"
loadmodule "domain"
loadmodule "uri_db"
loadmodule "avp"
loadmodule "avp_db"
modparam("avp_db|domain|gflags|uri_db", "db_url", "%s")
modparam("gflags", "load_global_attrs", 1)
modparam("domain", "load_domain_attrs", 1)
`, b.Module, url)+flowRoute)
		for _, tc := range []struct {
			name, ruri, from, authUID string
			want, wantRURI, wantRPID  string
		}{
			{"to the PSTN", "sip:+4930555@example.com", "sip:alice@example.com", "u-alice",
				"pstn", "sip:+4930555@192.0.2.1", "<sip:4930123@example.com>;screen=yes"},
			{"someone else's From", "sip:+4930555@example.com", "sip:alice@example.com", "u-mallory",
				"fake identity", "sip:+4930555@example.com", "<sip:old@example.org>"},
			{"relaying", "sip:bob@elsewhere.net", "sip:alice@other.org", "u-alice",
				"relay", "sip:bob@elsewhere.net", "<sip:old@example.org>"},
			{"not a number", "sip:bob@example.com", "sip:alice@example.com", "u-alice",
				"other", "sip:bob@example.com", "<sip:old@example.org>"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				msg := strings.NewReplacer("RURI", tc.ruri, "FROM", tc.from, "@AUTH@", tc.authUID).Replace(`INVITE RURI SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <FROM>;tag=ft
To: <RURI>
Call-ID: cid
CSeq: 1 INVITE
X-Auth-UID: @AUTH@
Remote-Party-ID: <sip:old@example.org>
`)
				c := s.Ctx(siptest.Request(t, msg), "", "")
				for _, i := range s.Loaded.Modules.Instances() {
					if f, ok := i.Value.(module.RequestFilter); ok {
						f.FilterRequest(c)
					}
				}
				s.Loaded.Script.Run(c, sr.RouteRequest, "")
				rpid := ""
				for _, h := range c.Req.Headers() {
					if h.Name() == "Remote-Party-ID" {
						rpid += h.Value()
					}
				}
				if c.Vars["r"].Text() != tc.want || c.Req.Recipient.String() != tc.wantRURI || rpid != tc.wantRPID {
					t.Errorf("route %q, R-URI %s, RPID %s; want %q, %s, %s", c.Vars["r"].Text(), c.Req.Recipient.String(), rpid,
						tc.want, tc.wantRURI, tc.wantRPID)
				}
			})
		}
	})
}

// Messages without the headers the functions read, and a database that
// lost its tables, make the functions fail, never panic.
func TestMissingHeadersAndTables(t *testing.T) {
	b := sertest.Backends[0]
	url := b.NewDB(t)
	tables := append(domain.Tables(), uridb.Table(), gflags.Table())
	d := sertest.Create(t, url, append(tables, avpdb.Tables()...)...)
	sertest.Exec(t, d, "INSERT INTO domain (did, domain, flags) VALUES ('d1', 'example.com', 1)")
	s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite"
loadmodule "domain"
loadmodule "uri_db"
loadmodule "avp"
loadmodule "avp_db"
modparam("avp_db|domain|uri_db", "db_url", "%s")
route {
	$var(d) = lookup_domain("$fd", "@from.uri.host");
	$var(u1) = lookup_user("$fu.uid", "@from.uri");
	$var(u2) = lookup_user("From");
	$var(u3) = check_uri("To");
	$var(l1) = load_attrs("$fu", "$f.uid");
	$var(l2) = load_attrs("$tr", "@to.uri");
	$var(h) = hdr_body2attrs("From", "");
	$x = "v";
	$var(a) = append_attr_hf("X-A", "$x");
}
`, url))
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "example.com"})
	c := s.Ctx(req, "", "")
	s.Loaded.Script.Run(c, sr.RouteRequest, "")
	for _, v := range []string{"d", "u1", "u2", "u3", "l1", "l2"} {
		if c.Vars[v].I != -1 {
			t.Errorf("$var(%s) = %v without From/To, want -1", v, c.Vars[v])
		}
	}
	if c.Vars["h"].I != 1 || c.Vars["a"].I != 1 {
		t.Errorf("hdr_body2attrs %v, append_attr_hf %v", c.Vars["h"], c.Vars["a"])
	}

	for _, table := range []string{"uri", "user_attrs", "uri_attrs"} {
		sertest.Exec(t, d, "DROP TABLE "+table)
	}
	c = s.Run(t, `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:alice@example.com>;tag=ft
To: <sip:bob@example.com>
Call-ID: cid
CSeq: 1 INVITE
`)
	for _, v := range []string{"u1", "u2", "u3", "l2"} {
		if c.Vars[v].I != -1 {
			t.Errorf("$var(%s) = %v without tables, want -1", v, c.Vars[v])
		}
	}
	if c.Vars["d"].I != 1 {
		t.Errorf("lookup_domain from the cache: %v", c.Vars["d"])
	}
}
