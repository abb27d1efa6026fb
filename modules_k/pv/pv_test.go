package pv_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"sip-router.org/core/rpc"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules_k/pv"
)

const options = `OPTIONS sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKpv1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:alice@example.org>;tag=p1
Call-ID: pv1@192.0.2.10
CSeq: 1 OPTIONS
`

const paramsCfg = `#!KAMAILIO
loadmodule "pv.so"
modparam("pv", "shvset", "counter=i:5")
modparam("pv", "shvset", "label=s:hello world")
modparam("pv", "varset", "init=i:7")
modparam("pv", "varset", "greeting=s:hi")
modparam("pv", "avp_aliases", "caller=i:10;callee=s:dst")
modparam("pv", "avp_aliases", "extra=s:more")
route {
	$var(a) = $shv(counter);
	$var(b) = $shv(label);
	$var(c) = $var(init);
	$var(d) = $var(greeting);
	$avp(caller) = "alice";
	$avp(callee) = "bob";
	$avp(extra) = 3;
	$shv(counter) = $shv(counter) + 1;
}
`

func TestParametersReachTheScript(t *testing.T) {
	s := siptest.NewScript(t, paramsCfg)
	c := s.Run(t, options)
	for name, want := range map[string]sr.Value{
		"a": sr.IntVal(5), "b": sr.StrVal("hello world"), "c": sr.IntVal(7), "d": sr.StrVal("hi"),
	} {
		if got := c.Vars[name]; got != want {
			t.Errorf("$var(%s) = %#v, want %#v", name, got, want)
		}
	}
	for name, want := range map[sr.AVPName]sr.Value{
		{ID: 10, IsID: true}: sr.StrVal("alice"),
		{S: "dst"}:           sr.StrVal("bob"),
		{S: "more"}:          sr.IntVal(3),
	} {
		if got, ok := c.AVPs.Get(name, 0, 0); !ok || got != want {
			t.Errorf("AVP %s = %#v, want %#v", name, got, want)
		}
	}
	// $shv is shared: a second message sees the increment.
	c = s.Run(t, options)
	if got := c.Vars["a"]; got != sr.IntVal(6) {
		t.Errorf("second message: $shv(counter) was %#v, want 6", got)
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ param, value, want string }{
		{"shvset", "counter", "shvset"},
		{"shvset", "counter=x:1", "shvset"},
		{"varset", "n=i:abc", "varset"},
		{"avp_aliases", "caller", "avp_aliases"},
		{"avp_aliases", "a=i:1;a=i:2", "avp_aliases"},
	} {
		t.Run(tc.param+" "+tc.value, func(t *testing.T) {
			cfg := fmt.Sprintf("loadmodule \"pv.so\"\nmodparam(\"pv\", %q, %q)\nroute { }\n", tc.param, tc.value)
			_, err := siptest.LoadErr(t, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	if _, err := siptest.LoadErr(t, "loadmodule \"pv.so\"\nmodparam(\"pv\", \"shvset\", 1)\nroute { }\n"); err == nil {
		t.Error("an int shvset value was accepted")
	}
}

func TestIsSetUnset(t *testing.T) {
	s := siptest.NewScript(t, `#!KAMAILIO
loadmodule "pv.so"
route {
	$avp(s:x) = 1;
	$avp(s:x) = 2;
	if (pv_isset("$avp(s:x)")) setflag(1);
	if (is_avp_set("$avp(s:x)")) setflag(2);
	if (is_avp_set("s:x")) setflag(3);
	pv_unset("$avp(s:x)");
	if (pv_isset("$avp(s:x)")) setflag(4);
	pv_unset("$(avp(s:x)[*])");
	if (!pv_isset("$avp(s:x)")) setflag(5);
	if (!is_avp_set("s:x")) setflag(6);
	if (!pv_isset("$hdr(X-None)")) setflag(7);
	if (pv_isset("$ru")) setflag(8);
	$var(v) = "set";
	pv_unset("$var(v)");
	if (pv_isset("$var(v)")) setflag(9);
}
`)
	c := s.Run(t, options)
	// Flag 9: $var never holds null; unsetting stores 0, as Kamailio does.
	want := uint32(1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<9)
	if c.Flags != want {
		t.Errorf("flags %#x, want %#x", c.Flags, want)
	}
	if _, err := siptest.LoadErr(t, "#!KAMAILIO\nloadmodule \"pv.so\"\nroute { pv_unset(\"$rm\"); }\n"); err == nil {
		t.Error("pv_unset of a read-only variable was accepted")
	}
}

func TestRPC(t *testing.T) {
	s := siptest.NewScript(t, paramsCfg)
	inst, ok := s.Loaded.Modules.Get("pv")
	if !ok {
		t.Fatal("pv not loaded")
	}
	call := func(method string, params ...string) (any, error) {
		for _, r := range inst.Mod.RPCs {
			if r.Name == method {
				return r.Bind(inst.Value)(&rpc.Request{Method: method, Params: params})
			}
		}
		t.Fatalf("no RPC %s", method)
		return nil, nil
	}
	got, err := call("pv.shvGet", "counter")
	if err != nil || fmt.Sprint(got) != "[map[name:counter type:int value:5]]" {
		t.Errorf("shvGet counter = %v, %v", got, err)
	}
	if _, err := call("pv.shvSet", "counter", "int", "42"); err != nil {
		t.Fatal(err)
	}
	if _, err := call("pv.shvSet", "motd", "str", "closed"); err != nil {
		t.Fatal(err)
	}
	c := s.Run(t, options)
	if got := c.Vars["a"]; got != sr.IntVal(42) {
		t.Errorf("the script reads $shv(counter) = %#v after shvSet, want 42", got)
	}
	got, err = call("pv.shvGet")
	if err != nil || !strings.Contains(fmt.Sprint(got), "map[name:motd type:str value:closed]") {
		t.Errorf("shvGet = %v, %v", got, err)
	}
	for _, bad := range [][]string{{"x", "int", "abc"}, {"x", "float", "1"}, {"x", "int"}} {
		if _, err := call("pv.shvSet", bad...); !errors.Is(err, rpc.ErrParams) {
			t.Errorf("shvSet %q: %v, want a parameter error", bad, err)
		}
	}
	if _, err := call("pv.shvGet", "nothing"); !errors.Is(err, rpc.ErrParams) {
		t.Errorf("shvGet of a missing variable: %v", err)
	}
}
