package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"sip-router.org/tools/gen"
)

// runServer starts the built server in the foreground on 127.0.0.1:5060
// (udp and tcp) with its default config, keeping everything it writes
// (the SQLite database, the FIFO, the control socket) under
// build/<flavor>/run/. The database is created with the flavor's DB tool
// the first time.
func runServer(root string, r *gen.Result) error {
	m := r.Manifest
	build := filepath.Join(root, r.BuildDir)
	run := filepath.Join(build, "run")
	if err := os.MkdirAll(run, 0o750); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	dbFile := filepath.Join(run, m.Flavor.Name+".db")
	dbURL := "sqlite://" + dbFile
	if m.Tools.DB != "" {
		if err := prepareDB(filepath.Join(build, "sbin", m.Tools.DB), dbFile); err != nil {
			return err
		}
	}
	args := []string{
		"-DD", "-E",
		"-f", filepath.Join(build, "etc", m.Config.File),
		"-l", "udp:127.0.0.1:5060", "-l", "tcp:127.0.0.1:5060",
		"-A", fmt.Sprintf("DBURL=%q", dbURL),
		"-A", fmt.Sprintf("FIFO=%q", filepath.Join(run, m.Flavor.Name+"_fifo")),
		"-A", fmt.Sprintf("CTLSOCK=%q", "unix:"+filepath.Join(run, m.Flavor.Name+"_ctl")),
	}
	bin := filepath.Join(build, "sbin", m.Flavor.Binary)
	step(fmt.Sprintf("running %s on 127.0.0.1:5060 (udp, tcp); stop with Ctrl-C", bin))
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		_ = cmd.Process.Signal(s)
	}()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w", m.Flavor.Binary, err)
	}
	return nil
}

// prepareDB makes the SQLite database of make run with the flavor's DB
// tool: created the first time, upgraded in place (migrate) afterwards,
// so that a database made by an older build still has the tables and
// versions the server expects. DBENGINE and DB_PATH in the environment
// override whatever rc file the developer has.
func prepareDB(tool, dbFile string) error {
	if _, err := os.Stat(tool); err != nil {
		return nil // no DB tool in this tree
	}
	verb := "migrate"
	switch _, err := os.Stat(dbFile); {
	case os.IsNotExist(err):
		verb = "create"
		step("creating the SQLite database " + dbFile)
	case err != nil:
		return fmt.Errorf("run: %w", err)
	}
	cmd := exec.Command(tool, "-y", verb)
	cmd.Env = append(os.Environ(), "DBENGINE=SQLITE", "DB_PATH="+dbFile, "DBNAME="+dbFile)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(tool), verb, err)
	}
	return nil
}
