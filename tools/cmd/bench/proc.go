package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat is what the harness reads from /proc/<pid>/stat.
type procStat struct {
	ppid  int
	ticks uint64 // utime + stime
}

// parseStat parses the text of /proc/<pid>/stat. The command name (field
// 2) is in parentheses and may hold blanks and parentheses: the fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("stat: %d fields after the command name", len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseUint(f[11], 10, 64)
	st, err3 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("stat: bad number in %q", strings.Join(f[:13], " "))
	}
	return procStat{ppid: ppid, ticks: ut + st}, nil
}

// tree returns the pid and every live descendant of it, with their stat.
func tree(root int) map[int]procStat {
	all := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if s, err := parseStat(b); err == nil {
			all[pid] = s
		}
	}
	out := map[int]procStat{}
	var add func(int)
	add = func(pid int) {
		s, ok := all[pid]
		if !ok {
			return
		}
		out[pid] = s
		for p, c := range all {
			if c.ppid == pid {
				if _, seen := out[p]; !seen {
					add(p)
				}
			}
		}
	}
	add(root)
	return out
}

// cpuSeconds is the CPU time (user + system) used so far by pid and its
// live descendants (Kamailio's worker processes).
func cpuSeconds(pid int) float64 {
	var t uint64
	for _, s := range tree(pid) {
		t += s.ticks
	}
	return float64(t) / clockTicks
}

// statusKB reads a "Name:   123 kB" line of /proc/<pid>/status.
func statusKB(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("status of %d: %w", pid, err)
	}
	return fieldKB(b, name)
}

// fieldKB finds "name: N kB" in the text of a status or smaps_rollup file.
func fieldKB(b []byte, name string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no %s line", name)
}

// pssKB is the proportional set size of pid and its descendants: shared
// pages (Kamailio's shared memory, mapped by every process) are counted
// once across the tree, split between the processes mapping them.
func pssKB(pid int) int64 {
	var sum int64
	for p := range tree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		if kb, err := fieldKB(b, "Pss"); err == nil {
			sum += kb
		}
	}
	return sum
}

// memSampler samples the PSS of a process tree every interval and keeps
// the peak: Kamailio's memory is spread over processes with a shared
// segment, so no single VmHWM says it.
type memSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak int64
}

func startSampler(pid int, every time.Duration) *memSampler {
	m := &memSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	kb := pssKB(m.pid)
	m.mu.Lock()
	m.peak = max(m.peak, kb)
	m.mu.Unlock()
}

// Peak returns the highest PSS seen so far, in kB.
func (m *memSampler) Peak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

// Stop ends the sampling (idempotent only through the caller).
func (m *memSampler) Stop() {
	close(m.stop)
	<-m.done
}

// loadAvg returns the first field of /proc/loadavg ("" if unreadable).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the model name of the first CPU and the CPU count.
func cpuModel() (string, int) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown", 0
	}
	model, n := "unknown", 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			if model == "unknown" {
				model = strings.TrimSpace(v)
			}
		}
	}
	return model, n
}
