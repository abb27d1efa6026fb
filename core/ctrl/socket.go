package ctrl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"sip-router.org/core/rpc"
)

// JSON-RPC 2.0 error codes.
const (
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeNoMethod       = -32601
	codeParams         = -32602
	codeInternal       = -32603
)

const (
	maxRequest  = 1 << 20
	idleTimeout = time.Minute
	maxConns    = 64
)

// SocketServer serves RPC commands as JSON-RPC 2.0 lines over a unix
// stream socket or TCP.
type SocketServer struct {
	// Addr is unix:/path, unixs:/path or tcp:host:port.
	Addr   string
	Access Access
	RPC    *rpc.Registry
	Log    *slog.Logger

	ln    net.Listener
	path  string
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// SplitAddr reads unix:/path, unixs:/path and tcp:host:port.
func SplitAddr(addr string) (network, where string, err error) {
	proto, rest, ok := strings.Cut(addr, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("control address %q: want unix:/path or tcp:host:port", addr)
	}
	switch proto {
	case "unix", "unixs":
		return "unix", rest, nil
	case "tcp":
		return "tcp", rest, nil
	}
	return "", "", fmt.Errorf("control address %q: transport %q is not supported (unix, unixs, tcp)", addr, proto)
}

// Start listens and serves until Close. An existing socket file is
// replaced; any other file there is an error.
func (s *SocketServer) Start() error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	network, where, err := SplitAddr(s.Addr)
	if err != nil {
		return err
	}
	if network == "unix" {
		if st, err := os.Lstat(where); err == nil {
			if st.Mode()&os.ModeSocket == 0 {
				return fmt.Errorf("control socket %s: exists and is not a socket", where)
			}
			os.Remove(where)
		} else if err := os.MkdirAll(filepath.Dir(where), 0o755); err != nil {
			// As the FIFO does: the runtime directory (/run/<flavor>)
			// lives on tmpfs and is gone after a reboot or on a machine
			// where no package made it.
			return fmt.Errorf("control socket %s: %w", s.Addr, err)
		}
		s.path = where
	}
	ln, err := net.Listen(network, where)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", s.Addr, err)
	}
	if network == "unix" {
		if err := s.Access.apply(where); err != nil {
			ln.Close()
			return fmt.Errorf("control socket %s: %w", s.Addr, err)
		}
	}
	s.ln = ln
	s.conns = map[net.Conn]struct{}{}
	s.wg.Add(1)
	go s.accept()
	return nil
}

// Close stops the listener and every connection, and removes the socket file.
func (s *SocketServer) Close() {
	if s.ln == nil {
		return
	}
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.path != "" {
		os.Remove(s.path)
	}
	s.ln = nil
}

func (s *SocketServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if len(s.conns) >= maxConns {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

type request struct {
	JSONRPC string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

func (s *SocketServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 4096)
	enc := json.NewEncoder(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(idleTimeout))
		line, err := readLimited(r, maxRequest)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				_ = enc.Encode(response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{codeInvalidRequest, "request too large"}})
			}
			return
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		resp, fatal := s.handle(line)
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := enc.Encode(resp); err != nil || fatal {
			return
		}
	}
}

// handle runs one request line; fatal closes the connection after the
// answer (the stream can no longer be trusted).
func (s *SocketServer) handle(line string) (response, bool) {
	var req request
	if err := json.Unmarshal([]byte(line), &req); err != nil {
		return response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{codeParse, "parse error: " + err.Error()}}, true
	}
	resp := response{JSONRPC: "2.0", ID: req.ID}
	if resp.ID == nil {
		resp.ID = json.RawMessage("null")
	}
	if req.Method == "" {
		resp.Error = &rpcError{codeInvalidRequest, "missing method"}
		return resp, false
	}
	params := make([]string, 0, len(req.Params))
	for _, p := range req.Params {
		var sv string
		if err := json.Unmarshal(p, &sv); err == nil {
			params = append(params, sv)
			continue
		}
		var nv json.Number
		if err := json.Unmarshal(p, &nv); err == nil {
			params = append(params, nv.String())
			continue
		}
		var bv bool
		if err := json.Unmarshal(p, &bv); err == nil {
			params = append(params, strconv.FormatBool(bv))
			continue
		}
		resp.Error = &rpcError{codeParams, "parameters must be strings, numbers or booleans"}
		return resp, false
	}
	res, err := s.RPC.Call(&rpc.Request{Method: req.Method, Params: params})
	if err != nil {
		code := codeInternal
		switch {
		case errors.Is(err, rpc.ErrNoMethod):
			code = codeNoMethod
		case errors.Is(err, rpc.ErrParams):
			code = codeParams
		}
		resp.Error = &rpcError{code, err.Error()}
		return resp, false
	}
	if res == nil {
		res = "ok"
	}
	resp.Result = res
	return resp, false
}

func readLimited(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > max {
			return "", errLineTooLong
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}
