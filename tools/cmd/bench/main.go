// Command bench is the load harness of the project: it runs sipp
// scenarios (scripts/bench/) against this project's server and, when it
// is installed, Debian's Kamailio 5.6 with the same config files, steps
// the call rate up until calls fail, and writes a table of the highest
// zero-failure rate, the CPU time per 1000 calls, the peak memory and the
// response times of each, with their ratio.
//
//	go run ./tools/cmd/bench [-quick] [-scenarios stateless,stateful] [-out build/bench/report.md]
//
// `make bench` builds the kamailio flavor and runs it. Everything listens
// on 127.0.0.1 on free ports; every run is bounded in calls and seconds.
// See scripts/bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// memEvery is the period of the memory samplers.
const memEvery = 100 * time.Millisecond

// bisectRounds bounds the bisection after the first failed rate.
const bisectRounds = 2

// options are the command line of the harness.
type options struct {
	Root        string
	Ours        string
	Baseline    string
	Kamailio    string
	KamModules  string
	Sipp        string
	Scenarios   []string
	Rates       []int
	Step        time.Duration
	Settle      time.Duration
	Children    int
	Contacts    int
	MemRate     int
	Out         string
	Budget      time.Duration
	Quick       bool
	Retry       bool
	Bisect      bool
	WarmupCalls int
	Pprof       string
}

// allScenarios is the default -scenarios list, in run order.
var allScenarios = []string{"ceiling", "stateless", "stateful", "register", "memory", "auth-sqlite", "auth-mysql", "auth-postgres"}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var scen, rates string
	fs.StringVar(&o.Root, "root", "", "the source tree (default: the folder holding go.work, from the working folder up)")
	fs.StringVar(&o.Ours, "ours", "", "our server binary (default ROOT/build/kamailio/sbin/kamailio)")
	fs.StringVar(&o.Baseline, "baseline", "", "another build of our server to run beside it (e.g. before a change), reported as \"baseline\" with the ratio ours / baseline")
	fs.StringVar(&o.Kamailio, "kamailio", "/usr/sbin/kamailio", "Kamailio 5.6 binary to compare with; \"none\" to skip")
	fs.StringVar(&o.KamModules, "kamailio-modules", "/usr/lib/x86_64-linux-gnu/kamailio/modules", "Kamailio's module folder (-L)")
	fs.StringVar(&o.Sipp, "sipp", "sipp", "sipp binary")
	fs.StringVar(&scen, "scenarios", strings.Join(allScenarios, ","), "scenarios to run, in this order")
	fs.StringVar(&rates, "rates", "500,1000,2000,3000,4000,5000,6000,8000,10000,12000", "call rates (per second) of the steps")
	fs.DurationVar(&o.Step, "step", 2*time.Second, "duration of one step (calls = rate × step)")
	fs.DurationVar(&o.Settle, "settle", 500*time.Millisecond, "pause after each step, inside its CPU measurement")
	fs.IntVar(&o.Children, "children", 2, "children= of both servers (our worker pool is 4 goroutines per child; Kamailio forks one process per child)")
	fs.IntVar(&o.Contacts, "contacts", 100000, "contacts registered by the memory scenario")
	fs.IntVar(&o.MemRate, "memrate", 0, "REGISTER rate of the memory scenario (0: 70 % of the lower zero-failure rate of the register scenario, at most 4000)")
	fs.StringVar(&o.Out, "out", "", "report file (default ROOT/build/bench/report.md)")
	fs.DurationVar(&o.Budget, "budget", 8*time.Minute+30*time.Second, "time for the whole run, shared between the scenarios (a scenario stops stepping up when its share is spent)")
	fs.BoolVar(&o.Quick, "quick", false, "smoke test: one 1-second step at 50 calls/s of each scenario, no retry, no bisection, no memory scenario")
	fs.BoolVar(&o.Retry, "retry", true, "run a failed step once more before calling the rate failed (the machine may be shared)")
	fs.BoolVar(&o.Bisect, "bisect", true, "after the first failed rate, try the rate halfway between it and the last good one")
	fs.IntVar(&o.WarmupCalls, "warmup", 200, "calls of the warm-up run before the steps (not measured)")
	fs.StringVar(&o.Pprof, "pprof", "", "write CPU and allocation profiles of our server, one pair per scenario, to this folder (the profiler costs CPU: figures of such a run are not comparable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (known: %s)", s, strings.Join(allScenarios, ", "))
		}
		o.Scenarios = append(o.Scenarios, s)
	}
	for _, r := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-rates: bad rate %q", r)
		}
		o.Rates = append(o.Rates, n)
	}
	slices.Sort(o.Rates)
	if o.Quick {
		o.Rates, o.Step, o.Settle = []int{50}, time.Second, 200*time.Millisecond
		o.Retry, o.Bisect, o.WarmupCalls = false, false, 20
		o.Scenarios = slices.DeleteFunc(o.Scenarios, func(s string) bool { return s == "memory" })
	}
	return o, nil
}

