package flavors_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// statefulProxy is a stateful, record-routing proxy: in-dialog requests
// follow their Route set, CANCELs go to their INVITE's branches, and
// initial requests are routed by the R-URI user to the test's UASes.
const statefulProxy = `#!KAMAILIO
children=4
listen=udp:127.0.0.1:PROXY
listen=tcp:127.0.0.1:PROXY
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
modparam("tm", "fr_timer", 2000)
modparam("tm", "fr_inv_timer", 3000)
modparam("rr", "enable_full_lr", 1)

route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (is_method("OPTIONS") && uri == myself && $rU == $null) {
		sl_send_reply("200", "Keepalive");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) {
				t_relay();
			}
			exit;
		}
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	t_check_trans();
	record_route();
	if ($rU == "dead") {
		$du = "sip:127.0.0.1:DEAD";
	} else if ($rU == "busy") {
		$du = "sip:127.0.0.1:BUSY";
		t_on_failure("NEXT");
	} else if ($rU == "fork") {
		$du = "sip:127.0.0.1:UAS";
		append_branch("sip:fork@127.0.0.1:RING");
	} else if ($rU == "tcp") {
		$du = "sip:127.0.0.1:UAS;transport=tcp";
	} else {
		$du = "sip:127.0.0.1:UAS";
	}
	if (!t_relay()) {
		sl_reply_error();
	}
}

failure_route[NEXT] {
	if (t_is_canceled()) {
		exit;
	}
	if (t_check_status("486")) {
		$du = "sip:127.0.0.1:UAS";
		append_branch();
		t_relay();
	}
}
`

type ports struct{ proxy, uas, ring, busy, dead int }

func newPorts(t *testing.T) ports {
	return ports{freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)}
}

func (p ports) config(tmpl string) string {
	return strings.NewReplacer(
		"PROXY", strconv.Itoa(p.proxy), "UAS", strconv.Itoa(p.uas), "RING", strconv.Itoa(p.ring),
		"BUSY", strconv.Itoa(p.busy), "DEAD", strconv.Itoa(p.dead),
	).Replace(tmpl)
}

// scenario returns the path of a sipp scenario: ours in testdata/sipp, or
// the shared ones (uac.xml, uas.xml) beside the project.
func scenario(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"testdata/sipp", "../../shared/testdata/sipp"} {
		abs, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
	}
	t.Fatalf("sipp scenario %s not found", name)
	return ""
}

// sippUAS runs a UAS scenario in the background until it handled calls
// (or the context ends) and returns a function that waits for its result.
func sippUAS(ctx context.Context, t *testing.T, scen string, port, calls int, transport string, extra ...string) func() (int, int) {
	t.Helper()
	args := append([]string{"-sf", scenario(t, scen), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-t", transport, "-m", strconv.Itoa(calls), "-nostdin", "-timeout", "60s"}, extra...)
	done := make(chan string, 1)
	go func() {
		out, _ := sipp(ctx, t, args...)
		done <- out
	}()
	proto := "udp"
	if transport == "t1" {
		proto = "tcp"
	}
	waitBound(t, proto, port)
	return func() (int, int) {
		select {
		case out := <-done:
			return sippCalls(out)
		case <-ctx.Done():
			return 0, -1
		}
	}
}

// sippUAC runs a UAC scenario to completion and fails the test unless
// every call succeeded.
func sippUAC(ctx context.Context, t *testing.T, scen string, p ports, service string, calls, rate int, transport string) {
	t.Helper()
	out, err := sipp(ctx, t, "-sf", scenario(t, scen), fmt.Sprintf("127.0.0.1:%d", p.proxy), "-s", service,
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-t", transport,
		"-m", strconv.Itoa(calls), "-r", strconv.Itoa(rate), "-nostdin", "-timeout", "90s")
	ok, failed := sippCalls(out)
	if err != nil || ok != calls || failed != 0 {
		t.Fatalf("sipp uac %s: %d successful, %d failed (err %v)\n%s", scen, ok, failed, err, tail(out, 40))
	}
}

// 1000 calls through the stateful proxy with zero failures, over UDP,
// over TCP, and from UDP to TCP (double Record-Route).
func TestStatefulProxySipp(t *testing.T) {
	need(t, "sipp")
	for _, tc := range []struct {
		name, uacT, uasT, service string
	}{
		{"udp", "u1", "u1", "bob"},
		{"tcp", "t1", "t1", "tcp"},
		{"udp-to-tcp", "u1", "t1", "tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPorts(t)
			startServer(t, "kamailio", p.config(statefulProxy), p.proxy)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
			defer cancel()
			calls := 1000
			uas := sippUAS(ctx, t, "uas.xml", p.uas, calls, tc.uasT, "-default_behaviors", "all,-abortunexp")
			sippUAC(ctx, t, "uac.xml", p, tc.service, calls, 200, tc.uacT)
			if ok, failed := uas(); ok != calls || failed != 0 {
				t.Errorf("sipp uas: %d successful, %d failed", ok, failed)
			}
		})
	}
}

// A CANCEL reaches the ringing UAS, which answers 200 and 487; the caller
// gets the 200 for its CANCEL and the 487, and its ACK is absorbed.
func TestCancelSipp(t *testing.T) {
	need(t, "sipp")
	p := newPorts(t)
	startServer(t, "kamailio", p.config(statefulProxy), p.proxy)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	uas := sippUAS(ctx, t, "uas_ring_cancel.xml", p.uas, 50, "u1")
	sippUAC(ctx, t, "uac_cancel.xml", p, "bob", 50, 20, "u1")
	if ok, failed := uas(); ok != 50 || failed != 0 {
		t.Errorf("sipp uas: %d successful, %d failed", ok, failed)
	}
}

// A dead UAS: the caller gets 408 after fr_timer (2 s here).
func TestDeadUASTimeout(t *testing.T) {
	need(t, "sipp")
	p := newPorts(t)
	startServer(t, "kamailio", p.config(statefulProxy), p.proxy)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	sippUAC(ctx, t, "uac_timeout.xml", p, "dead", 3, 3, "u1")
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("the 408s came after %s, before fr_timer", d)
	}
}

