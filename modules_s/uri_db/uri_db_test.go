package uridb_test

import (
	"fmt"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
	"sip-router.org/modules_s/avp/sertest"
	"sip-router.org/modules_s/domain"
	uridb "sip-router.org/modules_s/uri_db"
)

const (
	to   = serattr.FlagLoadSER | serattr.FlagIsTo
	from = serattr.FlagLoadSER | serattr.FlagIsFrom
)

func seed(t *testing.T, url string) *db.DB {
	t.Helper()
	d := sertest.Create(t, url, append(domain.Tables(), uridb.Table())...)
	sertest.Exec(t, d, "INSERT INTO domain (did, domain, flags) VALUES ('d1', 'example.com', 1), ('d1', 'alias.example.com', 1)")
	for _, r := range []struct {
		uid, did, user string
		flags          int
		scheme         string
	}{
		{"u-alice", "d1", "alice", to | from | serattr.FlagCanon, "sip"},
		{"u-alice", "d1", "4930123", to, "sip"},
		{"u-alice", "d1", "sender", from, "sip"},
		{"u-bob", "d1", "bob", to | from | serattr.FlagDisabled, "sip"},
		{"u-carol", "d1", "carol", serattr.FlagIsTo | serattr.FlagIsFrom, "sip"},
		{"u-dave", "_default", "dave", to | from, "sip"},
		{"u-tel", "_default", "+4930555", to, "tel"},
		{"u-secure", "d1", "alice", to, "sips"},
	} {
		sertest.Exec(t, d, "INSERT INTO uri (uid, did, username, flags, scheme) VALUES (?, ?, ?, ?, ?)",
			r.uid, r.did, r.user, r.flags, r.scheme)
	}
	return d
}

func script(t *testing.T, b sertest.Backend, url, route string) *siptest.Script {
	t.Helper()
	return siptest.NewScript(t, b.DomainConfig("uri_db", url)+"route {\n"+route+"\n}\n")
}

func req(ruri, fromURI, toURI string) string {
	return fmt.Sprintf(`INVITE %s SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <%s>;tag=ft
To: <%s>
Call-ID: cid
CSeq: 1 INVITE
`, ruri, fromURI, toURI)
}

func uid(c *sr.Ctx, flags sr.AVPFlags) string {
	a, ok := serattr.First(c.AVPs, serattr.Name("uid"), flags)
	if !ok {
		return "<none>"
	}
	return a.Val.Text()
}

// lookup_user(attr, uri) takes the did from the domain module and checks
// the row's flags against the attribute's track.
func TestLookupUser(t *testing.T) {
	sertest.ForEach(t, func(t *testing.T, b sertest.Backend) {
		url := b.NewDB(t)
		seed(t, url)
		s := script(t, b, url, `
	$var(to) = lookup_user("$tu.uid", "@to.uri");
	$var(from) = lookup_user("$fu.uid", "@from.uri");
	$var(ruri) = lookup_user("$t.ruid", "@ruri");
`)
		for _, tc := range []struct {
			name, ruri, from, to string
			want                 [3]int
			toUID, fromUID       string
		}{
			{"alice both ways", "sip:alice@alias.example.com", "sip:alice@EXAMPLE.com", "sip:alice@example.com",
				[3]int{1, 1, 1}, "u-alice", "u-alice"},
			{"alias only in To, sender only in From", "sip:4930123@example.com", "sip:sender@example.com", "sip:sender@example.com",
				[3]int{-1, 1, 1}, "<none>", "u-alice"},
			{"alias not allowed in From", "sip:x@example.com", "sip:4930123@example.com", "sip:x@example.com",
				[3]int{-1, -1, -1}, "<none>", "<none>"},
			{"disabled and not for SER", "sip:carol@example.com", "sip:bob@example.com", "sip:bob@example.com",
				[3]int{-1, -1, -1}, "<none>", "<none>"},
			{"unknown domain uses _default", "sip:dave@other.org", "sip:dave@nowhere.net", "tel:+4930555",
				[3]int{1, 1, 1}, "u-tel", "u-dave"},
			{"sips is its own scheme", "sips:alice@example.com", "sip:nobody@example.com", "sips:alice@example.com",
				[3]int{1, -1, 1}, "u-secure", "<none>"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := s.Run(t, req(tc.ruri, tc.from, tc.to))
				got := [3]int{c.Vars["to"].I, c.Vars["from"].I, c.Vars["ruri"].I}
				if got != tc.want {
					t.Errorf("lookup_user To, From, R-URI: %v, want %v", got, tc.want)
				}
				if g := uid(c, serattr.GroupToUser); g != tc.toUID {
					t.Errorf("$tu.uid = %s, want %s", g, tc.toUID)
				}
				if g := uid(c, serattr.GroupFromUser); g != tc.fromUID {
					t.Errorf("$fu.uid = %s, want %s", g, tc.fromUID)
				}
			})
		}
	})
}