// findRoot returns the folder holding go.work, from dir up.
func findRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work in %s or above it (use -root)", dir)
		}
	}
}

// harness is one run.
type harness struct {
	opts     *options
	benchDir string // scripts/bench
	workDir  string // build/bench/run
	impls    []*impl
	ports    ports
	started  time.Time
	deadline time.Time
	// scenDeadline is the end of the running scenario's share of the
	// budget (see share).
	scenDeadline time.Time
	runs         int
	progress     io.Writer
	notes        []string
	results      []*scenarioResult
	memory       *memoryResult
}

// run executes the harness and writes the report.
func run(ctx context.Context, o *options, stdout, progress io.Writer) error {
	if o.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if o.Root, err = findRoot(wd); err != nil {
			return err
		}
	}
	if o.Ours == "" {
		o.Ours = filepath.Join(o.Root, "build", "kamailio", "sbin", "kamailio")
	}
	if o.Out == "" {
		o.Out = filepath.Join(o.Root, "build", "bench", "report.md")
	}
	sipp, err := exec.LookPath(o.Sipp)
	if err != nil {
		return fmt.Errorf("sipp not found (apt-get install sip-tester): %w", err)
	}
	o.Sipp = sipp
	if _, err := os.Stat(o.Ours); err != nil {
		return fmt.Errorf("our server binary: %w (run make build first)", err)
	}
	h := &harness{
		opts: o, benchDir: filepath.Join(o.Root, "scripts", "bench"),
		started: time.Now(), progress: progress,
	}
	h.deadline = h.started.Add(o.Budget)
	h.workDir = filepath.Join(filepath.Dir(o.Out), "run")
	if err := os.RemoveAll(h.workDir); err != nil {
		return err
	}
	if err := os.MkdirAll(h.workDir, 0o755); err != nil {
		return err
	}
	h.impls = append(h.impls, ours(oursName, o.Ours))
	if o.Baseline != "" {
		if _, err := os.Stat(o.Baseline); err != nil {
			return fmt.Errorf("-baseline: %w", err)
		}
		h.impls = append(h.impls, ours(baselineName, o.Baseline))
	}
	switch {
	case o.Kamailio == "" || o.Kamailio == "none":
		h.note("Kamailio 5.6: not compared (-kamailio none).")
	default:
		if _, err := os.Stat(o.Kamailio); err != nil {
			h.note(fmt.Sprintf("Kamailio 5.6: not installed at %s, skipped (apt-get install kamailio kamailio-sqlite-modules).", o.Kamailio))
		} else {
			h.impls = append(h.impls, kamailio56(o.Kamailio, o.KamModules))
		}
	}
	byKey := map[string]*scenario{}
	for _, s := range scenarios() {
		byKey[s.Key] = s
	}
	for i, key := range o.Scenarios {
		if ctx.Err() != nil {
			break
		}
		h.scenDeadline = h.share(o.Scenarios[i:])
		if key == "memory" {
			h.memory = h.runMemory(ctx)
			continue
		}
		h.results = append(h.results, h.runScenario(ctx, byKey[key]))
	}
	report := h.report()
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.Out, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, report)
	fmt.Fprintf(progress, "report written to %s (%s)\n", o.Out, time.Since(h.started).Round(time.Second))
	return ctx.Err()
}

// share returns the deadline of the first of the scenarios left to run:
// the time left, less what the memory scenario needs if it is still to
// come, split between the others by weight (the number of series they
// step up: 1 for the ceiling, one per server for the rest). A scenario
// that ends early leaves its time to the ones after it.
func (h *harness) share(left []string) time.Time {
	now := time.Now()
	if left[0] == "memory" {
		return h.deadline
	}
	rest := h.deadline.Sub(now)
	weight, first := 0, 0
	for i, k := range left {
		w := len(h.impls)
		switch k {
		case "memory":
			rest -= h.memoryNeed()
			continue
		case "ceiling":
			w = 1
		}
		if i == 0 {
			first = w
		}
		weight += w
	}
	if weight == 0 || rest <= 0 {
		return now
	}
	return now.Add(rest * time.Duration(first) / time.Duration(weight))
}

