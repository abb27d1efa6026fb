package siptest_test

import (
	"regexp"
	"strings"
	"testing"

	"sip-router.org/core/siptest"
)

func TestInitModules(t *testing.T) {
	m, err := siptest.InitModules(t, "route { drop; }\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Call("no.such.command"); err == nil {
		t.Error("an unknown command answered")
	}
	m.Stop()
	m.Stop() // once only
	if err := siptest.InitErr(t, "route { drop; }\n"); err != nil {
		t.Errorf("InitErr: %v", err)
	}
}

func TestConfigs(t *testing.T) {
	if siptest.ConfigDir() == "" {
		t.Skip("shared/testdata/configs not found")
	}
	text := siptest.ReadConfig(t, "kamailio-3.0.0.cfg", "WITH_AUTH")
	if !strings.HasPrefix(text, "#!define WITH_AUTH\n") || !strings.Contains(text, "route") {
		t.Errorf("ReadConfig: %.80q", text)
	}
	// Errors about other modules are only logged.
	siptest.CheckConfig(t, "loadmodule \"nosuch.so\"\nroute { drop; }\n", regexp.MustCompile(`\bmine\b`))
	// An error about ours fails the test: seen through a test double.
	ft := &fakeT{TB: t}
	siptest.CheckConfig(ft, "loadmodule \"nosuch.so\"\nroute { drop; }\n", regexp.MustCompile(`nosuch`))
	if !ft.failed {
		t.Error("an error about ours did not fail the test")
	}
}

// fakeT records Errorf instead of failing.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Logf(string, ...any)   {}
func (f *fakeT) Helper()               {}
