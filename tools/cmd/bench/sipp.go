package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sippCounts are the cumulative counters of a sipp run, from the last
// line of its statistics file (-trace_stat).
type sippCounts struct {
	Created, OK, Failed, Retrans int
}

// parseStatCSV reads the last data line of a sipp statistics file: a
// header line of ';'-separated column names, then one line per period.
func parseStatCSV(b []byte) (sippCounts, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return sippCounts{}, errors.New("sipp statistics: no data line")
	}
	head := strings.Split(strings.TrimSpace(lines[0]), ";")
	last := strings.Split(strings.TrimSpace(lines[len(lines)-1]), ";")
	col := func(name string) (int, error) {
		i := slices.Index(head, name)
		if i < 0 || i >= len(last) {
			return 0, fmt.Errorf("sipp statistics: no column %s", name)
		}
		return strconv.Atoi(strings.TrimSpace(last[i]))
	}
	var c sippCounts
	var err error
	for _, f := range []struct {
		name string
		v    *int
	}{
		{"OutgoingCall(C)", &c.Created},
		{"SuccessfulCall(C)", &c.OK},
		{"FailedCall(C)", &c.Failed},
		{"Retransmissions(C)", &c.Retrans},
	} {
		if *f.v, err = col(f.name); err != nil {
			return c, err
		}
	}
	return c, nil
}

// parseRTT reads the response times (ms) of a sipp -trace_rtt file:
// "Date_ms;response_time_ms;rtd_no" then one line per measure.
func parseRTT(b []byte) []float64 {
	var out []float64
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(line), ";")
		if i == 0 || len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// percentile returns the q-quantile (0 < q ≤ 1) of sorted values by the
// nearest-rank method, NaN without values.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// sippRun is the outcome of one bounded sipp UAC run.
type sippRun struct {
	Calls    int // calls asked for (-m)
	Counts   sippCounts
	P50, P99 float64 // response times, ms
	Wall     time.Duration
	Aborted  bool   // stopped early: a call failed or a retransmission happened
	Err      error  // sipp could not run or reported nothing
	Tail     string // the end of sipp's output, for the report of a failure
}

// Clean reports whether every call succeeded without retransmission.
func (r sippRun) Clean() bool {
	return r.Err == nil && !r.Aborted && r.Counts.OK == r.Calls && r.Counts.Failed == 0 && r.Counts.Retrans == 0
}

// Why says in a few words why a run is not clean.
func (r sippRun) Why() string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case r.Counts.Failed > 0 || r.Counts.Retrans > 0:
		s := fmt.Sprintf("%d failed, %d retransmissions", r.Counts.Failed, r.Counts.Retrans)
		if r.Aborted {
			s += " (stopped early)"
		}
		return s
	case r.Counts.OK != r.Calls:
		return fmt.Sprintf("%d of %d calls successful", r.Counts.OK, r.Calls)
	}
	return "ok"
}

// uacArgs are the options every UAC run gets besides the scenario's.
func uacArgs(dir string, remote string, localPort, rate, calls int) []string {
	return []string{
		remote, "-i", "127.0.0.1", "-p", strconv.Itoa(localPort),
		"-r", strconv.Itoa(rate), "-m", strconv.Itoa(calls),
		"-nostdin", "-buff_size", strconv.Itoa(sippBuffer),
		"-trace_stat", "-stf", filepath.Join(dir, "stat.csv"), "-fd", "1",
		"-trace_rtt", "-rtt_freq", "1",
	}
}

// sippBuffer is the socket buffer size given to every sipp (-buff_size):
// with sipp's 64 KiB default the load generator itself drops datagrams in
// bursts before any server does.
const sippBuffer = 4 << 20

// runUAC runs sipp as a UAC in dir until it ends, the deadline passes, or
// (with watch) the first failed call or retransmission, which ends the
// run early: a step that fails costs a second, not sipp's timeouts.
func runUAC(ctx context.Context, sipp, dir string, args []string, calls int, deadline time.Duration, watch bool) sippRun {
	r := sippRun{Calls: calls}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	out, err := os.Create(filepath.Join(dir, "sipp.out"))
	if err != nil {
		r.Err = err
		return r
	}
	defer out.Close()
	cmd := exec.Command(sipp, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Err = fmt.Errorf("start sipp: %w", err)
		return r
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-exited:
			break loop
		case <-ctx.Done():
			stopGroup(cmd.Process.Pid)
			waitErr = <-exited
			if !r.Aborted {
				r.Err = fmt.Errorf("sipp did not end within %s", deadline)
			}
			break loop
		case <-tick.C:
			if !watch {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, "stat.csv"))
			if err != nil {
				continue
			}
			if c, err := parseStatCSV(b); err == nil && (c.Failed > 0 || c.Retrans > 0) {
				r.Aborted = true
				r.Counts = c
				cancel()
			}
		}
	}
	r.Wall = time.Since(start)
	r.Tail = tailFile(filepath.Join(dir, "sipp.out"), 25)
	if b, err := os.ReadFile(filepath.Join(dir, "stat.csv")); err == nil {
		if c, err := parseStatCSV(b); err == nil {
			r.Counts = c
		} else if r.Err == nil && !r.Aborted {
			r.Err = err
		}
	} else if r.Err == nil && !r.Aborted {
		r.Err = fmt.Errorf("sipp wrote no statistics (%v)", waitErr)
	}
	var rtt []float64
	files, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			rtt = append(rtt, parseRTT(b)...)
		}
	}
	slices.Sort(rtt)
	r.P50, r.P99 = percentile(rtt, 0.5), percentile(rtt, 0.99)
	return r
}

// stopGroup ends a process group this program started: SIGTERM, then
// SIGKILL if it is still there after a moment.
func stopGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(-pgid, 0); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// background is a long-running process of the harness (a server or a
// sipp UAS), in its own process group so that everything it forks ends
// with it.
type background struct {
	name   string
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{}
	err    error
}

func startBackground(name, dir, bin string, args []string, env []string) (*background, error) {
	out, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	b := &background{name: name, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		b.err = cmd.Wait()
		close(b.exited)
	}()
	return b, nil
}

// Pid is the process id (and process group id).
func (b *background) Pid() int { return b.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (b *background) Exited() bool {
	select {
	case <-b.exited:
		return true
	default:
		return false
	}
}

// Log returns the end of the process's output.
func (b *background) Log(n int) string { return tailFile(b.out.Name(), n) }

// Stop ends the process and everything it started.
func (b *background) Stop() {
	if !b.Exited() {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(5 * time.Second):
		}
	}
	// Children left behind (Kamailio's workers if the main process died).
	stopGroup(b.Pid())
	<-b.exited
	b.out.Close()
}

// waitBound waits until something is bound on 127.0.0.1:port (UDP), or
// the process ends, or the timeout passes.
func waitBound(port int, proc *background, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !udpBound(port) {
		if proc != nil && proc.Exited() {
			return fmt.Errorf("%s exited at start: %v\n%s", proc.name, proc.err, proc.Log(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing bound on udp 127.0.0.1:%d within %s", port, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// udpBound reports whether a UDP socket is bound on 127.0.0.1:port, from
// /proc/net/udp.
func udpBound(port int) bool {
	want := fmt.Sprintf("0100007F:%04X", port)
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == want {
			return true
		}
	}
	return false
}