// memoryNeed is the time set aside for the memory scenario: filling one
// server at 2000/s (or -memrate) and starting it, for each server.
func (h *harness) memoryNeed() time.Duration {
	rate := h.opts.MemRate
	if rate == 0 {
		rate = 2000
	}
	fill := time.Duration(float64(h.opts.Contacts) / float64(rate) * float64(time.Second))
	return time.Duration(len(h.impls)) * (fill + 10*time.Second)
}

func (h *harness) note(s string) {
	h.notes = append(h.notes, s)
	fmt.Fprintln(h.progress, s)
}

func (h *harness) logf(format string, a ...any) {
	fmt.Fprintf(h.progress, "[%5.0fs] ", time.Since(h.started).Seconds())
	fmt.Fprintf(h.progress, format+"\n", a...)
}

// series is one server (or the bare sipp pair) in one scenario.
type series struct {
	Name  string
	im    *impl
	srv   *running
	uas   *background
	env   *scenarioEnv
	dir   string
	dest  int // the port the UAC sends to
	Steps []step
	// MaxOK is the highest rate with zero failures (0: none); FailedAt
	// the lowest rate that failed (0: none did).
	MaxOK, FailedAt int
	PeakMB          float64
	Err             error
	done            bool
	budget          bool // stopped by the time budget
}

// step is one measured rate.
type step struct {
	Rate int
	Run  sippRun
	CPU  float64 // server CPU seconds during the step and its settle time
}

// CPUPer1000 is the server's CPU seconds per 1000 calls of the step.
func (s step) CPUPer1000() float64 {
	if s.Run.Counts.OK == 0 {
		return 0
	}
	return s.CPU / float64(s.Run.Counts.OK) * 1000
}

// at returns the clean step at a rate.
func (s *series) at(rate int) (step, bool) {
	for _, st := range s.Steps {
		if st.Rate == rate && st.Run.Clean() {
			return st, true
		}
	}
	return step{}, false
}

type scenarioResult struct {
	Sc      *scenario
	Series  []*series
	Skipped string
}

// runScenario runs the step-up of one scenario for every server,
// interleaved rate by rate so that load from elsewhere on the machine hits
// both alike.
func (h *harness) runScenario(ctx context.Context, sc *scenario) *scenarioResult {
	res := &scenarioResult{Sc: sc}
	h.logf("scenario %s: %s", sc.Key, sc.Title)
	var all []*series
	if sc.Cfg == "" {
		all = []*series{{Name: "sipp → sipp"}}
	} else {
		for _, im := range h.impls {
			all = append(all, &series{Name: im.Name, im: im})
		}
	}
	defer func() {
		for _, s := range all {
			if s.srv != nil {
				s.PeakMB = s.srv.PeakMB()
				s.srv.Stop()
			}
			if s.uas != nil {
				s.uas.Stop()
			}
		}
	}()
	for _, s := range all {
		err := h.prepare(ctx, sc, s)
		if err != nil && isSkip(err) {
			res.Skipped = err.Error()
			h.logf("  skipped: %s", err)
			return res
		}
		if err != nil {
			s.Err, s.done = err, true
			h.logf("  %s: %v", s.Name, err)
		}
		res.Series = append(res.Series, s)
	}
	for _, rate := range h.opts.Rates {
		for _, s := range all {
			if s.done || ctx.Err() != nil {
				continue
			}
			if time.Now().Add(h.opts.Step + 3*time.Second).After(h.scenDeadline) {
				s.done, s.budget = true, true
				continue
			}
			h.stepSeries(ctx, sc, s, rate)
		}
	}
	// Bisection: narrow the gap between the last good and the first
	// failed rate to a tenth of the good one, at most bisectRounds tries.
	for round := 0; h.opts.Bisect && round < bisectRounds; round++ {
		for _, s := range all {
			if s.FailedAt == 0 || s.MaxOK == 0 || ctx.Err() != nil || s.budget {
				continue
			}
			mid := (s.MaxOK + s.FailedAt) / 2 / 100 * 100
			if s.FailedAt-s.MaxOK <= s.MaxOK/10 || mid <= s.MaxOK || mid >= s.FailedAt ||
				time.Now().Add(h.opts.Step+3*time.Second).After(h.scenDeadline) {
				continue
			}
			s.done = false
			h.stepSeries(ctx, sc, s, mid)
		}
	}
	return res
}

