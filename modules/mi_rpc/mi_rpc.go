// Package mi_rpc is the mi_rpc module: it offers every RPC command to MI
// clients through one MI command, "rpc" (":rpc:reply\ncore.uptime\n\n"), as
// Kamailio 3.0's mi_rpc bridged MI and RPC.
package mi_rpc

import (
	"fmt"

	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
)

type miRPC struct{ reg *rpc.Registry }

func init() {
	module.Register(module.Spec[*miRPC]{
		Name:    "mi_rpc",
		Tree:    "modules",
		Summary: "RPC commands through the MI command rpc",
		New:     func() *miRPC { return &miRPC{} },
		RPCs: []module.RPC[*miRPC]{
			{Name: "rpc", Doc: "Run the RPC command named by the first parameter with the others.", Call: (*miRPC).call},
		},
	})
}

// Init keeps the registry to dispatch to.
func (m *miRPC) Init(env *module.InitEnv) error {
	m.reg = env.RPC
	return nil
}

func (m *miRPC) call(req *rpc.Request) (any, error) {
	if len(req.Params) == 0 {
		return nil, fmt.Errorf("%w: the first parameter names the RPC command", rpc.ErrParams)
	}
	if m.reg == nil {
		return nil, fmt.Errorf("rpc: module not initialised")
	}
	if req.Params[0] == "rpc" {
		return nil, fmt.Errorf("%w: rpc cannot call itself", rpc.ErrParams)
	}
	return m.reg.Call(&rpc.Request{Method: req.Params[0], Params: req.Params[1:]})
}