// Serial forking: the first UAS answers 486, failure_route sends the call
// to the second one, which answers.
func TestSerialForkingSipp(t *testing.T) {
	need(t, "sipp")
	p := newPorts(t)
	startServer(t, "kamailio", p.config(statefulProxy), p.proxy)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	busy := sippUAS(ctx, t, "uas_busy.xml", p.busy, 20, "u1")
	uas := sippUAS(ctx, t, "uas.xml", p.uas, 20, "u1", "-default_behaviors", "all,-abortunexp")
	sippUAC(ctx, t, "uac.xml", p, "busy", 20, 10, "u1")
	if ok, failed := busy(); ok != 20 || failed != 0 {
		t.Errorf("busy uas: %d successful, %d failed", ok, failed)
	}
	if ok, failed := uas(); ok != 20 || failed != 0 {
		t.Errorf("second uas: %d successful, %d failed", ok, failed)
	}
}

// Parallel forking: two branches; the first 200 wins and the other
// branch, still ringing, gets CANCEL.
func TestParallelForkingSipp(t *testing.T) {
	need(t, "sipp")
	p := newPorts(t)
	startServer(t, "kamailio", p.config(statefulProxy), p.proxy)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ring := sippUAS(ctx, t, "uas_ring_cancel.xml", p.ring, 20, "u1")
	uas := sippUAS(ctx, t, "uas.xml", p.uas, 20, "u1", "-default_behaviors", "all,-abortunexp")
	sippUAC(ctx, t, "uac.xml", p, "fork", 20, 10, "u1")
	if ok, failed := uas(); ok != 20 || failed != 0 {
		t.Errorf("answering uas: %d successful, %d failed", ok, failed)
	}
	if ok, failed := ring(); ok != 20 || failed != 0 {
		t.Errorf("ringing uas (cancelled): %d successful, %d failed", ok, failed)
	}
}

// sipsak interoperates: an OPTIONS ping is answered, a MESSAGE is relayed
// to its destination and the 200 comes back.
func TestSipsakInterop(t *testing.T) {
	need(t, "sipsak")
	need(t, "sipp")
	p := newPorts(t)
	p.proxy = freeLowPort(t)
	startServer(t, "kamailio", p.config(statefulProxy), p.proxy)
	ping := exec.Command("timeout", "10", "sipsak", "-vv", "-s", fmt.Sprintf("sip:127.0.0.1:%d", p.proxy))
	if out, err := ping.CombinedOutput(); err != nil || !strings.Contains(string(out), "200 Keepalive") {
		t.Errorf("sipsak OPTIONS ping: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uas := sippUAS(ctx, t, "uas_message.xml", p.uas, 1, "u1")
	// sipsak sends the MESSAGE written in a file (its -M mode is part of
	// its usrloc mode and does not relay through a proxy reliably).
	msgFile := filepath.Join(t.TempDir(), "message.sip")
	body := "hello through the proxy"
	msg := fmt.Sprintf("MESSAGE sip:bob@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-msg1;rport\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=m1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: msg-1@127.0.0.1\r\nCSeq: 1 MESSAGE\r\n"+
		"Max-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", p.proxy, len(body), body)
	if err := os.WriteFile(msgFile, []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
	send := exec.Command("timeout", "10", "sipsak", "-vv", "-f", msgFile, "-s", fmt.Sprintf("sip:bob@127.0.0.1:%d", p.proxy))
	if out, err := send.CombinedOutput(); err != nil || !strings.Contains(string(out), "SIP/2.0 200 OK") {
		t.Errorf("sipsak MESSAGE: %v\n%s", err, out)
	}
	if ok, _ := uas(); ok != 1 {
		t.Errorf("the MESSAGE did not reach the UAS")
	}
}

// A plain Kamailio 5.6-style stateful proxy config runs unchanged, with
// its #!ifndef/#!define defaults overridden on the command line (-A).
func TestKamailio56ProxyConfig(t *testing.T) {
	need(t, "sipp")
	p := newPorts(t)
	cfg, err := os.ReadFile("testdata/configs/kamailio56-proxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, "kamailio", string(cfg), p.proxy,
		"-A", fmt.Sprintf("LISTEN_PORT=%d", p.proxy),
		"-A", fmt.Sprintf("NEXT_HOP=\"sip:127.0.0.1:%d\"", p.uas))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	uas := sippUAS(ctx, t, "uas.xml", p.uas, 200, "u1", "-default_behaviors", "all,-abortunexp")
	sippUAC(ctx, t, "uac.xml", p, "bob", 200, 100, "u1")
	if ok, failed := uas(); ok != 200 || failed != 0 {
		t.Errorf("sipp uas: %d successful, %d failed", ok, failed)
	}
}
