// Command flavorgen turns a flavor manifest into the committed Go files of
// its binary (flavors/<name>/zmodules.go) after checking the module mix.
//
// Usage:
//
//	flavorgen -manifest flavors/kamailio.toml [-include "tree/name ..."] [-exclude "..."] [-check] [-print-modules]
//
// -check writes nothing and fails when a generated file is stale.
// -print-modules lists the modules, per tree, that the mix includes and
// leaves out. It is run by `go generate` (see flavors/<name>/main.go) and
// by the build (tools/cmd/srbuild).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"sip-router.org/tools/gen"
)

func main() {
	manifest := flag.String("manifest", "", "flavor manifest (flavors/NAME.toml)")
	include := flag.String("include", "", "modules to add: tree/name, space-separated")
	exclude := flag.String("exclude", "", "modules to leave out: tree/name or globs, space-separated")
	check := flag.Bool("check", false, "write nothing; fail if a generated file is stale")
	printMods := flag.Bool("print-modules", false, "list included and excluded modules per tree")
	flag.Parse()
	if *manifest == "" {
		fmt.Fprintln(os.Stderr, "flavorgen: -manifest is required")
		os.Exit(2)
	}
	root, err := gen.FindRoot(".")
	if err != nil {
		fail(err)
	}
	r, err := gen.Generate(gen.Options{
		Root: root, Manifest: *manifest,
		Include: strings.Fields(*include), Exclude: strings.Fields(*exclude),
	})
	if err != nil {
		fail(err)
	}
	if *printMods {
		gen.PrintModules(os.Stdout, r)
		return
	}
	if *check {
		stale, err := r.Stale(root)
		if err != nil {
			fail(err)
		}
		if len(stale) > 0 {
			fail(fmt.Errorf("generated files are stale (run make generate): %s", strings.Join(stale, " ")))
		}
		return
	}
	written, err := r.Write(root)
	if err != nil {
		fail(err)
	}
	for _, f := range written {
		fmt.Fprintf(os.Stderr, "flavorgen: wrote %s\n", f)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
