package nathelper

import (
	"fmt"

	"sip-router.org/core/rpc"
)

// rpcEnablePing implements nh_enable_ping [0|1]: without a parameter it
// shows whether NAT pinging is on.
func (m *nathelper) rpcEnablePing(req *rpc.Request) (any, error) {
	if len(req.Params) == 0 {
		return map[string]any{"Status": boolInt(m.pingOn.Load())}, nil
	}
	n, err := req.Int(0)
	if err != nil {
		return nil, err
	}
	m.pingOn.Store(n != 0)
	return nil, nil
}

// rpcEnableRTPP implements nh_enable_rtpp url 0|1: 0 disables the proxy
// until it is enabled again; 1 enables it (it is tested on its next use).
func (m *nathelper) rpcEnableRTPP(req *rpc.Request) (any, error) {
	url, err := req.Str(0)
	if err != nil {
		return nil, err
	}
	on, err := req.Int(1)
	if err != nil {
		return nil, err
	}
	if m.rtpp == nil {
		return nil, fmt.Errorf("%w: RTP proxy %q not found", rpc.ErrParams, url)
	}
	n := m.rtpp.find(url)
	if n == nil {
		return nil, fmt.Errorf("%w: RTP proxy %q not found", rpc.ErrParams, url)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if on != 0 {
		n.forever, n.disabled, n.tested = false, false, false
	} else {
		n.forever, n.disabled = true, true
	}
	return nil, nil
}

// rpcShowRTPP implements nh_show_rtpp: every proxy with its set, weight and
// state.
func (m *nathelper) rpcShowRTPP(*rpc.Request) (any, error) {
	var out []any
	if m.rtpp == nil {
		return out, nil
	}
	for _, s := range m.rtpp.sets {
		for _, n := range s.nodes {
			n.mu.Lock()
			recheck := int64(0)
			if n.disabled && !n.forever && !n.recheckAt.IsZero() {
				recheck = n.recheckAt.Unix()
			}
			out = append(out, map[string]any{
				"Url": n.url, "Set": int64(s.id), "Weight": int64(n.weight),
				"Disabled": boolInt(n.disabled || n.forever), "Recheck": recheck,
			})
			n.mu.Unlock()
		}
	}
	return out, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
