package pkg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"sip-router.org/packaging/internal/man"
	"sip-router.org/packaging/templates"
)

// Content types (nfpm's).
const (
	TypeFile   = ""
	TypeConfig = "config|noreplace"
	TypeDir    = "dir"
)

// Entry is one file or folder of a package.
type Entry struct {
	// Dest is the installed path.
	Dest string
	// Type is TypeFile, TypeConfig (a conffile, %config(noreplace)) or
	// TypeDir (a folder the package owns).
	Type string
	Mode fs.FileMode
	// Packager limits the entry to "deb" or "rpm"; "" is both.
	Packager string
	// From is a file of the build tree to copy; else Data is the content.
	From string
	Data []byte
}

// Plan is the whole content of a flavor's packages.
type Plan struct {
	Spec    *Spec
	Entries []Entry
	// Scripts are the maintainer scripts: format → preinst, postinst,
	// prerm, postrm → text.
	Scripts map[string]map[string][]byte
	// Changes are the notes of this version's changelog entry.
	Changes []string
}

// Script kinds, named as Debian names them; for rpm they are %pre,
// %post, %preun and %postun.
var scriptKinds = []string{"preinst", "postinst", "prerm", "postrm"}

var rpmScript = map[string]string{"preinst": "pre", "postinst": "post", "prerm": "preun", "postrm": "postun"}

// tmplData is what the templates see.
type tmplData struct {
	Name, Package, Binary, BinaryPath, Version, FullVersion     string
	Summary, Description, Maintainer, Homepage                  string
	Copyright, LicenseName, LicenseText                         string
	User, Group, ConfigDir, ConfigFile, ConfigPath, DefaultFile string
	UnitName, DataDir, RunDir, TmpfilesPath, DocDir             string
	DBPath, DBName, DBToolPath, CtlTool, DBTool, RC, ToolList   string
	Fifo, CtlSocket, Compat, BinaryRel                          string
	ToolNames, ToolRels                                         []string
}

func (s *Spec) data() tmplData {
	m, in := s.Manifest, s.Info
	d := tmplData{
		Name: in.Name, Package: s.Package, Binary: in.Binary, BinaryPath: s.BinaryPath(),
		Version: s.Version, FullVersion: s.FullVersion(),
		Summary: s.Summary(), Description: m.Package.Description,
		Maintainer: m.Package.Maintainer, Homepage: m.Package.Homepage,
		Copyright: m.Package.Copyright,
		User:      s.User, Group: s.Group, ConfigDir: in.ConfigDir, ConfigFile: in.Config,
		ConfigPath: s.ConfigPath(), DefaultFile: s.DefaultFile(), UnitName: s.UnitName(),
		DataDir: s.DataDir(), RunDir: s.RunDir(), TmpfilesPath: s.TmpfilesPath(), DocDir: s.DocDir(),
		DBPath: s.DBPath, DBName: in.DB.Name, CtlTool: in.CtlTool, DBTool: in.DBTool, RC: in.CtlRC,
		Fifo: in.Defaults["fifo"], CtlSocket: in.Defaults["ctl_socket"], Compat: m.Flavor.Compat,
		BinaryRel: strings.TrimPrefix(s.BinaryPath(), "/"),
	}
	if d.Homepage == "" {
		d.Homepage = "https://www.sip-router.org"
	}
	if d.Copyright == "" {
		d.Copyright = m.Package.Maintainer
	}
	if d.Compat == "" {
		d.Compat = "maxcompat"
	}
	if d.DBName == "" {
		d.DBName = in.Name
	}
	d.LicenseName, d.LicenseText = license(m.Package.License)
	if t := s.Tool("db"); t != nil {
		d.DBToolPath = "/usr/sbin/" + t.Name
	}
	for _, t := range s.Tools {
		d.ToolNames = append(d.ToolNames, t.Name)
		d.ToolRels = append(d.ToolRels, "usr/sbin/"+t.Name)
	}
	d.ToolList = strings.Join(d.ToolNames, " and ")
	return d
}

// Summary is package.summary, else the first line of the description.
func (s *Spec) Summary() string {
	if s.Manifest.Package.Summary != "" {
		return s.Manifest.Package.Summary
	}
	first, _, _ := strings.Cut(strings.TrimSpace(s.Manifest.Package.Description), "\n")
	if first == "" {
		return s.Info.Name + " SIP server"
	}
	return first
}

