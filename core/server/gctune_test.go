package server

import "testing"

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{1 << 20, gcMaxPercent},   // 1 MB live: 3200 %, capped
		{4 << 20, 800},            // 4 MB live may grow by 32 MB
		{16 << 20, 200},           // 16 MB by 32 MB
		{32 << 20, gcMinPercent},  // 32 MB by 32 MB: Go's default
		{200 << 20, gcMinPercent}, // large heaps keep the default
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}
