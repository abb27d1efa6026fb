package ctrl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Error is a failed command: the code the server gave (MI: 400, 404, 500;
// JSON-RPC: its error code) and its message.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// ErrTimeout is returned when the server does not answer in time.
var ErrTimeout = errors.New("no answer from the server")

// CallFIFO sends a command over the server's FIFO and returns its result
// decoded from the MI tree (see FromTree). replyDir is where the client
// creates its reply FIFO (it must be the server's reply_dir).
func CallFIFO(fifo, replyDir, method string, params []string, timeout time.Duration) (any, error) {
	st, err := os.Stat(fifo)
	if err != nil {
		return nil, fmt.Errorf("fifo %s: %w (is the server running with mi_fifo?)", fifo, err)
	}
	if st.Mode()&os.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("fifo %s: not a FIFO", fifo)
	}
	for _, p := range append([]string{method}, params...) {
		if strings.ContainsAny(p, "\r\n") {
			return nil, fmt.Errorf("a command or parameter may not contain a line break: %q", p)
		}
	}
	name := fmt.Sprintf("sr_reply_%d_%d", os.Getpid(), rand.Uint32())
	replyPath := filepath.Join(replyDir, name)
	if err := syscall.Mkfifo(replyPath, 0o600); err != nil {
		return nil, fmt.Errorf("reply fifo %s: %w", replyPath, err)
	}
	defer os.Remove(replyPath)

	// Open our end first (read-write, so opening does not block).
	rf, err := os.OpenFile(replyPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("reply fifo %s: %w", replyPath, err)
	}
	defer rf.Close()

	var cmd strings.Builder
	fmt.Fprintf(&cmd, ":%s:%s\n", method, name)
	for _, p := range params {
		cmd.WriteString(p + "\n")
	}
	cmd.WriteString("\n")
	wf, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("fifo %s: %w (is the server running?)", fifo, err)
	}
	_, err = io.WriteString(wf, cmd.String())
	wf.Close()
	if err != nil {
		return nil, fmt.Errorf("fifo %s: %w", fifo, err)
	}

	_ = rf.SetReadDeadline(time.Now().Add(timeout))
	br := bufio.NewReader(rf)
	status, err := br.ReadString('\n')
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, ErrTimeout
		}
		return nil, fmt.Errorf("reply fifo: %w", err)
	}
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, ErrTimeout
			}
			return nil, fmt.Errorf("reply fifo: %w", err)
		}
		l = strings.TrimSuffix(l, "\n")
		if l == "" {
			break
		}
		lines = append(lines, l)
	}
	codeText, reason, _ := strings.Cut(strings.TrimSpace(status), " ")
	code, err := strconv.Atoi(codeText)
	if err != nil {
		return nil, fmt.Errorf("malformed reply status %q", status)
	}
	if code >= 300 {
		return nil, &Error{Code: code, Message: reason}
	}
	nodes, err := ParseTree(lines)
	if err != nil {
		return nil, err
	}
	return FromTree(nodes), nil
}

// CallSocket sends one JSON-RPC request over the control socket.
func CallSocket(addr, method string, params []string, timeout time.Duration) (any, error) {
	network, where, err := SplitAddr(addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout(network, where, timeout)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w (is the server running with ctl?)", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	ps := make([]any, len(params))
	for i, p := range params {
		ps[i] = p
	}
	if err := json.NewEncoder(c).Encode(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": ps}); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", addr, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, ErrTimeout
		}
		return nil, fmt.Errorf("control socket %s: %w", addr, err)
	}
	var resp struct {
		Result any       `json:"result"`
		Error  *rpcError `json:"error"`
	}
	if err := json.Unmarshal([]byte(line), &resp); err != nil {
		return nil, fmt.Errorf("control socket %s: malformed answer: %w", addr, err)
	}
	if resp.Error != nil {
		return nil, &Error{Code: resp.Error.Code, Message: resp.Error.Message}
	}
	return resp.Result, nil
}
