// Command srpkg makes the .deb and .rpm packages of a built flavor. It
// reads build/<flavor>/flavor.json (written by srbuild build) and the
// flavor manifest it names, stages every file of the package under
// build/<flavor>/stage/, and writes
// dist/<name>_<version>-<rel>_<arch>.deb and
// dist/<name>-<version>-<rel>.<arch>.rpm. srbuild's package verb runs it;
// it prints one "==> " line per step.
//
// Usage:
//
//	srpkg [-root DIR] [-dist DIR] [-release N] [-formats deb,rpm] build/<flavor>/flavor.json
//
// The time stamped into the packages is $SOURCE_DATE_EPOCH, else the
// commit time of HEAD: the same commit gives byte-identical packages.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sip-router.org/packaging/internal/pkg"
)

func main() {
	root := flag.String("root", ".", "repository root")
	dist := flag.String("dist", "dist", "output folder (relative to the root)")
	release := flag.String("release", "", "package release (default: package.release of the manifest)")
	formats := flag.String("formats", strings.Join(pkg.Formats, ","), "package formats")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: srpkg [-root DIR] [-dist DIR] [-release N] [-formats deb,rpm] build/<flavor>/flavor.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*root, flag.Arg(0), *dist, *release, *formats); err != nil {
		fmt.Fprintln(os.Stderr, "srpkg:", err)
		os.Exit(1)
	}
}

func run(root, infoFile, dist, release, formats string) error {
	s, err := pkg.NewSpec(pkg.Options{Root: root, InfoFile: infoFile, Release: release})
	if err != nil {
		return err
	}
	for _, sk := range s.Skipped {
		step("left out of the package: " + sk)
	}
	p, err := pkg.MakePlan(s)
	if err != nil {
		return err
	}
	stageDir := filepath.Join(s.BuildDir, "stage")
	st, err := pkg.WriteStage(p, stageDir)
	if err != nil {
		return err
	}
	step(fmt.Sprintf("staged %d files of %s %s under %s", len(p.Entries), s.Package, s.FullVersion(), rel(s.Root, stageDir)))
	if !filepath.IsAbs(dist) {
		dist = filepath.Join(s.Root, dist)
	}
	for _, f := range strings.Split(formats, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		out, err := st.BuildFile(f, s.MTime, dist)
		if err != nil {
			return err
		}
		step("wrote " + rel(s.Root, out))
	}
	return nil
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func step(s string) { fmt.Fprintln(os.Stderr, "==> "+s) }
