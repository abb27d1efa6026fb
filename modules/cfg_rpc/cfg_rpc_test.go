package cfgrpc_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	cfgrpc "sip-router.org/modules/cfg_rpc"
)

const config = `
pstn.gw_ip = "192.0.2.1" desc "PSTN GW Address"
pstn.max_calls = 10
loadmodule "cfg_rpc"
route {
	$var(gw) = @cfg_get.pstn.gw_ip;
	$var(sel) = $sel(cfg_get.pstn.max_calls);
}
`

const request = `OPTIONS sip:x@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
From: <sip:a@example.com>;tag=ft
To: <sip:x@example.com>
Call-ID: cid
CSeq: 1 OPTIONS
`

func call(s *siptest.Script, method string, params ...string) (any, error) {
	return s.RPC.Call(&rpc.Request{Method: method, Params: params})
}

func must(t *testing.T, s *siptest.Script, method string, params ...string) any {
	t.Helper()
	res, err := call(s, method, params...)
	if err != nil {
		t.Fatalf("%s %v: %v", method, params, err)
	}
	return res
}

// seen runs the script and returns what it read.
func seen(t *testing.T, s *siptest.Script) (string, string) {
	t.Helper()
	c := s.Run(t, request)
	return c.Vars["gw"].Text(), c.Vars["sel"].Text()
}

func TestSetNow(t *testing.T) {
	s := siptest.NewScript(t, config)
	if gw, n := seen(t, s); gw != "192.0.2.1" || n != "10" {
		t.Fatalf("initial values %s, %s", gw, n)
	}
	if v := must(t, s, "cfg.get", "pstn", "gw_ip"); v != "192.0.2.1" {
		t.Errorf("cfg.get gw_ip = %v", v)
	}
	if v := must(t, s, "cfg.get", "pstn", "max_calls"); v != 10 {
		t.Errorf("cfg.get max_calls = %#v", v)
	}
	must(t, s, "cfg.set_now_string", "pstn", "gw_ip", "192.0.2.99")
	must(t, s, "cfg.set_now_int", "pstn", "max_calls", "20")
	if gw, n := seen(t, s); gw != "192.0.2.99" || n != "20" {
		t.Errorf("after set_now: %s, %s", gw, n)
	}
	// The framework converts between integers and strings when it can.
	must(t, s, "cfg.set_now_string", "pstn", "max_calls", "30")
	must(t, s, "cfg.set_now_int", "pstn", "gw_ip", "5")
	if v := must(t, s, "cfg.get", "pstn", "max_calls"); v != 30 {
		t.Errorf("max_calls = %#v", v)
	}
	if v := must(t, s, "cfg.get", "pstn", "gw_ip"); v != "5" {
		t.Errorf("gw_ip = %#v", v)
	}
	for _, tc := range []struct {
		method string
		params []string
		want   string
	}{
		{"cfg.set_now_string", []string{"pstn", "max_calls", "many"}, "is an integer"},
		{"cfg.set_now_int", []string{"pstn", "max_calls", "x"}, "not a number"},
		{"cfg.set_now_int", []string{"pstn", "nosuch", "1"}, "not a configuration variable"},
		{"cfg.get", []string{"nosuch", "var"}, "failed to get the variable"},
		{"cfg.get", []string{"pstn"}, "parameter 2 missing"},
		{"cfg.get", []string{"pstn[1]", "gw_ip"}, "group instances"},
		{"cfg.help", []string{"pstn", "nosuch"}, "not a configuration variable"},
	} {
		if _, err := call(s, tc.method, tc.params...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want %q", tc.method, tc.params, err, tc.want)
		}
	}
	if _, err := call(s, "cfg.set_now_int", "pstn", "nosuch", "1"); !errors.Is(err, cfgrpc.ErrVar) {
		t.Errorf("unknown variable: %v is not ErrVar", err)
	}
}

func TestDelayed(t *testing.T) {
	s := siptest.NewScript(t, config)
	must(t, s, "cfg.set_delayed_string", "pstn", "gw_ip", "192.0.2.50")
	must(t, s, "cfg.set_delayed_int", "pstn", "max_calls", "1")
	must(t, s, "cfg.set_delayed_int", "pstn", "max_calls", "2")
	if gw, n := seen(t, s); gw != "192.0.2.1" || n != "10" {
		t.Errorf("a delayed change applied before cfg.commit: %s, %s", gw, n)
	}
	diff := must(t, s, "cfg.diff").([]any)
	want := []any{
		map[string]any{"group name": "pstn", "variable name": "gw_ip", "old value": "192.0.2.1", "new value": "192.0.2.50"},
		map[string]any{"group name": "pstn", "variable name": "max_calls", "old value": 10, "new value": 2},
	}
	if !reflect.DeepEqual(diff, want) {
		t.Errorf("cfg.diff = %v\nwant %v", diff, want)
	}
	must(t, s, "cfg.commit")
	if gw, n := seen(t, s); gw != "192.0.2.50" || n != "2" {
		t.Errorf("after commit: %s, %s", gw, n)
	}
	if d := must(t, s, "cfg.diff").([]any); len(d) != 0 {
		t.Errorf("diff after commit: %v", d)
	}
	must(t, s, "cfg.set_delayed_int", "pstn", "max_calls", "99")
	must(t, s, "cfg.rollback")
	must(t, s, "cfg.commit")
	if _, n := seen(t, s); n != "2" {
		t.Errorf("a rolled back change applied: %s", n)
	}
}

func TestHelpAndList(t *testing.T) {
	s := siptest.NewScript(t, config)
	help := must(t, s, "cfg.help", "pstn", "max_calls").([]any)
	if !reflect.DeepEqual(help, []any{"", "(parameter type is integer)"}) {
		t.Errorf("cfg.help max_calls = %v", help)
	}
	help = must(t, s, "cfg.help", "pstn", "gw_ip").([]any)
	if !reflect.DeepEqual(help, []any{"PSTN GW Address", "(parameter type is string)"}) {
		t.Errorf("cfg.help gw_ip = %v", help)
	}
	list := must(t, s, "cfg.list")
	if !reflect.DeepEqual(list, []any{"pstn: gw_ip", "pstn: max_calls"}) {
		t.Errorf("cfg.list = %v", list)
	}
	if list := must(t, s, "cfg.list", "other"); !reflect.DeepEqual(list, []any{}) {
		t.Errorf("cfg.list other = %v", list)
	}
}
