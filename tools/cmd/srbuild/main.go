// Command srbuild is the build driver behind the Makefile: it resolves the
// flavor (flag, manifest, or the branch's default in flavors/default),
// checks and generates the module mix, compiles the server and its tools
// into build/<flavor>/, and stages the default config there. The package
// verb then runs the packaging program (packaging/cmd/srpkg, a separate
// Go module: srbuild does not link the packager) on build/<flavor>/ to
// write the .deb and .rpm into dist/. It prints one line per step.
//
// Usage:
//
//	srbuild [-flavor NAME | -manifest FILE] [-include "..."] [-exclude "..."] [-release N] [-dist DIR] build|run|package|print-modules|generate|check-generated|info
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sip-router.org/tools/gen"
)

func main() {
	flavorName := flag.String("flavor", "", "flavor name (default: the branch's, from flavors/default)")
	manifest := flag.String("manifest", "", "manifest file for a custom mix")
	include := flag.String("include", "", "modules to add (tree/name ...)")
	exclude := flag.String("exclude", "", "modules to leave out (tree/name or globs ...)")
	release := flag.String("release", "", "package: the package release (default: package.release of the manifest)")
	dist := flag.String("dist", "dist", "package: the output folder")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: srbuild [-flavor NAME | -manifest FILE] [-include LIST] [-exclude LIST] [-release N] [-dist DIR] build|run|package|print-modules|generate|check-generated|info")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	root, err := gen.FindRoot(".")
	if err != nil {
		fail(err)
	}
	cmd := flag.Arg(0)
	if cmd == "check-generated" {
		if err := checkAll(root); err != nil {
			fail(err)
		}
		step("generated files are up to date")
		return
	}
	mpath, err := resolveManifest(root, *flavorName, *manifest)
	if err != nil {
		fail(err)
	}
	r, err := gen.Generate(gen.Options{
		Root: root, Manifest: mpath,
		Include: strings.Fields(*include), Exclude: strings.Fields(*exclude),
	})
	if err != nil {
		fail(err)
	}
	switch cmd {
	case "print-modules":
		gen.PrintModules(os.Stdout, r)
	case "generate":
		if _, err := generate(root, r); err != nil {
			fail(err)
		}
	case "info":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info(r)); err != nil {
			fail(err)
		}
	case "build":
		if err := build(root, r); err != nil {
			fail(err)
		}
	case "run":
		if err := build(root, r); err != nil {
			fail(err)
		}
		if err := runServer(root, r); err != nil {
			fail(err)
		}
	case "package":
		// Packages carry position-independent binaries without cgo: no
		// dependency on the build machine's C library, so one .deb or
		// .rpm installs on any release of a distribution.
		releaseBuild = true
		if err := build(root, r); err != nil {
			fail(err)
		}
		if err := packageFlavor(root, r, *release, *dist); err != nil {
			fail(err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// resolveManifest picks the manifest: -manifest, else flavors/<flavor>.toml,
// else the branch's default flavor from flavors/default.
func resolveManifest(root, flavorName, manifest string) (string, error) {
	if manifest != "" {
		if _, err := os.Stat(manifest); err != nil {
			return "", fmt.Errorf("manifest: %w", err)
		}
		abs, err := filepath.Abs(manifest)
		if err != nil {
			return "", fmt.Errorf("manifest: %w", err)
		}
		return abs, nil
	}
	if flavorName == "" {
		b, err := os.ReadFile(filepath.Join(root, "flavors", "default"))
		if err != nil {
			return "", fmt.Errorf("no flavor given and no default: %w", err)
		}
		flavorName = strings.TrimSpace(string(b))
		if flavorName == "" || strings.ContainsAny(flavorName, " \t\n/") {
			return "", fmt.Errorf("flavors/default must hold one flavor name, not %q", string(b))
		}
	}
	p := filepath.Join("flavors", flavorName+".toml")
	if _, err := os.Stat(filepath.Join(root, p)); err != nil {
		avail, _ := filepath.Glob(filepath.Join(root, "flavors", "*.toml"))
		var names []string
		for _, a := range avail {
			names = append(names, strings.TrimSuffix(filepath.Base(a), ".toml"))
		}
		return "", fmt.Errorf("unknown flavor %q (flavors: %s)", flavorName, strings.Join(names, ", "))
	}
	return p, nil
}

func generate(root string, r *gen.Result) ([]string, error) {
	written, err := r.Write(root)
	if err != nil {
		return nil, err
	}
	trees, err := gen.TreeFiles(root)
	if err != nil {
		return nil, err
	}
	more, err := gen.WriteFiles(root, trees)
	if err != nil {
		return nil, err
	}
	written = append(written, more...)
	for _, f := range written {
		step("generated " + f)
	}
	return written, nil
}

// checkAll fails when the committed generated file of any standard flavor
// is stale.
func checkAll(root string) error {
	manifests, err := filepath.Glob(filepath.Join(root, "flavors", "*.toml"))
	if err != nil {
		return fmt.Errorf("check generated: %w", err)
	}
	var stale []string
	for _, m := range manifests {
		rel, _ := filepath.Rel(root, m)
		r, err := gen.Generate(gen.Options{Root: root, Manifest: rel})
		if err != nil {
			return err
		}
		s, err := r.Stale(root)
		if err != nil {
			return err
		}
		stale = append(stale, s...)
	}
	trees, err := gen.TreeFiles(root)
	if err != nil {
		return err
	}
	s, err := gen.StaleFiles(root, trees)
	if err != nil {
		return err
	}
	stale = append(stale, s...)
	if len(stale) > 0 {
		return fmt.Errorf("generated files are stale; run make generate and commit: %s", strings.Join(stale, " "))
	}
	return nil
}

// Info is what build/<flavor>/flavor.json records for later steps
// (packaging, run).
type Info struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Binary    string   `json:"binary"`
	Version   string   `json:"version"`
	Custom    bool     `json:"custom"`
	Manifest  string   `json:"manifest"`
	BuildDir  string   `json:"build_dir"`
	Config    string   `json:"config"`
	ConfigDir string   `json:"config_dir"`
	CtlTool   string   `json:"ctl_tool,omitempty"`
	CtlRC     string   `json:"ctl_rc,omitempty"`
	DBTool    string   `json:"db_tool,omitempty"`
	Modules   []string `json:"modules"`
	BuildTags []string `json:"build_tags"`
	// Defaults are the flavor's default core settings (fifo, ctl_socket,
	// db_url, user …) and DB its database identity, for the tools.
	Defaults map[string]string `json:"defaults"`
	DB       InfoDB            `json:"db"`
}

// InfoDB is the flavor's database identity.
type InfoDB struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Tables []string `json:"tables"`
}

func info(r *gen.Result) Info {
	in := Info{
		ID: r.ID, Name: r.Manifest.Flavor.Name, Binary: r.Manifest.Flavor.Binary,
		Version: r.Version, Custom: r.Custom, Manifest: r.ManifestRel, BuildDir: r.BuildDir,
		Config: r.Manifest.Config.File, ConfigDir: r.Manifest.Config.Dir,
		CtlTool: r.Manifest.Tools.Ctl, CtlRC: r.Manifest.Tools.CtlRC, DBTool: r.Manifest.Tools.DB,
		BuildTags: r.Manifest.Build.Tags, Defaults: r.Manifest.Defaults,
		DB: InfoDB{Name: r.Manifest.DB.Name, URL: r.Manifest.DB.URL, Tables: r.Manifest.DB.Tables},
	}
	for _, m := range r.Modules {
		in.Modules = append(in.Modules, m.ID())
	}
	return in
}

func build(root string, r *gen.Result) error {
	step(fmt.Sprintf("flavor %s: %d modules (%s)", r.ID, len(r.Modules), r.ManifestRel))
	if _, err := generate(root, r); err != nil {
		return err
	}
	out := filepath.Join(root, r.BuildDir)
	for _, d := range []string{"sbin", "etc"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	ldflags := gen.LDFlags(root)
	tags := strings.Join(r.Manifest.Build.Tags, ",")
	bin := filepath.Join(r.BuildDir, "sbin", r.Manifest.Flavor.Binary)
	if err := goBuild(root, bin, "./"+r.PkgDir, tags, ldflags); err != nil {
		return err
	}
	step("built " + bin)
	for _, t := range tools(r) {
		if _, err := os.Stat(filepath.Join(root, t.pkg)); err != nil {
			continue // tool not in this tree yet
		}
		dst := filepath.Join(r.BuildDir, "sbin", t.name)
		flags := ldflags + " -X main.toolName=" + t.name + " -X main.flavorName=" + r.Manifest.Flavor.Name
		if err := goBuild(root, dst, "./"+t.pkg, "", flags); err != nil {
			return err
		}
		step("built " + dst)
	}
	share := filepath.Join(r.BuildDir, "share", r.Manifest.Flavor.Name)
	if err := os.RemoveAll(filepath.Join(root, share)); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	dump := exec.Command(filepath.Join(root, bin), "--dump-schema", filepath.Join(root, share))
	dump.Stdout, dump.Stderr = os.Stderr, os.Stderr
	if err := dump.Run(); err != nil {
		return fmt.Errorf("dump schema: %w", err)
	}
	step("wrote the SQL schema to " + share)
	cfgSrc := filepath.Join(root, r.Manifest.Config.Default)
	cfg, err := os.ReadFile(cfgSrc)
	if err != nil {
		return fmt.Errorf("default config: %w", err)
	}
	cfgDst := filepath.Join(r.BuildDir, "etc", r.Manifest.Config.File)
	if err := os.WriteFile(filepath.Join(root, cfgDst), cfg, 0o644); err != nil {
		return fmt.Errorf("stage config: %w", err)
	}
	step("staged " + cfgDst)
	js, err := json.MarshalIndent(info(r), "", "  ")
	if err != nil {
		return fmt.Errorf("build info: %w", err)
	}
	// The same record goes with the schema into share/<flavor>/, where the
	// installed tools find the flavor's names and defaults.
	for _, f := range []string{filepath.Join(out, "flavor.json"), filepath.Join(root, share, "flavor.json")} {
		if err := os.WriteFile(f, append(js, '\n'), 0o644); err != nil {
			return fmt.Errorf("build info: %w", err)
		}
	}
	return nil
}

// packageFlavor builds the packaging program and runs it on the build:
// it stages the package contents under build/<flavor>/stage/ and writes
// the .deb and .rpm into dist.
func packageFlavor(root string, r *gen.Result, release, dist string) error {
	srpkg := filepath.Join("build", ".tools", "srpkg")
	cmd := exec.Command("go", "build", "-o", srpkg, "./packaging/cmd/srpkg")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the packaging program: %w", err)
	}
	step("built " + srpkg)
	args := []string{"-root", root, "-dist", dist}
	if release != "" {
		args = append(args, "-release", release)
	}
	args = append(args, filepath.Join(r.BuildDir, "flavor.json"))
	cmd = exec.Command(filepath.Join(root, srpkg), args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("package %s: %w", r.ID, err)
	}
	return nil
}

type tool struct{ name, pkg string }

func tools(r *gen.Result) []tool {
	var ts []tool
	if r.Manifest.Tools.Ctl != "" {
		ts = append(ts, tool{r.Manifest.Tools.Ctl, "tools/cmd/ctltool"})
	}
	if r.Manifest.Tools.DB != "" {
		ts = append(ts, tool{r.Manifest.Tools.DB, "tools/cmd/dbtool"})
	}
	return ts
}

// releaseBuild makes the builds of packages: CGO_ENABLED=0 and
// -buildmode=pie.
var releaseBuild bool

func goBuild(root, out, pkg, tags, ldflags string) error {
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", out}
	if releaseBuild {
		args = append(args, "-buildmode=pie")
	}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if releaseBuild {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

func step(s string) { fmt.Fprintln(os.Stderr, "==> "+s) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
