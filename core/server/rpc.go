package server

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"sip-router.org/core/flavor"
	"sip-router.org/core/rpc"
	"sip-router.org/core/transport"
)

// registerCoreRPCs adds the core's control commands.
func (s *Server) registerCoreRPCs(f *flavor.Flavor) error {
	methods := []rpc.Method{
		{Name: "core.version", Doc: "Version of the server.", Func: func(*rpc.Request) (any, error) {
			return fmt.Sprintf("%s %s (%s/%s) flavor %s commit %s", f.Binary, f.Version, runtime.GOARCH, runtime.GOOS, f.Name, flavor.Commit), nil
		}},
		{Name: "core.uptime", Doc: "Time the server started and how long it has run (seconds).", Func: func(*rpc.Request) (any, error) {
			now := time.Now()
			return map[string]any{
				"now":      now.UTC().Format(time.RFC1123),
				"up_since": s.started.UTC().Format(time.RFC1123),
				"uptime":   int64(now.Sub(s.started).Seconds()),
			}, nil
		}},
		{Name: "core.ps", Doc: "The server's tasks: listeners and workers.", Func: func(*rpc.Request) (any, error) {
			return s.tasks(false), nil
		}},
		{Name: "core.psx", Doc: "The server's tasks with details.", Func: func(*rpc.Request) (any, error) {
			return s.tasks(true), nil
		}},
		{Name: "core.shmmem", Doc: "Memory of the process, from the Go runtime (bytes).", Func: func(*rpc.Request) (any, error) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return map[string]any{
				"total":      int64(m.Sys),
				"used":       int64(m.HeapInuse + m.StackInuse),
				"real_used":  int64(m.HeapAlloc),
				"free":       int64(m.HeapIdle - m.HeapReleased),
				"max_used":   int64(m.HeapSys),
				"fragments":  int64(m.HeapObjects),
				"gc_cycles":  int64(m.NumGC),
				"goroutines": int64(runtime.NumGoroutine()),
			}, nil
		}},
		{Name: "system.listMethods", Doc: "Names of every command.", Func: func(*rpc.Request) (any, error) {
			names := s.rpc.Names()
			out := make([]any, len(names))
			for i, n := range names {
				out[i] = n
			}
			return out, nil
		}},
		{Name: "system.methodHelp", Doc: "Help of one command.", Func: func(r *rpc.Request) (any, error) {
			name, err := r.Str(0)
			if err != nil {
				return nil, err
			}
			m, ok := s.rpc.Lookup(name)
			if !ok {
				return nil, fmt.Errorf("%w: %s", rpc.ErrNoMethod, name)
			}
			return m.Doc, nil
		}},
		{Name: "stats.get", Doc: "Statistics: all, a group (tm) or one (tm:relayed_total).", Func: func(r *rpc.Request) (any, error) {
			what := "all"
			if len(r.Params) > 0 {
				what = r.Params[0]
			}
			vals, err := s.stats.Get(what)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", rpc.ErrParams, err)
			}
			out := map[string]any{}
			for k, v := range vals {
				out[k] = v
			}
			return out, nil
		}},
		{Name: "stats.reset", Doc: "Reset statistics: all, a group or one.", Func: func(r *rpc.Request) (any, error) {
			what := "all"
			if len(r.Params) > 0 {
				what = r.Params[0]
			}
			n, err := s.stats.Reset(what)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", rpc.ErrParams, err)
			}
			return map[string]any{"reset": n}, nil
		}},
	}
	for _, m := range methods {
		if err := s.rpc.Add(m); err != nil {
			return err
		}
	}
	return nil
}

// registerCoreStats exposes the transport's counters as core statistics.
func (s *Server) registerCoreStats() {
	tp := s.tp
	g := func(name string, fn func(st transport.Stats) uint64) {
		s.stats.Gauge("core", name, func() int64 { return int64(fn(tp.Stats())) })
	}
	g("rcv_udp_messages", func(st transport.Stats) uint64 { return st.UDPReceived })
	g("rcv_stream_messages", func(st transport.Stats) uint64 { return st.StreamReceived })
	g("bad_msg", func(st transport.Stats) uint64 { return st.ParseErrors })
	g("rejected_requests", func(st transport.Stats) uint64 { return st.Rejected })
	g("dropped_messages", func(st transport.Stats) uint64 { return st.Dropped + st.Oversize })
	g("queue_full", func(st transport.Stats) uint64 { return st.QueueFull })
	g("send_errors", func(st transport.Stats) uint64 { return st.SendErrors })
	g("tcp_connections", func(st transport.Stats) uint64 { return uint64(st.ConnsOpen) })
	g("tcp_rejected", func(st transport.Stats) uint64 { return st.ConnsRejected })
}

// tasks describes what runs in the process, as core.ps lists processes.
func (s *Server) tasks(detail bool) []any {
	pid := os.Getpid()
	var out []any
	add := func(desc string, extra map[string]any) {
		row := map[string]any{"pid": pid, "desc": desc}
		if detail {
			for k, v := range extra {
				row[k] = v
			}
		}
		out = append(out, row)
	}
	add("main process - attendant", map[string]any{"goroutines": runtime.NumGoroutine()})
	socks := s.Sockets()
	sort.Slice(socks, func(i, j int) bool { return socks[i].String() < socks[j].String() })
	for _, sk := range socks {
		add("receiver "+sk.String(), map[string]any{"proto": sk.Proto})
	}
	st := s.tp.Stats()
	add("workers", map[string]any{"dispatched": int64(st.Dispatched), "queue_full": int64(st.QueueFull)})
	return out
}
