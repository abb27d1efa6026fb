package ctrl

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"sip-router.org/core/rpc"
)

func testRegistry(t *testing.T) *rpc.Registry {
	t.Helper()
	r := rpc.NewRegistry()
	add := func(name string, f rpc.Func) {
		if err := r.Add(rpc.Method{Name: name, Func: f}); err != nil {
			t.Fatal(err)
		}
	}
	add("core.uptime", func(*rpc.Request) (any, error) { return map[string]any{"uptime": int64(42)}, nil })
	add("ul.dump", func(*rpc.Request) (any, error) {
		return map[string]any{"AORs": []any{
			map[string]any{"AOR": "alice", "Contacts": []any{map[string]any{"Contact": "sip:a@1.2.3.4", "Expires": int64(60)}}},
			map[string]any{"AOR": "bob", "Contacts": []any{}},
		}}, nil
	})
	add("echo", func(r *rpc.Request) (any, error) {
		out := make([]any, len(r.Params))
		for i, p := range r.Params {
			out[i] = p
		}
		return out, nil
	})
	add("needs.int", func(r *rpc.Request) (any, error) {
		n, err := r.Int(0)
		return int64(n * 2), err
	})
	add("fails", func(*rpc.Request) (any, error) { return nil, errors.New("database unreachable") })
	return r
}

func startFIFO(t *testing.T) (*FIFOServer, string) {
	t.Helper()
	dir := t.TempDir()
	s := &FIFOServer{Path: filepath.Join(dir, "srv_fifo"), ReplyDir: dir, Access: Access{Mode: 0o600}, RPC: testRegistry(t)}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dir
}

