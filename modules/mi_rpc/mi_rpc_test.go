package mi_rpc_test

import (
	"errors"
	"testing"

	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	_ "sip-router.org/modules/mi_rpc"
)

func TestRPCThroughMI(t *testing.T) {
	s := siptest.NewScript(t, `loadmodule "mi_rpc.so"`)
	if err := s.RPC.Add(rpc.Method{Name: "echo", Func: func(r *rpc.Request) (any, error) { return r.Params, nil }}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RPC.Call(&rpc.Request{Method: "rpc", Params: []string{"echo", "a", "b"}})
	if p, ok := got.([]string); err != nil || !ok || len(p) != 2 || p[0] != "a" {
		t.Fatalf("rpc echo a b = %#v, %v", got, err)
	}
	for _, params := range [][]string{nil, {"rpc"}} {
		if _, err := s.RPC.Call(&rpc.Request{Method: "rpc", Params: params}); !errors.Is(err, rpc.ErrParams) {
			t.Errorf("rpc %v: err %v, want a parameter error", params, err)
		}
	}
	if _, err := s.RPC.Call(&rpc.Request{Method: "rpc", Params: []string{"nosuch"}}); !errors.Is(err, rpc.ErrNoMethod) {
		t.Errorf("rpc nosuch: err %v", err)
	}
}
