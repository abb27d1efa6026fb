package siptest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/server"
	"sip-router.org/core/stats"
)

// Modules is a configuration loaded and its modules initialised as the
// server does it, with registries of their own for the RPCs and the
// statistics. The modules are destroyed at the end of the test, or
// before by Stop.
type Modules struct {
	Loaded *server.Loaded
	RPC    *rpc.Registry
	Stats  *stats.Registry
	t      testing.TB
	done   bool
}

// InitModules loads config and initialises its modules as flavor f
// (TestFlavor when nil), logging nowhere. The error is Init's; the
// modules are destroyed at the end of the test whatever it is.
func InitModules(t testing.TB, config string, f *flavor.Flavor) (*Modules, error) {
	t.Helper()
	if f == nil {
		f = TestFlavor()
	}
	l := Load(t, config)
	m := &Modules{Loaded: l, RPC: rpc.NewRegistry(), Stats: stats.New(), t: t}
	err := l.Modules.Init(module.InitEnv{Log: slog.New(slog.DiscardHandler), RPC: m.RPC, Stats: m.Stats, Flavor: f})
	t.Cleanup(m.Stop)
	return m, err
}

// Stop destroys the modules (the shutdown work of their Destroy), once.
func (m *Modules) Stop() {
	if !m.done {
		m.done = true
		m.Loaded.Modules.Destroy()
	}
}

// Instance returns the instance of a loaded module, failing the test
// when it is not loaded.
func (m *Modules) Instance(name string) any {
	m.t.Helper()
	mi, ok := m.Loaded.Modules.Get(name)
	if !ok {
		m.t.Fatalf("module %s is not loaded", name)
	}
	return mi.Value
}

// Call runs an RPC command.
func (m *Modules) Call(method string, params ...string) (any, error) {
	return m.RPC.Call(&rpc.Request{Method: method, Params: params})
}

// Stat returns the value of a statistic ("usrloc:location-users"),
// failing the test when there is none.
func (m *Modules) Stat(name string) int64 {
	m.t.Helper()
	v, err := m.Stats.Get(name)
	if err != nil {
		m.t.Fatalf("statistic %s: %v", name, err)
	}
	return v[name]
}

// InitErr loads config, initialises its modules as the server does (the
// test flavor, Init bounded by 10 s) and destroys them again. It returns
// Init's error, for the tests of start-up failures.
func InitErr(t testing.TB, config string) error {
	t.Helper()
	l := Load(t, config)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.Modules.Init(module.InitEnv{Ctx: ctx, Flavor: TestFlavor()})
	l.Modules.Destroy()
	return err
}

// ConfigDir is the folder of the shared reference configurations
// (kamailio-3.0.0.cfg, ser-3.0.3.cfg …), found above the working
// directory, or "" when there is none.
func ConfigDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "testdata", "configs")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// ReadConfig reads a configuration of ConfigDir (or the file path, when
// file is not a bare name) with defines in front (#!define NAME),
// skipping the test when it is not there.
func ReadConfig(t testing.TB, file string, defines ...string) string {
	t.Helper()
	path := file
	if filepath.Base(file) == file {
		dir := ConfigDir()
		if dir == "" {
			t.Skip("shared/testdata/configs not found")
		}
		path = filepath.Join(dir, file)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("config not available: %v", err)
	}
	text := string(b)
	for _, d := range defines {
		text = "#!define " + d + "\n" + text
	}
	return text
}

// CheckConfig loads a configuration (-c) and fails the test on every
// line of the error that ours matches: errors about the modules a test
// is about. The other lines — modules this test binary does not link,
// or that are not written yet — are logged.
func CheckConfig(t testing.TB, text string, ours *regexp.Regexp) {
	t.Helper()
	_, err := LoadErr(t, text)
	if err == nil {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		switch {
		case ours.MatchString(line):
			t.Errorf("%s", line)
		case strings.TrimSpace(line) != "":
			t.Logf("other module: %s", line)
		}
	}
}
