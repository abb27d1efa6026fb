package aliasdb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/db_sqlite"
	aliasdb "sip-router.org/modules_k/alias_db"
	_ "sip-router.org/modules_k/pv"
)

func newDB(t *testing.T) string {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "alias.db")
	d := dbtest.Open(t, url)
	ctx := context.Background()
	if err := db.CreateTables(ctx, d, []*schema.Table{aliasdb.Table()}); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][4]string{
		{"support", "example.com", "alice", "example.com"},
		{"support", "other.org", "bob", "other.org"},
		{"sales", "example.com", "carol", "example.net"},
	} {
		if _, err := d.Exec(ctx, "INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES (?, ?, ?, ?)",
			r[0], r[1], r[2], r[3]); err != nil {
			t.Fatal(err)
		}
	}
	return url
}

func TestAliasLookup(t *testing.T) {
	url := newDB(t)
	for _, tc := range []struct {
		name, params, call, ruri string
		found                    bool
		want                     []string // R-URI then branches, in any order when several
	}{
		{"by user and domain", `modparam("alias_db", "use_domain", 1)`, `alias_db_lookup("dbaliases")`,
			"sip:support@other.org:5070;transport=tcp", true, []string{"sip:bob@other.org"}},
		{"domain prefix", `modparam("alias_db", "use_domain", 1)
modparam("alias_db", "domain_prefix", "sip.")`, `alias_db_lookup("dbaliases")`, "sip:support@sip.example.com", true, []string{"sip:alice@example.com"}},
		{"domain does not match", `modparam("alias_db", "use_domain", 1)`, `alias_db_lookup("dbaliases")`,
			"sip:sales@other.org", false, []string{"sip:sales@other.org"}},
		{"flag d ignores the domain", `modparam("alias_db", "use_domain", 1)`, `alias_db_lookup("dbaliases", "d")`,
			"sip:sales@other.org", true, []string{"sip:carol@example.net"}},
		{"flag u uses the domain", ``, `alias_db_lookup("dbaliases", "u")`,
			"sip:sales@other.org", false, []string{"sip:sales@other.org"}},
		{"by user only", ``, `alias_db_lookup("dbaliases")`, "sip:sales@anything.net", true, []string{"sip:carol@example.net"}},
		{"not an alias", ``, `alias_db_lookup("dbaliases")`, "sip:nobody@example.com", false, []string{"sip:nobody@example.com"}},
		{"no user", ``, `alias_db_lookup("dbaliases")`, "sip:example.com", false, []string{"sip:example.com"}},
		{"append_branches", `modparam("alias_db", "append_branches", 1)`, `alias_db_lookup("dbaliases")`,
			"sip:support@example.com", true, []string{"sip:alice@example.com", "sip:bob@other.org"}},
		{"one row without append_branches", ``, `alias_db_lookup("dbaliases")`,
			"sip:support@example.com", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := siptest.NewScript(t, fmt.Sprintf(`
loadmodule "db_sqlite.so"
loadmodule "pv.so"
loadmodule "alias_db.so"
modparam("alias_db", "db_url", "%s")
%s
route {
	$var(found) = 0;
	if (%s) { $var(found) = 1; }
}
`, url, tc.params, tc.call))
			c := s.Run(t, "INVITE "+tc.ruri+` SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:x@example.com>;tag=ft
To: <sip:y@example.com>
Call-ID: cid
CSeq: 1 INVITE
`)
			if (c.Vars["found"].I == 1) != tc.found {
				t.Errorf("found %v, want %v", c.Vars["found"], tc.found)
			}
			got := []string{c.Req.Recipient.String()}
			for _, b := range c.Branches {
				got = append(got, b.URI)
			}
			if tc.want == nil { // one of the rows, no branch
				if len(got) != 1 || (got[0] != "sip:alice@example.com" && got[0] != "sip:bob@other.org") {
					t.Errorf("got %v", got)
				}
				return
			}
			if len(tc.want) > 1 {
				slices.Sort(got)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("R-URI and branches %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`modparam("alias_db", "db_url", "sqlite:///tmp/a.db")
route { alias_db_lookup("dbaliases", "x"); }`, "unknown flag"},
		{`modparam("alias_db", "db_url", "sqlite:///tmp/a.db")
route { alias_db_lookup("db aliases"); }`, "not a table name"},
		{`modparam("alias_db", "db_url", "sqlite:///tmp/a.db")
modparam("alias_db", "user_column", "")`, "not a column name"},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"db_sqlite.so\"\nloadmodule \"alias_db.so\"\n"+tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTableDeclaration(t *testing.T) {
	if err := db.CheckTables([]*schema.Table{aliasdb.Table()}); err != nil {
		t.Fatal(err)
	}
}
