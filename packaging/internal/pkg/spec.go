// Package pkg turns a built flavor (build/<flavor>/ and its flavor.json)
// into .deb and .rpm packages: it resolves the package's names and
// metadata from the flavor manifest (Spec), plans every file of the
// package (Plan), writes them into a staging tree (Stage) and packs that
// tree with nfpm (Build). Everything derives from the inputs and one
// timestamp, so the same inputs give byte-identical packages.
package pkg

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"sip-router.org/tools/manifest"
)

// Info is build/<flavor>/flavor.json, written by srbuild.
type Info struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Binary    string            `json:"binary"`
	Version   string            `json:"version"`
	Custom    bool              `json:"custom"`
	Manifest  string            `json:"manifest"`
	BuildDir  string            `json:"build_dir"`
	Config    string            `json:"config"`
	ConfigDir string            `json:"config_dir"`
	CtlTool   string            `json:"ctl_tool"`
	CtlRC     string            `json:"ctl_rc"`
	DBTool    string            `json:"db_tool"`
	Modules   []string          `json:"modules"`
	BuildTags []string          `json:"build_tags"`
	Defaults  map[string]string `json:"defaults"`
	DB        struct {
		Name   string   `json:"name"`
		URL    string   `json:"url"`
		Tables []string `json:"tables"`
	} `json:"db"`
}

// LoadInfo reads a flavor.json.
func LoadInfo(file string) (*Info, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("flavor record: %w", err)
	}
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("flavor record %s: %w", file, err)
	}
	for _, f := range []struct{ key, val string }{
		{"name", in.Name}, {"binary", in.Binary}, {"version", in.Version},
		{"manifest", in.Manifest}, {"config", in.Config}, {"config_dir", in.ConfigDir},
	} {
		if f.val == "" {
			return nil, fmt.Errorf("flavor record %s: %q is empty", file, f.key)
		}
	}
	for _, n := range []string{in.Name, in.Binary, in.Config, in.CtlTool, in.CtlRC, in.DBTool} {
		if strings.ContainsAny(n, "/\\ \t\n'\"$`") {
			return nil, fmt.Errorf("flavor record %s: %q is not a plain file name", file, n)
		}
	}
	if !path.IsAbs(in.ConfigDir) {
		return nil, fmt.Errorf("flavor record %s: config_dir %q is not absolute", file, in.ConfigDir)
	}
	return &in, nil
}

// Options say what to package.
type Options struct {
	// Root is the repository root.
	Root string
	// InfoFile is build/<flavor>/flavor.json.
	InfoFile string
	// Release overrides package.release (a rebuild of the same version).
	Release string
	// MTime is the time stamped on every file; zero: SourceDate(Root).
	MTime time.Time
}

// Tool is a control or database tool that was built.
type Tool struct {
	Name string // kamctl
	Kind string // "ctl" or "db"
	Path string // in the build tree
	// Help is its -h output, for its manual page.
	Help string
}

// Spec is everything the package is made from.
type Spec struct {
	Root     string
	BuildDir string // absolute
	Info     *Info
	Manifest *manifest.Manifest

	// Package is the package name: package.name, or <name>-custom for a
	// custom module mix.
	Package string
	// Version is the flavor's version (3.0.0, 3.0.0+custom.<hash>).
	Version string
	Release string
	// Arch is the Go architecture of the server binary (amd64).
	Arch        string
	User, Group string
	// Tools are the built tools with a usable -h, in manifest order.
	Tools []Tool
	// Skipped explains tools of the manifest left out of the package.
	Skipped []string
	// DBPath is the SQLite database of the default config.
	DBPath string
	MTime  time.Time
}

// NewSpec resolves a built flavor.
func NewSpec(o Options) (*Spec, error) {
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	infoFile := o.InfoFile
	if !filepath.IsAbs(infoFile) {
		infoFile = filepath.Join(root, infoFile)
	}
	in, err := LoadInfo(infoFile)
	if err != nil {
		return nil, err
	}
	mfile := in.Manifest
	if !filepath.IsAbs(mfile) {
		mfile = filepath.Join(root, mfile)
	}
	m, err := manifest.Load(mfile)
	if err != nil {
		return nil, err
	}
	if m.Flavor.Name != in.Name {
		return nil, fmt.Errorf("%s is flavor %q, but %s says %q", mfile, m.Flavor.Name, infoFile, in.Name)
	}
	s := &Spec{
		Root: root, BuildDir: filepath.Dir(infoFile), Info: in, Manifest: m,
		Package: m.Package.Name, Version: in.Version, Release: m.Package.Release,
		User: m.Package.User, Group: m.Package.Group, MTime: o.MTime,
	}
	if in.Custom {
		s.Package += "-custom"
	}
	if o.Release != "" {
		s.Release = o.Release
	}
	if s.Release == "" {
		s.Release = "1"
	}
	if strings.ContainsAny(s.Release, "- \t/") {
		return nil, fmt.Errorf("release %q: no -, / or spaces", s.Release)
	}
	if s.User == "" {
		s.User = in.Name
	}
	if s.Group == "" {
		s.Group = s.User
	}
	if s.MTime.IsZero() {
		if s.MTime, err = SourceDate(root); err != nil {
			return nil, err
		}
	}
	s.MTime = s.MTime.UTC()
	s.DBPath = sqlitePath(in.DB.URL)
	if s.DBPath == "" {
		s.DBPath = path.Join(s.DataDir(), in.Name+".db")
	}
	bin := filepath.Join(s.BuildDir, "sbin", in.Binary)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("server binary: %w (run the build first)", err)
	}
	s.Arch = binaryArch(bin)
	for _, t := range []Tool{{Name: in.CtlTool, Kind: "ctl"}, {Name: in.DBTool, Kind: "db"}} {
		if t.Name == "" {
			continue
		}
		t.Path = filepath.Join(s.BuildDir, "sbin", t.Name)
		if _, err := os.Stat(t.Path); err != nil {
			s.Skipped = append(s.Skipped, t.Name+" was not built")
			continue
		}
		s.Tools = append(s.Tools, t)
	}
	if err := s.toolHelp(); err != nil {
		return nil, err
	}
	return s, nil
}

