package ctl

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParsePingTarget(t *testing.T) {
	tests := []struct {
		in   string
		want PingTarget
		err  string
	}{
		{in: "sip:127.0.0.1", want: PingTarget{"sip:127.0.0.1", "127.0.0.1", 5060}},
		{in: "sip:alice@127.0.0.1:5070;transport=udp", want: PingTarget{"sip:alice@127.0.0.1:5070;transport=udp", "127.0.0.1", 5070}},
		{in: "SIP:[::1]:5062", want: PingTarget{"sip:[::1]:5062", "::1", 5062}},
		{in: "localhost:5080", want: PingTarget{"sip:localhost:5080", "localhost", 5080}},
		{in: "example.com", want: PingTarget{"sip:example.com", "example.com", 5060}},
		{in: "sips:example.com", err: "sips needs TLS"},
		{in: "sip:example.com;transport=tcp", err: "UDP only"},
		{in: "sip:example.com:99999", err: "bad port"},
		{in: "sip:alice@", err: "has no host"},
		{in: "tel:+4930", err: "is not a SIP URI"},
		{in: "sip:a b", err: "is not a SIP URI"},
		{in: "sip:[::1", err: "unterminated IPv6"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePingTarget(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// uas answers OPTIONS on 127.0.0.1 as told: it ignores the first `drop`
// requests, then sends a stray reply (another Call-ID), a 100 and the
// final reply with `code`.
func uas(t *testing.T, drop int32, code int) (addr string, got *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	got = &atomic.Int32{}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if got.Add(1) <= drop {
				continue
			}
			req := string(buf[:n])
			if !strings.HasPrefix(req, "OPTIONS sip:") {
				continue
			}
			var hdrs []string
			for _, l := range strings.Split(req, "\r\n")[1:] {
				for _, h := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
					if strings.HasPrefix(l, h) {
						hdrs = append(hdrs, l)
					}
				}
			}
			head := strings.Join(hdrs, "\r\n")
			stray := strings.Replace(head, "Call-ID: ", "Call-ID: x", 1)
			for _, r := range []string{
				"SIP/2.0 500 Stray\r\n" + stray + "\r\nContent-Length: 0\r\n\r\n",
				"SIP/2.0 100 Trying\r\n" + head + "\r\nContent-Length: 0\r\n\r\n",
				fmt.Sprintf("SIP/2.0 %d Final\r\n%s\r\nContent-Length: 0\r\n\r\n", code, head),
			} {
				_, _ = pc.WriteTo([]byte(r), from)
			}
		}
	}()
	return pc.LocalAddr().String(), got
}

func TestPing(t *testing.T) {
	addr, got := uas(t, 1, 200)
	r, err := Ping("sip:"+addr, PingOptions{Timeout: 5 * time.Second, UserAgent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || r.StatusLine != "SIP/2.0 200 Final" {
		t.Errorf("reply %+v", r)
	}
	if n := got.Load(); n != 2 {
		t.Errorf("the UAS got %d requests, want 2 (the first lost, one retransmission)", n)
	}
	if r.RTT < 400*time.Millisecond {
		t.Errorf("answered after %s, before the first retransmission", r.RTT)
	}

	// A 404 is a final reply too.
	addr, _ = uas(t, 0, 404)
	if r, err := Ping(addr, PingOptions{Timeout: 2 * time.Second}); err != nil || r.Status != 404 {
		t.Errorf("404: %+v %v", r, err)
	}

	// Nobody answers: ErrNoReply after the timeout.
	addr, got = uas(t, 1000, 200)
	start := time.Now()
	_, err = Ping("sip:"+addr, PingOptions{Timeout: 1200 * time.Millisecond})
	if !errors.Is(err, ErrNoReply) {
		t.Fatalf("silent UAS: %v", err)
	}
	if d := time.Since(start); d < 1100*time.Millisecond || d > 3*time.Second {
		t.Errorf("gave up after %s, want about 1.2 s", d)
	}
	if n := got.Load(); n != 2 {
		t.Errorf("%d requests sent in 1.2 s, want 2 (at 0 and 0.5 s)", n)
	}
}

func TestPingVerb(t *testing.T) {
	e := newToolEnv(t, "kamailio")
	addr, _ := uas(t, 0, 200)
	if out := e.ok("ping", "sip:"+addr); out != "SIP/2.0 200 Final\n" {
		t.Errorf("ping: %q", out)
	}
	silent, _ := uas(t, 1000, 200)
	e.fails("no final reply from "+silent+" within 500ms", "ping", "-t", "0.5", "sip:"+silent)
	e.userRC("PING_TIMEOUT=0.3\n")
	e.fails("within 300ms", "ping", "sip:"+silent)
	e.fails("usage: kamctl ping [-t <seconds>] <uri>", "ping")
	e.fails("-t x is not a number", "ping", "-t", "x", "sip:"+silent)
	e.fails("sips needs TLS", "ping", "sips:"+silent)
}
