package dbmod_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/module"
)

// drv is a driver that is registered but never opened: enough for the
// checks Configure makes.
type drv struct{}

func (drv) Module() string                      { return "db_dbmodtest" }
func (drv) Schemes() []string                   { return []string{"dbmodtest"} }
func (drv) Dialect() *db.Dialect                { return db.SQLite }
func (drv) Check(*db.URL) error                 { return nil }
func (drv) Open(*db.URL, bool) (*sql.DB, error) { return nil, errors.New("not for opening") }
func (drv) ConnLost(error) bool                 { return false }
func (drv) Conflict(error) bool                 { return false }
func (drv) Settings() db.Settings               { return db.Settings{} }

func init() { db.RegisterDriver(drv{}) }

func TestURL(t *testing.T) {
	flavor := &module.ConfigEnv{Defaults: map[string]string{"db_url": "dbmodtest://u@h/flavor"}}
	for _, tc := range []struct {
		name  string
		env   *module.ConfigEnv
		param string
		want  string
		err   string
	}{
		{"parameter", flavor, "dbmodtest://u@h/param", "dbmodtest://u@h/param", ""},
		{"flavor default", flavor, "", "dbmodtest://u@h/flavor", ""},
		{"neither", &module.ConfigEnv{}, "", "", dbmod.ErrNoURL.Error()},
		{"no environment", nil, "", "", dbmod.ErrNoURL.Error()},
		{"bad URL", flavor, "nosuchscheme://h/x", "", "nosuchscheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dbmod.URL(tc.env, tc.param)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("URL = %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("URL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckLoaded(t *testing.T) {
	loaded := map[string]bool{}
	env := &module.ConfigEnv{Loaded: func(m string) bool { return loaded[m] }}
	err := dbmod.CheckLoaded(env, "dbmodtest://u@h/d", "%s.so")
	if err == nil || !strings.Contains(err.Error(), `module db_dbmodtest is not loaded (add loadmodule "db_dbmodtest.so")`) {
		t.Errorf("not loaded: %v", err)
	}
	if err := dbmod.CheckLoaded(env, "dbmodtest://u@h/d", "%s"); err == nil || !strings.Contains(err.Error(), `loadmodule "db_dbmodtest")`) {
		t.Errorf("load hint: %v", err)
	}
	loaded["db_dbmodtest"] = true
	if err := dbmod.CheckLoaded(env, "dbmodtest://u@h/d", "%s.so"); err != nil {
		t.Errorf("loaded: %v", err)
	}
	for _, url := range []string{"::bad", "nosuchscheme://h/x"} {
		if err := dbmod.CheckLoaded(env, url, "%s.so"); err != nil {
			t.Errorf("%s: %v (left to CheckURL)", url, err)
		}
	}
	if err := dbmod.CheckLoaded(&module.ConfigEnv{}, "dbmodtest://u@h/d", "%s.so"); err != nil {
		t.Errorf("without Loaded: %v", err)
	}
}

func TestOpenAndClose(t *testing.T) {
	env := &module.InitEnv{Ctx: t.Context()}
	if d, err := dbmod.Open(env, "nosuchscheme://h/x"); d != nil || err == nil {
		t.Errorf("Open of an unknown scheme: %v %v", d, err)
	}
	var d *db.DB
	dbmod.Close(&d) // nothing open: nothing to do
	if d != nil {
		t.Error("Close")
	}
}

func TestNames(t *testing.T) {
	for s, want := range map[string]bool{
		"username": true, "_x1": true, "A_b_9": true, strings.Repeat("a", 64): true,
		"": false, "1abc": false, "user-name": false, "a b": false, "a;drop": false, strings.Repeat("a", 65): false, "é": false,
	} {
		if got := dbmod.ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v", s, got)
		}
	}
	if err := dbmod.CheckColumns("user_column", "username", "domain_column", "domain"); err != nil {
		t.Error(err)
	}
	err := dbmod.CheckColumns("user_column", "username", "domain_column", "dom ain")
	if err == nil || err.Error() != `domain_column "dom ain" is not a column name` {
		t.Errorf("CheckColumns: %v", err)
	}
}