// SourceDate is the time stamped into packages: $SOURCE_DATE_EPOCH, else
// the commit time of HEAD. Never the clock: the same commit gives the
// same packages.
func SourceDate(root string) (time.Time, error) {
	if sde := os.Getenv("SOURCE_DATE_EPOCH"); sde != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(sde), 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", sde)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	cmd := exec.Command("git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no git commit to date the packages: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("git commit time %q: %w", out, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// sqlitePath is the file of a sqlite:// URL, "" for another URL.
func sqlitePath(u string) string {
	rest, ok := strings.CutPrefix(u, "sqlite://")
	if !ok || !strings.HasPrefix(rest, "/") {
		return ""
	}
	if p, err := url.PathUnescape(rest); err == nil {
		rest = p
	}
	return path.Clean(rest)
}

var elfArch = map[elf.Machine]string{
	elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_386: "386",
	elf.EM_S390: "s390x", elf.EM_RISCV: "riscv64", elf.EM_LOONGARCH: "loong64",
}

// binaryArch is the Go architecture of an ELF binary; the packaging
// program's own for something else (a test's stand-in script).
func binaryArch(file string) string {
	f, err := elf.Open(file)
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	if f.Machine == elf.EM_ARM {
		return "arm7"
	}
	if a, ok := elfArch[f.Machine]; ok {
		return a
	}
	return runtime.GOARCH
}

// toolHelp runs each tool's -h as it would run installed with the
// package's rc file, so that its usage (which shows the settings in
// effect) is the same on every build machine: the rc file is read from a
// temporary folder standing for /etc, named /etc in the text, and the
// home folder is "~". Tools without usage are left out.
func (s *Spec) toolHelp() error {
	if len(s.Tools) == 0 {
		return nil
	}
	etc, err := os.MkdirTemp("", "srpkg-etc-")
	if err != nil {
		return fmt.Errorf("tool usage: %w", err)
	}
	defer os.RemoveAll(etc)
	if rc := s.Info.CtlRC; rc != "" {
		body, err := render("rc.tmpl", s.data())
		if err != nil {
			return err
		}
		dir := filepath.Join(etc, s.Info.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("tool usage: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, rc), body, 0o644); err != nil {
			return fmt.Errorf("tool usage: %w", err)
		}
	}
	env := []string{"SIPROUTER_SYSCONFDIR=" + etc, "SIPROUTER_SHAREDIR=" + filepath.Join(s.BuildDir, "share", s.Info.Name)}
	var kept []Tool
	for _, t := range s.Tools {
		t.Help = strings.ReplaceAll(help(t.Path, env...), etc, "/etc")
		t.Help = strings.ReplaceAll(t.Help, s.BuildDir, "")
		if strings.TrimSpace(t.Help) == "" {
			s.Skipped = append(s.Skipped, t.Name+" -h prints no usage")
			continue
		}
		kept = append(kept, t)
	}
	s.Tools = kept
	return nil
}

// help runs "prog -h" in a fixed environment (the C locale, home "~",
// PATH, plus env) and returns what it prints (stdout, else stderr).
// Programs that exit non-zero after printing usage are fine.
func help(prog string, env ...string) string {
	cmd := exec.Command(prog, "-h")
	cmd.Dir = "/"
	cmd.Env = append([]string{"LC_ALL=C", "HOME=~", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "COLUMNS=80"}, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return ""
		}
	}
	if strings.TrimSpace(out.String()) != "" {
		return out.String()
	}
	return errb.String()
}

// Install layout of the flavor.

// DataDir is /var/lib/<flavor>.
func (s *Spec) DataDir() string { return "/var/lib/" + s.Info.Name }

// RunDir is /run/<flavor>.
func (s *Spec) RunDir() string { return "/run/" + s.Info.Name }

// UnitName is <flavor>.service.
func (s *Spec) UnitName() string { return s.Info.Name + ".service" }

// BinaryPath is /usr/sbin/<binary>.
func (s *Spec) BinaryPath() string { return "/usr/sbin/" + s.Info.Binary }

// ConfigPath is the installed config file.
func (s *Spec) ConfigPath() string { return path.Join(s.Info.ConfigDir, s.Info.Config) }

// DefaultFile is /etc/default/<flavor>.
func (s *Spec) DefaultFile() string { return "/etc/default/" + s.Info.Name }

// DocDir is /usr/share/doc/<package>.
func (s *Spec) DocDir() string { return "/usr/share/doc/" + s.Package }

// ShareDir is /usr/share/<flavor>.
func (s *Spec) ShareDir() string { return "/usr/share/" + s.Info.Name }

// TmpfilesPath is /usr/lib/tmpfiles.d/<flavor>.conf.
func (s *Spec) TmpfilesPath() string { return "/usr/lib/tmpfiles.d/" + s.Info.Name + ".conf" }

// FullVersion is version-release.
func (s *Spec) FullVersion() string { return s.Version + "-" + s.Release }

// Tool returns the built tool of a kind, or nil.
func (s *Spec) Tool(kind string) *Tool {
	for i := range s.Tools {
		if s.Tools[i].Kind == kind {
			return &s.Tools[i]
		}
	}
	return nil
}
