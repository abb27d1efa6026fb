// Package ctl is the ctl module: it serves the server's control commands
// on control sockets (JSON-RPC 2.0 lines over a unix stream socket or TCP,
// see core/ctrl) and, for compatibility, on a FIFO with the MI text
// protocol.
package ctl

import (
	"fmt"
	"io/fs"
	"strings"

	"sip-router.org/core/ctrl"
	"sip-router.org/core/module"
)

type ctlMod struct {
	BinRPC []string `modparam:"binrpc"`
	FIFO   []string `modparam:"fifo"`
	Mode   int      `modparam:"mode" min:"0" max:"511"`
	User   string   `modparam:"user"`
	Group  string   `modparam:"group"`
	// Accepted for Kamailio/SER configs; bounded by the JSON framing.
	MaxBody       int `modparam:"binrpc_max_body_size"`
	StructMaxBody int `modparam:"binrpc_struct_max_body_size"`

	socks []*ctrl.SocketServer
	fifos []*ctrl.FIFOServer
}

func init() {
	module.Register(module.Spec[*ctlMod]{
		Name:    "ctl",
		Tree:    "modules",
		Summary: "control commands over control sockets",
		New:     func() *ctlMod { return &ctlMod{Mode: 0o600, MaxBody: 4, StructMaxBody: 1} },
	})
}

// Configure checks the addresses and, when the config gives none, uses the
// flavor's default control socket.
func (m *ctlMod) Configure(env *module.ConfigEnv) error {
	if len(m.BinRPC) == 0 {
		def := env.Defaults["ctl_socket"]
		if def == "" {
			def = "unixs:/tmp/" + env.Flavor + "_ctl"
		}
		m.BinRPC = []string{def}
	}
	for _, a := range m.BinRPC {
		if _, _, err := ctrl.SplitAddr(a); err != nil {
			return fmt.Errorf("binrpc: %w", err)
		}
	}
	for _, f := range m.FIFO {
		if !strings.HasPrefix(f, "fifo:") || len(f) == len("fifo:") {
			return fmt.Errorf("fifo: %q must be fifo:/path", f)
		}
	}
	return nil
}

// Init opens every control socket and FIFO.
func (m *ctlMod) Init(env *module.InitEnv) error {
	if env.RPC == nil {
		return fmt.Errorf("no RPC registry")
	}
	acc := ctrl.Access{Mode: fs.FileMode(m.Mode), User: m.User, Group: m.Group}
	for _, a := range m.BinRPC {
		s := &ctrl.SocketServer{Addr: a, Access: acc, RPC: env.RPC, Log: env.Log}
		if err := s.Start(); err != nil {
			return err
		}
		m.socks = append(m.socks, s)
		env.Log.Info("serving control commands", "socket", a)
	}
	for _, f := range m.FIFO {
		path := strings.TrimPrefix(f, "fifo:")
		s := &ctrl.FIFOServer{Path: path, ReplyDir: "/tmp/", Access: acc, RPC: env.RPC, Log: env.Log}
		if err := s.Start(); err != nil {
			return err
		}
		m.fifos = append(m.fifos, s)
		env.Log.Info("serving control commands", "fifo", path)
	}
	return nil
}

// Destroy closes the sockets and FIFOs and removes their files.
func (m *ctlMod) Destroy() {
	for _, s := range m.socks {
		s.Close()
	}
	for _, f := range m.fifos {
		f.Close()
	}
	m.socks, m.fifos = nil, nil
}
