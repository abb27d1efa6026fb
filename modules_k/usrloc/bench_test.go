package usrloc_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"sip-router.org/modules_k/usrloc"
)

// realistic is a binding as phones register them.
func realistic(i int, now time.Time) usrloc.Contact {
	return usrloc.Contact{
		URI:          fmt.Sprintf("sip:user%d@198.51.100.%d:%d;transport=udp", i, i%250, 5060+i%1000),
		Expires:      now.Add(time.Hour),
		Q:            -1,
		CallID:       fmt.Sprintf("%08x-%04x-4a1b-9c2d-%012x@192.0.2.1", i, i%65536, i),
		CSeq:         uint32(i%100 + 1),
		Methods:      usrloc.AllMethods,
		UserAgent:    fmt.Sprintf("Phone/%d.0", i%5),
		Socket:       "udp:192.0.2.1:5060",
		LastModified: now,
	}
}

func refresh(c usrloc.Contact) func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
	return func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
		for i := range cur {
			if cur[i].URI == c.URI {
				cur[i] = c
				return cur, nil
			}
		}
		return append(cur, c), nil
	}
}

// BenchmarkSave: a REGISTER's work in usrloc (memory, db_mode 0) over
// 10 000 AORs: the first round inserts, the next ones refresh.
func BenchmarkSave(b *testing.B) {
	inst := start(b, mem, nil)
	d, _ := inst.api.RegisterDomain("location")
	now := time.Unix(time.Now().Unix(), 0)
	const n = 10000
	cs := make([]usrloc.Contact, n)
	aors := make([]string, n)
	for i := range cs {
		cs[i] = realistic(i, now)
		aors[i] = fmt.Sprintf("user%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		c := cs[k]
		c.CSeq += uint32(i / n)
		if _, err := d.Update(aors[k], false, refresh(c)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup: a lookup's read of an AOR with two contacts.
func BenchmarkLookup(b *testing.B) {
	inst := start(b, mem, nil)
	d, _ := inst.api.RegisterDomain("location")
	now := time.Unix(time.Now().Unix(), 0)
	const n = 10000
	aors := make([]string, n)
	for i := range aors {
		aors[i] = fmt.Sprintf("user%d", i)
		d.Update(aors[i], false, refresh(realistic(i, now)))
		d.Update(aors[i], false, refresh(realistic(i+n, now)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, found, _ := d.Get(aors[i%n]); !found {
			b.Fatal("not found")
		}
	}
}

// TestMemory100k measures the memory of 100 000 contacts (one per AOR)
// in memory: the heap they take, per contact.
func TestMemory100k(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	inst := start(t, mem, nil)
	d := inst.domain("location")
	now := time.Unix(time.Now().Unix(), 0)
	const n = 100000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	text := 0
	for i := 0; i < n; i++ {
		c := realistic(i, now)
		aor := fmt.Sprintf("user%d@example.com", i)
		text += len(c.URI) + len(c.CallID) + len(aor)
		if _, err := d.Update(aor, false, refresh(c)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("100000 contacts: %.1f MB of heap, %.0f bytes per contact (text of a contact: about %d bytes)",
		float64(after.HeapAlloc-before.HeapAlloc)/1e6, per, text/n)
	if rss := vmRSS(); rss > 0 {
		t.Logf("process RSS with them (test binary, every module linked): %.1f MB", float64(rss)/1e6)
	}
	if per > 1000 {
		t.Errorf("%.0f bytes per contact: 100k contacts would not fit the 100 MB budget", per)
	}
}

// vmRSS is the resident size of the process (Linux), or 0.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
