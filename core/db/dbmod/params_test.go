package dbmod_test

import (
	"errors"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

func TestURLColumns(t *testing.T) {
	env := &module.ConfigEnv{}
	url, err := dbmod.URLColumns(env, "dbmodtest://u@h/d", "user_column", "username", "domain_column", "domain")
	if err != nil || url != "dbmodtest://u@h/d" {
		t.Errorf("URLColumns = %q, %v", url, err)
	}
	_, err = dbmod.URLColumns(env, "dbmodtest://u@h/d", "user_column", "user name")
	if err == nil || err.Error() != `user_column "user name" is not a column name` {
		t.Errorf("bad column: %v", err)
	}
	// The URL is checked first.
	_, err = dbmod.URLColumns(env, "", "user_column", "user name")
	if !errors.Is(err, dbmod.ErrNoURL) {
		t.Errorf("no URL: %v", err)
	}
}

func TestCheckTable(t *testing.T) {
	if err := dbmod.CheckTable("domain_table", "domain"); err != nil {
		t.Errorf("valid name: %v", err)
	}
	err := dbmod.CheckTable("domain_table", "x; DROP")
	if want := `domain_table "x; DROP" is not a table name`; err == nil || err.Error() != want {
		t.Errorf("CheckTable: %v\nwant: %s", err, want)
	}
}

func TestTables(t *testing.T) {
	fx := &module.Fixup{Func: "www_authorize"}
	arg := module.Arg{Pos: sr.Pos{File: "k.cfg", Line: 7, Col: 20}}
	err := dbmod.CheckTableArg(fx, arg, "sub scriber")
	if want := `k.cfg:7:20: www_authorize: "sub scriber" is not a table name`; err == nil || err.Error() != want {
		t.Errorf("CheckTableArg: %v\nwant: %s", err, want)
	}

	ts := dbmod.Tables{Version: 6}
	if d, err := ts.Open(&module.InitEnv{Ctx: t.Context()}, "nosuchscheme://h/x"); d != nil || err != nil {
		t.Errorf("Open without tables = %v, %v; want nothing opened", d, err)
	}
	for _, n := range []string{"subscriber", "subscriber", "other"} {
		if err := ts.Add(fx, arg, n); err != nil {
			t.Fatalf("Add(%s): %v", n, err)
		}
	}
	if err := ts.Add(fx, arg, "1x"); err == nil {
		t.Error("Add accepted a bad name")
	}
	if d, err := ts.Open(&module.InitEnv{Ctx: t.Context()}, "nosuchscheme://h/x"); d != nil || err == nil {
		t.Errorf("Open with tables of an unknown scheme = %v, %v", d, err)
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		d           *db.Dialect
		cols, where []string
		want        string
	}{
		{db.MySQL, []string{"ha1", "rpid"}, []string{"username", "domain"},
			"SELECT `ha1`, `rpid` FROM `subscriber` WHERE `username` = ? AND `domain` = ?"},
		{db.Postgres, []string{"ha1"}, []string{"username"},
			`SELECT "ha1" FROM "subscriber" WHERE "username" = ?`},
		{db.SQLite, []string{"ha1"}, nil, `SELECT "ha1" FROM "subscriber"`},
	} {
		if got := dbmod.Select(tc.d, "subscriber", tc.cols, tc.where); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.d, got, tc.want)
		}
	}
}
