package ctl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/ctrl"
	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/ctl"
)

func TestSocketAndFIFO(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	fifo := filepath.Join(dir, "ctl_fifo")
	s := siptest.NewScript(t, `
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unixs:`+sock+`")
modparam("ctl", "fifo", "fifo:`+fifo+`")
modparam("ctl", "mode", 0660)
`)
	if err := s.RPC.Add(rpc.Method{Name: "core.uptime", Func: func(*rpc.Request) (any, error) { return "up", nil }}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o660 {
		t.Fatalf("socket %v %v", st, err)
	}
	got, err := ctrl.CallSocket("unix:"+sock, "core.uptime", nil, 2*time.Second)
	if err != nil || got != "up" {
		t.Fatalf("socket call: %#v %v", got, err)
	}
	replyDir := "/tmp/"
	got, err = ctrl.CallFIFO(fifo, replyDir, "core.uptime", nil, 3*time.Second)
	if err != nil || got != "up" {
		t.Fatalf("fifo call: %#v %v", got, err)
	}
	s.Loaded.Modules.Destroy()
	for _, p := range []string{sock, fifo} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
}

func TestBadAddress(t *testing.T) {
	_, err := siptest.LoadErr(t, `
loadmodule "ctl.so"
modparam("ctl", "binrpc", "udp:127.0.0.1:2049")
modparam("ctl", "fifo", "/tmp/x")
`)
	if err == nil || !strings.Contains(err.Error(), `transport "udp" is not supported`) {
		t.Fatalf("error %v", err)
	}
}

// The ser configs' ctl lines load.
func TestSERConfigLines(t *testing.T) {
	siptest.Load(t, `
loadmodule "ctl"
modparam("ctl", "binrpc", "unixs:/tmp/ser_ctl")
modparam("ctl", "fifo", "fifo:/tmp/ser_fifo")
`)
}
