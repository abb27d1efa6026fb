package nathelper_test

import (
	"errors"
	"testing"

	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
)

func rpcReq(method string, params ...string) *rpc.Request {
	return &rpc.Request{Method: method, Params: params}
}

func TestRPCRTPProxies(t *testing.T) {
	p := newFakeRTPProxy(t)
	s := siptest.NewScript(t, rtppConfig([]string{p.url(), "1 == udp:127.0.0.1:9=3"}, rtppFast))
	r, err := s.RPC.Call(rpcReq("nh_show_rtpp"))
	if err != nil {
		t.Fatal(err)
	}
	list := r.([]any)
	if len(list) != 2 {
		t.Fatalf("nh_show_rtpp: %v", r)
	}
	second := list[1].(map[string]any)
	if second["Url"] != "udp:127.0.0.1:9" || second["Set"] != int64(1) || second["Weight"] != int64(3) || second["Disabled"] != int64(0) {
		t.Errorf("second proxy: %v", second)
	}
	// Disabled by hand: calls fail without asking it; enabled again, it works.
	if _, err := s.RPC.Call(rpcReq("nh_enable_rtpp", p.url(), "0")); err != nil {
		t.Fatal(err)
	}
	if c := request(t, s, inviteHead, oneStream, "203.0.113.7:5060"); varInt(c, "rc") != -1 || p.datagrams() != 0 {
		t.Errorf("disabled by hand: rc %d, %d datagrams", varInt(c, "rc"), p.datagrams())
	}
	if r, _ := s.RPC.Call(rpcReq("nh_show_rtpp")); r.([]any)[0].(map[string]any)["Disabled"] != int64(1) {
		t.Errorf("nh_show_rtpp after disabling: %v", r)
	}
	if _, err := s.RPC.Call(rpcReq("nh_enable_rtpp", p.url(), "1")); err != nil {
		t.Fatal(err)
	}
	if c := request(t, s, inviteHead, oneStream, "203.0.113.7:5060"); varInt(c, "rc") != 1 {
		t.Errorf("enabled again: rc %d", varInt(c, "rc"))
	}
	if _, err := s.RPC.Call(rpcReq("nh_enable_rtpp", "udp:192.0.2.1:1", "1")); !errors.Is(err, rpc.ErrParams) {
		t.Errorf("unknown proxy: %v", err)
	}
	if _, err := s.RPC.Call(rpcReq("nh_enable_rtpp", p.url())); !errors.Is(err, rpc.ErrParams) {
		t.Errorf("missing state: %v", err)
	}
}
