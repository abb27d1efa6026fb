package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseStatCSV(t *testing.T) {
	b := []byte("StartTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(C);Retransmissions(C)\n" +
		"x;10;9;1;0\n" +
		"x;20;18;1;3\n")
	c, err := parseStatCSV(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (sippCounts{Created: 20, OK: 18, Failed: 1, Retrans: 3}); c != want {
		t.Errorf("counts %+v, want %+v (the last line)", c, want)
	}
	if _, err := parseStatCSV([]byte("OutgoingCall(C)\n1\n")); err == nil || !strings.Contains(err.Error(), "SuccessfulCall(C)") {
		t.Errorf("missing column: error %v, want one naming SuccessfulCall(C)", err)
	}
	if _, err := parseStatCSV([]byte("header only\n")); err == nil {
		t.Error("no data line: no error")
	}
}

func TestParseStat(t *testing.T) {
	// A command name with blanks and parentheses; utime 7, stime 5.
	line := "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 100 0 0\n"
	s, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s.ppid != 1 || s.ticks != 12 {
		t.Errorf("got ppid %d ticks %d, want 1 and 12", s.ppid, s.ticks)
	}
	if _, err := parseStat([]byte("42 (x) S 1")); err == nil {
		t.Error("short line: no error")
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(v, 0.5); p != 5 {
		t.Errorf("p50 = %v, want 5", p)
	}
	if p := percentile(v, 0.99); p != 10 {
		t.Errorf("p99 = %v, want 10", p)
	}
	if p := percentile(nil, 0.5); !math.IsNaN(p) {
		t.Errorf("p50 of nothing = %v, want NaN", p)
	}
}

func clean(rate, calls int) step {
	return step{Rate: rate, Run: sippRun{Calls: calls, Counts: sippCounts{OK: calls}}}
}

func TestCommonRateAndRatio(t *testing.T) {
	failed := step{Rate: 3000, Run: sippRun{Calls: 10, Counts: sippCounts{OK: 5, Retrans: 2}}}
	a := &series{Name: oursName, Steps: []step{clean(1000, 10), clean(2000, 10), clean(3000, 10)}, MaxOK: 3000, srv: &running{}}
	k := &series{Name: kamailioName, Steps: []step{clean(1000, 10), clean(2000, 10), failed}, MaxOK: 2000, srv: &running{}}
	a.Steps[1].CPU, k.Steps[1].CPU = 0.01, 0.02
	a.Steps[1].Run.P99, k.Steps[1].Run.P99 = 4, 8
	if c := commonRate([]*series{a, k}); c != 2000 {
		t.Fatalf("common rate %d, want 2000", c)
	}
	row := ratioRow(a, k, 2000)
	for _, want := range []string{"**1.50**", "**0.50** (2000/s)", "0.50 (p99 4 / 8 ms (2000/s))"} {
		if !strings.Contains(row, want) {
			t.Errorf("ratio row %q lacks %q", row, want)
		}
	}
}

func TestShare(t *testing.T) {
	now := time.Now()
	h := &harness{opts: &options{Contacts: 1000, MemRate: 1000}, impls: []*impl{{}, {}}, deadline: now.Add(100 * time.Second)}
	// memory needs 2 × (1 s + 10 s) = 22 s; the rest (78 s) goes by
	// weight: ceiling 1, stateless 2.
	d := h.share([]string{"ceiling", "stateless", "memory"}).Sub(now)
	if d < 25*time.Second || d > 27*time.Second {
		t.Errorf("ceiling's share %s, want about 26 s", d)
	}
	if got := h.share([]string{"memory"}); !got.Equal(h.deadline) {
		t.Errorf("memory's share ends %s, want the deadline", got.Sub(now))
	}
}

func TestParseFlags(t *testing.T) {
	var errs strings.Builder
	if _, err := parseFlags([]string{"-scenarios", "stateless,nope"}, &errs); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown scenario: error %v, want one naming it", err)
	}
	if _, err := parseFlags([]string{"-rates", "100,x"}, &errs); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("bad rate: error %v, want one naming it", err)
	}
	o, err := parseFlags([]string{"-quick"}, &errs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range o.Scenarios {
		if s == "memory" {
			t.Error("-quick keeps the memory scenario")
		}
	}
	if len(o.Rates) != 1 || o.Rates[0] != 50 {
		t.Errorf("-quick rates %v, want [50]", o.Rates)
	}
}
