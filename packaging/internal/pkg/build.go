package pkg

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// Formats are the package formats made, in order.
var Formats = []string{"deb", "rpm"}

// Stage is a plan written to disk: every file of the packages under
// Dir/files/<all|deb|rpm>/<path>, the maintainer scripts under
// Dir/scripts/<format>/, and the rpm changelog. Packages are made from a
// stage alone.
type Stage struct {
	Dir  string
	Meta Meta
	// Entries are the plan's, with From pointing into the stage.
	Entries []Entry
	// Scripts are format → kind → file.
	Scripts map[string]map[string]string
	// RPMChangelog is the chglog file of the rpm.
	RPMChangelog string
}

// Meta is the package metadata, from the manifest's [package].
type Meta struct {
	Name, Version, Release, Arch             string
	Maintainer, Vendor, Summary, Description string
	License, Homepage, Section, Priority     string
	Depends, Recommends, Suggests            []string
	Conflicts, Replaces, Provides            []string
	DebDepends, DebRecommends, DebSuggests   []string
	RPMDepends, RPMRecommends, RPMSuggests   []string
}

// MetaOf maps the manifest's [package] table to the package metadata. A
// custom module mix is named <name>-custom and conflicts with, replaces
// and provides the standard package, whose files it shares.
func MetaOf(s *Spec) Meta {
	p := s.Manifest.Package
	m := Meta{
		Name: s.Package, Version: s.Version, Release: s.Release, Arch: s.Arch,
		Maintainer: p.Maintainer, Vendor: p.Vendor, Summary: s.Summary(),
		Description: strings.TrimSpace(p.Description), License: p.License, Homepage: p.Homepage,
		Section: p.Section, Priority: p.Priority,
		Depends: clone(p.Depends), Recommends: clone(p.Recommends), Suggests: clone(p.Suggests),
		Conflicts: clone(p.Conflicts), Replaces: clone(p.Replaces), Provides: clone(p.Provides),
		DebDepends: clone(p.Deb.Depends), DebRecommends: clone(p.Deb.Recommends), DebSuggests: clone(p.Deb.Suggests),
		RPMDepends: clone(p.RPM.Depends), RPMRecommends: clone(p.RPM.Recommends), RPMSuggests: clone(p.RPM.Suggests),
	}
	if m.Description == "" {
		m.Description = m.Summary
	}
	if m.Section == "" {
		m.Section = "net"
	}
	if m.Priority == "" {
		m.Priority = "optional"
	}
	if s.Info.Custom {
		m.Conflicts = append(m.Conflicts, p.Name)
		m.Replaces = append(m.Replaces, p.Name)
		m.Provides = append(m.Provides, p.Name)
	}
	return m
}

func clone(s []string) []string { return append([]string(nil), s...) }

// WriteStage writes a plan under dir (emptied first).
func WriteStage(p *Plan, dir string) (*Stage, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	st := &Stage{Dir: dir, Meta: MetaOf(p.Spec), Scripts: map[string]map[string]string{}}
	for _, e := range p.Entries {
		if e.Type == TypeDir {
			st.Entries = append(st.Entries, e)
			continue
		}
		sub := e.Packager
		if sub == "" {
			sub = "all"
		}
		dst := filepath.Join(dir, "files", sub, filepath.FromSlash(e.Dest))
		data := e.Data
		if e.From != "" {
			b, err := os.ReadFile(e.From)
			if err != nil {
				return nil, fmt.Errorf("stage %s: %w", e.Dest, err)
			}
			data = b
		}
		if err := writeFile(dst, data, e.Mode); err != nil {
			return nil, err
		}
		e.From, e.Data = dst, nil
		st.Entries = append(st.Entries, e)
	}
	for format, scripts := range p.Scripts {
		st.Scripts[format] = map[string]string{}
		for kind, body := range scripts {
			dst := filepath.Join(dir, "scripts", format, kind)
			if err := writeFile(dst, body, 0o755); err != nil {
				return nil, err
			}
			st.Scripts[format][kind] = dst
		}
	}
	cl, err := p.rpmChangelog()
	if err != nil {
		return nil, err
	}
	st.RPMChangelog = filepath.Join(dir, "rpm-changelog.yml")
	if err := writeFile(st.RPMChangelog, cl, 0o644); err != nil {
		return nil, err
	}
	return st, nil
}

