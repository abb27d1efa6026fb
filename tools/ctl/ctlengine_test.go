package ctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"sip-router.org/core/ctrl"
	"sip-router.org/core/rpc"
)

// fakeServer is a control registry with the commands the tool uses,
// answering as the server's modules do, and recording the calls.
type fakeServer struct {
	mu    sync.Mutex
	calls []string
	// contacts per AoR (user part only, as usrloc without use_domain).
	contacts map[string][]string
}

func newFakeServer() *fakeServer {
	return &fakeServer{contacts: map[string][]string{"alice": {"sip:alice@192.0.2.10:5062"}, "bob": {}}}
}

func (f *fakeServer) record(r *rpc.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.TrimSpace(r.Method+" "+strings.Join(r.Params, " ")))
}

func (f *fakeServer) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func aorOf(s string) string { u, _, _ := strings.Cut(s, "@"); return u }

func (f *fakeServer) record1(aor string) map[string]any {
	cs := []any{}
	for _, c := range f.contacts[aor] {
		cs = append(cs, map[string]any{"Contact": c, "Expires": int64(3590), "Q": "1", "Call-ID": "c1",
			"User-Agent": "test UA", "Received": "", "Path": "", "Socket": "udp:127.0.0.1:5060", "CSeq": int64(2)})
	}
	return map[string]any{"AoR": aor, "Contacts": cs}
}

func (f *fakeServer) registry(t *testing.T) *rpc.Registry {
	t.Helper()
	r := rpc.NewRegistry()
	add := func(name string, fn rpc.Func) {
		if err := r.Add(rpc.Method{Name: name, Func: func(req *rpc.Request) (any, error) { f.record(req); return fn(req) }}); err != nil {
			t.Fatal(err)
		}
	}
	add("core.version", func(*rpc.Request) (any, error) { return "kamailio 3.0.0 (amd64/linux) flavor kamailio", nil })
	add("core.uptime", func(*rpc.Request) (any, error) {
		return map[string]any{"now": "Mon, 01 Jan 2024 10:00:00 UTC", "up_since": "Mon, 01 Jan 2024 09:00:00 UTC", "uptime": int64(3600)}, nil
	})
	add("core.ps", func(*rpc.Request) (any, error) {
		return []any{map[string]any{"pid": int64(42), "desc": "main process - attendant"},
			map[string]any{"pid": int64(42), "desc": "receiver udp:127.0.0.1:5060"}}, nil
	})
	add("stats.get", func(r *rpc.Request) (any, error) {
		all := map[string]any{"core:rcv_requests": int64(7), "usrloc:registered_users": int64(1)}
		if r.Params[0] == "all" {
			return all, nil
		}
		out := map[string]any{}
		for k, v := range all {
			if strings.HasPrefix(k, r.Params[0]+":") || k == r.Params[0] {
				out[k] = v
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: no statistic %s", rpc.ErrParams, r.Params[0])
		}
		return out, nil
	})
	add("ul.dump", func(r *rpc.Request) (any, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var aors []any
		for _, a := range sortedKeys(f.contacts) {
			if len(f.contacts[a]) == 0 {
				continue
			}
			if len(r.Params) > 0 {
				aors = append(aors, a)
			} else {
				aors = append(aors, f.record1(a))
			}
		}
		return map[string]any{"Domains": []any{map[string]any{"Domain": "location", "Size": int64(512),
			"Records": int64(len(aors)), "Contacts": int64(len(aors)), "AoRs": aors}}}, nil
	})
	add("ul.lookup", func(r *rpc.Request) (any, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		aor := aorOf(r.Params[1])
		if len(f.contacts[aor]) == 0 {
			return nil, errors.New("AOR not found: " + aor)
		}
		return f.record1(aor), nil
	})
	add("ul.rm", func(r *rpc.Request) (any, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.contacts, aorOf(r.Params[1]))
		return nil, nil
	})
	add("ul.rm_contact", func(r *rpc.Request) (any, error) { return nil, nil })
	add("ul.add", func(r *rpc.Request) (any, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(r.Params) != 5 {
			return nil, fmt.Errorf("%w: want 5 parameters", rpc.ErrParams)
		}
		a := aorOf(r.Params[1])
		f.contacts[a] = append(f.contacts[a], r.Params[2])
		return nil, nil
	})
	add("domain.dump", func(*rpc.Request) (any, error) {
		return map[string]any{"Domains": []any{"example.com", "example.org"}}, nil
	})
	add("domain.reload", func(*rpc.Request) (any, error) { return nil, nil })
	return r
}

