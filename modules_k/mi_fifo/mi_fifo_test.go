package mi_fifo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/ctrl"
	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules_k/mi_fifo"
)

func TestServesRPCs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "kamailio_fifo")
	s := siptest.NewScript(t, `
loadmodule "mi_fifo.so"
modparam("mi_fifo", "fifo_name", "`+fifo+`")
modparam("mi_fifo", "fifo_mode", 0600)
modparam("mi_fifo", "fifo_reply_dir", "`+dir+`/")
`)
	if err := s.RPC.Add(rpc.Method{Name: "core.version", Func: func(*rpc.Request) (any, error) { return "test 1.0", nil }}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(fifo)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("fifo %v %v", st, err)
	}
	for _, name := range []string{"core.version", "version"} {
		got, err := ctrl.CallFIFO(fifo, dir, name, nil, 3*time.Second)
		if err != nil || got != "test 1.0" {
			t.Errorf("%s: %#v, %v", name, got, err)
		}
	}
	s.Loaded.Modules.Destroy()
	if _, err := os.Stat(fifo); !os.IsNotExist(err) {
		t.Errorf("fifo left behind after Destroy: %v", err)
	}
}

func TestBadParams(t *testing.T) {
	_, err := siptest.LoadErr(t, `
loadmodule "mi_fifo.so"
modparam("mi_fifo", "fifo_mode", 1000)
modparam("mi_fifo", "reply_indent", "  ")
`)
	if err == nil {
		t.Fatal("bad parameters accepted")
	}
	for _, want := range []string{"test.cfg:3:34: modparam: mi_fifo parameter \"fifo_mode\": value 1000 is above the maximum 511", "mi_fifo: reply_indent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