// prepare starts what a series needs: database, UAS, server, and runs
// the warm-up.
func (h *harness) prepare(ctx context.Context, sc *scenario, s *series) error {
	s.dir = filepath.Join(h.workDir, sc.Key, strings.ReplaceAll(strings.ReplaceAll(s.Name, " ", "-"), "→", "to"))
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	s.env = &scenarioEnv{}
	if sc.Setup != nil && s.im != nil {
		env, err := sc.Setup(ctx, h, s.im, s.dir)
		if err != nil {
			return err
		}
		s.env = env
	}
	defines := append([]string{"CHILDREN=" + strconv.Itoa(h.opts.Children)}, s.env.Defines...)
	if sc.UAS != "" {
		port, err := h.ports.get()
		if err != nil {
			return err
		}
		s.uas, err = startBackground("uas", s.dir, h.opts.Sipp, []string{
			"-sf", filepath.Join(h.benchDir, sc.UAS), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
			"-nostdin", "-buff_size", strconv.Itoa(sippBuffer), "-default_behaviors", "all,-abortunexp",
		}, nil)
		if err != nil {
			return err
		}
		if err := waitBound(port, s.uas, 10*time.Second); err != nil {
			return err
		}
		defines = append(defines, fmt.Sprintf("NEXT_HOP=\"sip:127.0.0.1:%d\"", port))
		s.dest = port
	}
	if s.im != nil {
		port, err := h.ports.get()
		if err != nil {
			return err
		}
		var env []string
		if h.opts.Pprof != "" && s.im.Name == oursName {
			if err := os.MkdirAll(h.opts.Pprof, 0o755); err != nil {
				return err
			}
			base := filepath.Join(h.opts.Pprof, sc.Key)
			env = []string{"SIPROUTER_CPUPROFILE=" + base + "-cpu.pprof", "SIPROUTER_MEMPROFILE=" + base + "-allocs.pprof"}
		}
		srv, err := startServer(s.im, s.dir, filepath.Join(h.benchDir, sc.Cfg), port, max(sc.ShmMB, 64), defines, env)
		if err != nil {
			return err
		}
		s.srv, s.dest = srv, port
	}
	// Warm-up: the server is up and routing (a forking server's workers
	// may start after its socket is bound) and its first allocations are
	// made before anything is measured.
	var last sippRun
	for try := 0; try < 3; try++ {
		last = h.uac(ctx, sc, s, "warmup", min(100, h.opts.WarmupCalls), h.opts.WarmupCalls, false)
		if last.Clean() {
			return nil
		}
		time.Sleep(time.Second)
	}
	msg := fmt.Sprintf("warm-up failed: %s\n%s", last.Why(), last.Tail)
	if s.srv != nil {
		msg += "\nserver log:\n" + s.srv.proc.Log(20)
	}
	return errors.New(msg)
}

// uac runs one UAC at rate for calls.
func (h *harness) uac(ctx context.Context, sc *scenario, s *series, tag string, rate, calls int, watch bool) sippRun {
	h.runs++
	dir := filepath.Join(s.dir, fmt.Sprintf("%03d-%s-%d", h.runs, tag, rate))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sippRun{Calls: calls, Err: err}
	}
	port, err := h.ports.get()
	if err != nil {
		return sippRun{Calls: calls, Err: err}
	}
	args := append([]string{"-sf", filepath.Join(h.benchDir, sc.UAC)},
		uacArgs(dir, fmt.Sprintf("127.0.0.1:%d", s.dest), port, rate, calls)...)
	args = append(args, sc.UACArgs(s.env, runToken(h.runs))...)
	// Calls take milliseconds each: a step ends a moment after its last
	// call starts unless something is wrong.
	deadline := time.Duration(float64(calls)/float64(rate)*float64(time.Second)) + 15*time.Second
	return runUAC(ctx, h.opts.Sipp, dir, args, calls, deadline, watch)
}