// startFIFO serves the fake over a FIFO and returns the rc lines that
// point the tool at it.
func startFIFO(t *testing.T, f *fakeServer) string {
	t.Helper()
	dir := t.TempDir()
	s := &ctrl.FIFOServer{Path: filepath.Join(dir, "kamailio_fifo"), ReplyDir: dir, Access: ctrl.Access{Mode: 0o600}, RPC: f.registry(t)}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return fmt.Sprintf("CTLENGINE=FIFO\nOSER_FIFO=%s\nFIFO_REPLY_DIR=%s\n", s.Path, dir)
}

// startSocket serves the fake over a control socket.
func startSocket(t *testing.T, f *fakeServer) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &ctrl.SocketServer{Addr: "unix:" + filepath.Join(dir, "ctl"), Access: ctrl.Access{Mode: 0o600}, RPC: f.registry(t)}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return fmt.Sprintf("CTLENGINE=UNIXSOCK\nOSER_UNIXSOCK=%s\n", filepath.Join(dir, "ctl"))
}

func TestParseCtlEngine(t *testing.T) {
	for in, want := range map[string]CtlEngine{"": FIFO, "FIFO": FIFO, "fifo": FIFO, "UNIXSOCK": UnixSock, "unixsock": UnixSock} {
		if got, err := ParseCtlEngine(in); err != nil || got != want {
			t.Errorf("ParseCtlEngine(%q) = %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{"SER_MI": "not supported", "xmlrpc": "unknown"} {
		if _, err := ParseCtlEngine(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCtlEngine(%q): %v, want %q", in, err, want)
		}
	}
}

func TestCtlSettings(t *testing.T) {
	def := map[string]string{"fifo": "/run/kamailio/kamailio_fifo", "ctl_socket": "unix:/run/kamailio/kamailio_ctl"}
	tests := []struct {
		rc   string
		want CtlSettings
		err  string
	}{
		{rc: "", want: CtlSettings{Engine: FIFO, FIFO: "/run/kamailio/kamailio_fifo", ReplyDir: "/tmp", Socket: "unix:/run/kamailio/kamailio_ctl", Timeout: DefaultCtlTimeout}},
		{rc: "CTLENGINE=unixsock\nOSER_UNIXSOCK=/tmp/k.sock\nCTL_TIMEOUT=1.5",
			want: CtlSettings{Engine: UnixSock, FIFO: "/run/kamailio/kamailio_fifo", ReplyDir: "/tmp", Socket: "unix:/tmp/k.sock", Timeout: 1500 * time.Millisecond}},
		{rc: "OSER_FIFO=/tmp/f\nFIFO_REPLY_DIR=/var/tmp\nOSER_UNIXSOCK=tcp:127.0.0.1:2049",
			want: CtlSettings{Engine: FIFO, FIFO: "/tmp/f", ReplyDir: "/var/tmp", Socket: "tcp:127.0.0.1:2049", Timeout: DefaultCtlTimeout}},
		{rc: "CTLENGINE=binrpc", err: "kamctlrc:1: CTLENGINE=binrpc is unknown"},
		{rc: "CTL_TIMEOUT=soon", err: "kamctlrc:1: CTL_TIMEOUT=soon is not a number"},
		{rc: "CTLENGINE=UNIXSOCK\nOSER_UNIXSOCK=udp:1.2.3.4:5", err: "kamctlrc:2: control address"},
	}
	for _, tc := range tests {
		t.Run(tc.rc, func(t *testing.T) {
			got, err := rcOf(t, tc.rc).Ctl(def)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

// Both plug-ins run the same commands and, once read with List/Map/Text,
// give the same results.
func TestControllers(t *testing.T) {
	f := newFakeServer()
	settings := map[CtlEngine]string{FIFO: startFIFO(t, f), UnixSock: startSocket(t, f)}
	results := map[CtlEngine][]string{}
	for eng, rc := range settings {
		s, err := rcOf(t, rc).Ctl(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := s.NewController()
		if c.Engine() != eng {
			t.Fatalf("engine %s, want %s", c.Engine(), eng)
		}
		up, err := c.Call("core.uptime", nil)
		if err != nil {
			t.Fatalf("%s: %v", eng, err)
		}
		dump, err := c.Call("ul.dump", []string{"brief"})
		if err != nil {
			t.Fatalf("%s: %v", eng, err)
		}
		look, err := c.Call("ul.lookup", []string{"location", "alice@example.com"})
		if err != nil {
			t.Fatalf("%s: %v", eng, err)
		}
		results[eng] = []string{Text(Map(up)["uptime"]), strings.Join(dumpAoRs(dump), ","),
			Text(Map(List(Map(look)["Contacts"])[0])["Expires"])}
		if _, err := c.Call("no.such", nil); err == nil {
			t.Errorf("%s: unknown command accepted", eng)
		} else {
			var ce *ctrl.Error
			if !errors.As(err, &ce) {
				t.Errorf("%s: unknown command: %T %v", eng, err, err)
			}
		}
	}
	if !reflect.DeepEqual(results[FIFO], results[UnixSock]) || results[FIFO][0] != "3600" || results[FIFO][1] != "alice" || results[FIFO][2] != "3590" {
		t.Errorf("results differ: FIFO %q, UNIXSOCK %q", results[FIFO], results[UnixSock])
	}
}

// Malformed commands are refused before anything is sent.
func TestMalformedCommands(t *testing.T) {
	f := newFakeServer()
	for _, rc := range []string{startFIFO(t, f), startSocket(t, f)} {
		s, err := rcOf(t, rc).Ctl(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := s.NewController()
		for _, tc := range []struct {
			method string
			params []string
			want   string
		}{
			{"", nil, "missing command name"},
			{"ul.dump\n:core.ps:x", nil, "malformed command name"},
			{"core ps", nil, "malformed command name"},
			{":ul.dump:", nil, "malformed command name"},
			{"ul.lookup", []string{"location", "alice\n:core.ps:reply"}, "line break"},
		} {
			if _, err := c.Call(tc.method, tc.params); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %q %q: %v, want %q", c.Engine(), tc.method, tc.params, err, tc.want)
			}
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("malformed commands reached the server: %q", calls)
	}
}

func TestFormat(t *testing.T) {
	v := map[string]any{"Domains": []any{map[string]any{"Domain": "location", "Records": float64(2)}}, "ok": true}
	want := "Domains::\n\t::\n\t\tDomain:: location\n\t\tRecords:: 2\nok:: yes\n"
	if got := FormatMI(v); got != want {
		t.Errorf("FormatMI:\n%s\nwant:\n%s", got, want)
	}
	if got, err := FormatJSON(v); err != nil || got != `{"Domains":[{"Domain":"location","Records":2}],"ok":true}`+"\n" {
		t.Errorf("FormatJSON: %q %v", got, err)
	}
	for v, want := range map[any]string{nil: "", "x": "x", float64(3): "3", 2.5: "2.5", int64(-1): "-1", true: "yes"} {
		if got := Text(v); got != want {
			t.Errorf("Text(%#v) = %q, want %q", v, got, want)
		}
	}
	if n := len(List("")); n != 0 {
		t.Errorf("List(\"\") has %d elements", n)
	}
	if l := List("alice"); len(l) != 1 || l[0] != "alice" {
		t.Errorf("List(alice) = %v", l)
	}
}