func writeFile(dst string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	// WriteFile's mode is filtered by the umask; the package's mode is
	// set explicitly anyway, this keeps the stage honest.
	if err := os.Chmod(dst, mode); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	return nil
}

// nfpmInfo builds nfpm's description of one format's package.
func (st *Stage) nfpmInfo(format string, mtime time.Time) *nfpm.Info {
	m := st.Meta
	info := &nfpm.Info{
		Name: m.Name, Arch: m.Arch, Platform: "linux",
		Version: m.Version, VersionSchema: "none", Release: m.Release,
		Section: m.Section, Priority: m.Priority, Maintainer: m.Maintainer,
		Vendor: m.Vendor, Homepage: m.Homepage, License: m.License,
		Description: m.Description, MTime: mtime,
		Overridables: nfpm.Overridables{
			Depends: clone(m.Depends), Recommends: clone(m.Recommends), Suggests: clone(m.Suggests),
			Conflicts: clone(m.Conflicts), Replaces: clone(m.Replaces), Provides: clone(m.Provides),
			Umask: 0o022,
		},
	}
	switch format {
	case "deb":
		// Debian's Description: the synopsis line, then the long text.
		info.Description = m.Summary + "\n" + m.Description
		info.Depends = append(info.Depends, m.DebDepends...)
		info.Recommends = append(info.Recommends, m.DebRecommends...)
		info.Suggests = append(info.Suggests, m.DebSuggests...)
		info.Deb.Compression = "gzip"
		// The license is in the copyright file; License is no Debian
		// control field.
		info.License = ""
	case "rpm":
		info.RPM.Summary = m.Summary
		info.RPM.Group = "System Environment/Daemons"
		info.RPM.BuildHost = "localhost"
		info.RPM.Packager = m.Maintainer
		info.RPM.Compression = "gzip"
		info.Depends = append(info.Depends, m.RPMDepends...)
		info.Recommends = append(info.Recommends, m.RPMRecommends...)
		info.Suggests = append(info.Suggests, m.RPMSuggests...)
		info.Changelog = st.RPMChangelog
	}
	for _, e := range st.Entries {
		if e.Packager != "" && e.Packager != format {
			continue
		}
		c := &files.Content{
			Destination: e.Dest, Source: e.From, Type: e.Type, Packager: e.Packager,
			FileInfo: &files.ContentFileInfo{Mode: e.Mode, Owner: "root", Group: "root", MTime: mtime},
		}
		if e.Type == TypeDir {
			c.Source = ""
		}
		info.Contents = append(info.Contents, c)
	}
	sc := st.Scripts[format]
	info.Scripts = nfpm.Scripts{
		PreInstall: sc["preinst"], PostInstall: sc["postinst"],
		PreRemove: sc["prerm"], PostRemove: sc["postrm"],
	}
	return info
}

// FileName is the package's conventional file name:
// <name>_<version>-<rel>_<arch>.deb, <name>-<version>-<rel>.<arch>.rpm.
func (st *Stage) FileName(format string) (string, error) {
	p, err := nfpm.Get(format)
	if err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	return p.ConventionalFileName(st.nfpmInfo(format, time.Unix(0, 0))), nil
}

// Build writes one format's package.
func (st *Stage) Build(format string, mtime time.Time, w io.Writer) error {
	p, err := nfpm.Get(format)
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	if err := p.Package(st.nfpmInfo(format, mtime.UTC()), w); err != nil {
		return fmt.Errorf("package %s: %w", format, err)
	}
	return nil
}

// BuildFile writes one format's package into dir and returns its path.
// The file appears complete or not at all.
func (st *Stage) BuildFile(format string, mtime time.Time, dir string) (string, error) {
	name, err := st.FileName(format)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := st.Build(format, mtime, &b); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	out := filepath.Join(dir, name)
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	return out, nil
}
