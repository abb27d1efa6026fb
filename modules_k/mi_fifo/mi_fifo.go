// Package mi_fifo is the mi_fifo module: it serves the server's control
// commands over a FIFO with Kamailio's MI text protocol (see core/ctrl),
// the transport kamctl uses with CTLENGINE=FIFO.
package mi_fifo

import (
	"fmt"
	"io/fs"

	"sip-router.org/core/ctrl"
	"sip-router.org/core/module"
)

type miFIFO struct {
	FIFOName    string `modparam:"fifo_name"`
	FIFOMode    int    `modparam:"fifo_mode" min:"0" max:"511"`
	FIFOUser    string `modparam:"fifo_user"`
	FIFOGroup   string `modparam:"fifo_group"`
	ReplyDir    string `modparam:"fifo_reply_dir"`
	ReplyIndent string `modparam:"reply_indent"`

	srv *ctrl.FIFOServer
}

func init() {
	module.Register(module.Spec[*miFIFO]{
		Name:    "mi_fifo",
		Tree:    "modules_k",
		Summary: "control commands over a FIFO (MI text protocol)",
		New: func() *miFIFO {
			return &miFIFO{FIFOName: "/tmp/kamailio_fifo", FIFOMode: 0o660, ReplyDir: "/tmp/", ReplyIndent: "\t"}
		},
	})
}

// Configure checks the parameters.
func (m *miFIFO) Configure(*module.ConfigEnv) error {
	if m.FIFOName == "" {
		return fmt.Errorf("fifo_name is empty")
	}
	if m.ReplyIndent != "\t" {
		return fmt.Errorf("reply_indent: only a tab is supported")
	}
	return nil
}

// Init creates the FIFO and starts serving it.
func (m *miFIFO) Init(env *module.InitEnv) error {
	if env.RPC == nil {
		return fmt.Errorf("no RPC registry")
	}
	m.srv = &ctrl.FIFOServer{
		Path: m.FIFOName, ReplyDir: m.ReplyDir,
		Access: ctrl.Access{Mode: fs.FileMode(m.FIFOMode), User: m.FIFOUser, Group: m.FIFOGroup},
		RPC:    env.RPC, Log: env.Log,
	}
	if err := m.srv.Start(); err != nil {
		m.srv = nil
		return err
	}
	env.Log.Info("serving control commands", "fifo", m.FIFOName)
	return nil
}

// Destroy stops serving and removes the FIFO.
func (m *miFIFO) Destroy() {
	if m.srv != nil {
		m.srv.Close()
	}
}
