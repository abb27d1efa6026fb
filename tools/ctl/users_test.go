package ctl

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
)

func TestParseAccount(t *testing.T) {
	tests := []struct {
		in, sipDomain string
		want          Account
		err           string
	}{
		{in: "alice@example.com", want: Account{"alice", "example.com"}},
		{in: "alice", sipDomain: "example.org", want: Account{"alice", "example.org"}},
		{in: "sip:bob@10.0.0.1", want: Account{"bob", "10.0.0.1"}},
		{in: "SIP:bob@[2001:db8::1]", want: Account{"bob", "[2001:db8::1]"}},
		{in: "alice@example.com", sipDomain: "other.org", want: Account{"alice", "example.com"}},
		{in: "+49%2012;x=y@example.com", want: Account{"+49%2012;x=y", "example.com"}},
		{in: "alice", err: "has no domain"},
		{in: "@example.com", err: "empty user name"},
		{in: "alice@", err: "empty domain"},
		{in: "al ice@example.com", err: `character ' ' is not allowed`},
		{in: "alice@exa mple.com", err: "is not a host name"},
		{in: "a:b@example.com", err: `character ':' is not allowed`},
		{in: "alice@-example.com", err: "is not a host name"},
		{in: "alice@[zz::1]", err: "not a valid IPv6"},
		{in: strings.Repeat("a", 65) + "@example.com", err: "longer than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAccount(tc.in, tc.sipDomain)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := ParseAccount("alice", ""); !errors.Is(err, ErrNoDomain) {
		t.Errorf("no domain: %v is not ErrNoDomain", err)
	}
}

// HA1 and HA1B against known digests: RFC 2617's example (Mufasa in
// testrealm@host.com) and the values md5sum gives for kamctl's strings.
func TestHA1(t *testing.T) {
	a := Account{User: "Mufasa", Domain: "testrealm@host.com"}
	if got := a.HA1("Circle Of Life"); got != "939e7578ed9e3c518a452acee763bce9" {
		t.Errorf("HA1 = %s", got)
	}
	// echo -n 'alice:example.com:secret' | md5sum
	b := Account{User: "alice", Domain: "example.com"}
	if got := b.HA1("secret"); got != "b1726872c344b6dc8365b774f8fd6412" {
		t.Errorf("HA1(alice) = %s", got)
	}
	// echo -n 'alice@example.com:example.com:secret' | md5sum
	if got := b.HA1B("secret"); got != "c79656e4f06dbae9fdf6727654273c65" {
		t.Errorf("HA1B(alice) = %s", got)
	}
}

func TestKamUsers(t *testing.T) {
	ctx := bgctx(t)
	url := "sqlite://" + sqliteDB(t, filepath.Join(t.TempDir(), "k.db"), kamTables()...)
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := kamUsers{}
	a := Account{"alice", "example.com"}
	tx := func(fn func(tx *db.Tx) error) error { return d.WithTx(ctx, fn) }
	if err := tx(func(tx *db.Tx) error { _, err := u.Add(ctx, tx, a, "secret", true); return err }); err != nil {
		t.Fatal(err)
	}
	err = tx(func(tx *db.Tx) error { _, err := u.Add(ctx, tx, a, "other", true); return err })
	if !errors.Is(err, ErrUserExists) {
		t.Fatalf("second add: %v", err)
	}
	rows := query(t, url, "SELECT username, domain, password, ha1, ha1b FROM subscriber")
	want := "alice\texample.com\tsecret\t" + a.HA1("secret") + "\t" + a.HA1B("secret")
	if len(rows) != 1 || rows[0] != want {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	if err := tx(func(tx *db.Tx) error { return u.Passwd(ctx, tx, a, "new", false) }); err != nil {
		t.Fatal(err)
	}
	rows = query(t, url, "SELECT password, ha1 FROM subscriber")
	if len(rows) != 1 || rows[0] != "\t"+a.HA1("new") {
		t.Fatalf("after passwd: %q", rows)
	}
	bob := Account{"bob", "example.com"}
	if err := tx(func(tx *db.Tx) error { return u.Passwd(ctx, tx, bob, "x", true) }); !errors.Is(err, ErrNoUser) {
		t.Errorf("passwd of a missing user: %v", err)
	}
	if _, err := d.Exec(ctx, "INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES ('al', 'example.com', 'alice', 'example.com')"); err != nil {
		t.Fatal(err)
	}
	if err := tx(func(tx *db.Tx) error { return u.Remove(ctx, tx, a) }); err != nil {
		t.Fatal(err)
	}
	if rows := query(t, url, "SELECT COUNT(*) FROM subscriber"); rows[0] != "0" {
		t.Errorf("subscriber rows after rm: %s", rows[0])
	}
	if rows := query(t, url, "SELECT COUNT(*) FROM dbaliases"); rows[0] != "0" {
		t.Errorf("the aliases of a removed user stay: %s", rows[0])
	}
	if err := tx(func(tx *db.Tx) error { return u.Remove(ctx, tx, a) }); !errors.Is(err, ErrNoUser) {
		t.Errorf("second rm: %v", err)
	}
}

func TestSERUsers(t *testing.T) {
	ctx := bgctx(t)
	url := "sqlite://" + sqliteDB(t, filepath.Join(t.TempDir(), "s.db"), serTables()...)
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := serUsers{}
	a := Account{"alice", "example.com"}
	var notes []string
	err = d.WithTx(ctx, func(tx *db.Tx) error {
		var err error
		notes, err = u.Add(ctx, tx, a, "secret", true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "domain 'example.com' added") {
		t.Errorf("notes %q", notes)
	}
	for q, want := range map[string]string{
		"SELECT did, domain, flags FROM domain":                                        "example.com\texample.com\t37",
		"SELECT uid, did, auth_username, realm, password, ha1, flags FROM credentials": "alice@example.com\texample.com\talice\texample.com\tsecret\t" + a.HA1("secret") + "\t33",
		"SELECT uid, did, username, flags, scheme FROM uri":                            "alice@example.com\texample.com\talice\t29\tsip",
	} {
		if rows := query(t, url, q); len(rows) != 1 || rows[0] != want {
			t.Errorf("%s: %q, want %q", q, rows, want)
		}
	}
	// A second user of the domain reuses its did.
	bob := Account{"bob", "EXAMPLE.com"}
	err = d.WithTx(ctx, func(tx *db.Tx) error {
		var err error
		notes, err = u.Add(ctx, tx, bob, "pw", false)
		return err
	})
	if err != nil || len(notes) != 0 {
		t.Fatalf("bob: %v %q", err, notes)
	}
	if rows := query(t, url, "SELECT did, password FROM credentials WHERE auth_username = 'bob'"); rows[0] != "example.com\t" {
		t.Errorf("bob's credentials: %q", rows)
	}
	if _, err := d.Exec(ctx, "INSERT INTO user_attrs (uid, name, value, type, flags) VALUES ('alice@example.com', 'lang', 'en', 2, 1)"); err != nil {
		t.Fatal(err)
	}
	if err := d.WithTx(ctx, func(tx *db.Tx) error { return u.Remove(ctx, tx, a) }); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"SELECT COUNT(*) FROM credentials": "1", "SELECT COUNT(*) FROM uri": "1", "SELECT COUNT(*) FROM user_attrs": "0",
	} {
		if rows := query(t, url, q); rows[0] != want {
			t.Errorf("%s after rm: %s, want %s", q, rows[0], want)
		}
	}
}

// A failure half-way through add leaves nothing behind: the domain and
// the credentials written before the uri insert fails are rolled back.
func TestSERAddIsAtomic(t *testing.T) {
	ctx := bgctx(t)
	all := serTables()
	tables := []*schema.Table{all[0], all[2]} // credentials and domain: no uri table
	url := "sqlite://" + sqliteDB(t, filepath.Join(t.TempDir(), "s.db"), tables...)
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.WithTx(ctx, func(tx *db.Tx) error {
		_, err := serUsers{}.Add(ctx, tx, Account{"alice", "example.com"}, "secret", true)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "uri") {
		t.Fatalf("add without a uri table: %v", err)
	}
	for _, table := range []string{"credentials", "domain"} {
		if rows := query(t, url, "SELECT COUNT(*) FROM "+table); rows[0] != "0" {
			t.Errorf("%s has %s rows after a failed add", table, rows[0])
		}
	}
}
