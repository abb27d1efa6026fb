package ctrl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sip-router.org/core/rpc"
)

// Access says who may use a control endpoint: the file mode and, when not
// empty, the owner and group (names or numbers) of the FIFO or socket.
type Access struct {
	Mode  fs.FileMode
	User  string
	Group string
}

// apply sets mode and ownership of path.
func (a Access) apply(path string) error {
	if err := os.Chmod(path, a.Mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if a.User == "" && a.Group == "" {
		return nil
	}
	uid, gid := -1, -1
	if a.User != "" {
		id, err := lookupID(a.User, true)
		if err != nil {
			return err
		}
		uid = id
	}
	if a.Group != "" {
		id, err := lookupID(a.Group, false)
		if err != nil {
			return err
		}
		gid = id
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

func lookupID(name string, isUser bool) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	var s string
	if isUser {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, fmt.Errorf("user %q: %w", name, err)
		}
		s = u.Uid
	} else {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, fmt.Errorf("group %q: %w", name, err)
		}
		s = g.Gid
	}
	return strconv.Atoi(s)
}

const (
	maxLine      = 64 * 1024
	paramTimeout = 2 * time.Second
	replyTimeout = 2 * time.Second
)

// FIFOServer serves RPC commands over a FIFO with the MI text protocol.
type FIFOServer struct {
	Path     string
	ReplyDir string
	Access   Access
	RPC      *rpc.Registry
	Log      *slog.Logger

	f    *os.File
	wg   sync.WaitGroup
	stop chan struct{}
}

// Start creates the FIFO (an existing FIFO is reused; any other file there
// is an error) and serves it until Close.
func (s *FIFOServer) Start() error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.ReplyDir == "" {
		s.ReplyDir = "/tmp/"
	}
	if st, err := os.Lstat(s.Path); err == nil {
		if st.Mode()&fs.ModeNamedPipe == 0 {
			return fmt.Errorf("fifo %s: exists and is not a FIFO", s.Path)
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
			return fmt.Errorf("fifo %s: %w", s.Path, err)
		}
		if err := syscall.Mkfifo(s.Path, uint32(s.Access.Mode.Perm())); err != nil {
			return fmt.Errorf("fifo %s: %w", s.Path, err)
		}
	}
	if err := s.Access.apply(s.Path); err != nil {
		return fmt.Errorf("fifo %s: %w", s.Path, err)
	}
	// Opened read-write so that the last writer closing is not an EOF.
	f, err := os.OpenFile(s.Path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fifo %s: %w", s.Path, err)
	}
	s.f = f
	s.stop = make(chan struct{})
	s.wg.Add(1)
	go s.serve()
	return nil
}

// Close stops serving and removes the FIFO.
func (s *FIFOServer) Close() {
	if s.f == nil {
		return
	}
	close(s.stop)
	s.f.Close()
	s.wg.Wait()
	os.Remove(s.Path)
	s.f = nil
}

type lineReader struct {
	r *bufio.Reader
	f *os.File
}

// line reads one line, waiting at most d (0: forever).
func (lr *lineReader) line(d time.Duration) (string, error) {
	if d > 0 {
		_ = lr.f.SetReadDeadline(time.Now().Add(d))
	} else {
		_ = lr.f.SetReadDeadline(time.Time{})
	}
	var b []byte
	for {
		chunk, isPrefix, err := lr.r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", errLineTooLong
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

func (s *FIFOServer) serve() {
	defer s.wg.Done()
	lr := &lineReader{r: bufio.NewReaderSize(s.f, 4096), f: s.f}
	for {
		first, err := lr.line(0)
		if err != nil {
			select {
			case <-s.stop:
				return
			default:
			}
			if errors.Is(err, errLineTooLong) {
				s.Log.Warn("fifo: command line too long; discarded")
				continue
			}
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return
			}
			s.Log.Warn("fifo: read error", "error", err)
			return
		}
		if strings.TrimSpace(first) == "" {
			continue
		}
		s.command(lr, first)
	}
}

// command reads the rest of a command after its first line and answers it.
func (s *FIFOServer) command(lr *lineReader, first string) {
	name, reply, ok := parseFirst(first)
	var params []string
	var bad string
	if !ok {
		bad = fmt.Sprintf("malformed command line %q (want :command:reply_fifo)", first)
	}
	// Parameters until an empty line, each within paramTimeout.
	for {
		l, err := lr.line(paramTimeout)
		if err != nil {
			if bad == "" {
				bad = "parameters did not end with an empty line in time"
			}
			break
		}
		if l == "" {
			break
		}
		if len(params) >= 64 {
			bad = "too many parameters"
			continue
		}
		params = append(params, strings.TrimSuffix(l, "\r"))
	}
	if reply == "" {
		s.Log.Warn("fifo: command without a reply fifo ignored", "line", first)
		return
	}
	var out string
	if bad != "" {
		out = "400 " + bad + "\n\n"
	} else {
		out = Render(s.RPC, RPCName(name), params)
	}
	if err := s.writeReply(reply, out); err != nil {
		s.Log.Warn("fifo: cannot answer", "reply_fifo", reply, "error", err)
	}
}

// parseFirst reads ":command:reply_fifo".
func parseFirst(l string) (cmd, reply string, ok bool) {
	l = strings.TrimSuffix(l, "\r")
	if !strings.HasPrefix(l, ":") {
		return "", "", false
	}
	cmd, reply, ok = strings.Cut(l[1:], ":")
	if !ok || cmd == "" {
		return "", safeReplyName(reply), false
	}
	reply = safeReplyName(reply)
	return cmd, reply, reply != ""
}

// safeReplyName accepts a plain file name only: the server never writes
// outside the reply folder.
func safeReplyName(n string) string {
	n = strings.TrimSpace(n)
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
		return ""
	}
	return n
}

// Render runs a command and formats the MI reply text.
func Render(reg *rpc.Registry, method string, params []string) string {
	res, err := reg.Call(&rpc.Request{Method: method, Params: params})
	var b strings.Builder
	if err != nil {
		code, reason := 500, err.Error()
		switch {
		case errors.Is(err, rpc.ErrNoMethod):
			code = 404
		case errors.Is(err, rpc.ErrParams):
			code = 400
		}
		fmt.Fprintf(&b, "%d %s\n\n", code, oneLine(reason))
		return b.String()
	}
	b.WriteString("200 OK\n")
	WriteTree(&b, ToTree(res), 0)
	b.WriteString("\n")
	return b.String()
}

// writeReply writes into the client's reply FIFO, waiting a little for it
// to be opened for reading; it never creates a file.
func (s *FIFOServer) writeReply(name, text string) error {
	path := filepath.Join(s.ReplyDir, name)
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st.Mode()&fs.ModeNamedPipe == 0 {
		return fmt.Errorf("%s is not a FIFO", path)
	}
	deadline := time.Now().Add(replyTimeout)
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			defer f.Close()
			_ = f.SetWriteDeadline(time.Now().Add(replyTimeout))
			_, err = io.WriteString(f, text)
			return err
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-s.stop:
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