// license maps an SPDX identifier to the Debian copyright-format name and
// the license paragraph that points at /usr/share/common-licenses.
func license(spdx string) (name, text string) {
	type lic struct{ name, file, version string }
	known := map[string]lic{
		"GPL-2.0-or-later":  {"GPL-2+", "GPL-2", "version 2 of the License, or (at your option) any later version"},
		"GPL-2.0-only":      {"GPL-2", "GPL-2", "version 2 of the License"},
		"GPL-2.0+":          {"GPL-2+", "GPL-2", "version 2 of the License, or (at your option) any later version"},
		"GPL-2.0":           {"GPL-2", "GPL-2", "version 2 of the License"},
		"GPL-3.0-or-later":  {"GPL-3+", "GPL-3", "version 3 of the License, or (at your option) any later version"},
		"GPL-3.0-only":      {"GPL-3", "GPL-3", "version 3 of the License"},
		"LGPL-2.1-or-later": {"LGPL-2.1+", "LGPL-2.1", "version 2.1 of the License, or (at your option) any later version"},
	}
	l, ok := known[spdx]
	if !ok {
		return spdx, ""
	}
	kind := "GNU General Public License"
	if strings.HasPrefix(l.name, "LGPL") {
		kind = "GNU Lesser General Public License"
	}
	paras := []string{
		"This program is free software; you can redistribute it and/or modify it under the terms of the " +
			kind + " as published by the Free Software Foundation; either " + l.version + ".",
		"This program is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY; " +
			"without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE. See the " +
			kind + " for more details.",
		"On Debian systems, the complete text of the " + kind + " can be found in \"/usr/share/common-licenses/" + l.file + "\".",
	}
	var lines []string
	for i, para := range paras {
		if i > 0 {
			lines = append(lines, " .")
		}
		for _, line := range wrap(para, 72) {
			lines = append(lines, " "+line)
		}
	}
	return l.name, strings.Join(lines, "\n")
}

// render fills a template of packaging/templates.
func render(name string, d any) ([]byte, error) {
	t, err := template.New(path.Base(name)).Option("missingkey=error").ParseFS(templates.FS, name, "common.tmpl")
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, path.Base(name), d); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// MakePlan lists every file of the packages and renders the generated
// ones.
func MakePlan(s *Spec) (*Plan, error) {
	p := &Plan{Spec: s, Scripts: map[string]map[string][]byte{}}
	d := s.data()
	in := s.Info
	file := func(dest string, mode fs.FileMode, from string, data []byte) {
		p.Entries = append(p.Entries, Entry{Dest: dest, Mode: mode, From: from, Data: data})
	}
	// Programs.
	file(s.BinaryPath(), 0o755, filepath.Join(s.BuildDir, "sbin", in.Binary), nil)
	for _, t := range s.Tools {
		file("/usr/sbin/"+t.Name, 0o755, t.Path, nil)
	}
	// Configuration: conffiles.
	p.dir(in.ConfigDir)
	p.Entries = append(p.Entries, Entry{Dest: s.ConfigPath(), Type: TypeConfig, Mode: 0o644,
		From: filepath.Join(s.BuildDir, "etc", in.Config)})
	if in.CtlRC != "" && len(s.Tools) > 0 {
		rc, err := render("rc.tmpl", d)
		if err != nil {
			return nil, err
		}
		p.Entries = append(p.Entries, Entry{Dest: path.Join(in.ConfigDir, in.CtlRC), Type: TypeConfig, Mode: 0o644, Data: rc})
	}
	def, err := render("default.tmpl", d)
	if err != nil {
		return nil, err
	}
	p.Entries = append(p.Entries, Entry{Dest: s.DefaultFile(), Type: TypeConfig, Mode: 0o644, Data: def})
	// systemd: the unit where each distribution's systemd looks (Debian 12
	// still wants /lib), the runtime folder through tmpfiles.d.
	unit, err := render("service.tmpl", d)
	if err != nil {
		return nil, err
	}
	p.Entries = append(p.Entries,
		Entry{Dest: "/lib/systemd/system/" + s.UnitName(), Mode: 0o644, Packager: "deb", Data: unit},
		Entry{Dest: "/usr/lib/systemd/system/" + s.UnitName(), Mode: 0o644, Packager: "rpm", Data: unit})
	tmpf, err := render("tmpfiles.tmpl", d)
	if err != nil {
		return nil, err
	}
	file(s.TmpfilesPath(), 0o644, "", tmpf)
	// Manual pages.
	pages, err := s.manPages(d)
	if err != nil {
		return nil, err
	}
	for _, pg := range pages {
		gz, err := man.Gzip(pg.data)
		if err != nil {
			return nil, err
		}
		file(pg.dest, 0o644, "", gz)
	}
	// The schema and the flavor record for the tools.
	if err := p.tree(filepath.Join(s.BuildDir, "share", in.Name), s.ShareDir()); err != nil {
		return nil, err
	}
	// Documentation.
	p.dir(s.DocDir())
	cr, err := render("copyright.tmpl", d)
	if err != nil {
		return nil, err
	}
	file(path.Join(s.DocDir(), "copyright"), 0o644, "", cr)
	notes, err := render("changes.md", d)
	if err != nil {
		return nil, err
	}
	p.Changes = changeNotes(string(notes))
	cl, err := man.Gzip(p.debianChangelog())
	if err != nil {
		return nil, err
	}
	p.Entries = append(p.Entries, Entry{Dest: path.Join(s.DocDir(), "changelog.Debian.gz"), Mode: 0o644, Packager: "deb", Data: cl})
	readmes := 0
	for _, mod := range in.Modules {
		src := filepath.Join(s.Root, filepath.FromSlash(mod), "README.md")
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if readmes == 0 {
			p.dir(path.Join(s.DocDir(), "modules"))
		}
		readmes++
		file(path.Join(s.DocDir(), "modules", "README."+path.Base(mod)), 0o644, src, nil)
	}
	// lintian overrides for what a Go program cannot avoid.
	ov, err := render("overrides.tmpl", d)
	if err != nil {
		return nil, err
	}
	p.Entries = append(p.Entries, Entry{Dest: "/usr/share/lintian/overrides/" + s.Package, Mode: 0o644, Packager: "deb", Data: ov})
	// Maintainer scripts.
	for _, format := range []string{"deb", "rpm"} {
		p.Scripts[format] = map[string][]byte{}
		for _, kind := range scriptKinds {
			name := format + "/" + kind + ".tmpl"
			if format == "rpm" {
				name = "rpm/" + rpmScript[kind] + ".tmpl"
			}
			if _, err := fs.Stat(templates.FS, name); err != nil {
				continue
			}
			sc, err := render(name, d)
			if err != nil {
				return nil, err
			}
			p.Scripts[format][kind] = sc
		}
	}
	sort.SliceStable(p.Entries, func(i, j int) bool {
		a, b := p.Entries[i], p.Entries[j]
		if a.Dest != b.Dest {
			return a.Dest < b.Dest
		}
		return a.Packager < b.Packager
	})
	return p, nil
}

