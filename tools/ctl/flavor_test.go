package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFlavor(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SIPROUTER_SHAREDIR", dir)
	if _, err := LoadFlavor("ser"); err == nil || !strings.Contains(err.Error(), "no flavor record for ser") {
		t.Fatalf("missing record: %v", err)
	}
	writeFile(t, filepath.Join(dir, "flavor.json"), `{"name": "ser", "ctl_rc": "serctlrc",
		"db": {"name": "ser", "url": "sqlite:///var/lib/ser/ser.db", "tables": ["credentials"]}}`)
	f, err := LoadFlavor("ser")
	if err != nil {
		t.Fatal(err)
	}
	if f.CtlRC != "serctlrc" || f.ShareDir != dir || f.DB.Tables[0] != "credentials" {
		t.Errorf("record %+v", f)
	}
	if d := f.DBDefaults(); d.Name != "ser" || d.Path != "/var/lib/ser/ser.db" {
		t.Errorf("defaults %+v", d)
	}
	if _, err := LoadFlavor("kamailio"); err == nil || !strings.Contains(err.Error(), `is for "ser"`) {
		t.Errorf("wrong flavor: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flavor.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFlavor("ser"); err == nil || !strings.Contains(err.Error(), "flavor.json") {
		t.Errorf("broken record: %v", err)
	}
}
