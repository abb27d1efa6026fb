package authdb_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbtest"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
	"sip-router.org/modules_s/auth_db"
)

func bgctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func initEnv() module.InitEnv {
	f := siptest.TestFlavor()
	f.DBTool = "ser_db"
	return module.InitEnv{Log: slog.New(slog.DiscardHandler), Flavor: f}
}

func TestTables(t *testing.T) {
	tables := []*schema.Table{authdb.Credentials()}
	if err := db.CheckTables(tables); err != nil {
		t.Fatal(err)
	}
	d := dbtest.Open(t, "sqlite://"+filepath.Join(t.TempDir(), "ser.db"))
	if err := db.CreateTables(bgctx(t), d, tables); err != nil {
		t.Fatal(err)
	}
	if v, err := db.TableVersion(bgctx(t), d, "credentials"); err != nil || v != authdb.CredentialsVersion {
		t.Errorf("version %d %v", v, err)
	}
}
