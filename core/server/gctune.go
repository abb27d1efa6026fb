package server

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector starts a cycle when the heap has grown by GOGC
// percent over what the last cycle left live. A proxy keeps little live
// data (a few MB without registrations) and allocates a few KB per
// message, so with Go's default of 100 it collects dozens of times per
// second under load: in profiles of the load harness, marking, sweeping
// and returning pages to the kernel took about a third of the server's
// CPU. The tuner lets the heap grow by at least gcHeadroom between cycles
// while the live heap is small, and leaves GOGC at 100 once it is large
// (a registrar with many contacts), so that memory stays within twice
// the live data there. A GOGC set in the environment turns it off.
const (
	gcHeadroom   = 32 << 20 // bytes the heap may grow between cycles, at least
	gcMinPercent = 100      // Go's default
	gcMaxPercent = 1000
	gcTuneEvery  = 250 * time.Millisecond
)

// gcPercentFor returns the GC percentage for a live heap of live bytes:
// the one that lets the heap grow by gcHeadroom, within
// [gcMinPercent, gcMaxPercent].
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := uint64(100) * gcHeadroom / live
	return int(min(max(p, gcMinPercent), gcMaxPercent))
}

// startGCTuner sets the GC percentage now and then every gcTuneEvery
// until ctx ends, unless GOGC is set.
func startGCTuner(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := -1
	tune := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercentFor(sample[0].Value.Uint64()); p != last {
			debug.SetGCPercent(p)
			last = p
		}
	}
	tune()
	go func() {
		t := time.NewTicker(gcTuneEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tune()
			}
		}
	}()
}
