package server

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiling of a running server, for the load harness (tools/cmd/bench)
// and anyone measuring it: with SIPROUTER_CPUPROFILE set to a file name,
// the server records a CPU profile from start to shutdown; with
// SIPROUTER_MEMPROFILE, it writes the allocation profile (pprof's
// "allocs": every allocation since start, and the live heap) at shutdown.
// Read them with `go tool pprof BINARY FILE`.
const (
	cpuProfileEnv = "SIPROUTER_CPUPROFILE"
	memProfileEnv = "SIPROUTER_MEMPROFILE"
)

// startProfiles starts what the environment asks for and returns the
// function that ends it and writes the files.
func startProfiles() (stop func() error, err error) {
	cpuPath, memPath := os.Getenv(cpuProfileEnv), os.Getenv(memProfileEnv)
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("%s: %w", cpuProfileEnv, err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("%s: %w", cpuProfileEnv, err)
		}
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", cpuProfileEnv, err))
			}
		}
		if memPath != "" {
			if err := writeAllocs(memPath); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", memProfileEnv, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the live heap as of now
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