func TestFIFOCommands(t *testing.T) {
	s, dir := startFIFO(t)
	if st, err := os.Stat(s.Path); err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("fifo mode %v, %v", st.Mode(), err)
	}
	tests := []struct {
		method string
		params []string
		want   any
		code   int
	}{
		{"core.uptime", nil, map[string]any{"uptime": "42"}, 0},
		{"uptime", nil, map[string]any{"uptime": "42"}, 0}, // MI name
		{"echo", []string{"a", "b c"}, []any{"a", "b c"}, 0},
		{"echo", []string{"only"}, "only", 0},
		{"needs.int", []string{"21"}, "42", 0},
		{"needs.int", []string{"x"}, nil, 400},
		{"nosuch", nil, nil, 404},
		{"fails", nil, nil, 500},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			got, err := CallFIFO(s.Path, dir, tc.method, tc.params, 3*time.Second)
			if tc.code != 0 {
				var ce *Error
				if !errors.As(err, &ce) || ce.Code != tc.code {
					t.Fatalf("err %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	// A nested result survives the MI tree both ways.
	got, err := CallFIFO(s.Path, dir, "ul_dump", nil, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	aors := got.(map[string]any)["AORs"].([]any)
	alice := aors[0].(map[string]any)
	contacts, _ := alice["Contacts"].([]any)
	if alice["AOR"] != "alice" || len(contacts) != 1 || contacts[0].(map[string]any)["Contact"] != "sip:a@1.2.3.4" {
		t.Errorf("ul_dump decoded as %#v", got)
	}
}

// readReply reads an MI reply from a reply FIFO the test made.
func rawCommand(t *testing.T, s *FIFOServer, dir, text string, replyName string, wait time.Duration) (string, error) {
	t.Helper()
	var rf *os.File
	if replyName != "" {
		p := filepath.Join(dir, replyName)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rf = f
	}
	wf, err := os.OpenFile(s.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wf.WriteString(text); err != nil {
		t.Fatal(err)
	}
	wf.Close()
	if rf == nil {
		return "", nil
	}
	_ = rf.SetReadDeadline(time.Now().Add(wait))
	line, err := bufio.NewReader(rf).ReadString('\n')
	return line, err
}

func TestFIFOMalformed(t *testing.T) {
	s, dir := startFIFO(t)
	tests := []struct {
		name, text, reply, want string
	}{
		{"no colon", "uptime:r1\n\n", "r1", ""},
		{"params never end", ":echo:r2\nx\n", "r2", "400 parameters did not end with an empty line in time"},
		{"empty command", "::r3\n\n", "r3", `400 malformed command line "::r3" (want :command:reply_fifo)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// No reply is expected for a malformed first line: a short wait
			// shows nothing comes; a reply comes within the 2 s parameter
			// deadline plus margin.
			wait := 4 * time.Second
			if tc.want == "" {
				wait = 300 * time.Millisecond
			}
			got, err := rawCommand(t, s, dir, tc.text, tc.reply, wait)
			if tc.want == "" {
				// Malformed first lines have no usable reply fifo: nothing is
				// written, and the server keeps serving.
				if err == nil {
					t.Errorf("got a reply %q for a command without a usable reply fifo", got)
				}
			} else if strings.TrimSpace(got) != tc.want {
				t.Errorf("reply %q, want %q (err %v)", got, tc.want, err)
			}
			if _, err := CallFIFO(s.Path, dir, "core.uptime", nil, 3*time.Second); err != nil {
				t.Fatalf("server stopped serving after %s: %v", tc.name, err)
			}
		})
	}
	// A reply fifo name with a path is refused: the server writes nowhere
	// outside its reply folder.
	outside := filepath.Join(t.TempDir(), "evil")
	if err := syscall.Mkfifo(outside, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(outside, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rawCommand(t, s, dir, ":core.uptime:"+outside+"\n\n", "", 0)
	if _, err := CallFIFO(s.Path, dir, "core.uptime", nil, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = f.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := f.Read(make([]byte, 10)); n > 0 {
		t.Error("the server wrote into a FIFO outside its reply folder")
	}
	// A regular file in place of the FIFO stops Start.
	bad := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(bad, nil, 0o600)
	if err := (&FIFOServer{Path: bad, RPC: rpc.NewRegistry()}).Start(); err == nil {
		t.Error("Start accepted a regular file as its FIFO")
	}
}

func TestSocket(t *testing.T) {
	dir := t.TempDir()
	addr := "unix:" + filepath.Join(dir, "ctl.sock")
	s := &SocketServer{Addr: addr, Access: Access{Mode: 0o660}, RPC: testRegistry(t)}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if st, err := os.Stat(filepath.Join(dir, "ctl.sock")); err != nil || st.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, %v", st, err)
	}
	got, err := CallSocket(addr, "echo", []string{"x", "y"}, 2*time.Second)
	if err != nil || !reflect.DeepEqual(got, []any{"x", "y"}) {
		t.Fatalf("echo: %#v, %v", got, err)
	}
	got, err = CallSocket(addr, "core.uptime", nil, 2*time.Second)
	if err != nil || got.(map[string]any)["uptime"] != float64(42) {
		t.Fatalf("uptime: %#v, %v", got, err)
	}
	for _, tc := range []struct {
		method string
		params []string
		code   int
	}{
		{"nosuch", nil, codeNoMethod},
		{"needs.int", []string{"x"}, codeParams},
		{"fails", nil, codeInternal},
	} {
		_, err := CallSocket(addr, tc.method, tc.params, 2*time.Second)
		var ce *Error
		if !errors.As(err, &ce) || ce.Code != tc.code {
			t.Errorf("%s: err %v, want code %d", tc.method, err, tc.code)
		}
	}

	// Malformed JSON: a parse error, then the connection closes; the
	// server keeps serving others.
	c, err := net.Dial("unix", filepath.Join(dir, "ctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "{not json\n")
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, `"code":-32700`) {
		t.Fatalf("parse error answer %q, %v", line, err)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("connection still open after malformed JSON")
	}
	// Non-string structured params are refused, not crashed on.
	c2, _ := net.Dial("unix", filepath.Join(dir, "ctl.sock"))
	defer c2.Close()
	fmt.Fprint(c2, `{"jsonrpc":"2.0","id":7,"method":"echo","params":[{"a":1}]}`+"\n")
	_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, _ = bufio.NewReader(c2).ReadString('\n')
	if !strings.Contains(line, `"id":7`) || !strings.Contains(line, `-32602`) {
		t.Errorf("object param answer %q", line)
	}
	if _, err := CallSocket(addr, "core.uptime", nil, 2*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestTreeRoundTrip(t *testing.T) {
	in := map[string]any{"a": "1", "list": []any{"x", "y"}, "m": map[string]any{"k": "v", "n": []any{map[string]any{"z": "1"}, map[string]any{"z": "2"}}}}
	var b strings.Builder
	WriteTree(&b, ToTree(in), 0)
	nodes, err := ParseTree(strings.Split(b.String(), "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := FromTree(nodes); !reflect.DeepEqual(got, in) {
		t.Errorf("round trip:\n%s\ngot %#v", b.String(), got)
	}
}

// The runtime directory (/run/kamailio by default) may not exist on a
// machine no package prepared: both servers make the missing directory
// of their path instead of failing at start.
func TestMissingRuntimeDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "kamailio")
	sock := &SocketServer{Addr: "unix:" + filepath.Join(dir, "kamailio_ctl"), Access: Access{Mode: 0o600}, RPC: testRegistry(t)}
	if err := sock.Start(); err != nil {
		t.Fatalf("socket in a missing directory: %v", err)
	}
	t.Cleanup(sock.Close)
	fifo := &FIFOServer{Path: filepath.Join(dir, "kamailio_fifo"), ReplyDir: dir, Access: Access{Mode: 0o600}, RPC: testRegistry(t)}
	if err := fifo.Start(); err != nil {
		t.Fatalf("fifo in a missing directory: %v", err)
	}
	t.Cleanup(fifo.Close)
	got, err := CallSocket(sock.Addr, "core.uptime", nil, 2*time.Second)
	if err != nil || got.(map[string]any)["uptime"] != float64(42) {
		t.Fatalf("uptime over the socket: %#v, %v", got, err)
	}
	// A path under a regular file cannot be made: the error names the socket.
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := &SocketServer{Addr: "unix:" + filepath.Join(file, "sub", "ctl"), RPC: testRegistry(t)}
	if err := bad.Start(); err == nil || !strings.Contains(err.Error(), "control socket unix:"+file) {
		bad.Close()
		t.Fatalf("socket under a file: %v", err)
	}
}