// dir adds a folder the package owns.
func (p *Plan) dir(dest string) {
	p.Entries = append(p.Entries, Entry{Dest: dest, Type: TypeDir, Mode: 0o755})
}

// tree adds the files under src at dest, each folder owned.
func (p *Plan) tree(src, dest string) error {
	return filepath.WalkDir(src, func(f string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("package %s: %w", src, err)
		}
		rel, err := filepath.Rel(src, f)
		if err != nil {
			return fmt.Errorf("package %s: %w", src, err)
		}
		to := path.Join(dest, filepath.ToSlash(rel))
		switch {
		case de.IsDir():
			p.dir(to)
		case de.Type().IsRegular():
			p.Entries = append(p.Entries, Entry{Dest: to, Mode: 0o644, From: f})
		default:
			return fmt.Errorf("package %s: %s is not a regular file", src, f)
		}
		return nil
	})
}

// changeNotes splits "- " bullets (continued on indented lines) into
// one note each.
func changeNotes(md string) []string {
	var notes []string
	for _, l := range strings.Split(md, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case t == "":
		case strings.HasPrefix(t, "- "):
			notes = append(notes, t[2:])
		case len(notes) > 0:
			notes[len(notes)-1] += " " + t
		default:
			notes = append(notes, t)
		}
	}
	return notes
}

// debianChangelog is the changelog entry of this version in Debian's
// format, dated by the package time.
func (p *Plan) debianChangelog() []byte {
	s := p.Spec
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s (%s) unstable; urgency=medium\n\n", s.Package, s.FullVersion())
	for _, n := range p.Changes {
		for i, l := range wrap(n, 74) {
			if i == 0 {
				b.WriteString("  * " + l + "\n")
			} else {
				b.WriteString("    " + l + "\n")
			}
		}
	}
	fmt.Fprintf(&b, "\n -- %s  %s\n", s.Manifest.Package.Maintainer, s.MTime.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	return b.Bytes()
}

// rpmChangelog is the same entry for nfpm's rpm changelog (chglog's
// format; JSON is YAML).
func (p *Plan) rpmChangelog() ([]byte, error) {
	type change struct {
		Note string `json:"note"`
	}
	type entry struct {
		Semver   string   `json:"semver"`
		Date     string   `json:"date"`
		Packager string   `json:"packager"`
		Changes  []change `json:"changes"`
	}
	e := entry{Semver: p.Spec.FullVersion(), Date: p.Spec.MTime.Format("2006-01-02T15:04:05Z07:00"),
		Packager: p.Spec.Manifest.Package.Maintainer}
	for _, n := range p.Changes {
		e.Changes = append(e.Changes, change{Note: n})
	}
	b, err := json.Marshal([]entry{e})
	if err != nil {
		return nil, fmt.Errorf("rpm changelog: %w", err)
	}
	return b, nil
}

// wrap breaks text into lines of at most width characters.
func wrap(text string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(text) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