// The one-argument forms take the did from $f.did / $t.did, store
// $fu.uid / $tu.uid (replacing the previous value) and mark a canonical
// Request-URI; check_uri only tests.
func TestHeaderForms(t *testing.T) {
	b := sertest.Backends[0]
	url := b.NewDB(t)
	seed(t, url)
	s := script(t, b, url, `
	$tu.uid = "old";
	$var(check) = check_uri("To");
	$var(nodid) = lookup_user("To");
	lookup_domain("$td", "@ruri.host");
	lookup_domain("$fd", "@from.uri.host");
	$var(to) = lookup_user("To");
	$var(from) = lookup_user("From");
	$var(ruri) = lookup_user("Request-URI");
	$var(canon) = $tu.ruri_canonical;
`)
	c := s.Run(t, req("sip:alice@example.com", "sip:sender@example.com", "sip:4930123@example.com"))
	got := [5]int{c.Vars["check"].I, c.Vars["nodid"].I, c.Vars["to"].I, c.Vars["from"].I, c.Vars["ruri"].I}
	if got != [5]int{-1, -1, 1, 1, 1} {
		t.Errorf("check_uri, lookup_user without did, To, From, R-URI: %v", got)
	}
	if n := len(serattr.Values(c.AVPs, serattr.Name("uid"), serattr.GroupToUser)); n != 1 {
		t.Errorf("$tu.uid has %d values, want 1 (replaced)", n)
	}
	if g := uid(c, serattr.GroupToUser); g != "u-alice" {
		t.Errorf("$tu.uid = %s", g)
	}
	if g := uid(c, serattr.GroupFromUser); g != "u-alice" {
		t.Errorf("$fu.uid = %s", g)
	}
	if c.Vars["canon"].Text() != "1" {
		t.Errorf("$tu.ruri_canonical = %v", c.Vars["canon"])
	}

	// Without a did, To looks in _default: dave is there.
	c = s.Run(t, req("sip:nobody@nowhere.org", "sip:nobody@nowhere.org", "sip:dave@example.com"))
	if c.Vars["check"].I != 1 || c.Vars["nodid"].I != 1 {
		t.Errorf("_default did: check_uri %v, lookup_user %v", c.Vars["check"], c.Vars["nodid"])
	}
}

func TestConfigErrors(t *testing.T) {
	sertest.CheckConfigErrors(t, sertest.Backends[0].DomainConfig("uri_db", "sqlite:///tmp/x.db"), [][2]string{
		{`route { lookup_user("Contact"); }`, `unknown parameter "Contact"`},
		{`route { lookup_user("tu.uid", "@to.uri"); }`, "is not an attribute"},
		{`route { check_uri("To", "x"); }`, "check_uri"},
		{`modparam("uri_db", "uri_table", "u r i")`, "not a valid table or column name"},
		{`modparam("uri_db", "scheme_column", "1x")`, `scheme_column "1x" is not a valid table or column name`},
	})
	_, err := siptest.LoadErr(t, "loadmodule \"db_sqlite\"\nloadmodule \"uri_db\"\nmodparam(\"uri_db\", \"db_url\", \"sqlite:///tmp/x.db\")\n")
	if err == nil || !strings.Contains(err.Error(), "modules_s/domain") {
		t.Errorf("uri_db without domain: %v", err)
	}
}

func TestWrongVersion(t *testing.T) {
	url := sertest.Backends[0].NewDB(t)
	sertest.CheckVersionRefused(t, seed(t, url), "uri", 2, sertest.Backends[0].DomainConfig("uri_db", url),
		"module uri_db: init failed: table uri has version 2, expected 3: run testdbctl migrate")
}

func TestTables(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{uridb.Table()}); err != nil {
		t.Fatal(err)
	}
	seed(t, sertest.Backends[0].NewDB(t))
}
