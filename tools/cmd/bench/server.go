package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Names of the servers in the report.
const (
	oursName     = "ours"
	baselineName = "baseline"
	kamailioName = "kamailio 5.6"
)

// impl is a SIP server under test: ours (or a baseline build of ours) or
// Debian's Kamailio.
type impl struct {
	// Name is the column header of the report (oursName, ...).
	Name string
	// Ours is set for a build of this project (ours or the baseline).
	Ours bool
	// Bin is the binary.
	Bin string
	// Version is what -v/-V printed (first line).
	Version string
	// args returns the command line for a config file, a runtime folder,
	// the shared memory size (MB) and the -A defines.
	args func(cfg, rundir string, shmMB int, defines []string) []string
}

// ours is a kamailio binary of this project, under a name.
func ours(name, bin string) *impl {
	return &impl{
		Name: name, Ours: true, Bin: bin, Version: firstLine(bin, "-V"),
		args: func(cfg, _ string, _ int, defines []string) []string {
			a := []string{"-DD", "-E", "-f", cfg}
			for _, d := range defines {
				a = append(a, "-A", d)
			}
			return a
		},
	}
}

// kamailio56 is Debian's Kamailio, run in the foreground with its modules
// from modDir, a private runtime folder, shmMB of shared memory and 8 MB
// of private memory per process.
func kamailio56(bin, modDir string) *impl {
	return &impl{
		Name: kamailioName, Bin: bin, Version: firstLine(bin, "-v"),
		args: func(cfg, rundir string, shmMB int, defines []string) []string {
			a := []string{"-DD", "-E", "-f", cfg, "-L", modDir, "-Y", rundir,
				"-m", strconv.Itoa(shmMB), "-M", "8"}
			for _, d := range defines {
				a = append(a, "-A", d)
			}
			return a
		},
	}
}

// firstLine runs bin with one option and returns the first line printed.
func firstLine(bin, opt string) string {
	out, err := exec.Command(bin, opt).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "?"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// running is a started server.
type running struct {
	impl *impl
	proc *background
	port int
	mem  *memSampler
}

// startServer starts impl with a scenario config and environment and
// waits until its UDP port is bound.
func startServer(im *impl, dir, cfg string, port, shmMB int, defines, env []string) (*running, error) {
	rundir := filepath.Join(dir, "run")
	if err := os.MkdirAll(rundir, 0o755); err != nil {
		return nil, err
	}
	defines = append([]string{"LISTEN_PORT=" + strconv.Itoa(port)}, defines...)
	name := strings.ReplaceAll(im.Name, " ", "-")
	p, err := startBackground(name, dir, im.Bin, im.args(cfg, rundir, shmMB, defines), env)
	if err != nil {
		return nil, err
	}
	if err := waitBound(port, p, 20*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return &running{impl: im, proc: p, port: port, mem: startSampler(p.Pid(), memEvery)}, nil
}

// Stop stops the server and its memory sampler.
func (r *running) Stop() {
	r.mem.Stop()
	r.proc.Stop()
}

// CPU is the CPU time the server used so far, all processes together.
func (r *running) CPU() float64 { return cpuSeconds(r.proc.Pid()) }

// PeakMB is the peak memory of the server so far: VmHWM for a single
// process (ours), the peak sampled PSS of the process tree for a server
// made of several processes sharing memory (Kamailio).
func (r *running) PeakMB() float64 {
	if len(tree(r.proc.Pid())) == 1 {
		if kb, err := statusKB(r.proc.Pid(), "VmHWM"); err == nil {
			return float64(kb) / 1024
		}
	}
	return float64(r.mem.Peak()) / 1024
}

// NowMB is the memory of the server now: VmRSS of a single process, the
// PSS of the tree otherwise.
func (r *running) NowMB() float64 {
	if len(tree(r.proc.Pid())) == 1 {
		if kb, err := statusKB(r.proc.Pid(), "VmRSS"); err == nil {
			return float64(kb) / 1024
		}
	}
	return float64(pssKB(r.proc.Pid())) / 1024
}

// ports hands out UDP ports free on 127.0.0.1, never the same one twice
// in a run.
type ports struct {
	mu   sync.Mutex
	used map[int]bool
}

func (p *ports) get() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == nil {
		p.used = map[int]bool{}
	}
	for range 100 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if !p.used[port] {
			p.used[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("free port: none found")
}