// stepSeries measures one rate, once more if it fails and -retry is on.
func (h *harness) stepSeries(ctx context.Context, sc *scenario, s *series, rate int) {
	calls := max(int(float64(rate)*h.opts.Step.Seconds()), 1)
	for try := 0; ; try++ {
		if s.srv != nil && s.srv.proc.Exited() {
			s.Err, s.done = fmt.Errorf("server exited: %v\n%s", s.srv.proc.err, s.srv.proc.Log(20)), true
			return
		}
		cpu0 := 0.0
		if s.srv != nil {
			cpu0 = s.srv.CPU()
		}
		r := h.uac(ctx, sc, s, "step", rate, calls, true)
		time.Sleep(h.opts.Settle)
		st := step{Rate: rate, Run: r}
		if s.srv != nil {
			st.CPU = s.srv.CPU() - cpu0
		}
		s.Steps = append(s.Steps, st)
		h.logf("  %-14s %6d/s  %-40s cpu %.3f s/1000  p50 %s p99 %s ms", s.Name, rate, r.Why(), st.CPUPer1000(), fmtMS(r.P50), fmtMS(r.P99))
		if r.Clean() {
			s.MaxOK = max(s.MaxOK, rate)
			return
		}
		if try == 0 && h.opts.Retry && r.Err == nil && ctx.Err() == nil {
			time.Sleep(2 * time.Second)
			continue
		}
		if s.FailedAt == 0 || rate < s.FailedAt {
			s.FailedAt = rate
		}
		s.done = true
		return
	}
}

// memoryResult is the memory scenario: contacts registered into a fresh
// server, and its memory before and after.
type memoryResult struct {
	Rate    int
	Servers []memServer
	Skipped string
}

type memServer struct {
	Name            string
	Contacts        int
	Failed          int
	BaseMB, AfterMB float64
	PeakMB          float64
	Err             error
	Wall            time.Duration
	CPUPer1000      float64
}

// runMemory registers opts.Contacts new AORs (one per REGISTER) into a
// fresh server of each kind and measures its memory.
func (h *harness) runMemory(ctx context.Context) *memoryResult {
	res := &memoryResult{}
	sc := &scenario{Key: "memory", Cfg: "register.cfg", UAC: "register.xml", ShmMB: 512,
		UACArgs: func(_ *scenarioEnv, run string) []string { return []string{"-key", "run", "m" + run} }}
	rate := h.opts.MemRate
	if rate == 0 {
		rate = 4000
		for _, r := range h.results {
			if r.Sc.Key != "register" {
				continue
			}
			for _, s := range r.Series {
				if s.MaxOK > 0 {
					rate = min(rate, s.MaxOK*7/10)
				}
			}
		}
		rate = max(rate/100*100, 200)
	}
	res.Rate = rate
	need := time.Duration(float64(h.opts.Contacts)/float64(rate)*float64(time.Second)) + 10*time.Second
	h.logf("scenario memory: %d contacts at %d/s", h.opts.Contacts, rate)
	for _, im := range h.impls {
		if ctx.Err() != nil {
			break
		}
		if time.Now().Add(need).After(h.deadline.Add(30 * time.Second)) {
			res.Skipped = "time budget reached"
			h.logf("  skipped: time budget reached")
			break
		}
		s := &series{Name: im.Name, im: im}
		ms := memServer{Name: im.Name}
		if err := h.prepare(ctx, sc, s); err != nil {
			ms.Err = err
			if s.srv != nil {
				s.srv.Stop()
			}
			res.Servers = append(res.Servers, ms)
			continue
		}
		ms.BaseMB = s.srv.NowMB()
		cpu0 := s.srv.CPU()
		r := h.uac(ctx, sc, s, "fill", rate, h.opts.Contacts, false)
		time.Sleep(2 * time.Second)
		ms.Contacts, ms.Failed, ms.Wall = r.Counts.OK, r.Counts.Failed, r.Wall
		if r.Counts.OK > 0 {
			ms.CPUPer1000 = (s.srv.CPU() - cpu0) / float64(r.Counts.OK) * 1000
		}
		if r.Err != nil {
			ms.Err = r.Err
		}
		ms.AfterMB = s.srv.NowMB()
		ms.PeakMB = s.srv.PeakMB()
		h.logf("  %-14s %d contacts (%d failed) in %s: %.1f MB → %.1f MB (peak %.1f MB)", im.Name, ms.Contacts, ms.Failed, r.Wall.Round(time.Second), ms.BaseMB, ms.AfterMB, ms.PeakMB)
		s.srv.Stop()
		res.Servers = append(res.Servers, ms)
	}
	return res
}

func fmtMS(v float64) string {
	if v != v { // NaN
		return "–"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
