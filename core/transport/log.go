package transport

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// discardHandler drops every record (Config.Logger nil).
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// sipgoHandler is the slog handler given to sipgo's transport layer. sipgo
// logs every unparsable stream message and every read timeout at ERROR,
// the payload included ("data"): here every record becomes DEBUG and a
// "data" attribute is replaced by its length, so that no peer can flood
// the log or get its bytes into it above debug level. What matters (a
// connection closed on a framing error, a cap reached) is logged by this
// package itself, rate-limited.
type sipgoHandler struct{ h slog.Handler }

func (s sipgoHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return s.h.Enabled(ctx, slog.LevelDebug)
}

func (s sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "data" {
			nr.AddAttrs(slog.Int("data_len", len(a.Value.String())))
		} else {
			nr.AddAttrs(a)
		}
		return true
	})
	return s.h.Handle(ctx, nr)
}

func (s sipgoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sipgoHandler{s.h.WithAttrs(as)}
}

func (s sipgoHandler) WithGroup(name string) slog.Handler {
	return sipgoHandler{s.h.WithGroup(name)}
}

// rateLimiter lets one event per key through every interval. Its table
// is bounded: when full, it is cleared (which at worst lets a burst of
// one line per source through).
type rateLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	max      int
	last     map[netip.Addr]time.Time
}

func newRateLimiter(interval time.Duration, max int) *rateLimiter {
	return &rateLimiter{interval: interval, max: max, last: make(map[netip.Addr]time.Time)}
}

// allow reports whether an event for key may be logged now.
func (r *rateLimiter) allow(key netip.Addr, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[key]; ok && now.Sub(t) < r.interval {
		return false
	}
	if len(r.last) >= r.max {
		clear(r.last)
	}
	r.last[key] = now
	return true
}
