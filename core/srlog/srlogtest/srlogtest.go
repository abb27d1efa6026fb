// Package srlogtest helps tests check what code logs: a slog handler
// that keeps the records it lets through.
package srlogtest

import (
	"context"
	"log/slog"
	"sync"
)

// Recorder is a slog.Handler that keeps the records at Min and above.
// It is safe for concurrent use; attributes and groups added to a logger
// are not kept.
type Recorder struct {
	Min slog.Level

	mu   sync.Mutex
	recs []slog.Record
}

// Enabled reports whether l is at Min or above.
func (r *Recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.Min }

// Handle keeps a copy of rec.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// WithAttrs returns r.
func (r *Recorder) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup returns r.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Records returns the records kept so far, oldest first.
func (r *Recorder) Records() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.recs...)
}

// Attr returns the value of a record's attribute key as a string, ""
// when it has none.
func Attr(rec slog.Record, key string) string {
	v := ""
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
