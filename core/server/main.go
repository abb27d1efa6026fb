// Package server is the program behind every flavor's binary: command-line
// options, configuration loading, module lifecycle, transports, workers and
// signals. A flavor's main package calls Main with its identity.
package server

import (
	"fmt"
	"io"
	"os"

	"sip-router.org/core/db"
	"sip-router.org/core/flavor"
	"sip-router.org/core/module"
)

// Main runs the server for a flavor and exits with its status.
func Main(f *flavor.Flavor) {
	os.Exit(Run(f, os.Args[1:], os.Stdout, os.Stderr))
}

// Run is Main without the exit: it returns the exit status.
func Run(f *flavor.Flavor, args []string, stdout, stderr io.Writer) int {
	opts, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.Binary, err)
		return 2
	}
	if opts.Help {
		fmt.Fprintf(stdout, usage, f.Binary, f.ConfigPath())
		return 0
	}
	if opts.Version {
		f.PrintVersion(stdout)
		return 0
	}
	if opts.DumpSchema != "" {
		if err := DumpSchema(opts.DumpSchema); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f.Binary, err)
			return 1
		}
		return 0
	}
	return run(f, opts, stdout, stderr)
}

// DumpSchema writes the SQL schema of every compiled-in module that owns
// tables: one group per module, as Kamailio's <module>-create.sql files.
func DumpSchema(dir string) error {
	var groups []db.Group
	for _, m := range module.All() {
		if len(m.TableDefs) > 0 {
			groups = append(groups, db.Group{Name: m.Name, Tables: m.TableDefs})
		}
	}
	d, err := db.RenderDump(groups)
	if err != nil {
		return fmt.Errorf("dump schema: %w", err)
	}
	return d.WriteFiles(dir)
}
