package stats

import (
	"sync"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New()
	relayed := r.Counter("tm", "relayed")
	r.Counter("tm", "replied")
	var cur int64 = 7
	r.Gauge("tm", "current", func() int64 { return cur })
	r.Counter("sl", "sent_replies").Add(3)

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); relayed.Inc() }()
	}
	wg.Wait()

	tests := []struct {
		what string
		want map[string]int64
	}{
		{"tm:relayed", map[string]int64{"tm:relayed": 50}},
		{"tm", map[string]int64{"tm:relayed": 50, "tm:replied": 0, "tm:current": 7}},
		{"tm:", map[string]int64{"tm:relayed": 50, "tm:replied": 0, "tm:current": 7}},
		{"sent_replies", map[string]int64{"sl:sent_replies": 3}},
	}
	for _, tc := range tests {
		got, err := r.Get(tc.what)
		if err != nil {
			t.Fatalf("Get(%q): %v", tc.what, err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("Get(%q) = %v, want %v", tc.what, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("Get(%q)[%s] = %d, want %d", tc.what, k, got[k], v)
			}
		}
	}
	if _, err := r.Get("nosuch"); err == nil {
		t.Error("Get of an unknown statistic gave no error")
	}
	if n, err := r.Reset("tm"); err != nil || n != 2 {
		t.Errorf("Reset(tm) = %d, %v; want the 2 counters, not the gauge", n, err)
	}
	if v := relayed.Value(); v != 0 {
		t.Errorf("relayed after reset = %d", v)
	}
	all, _ := r.Get("all")
	if all["tm:current"] != 7 || all["sl:sent_replies"] != 3 {
		t.Errorf("after reset: %v", all)
	}
}
