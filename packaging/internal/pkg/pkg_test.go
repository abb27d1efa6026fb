package pkg

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// want is an expected entry: type, mode and packager.
type want struct {
	typ      string
	mode     os.FileMode
	packager string
}

func expectedContents(flavor string, tools bool) map[string]want {
	n := programs[flavor]
	bin, ctl, db := n[0], n[1], n[2]
	file := want{TypeFile, 0o644, ""}
	dir := want{TypeDir, 0o755, ""}
	conf := want{TypeConfig, 0o644, ""}
	w := map[string]want{
		"/usr/sbin/" + bin:                                  {TypeFile, 0o755, ""},
		"/etc/" + flavor:                                    dir,
		"/etc/" + flavor + "/" + flavor + ".cfg":            conf,
		"/etc/default/" + flavor:                            conf,
		"/lib/systemd/system/" + flavor + ".service":        {TypeFile, 0o644, "deb"},
		"/usr/lib/systemd/system/" + flavor + ".service":    {TypeFile, 0o644, "rpm"},
		"/usr/lib/tmpfiles.d/" + flavor + ".conf":           file,
		"/usr/share/man/man8/" + bin + ".8.gz":              file,
		"/usr/share/man/man5/" + flavor + ".cfg.5.gz":       file,
		"/usr/share/" + flavor:                              dir,
		"/usr/share/" + flavor + "/flavor.json":             file,
		"/usr/share/" + flavor + "/schema.json":             file,
		"/usr/share/doc/" + flavor:                          dir,
		"/usr/share/doc/" + flavor + "/copyright":           file,
		"/usr/share/doc/" + flavor + "/changelog.Debian.gz": {TypeFile, 0o644, "deb"},
		"/usr/share/doc/" + flavor + "/modules":             dir,
		"/usr/share/doc/" + flavor + "/modules/README.tm":   file,
		"/usr/share/lintian/overrides/" + flavor:            {TypeFile, 0o644, "deb"},
	}
	for _, d := range []string{"mysql", "postgres", "sqlite"} {
		w["/usr/share/"+flavor+"/"+d] = dir
		w["/usr/share/"+flavor+"/"+d+"/standard-create.sql"] = file
	}
	switch flavor {
	case "kamailio":
		w["/usr/share/doc/kamailio/modules/README.usrloc"] = file
	case "ser":
		w["/usr/share/doc/ser/modules/README.domain"] = file
	}
	if tools {
		w["/usr/sbin/"+ctl] = want{TypeFile, 0o755, ""}
		w["/usr/sbin/"+db] = want{TypeFile, 0o755, ""}
		w["/usr/share/man/man8/"+ctl+".8.gz"] = file
		w["/usr/share/man/man8/"+db+".8.gz"] = file
		w["/etc/"+flavor+"/"+ctl+"rc"] = conf
	}
	return w
}

func TestContents(t *testing.T) {
	for _, flavor := range []string{"kamailio", "ser"} {
		for _, tools := range []bool{true, false} {
			name := flavor
			if !tools {
				name += " without tools"
			}
			t.Run(name, func(t *testing.T) {
				f := fakeDefaults[flavor]
				if tools {
					f = f.tools()
				}
				p := f.plan(t)
				exp := expectedContents(flavor, tools)
				got := map[string]bool{}
				for _, e := range p.Entries {
					key := e.Dest
					if got[key+e.Packager] {
						t.Errorf("%s listed twice for %q", key, e.Packager)
					}
					got[key+e.Packager] = true
					w, ok := exp[key]
					if !ok {
						t.Errorf("unexpected entry %s (%+v)", key, e)
						continue
					}
					if e.Type != w.typ || e.Mode != w.mode || e.Packager != w.packager {
						t.Errorf("%s: type %q mode %o packager %q, want %q %o %q", key, e.Type, e.Mode, e.Packager, w.typ, w.mode, w.packager)
					}
					if e.Type != TypeDir && e.From == "" && e.Data == nil {
						t.Errorf("%s has no content", key)
					}
				}
				for k, w := range exp {
					if !got[k+w.packager] {
						t.Errorf("missing %s", k)
					}
				}
				if !sort.SliceIsSorted(p.Entries, func(i, j int) bool { return p.Entries[i].Dest < p.Entries[j].Dest }) {
					t.Error("entries are not sorted")
				}
				if p.Spec.Package != flavor || len(p.Spec.Skipped) != map[bool]int{true: 0, false: 2}[tools] {
					t.Errorf("package %q, skipped %q", p.Spec.Package, p.Spec.Skipped)
				}
			})
		}
	}
}

func TestToolWithoutUsage(t *testing.T) {
	f := fakeDefaults["kamailio"].tools()
	f.dbHelp = "-"
	p := f.plan(t)
	for _, e := range p.Entries {
		if strings.Contains(e.Dest, "kamdbctl") {
			t.Errorf("%s is packaged, but kamdbctl prints no usage", e.Dest)
		}
	}
	if !slices.Contains(p.Spec.Skipped, "kamdbctl -h prints no usage") {
		t.Errorf("skipped: %q", p.Spec.Skipped)
	}
	// Without the DB tool the scripts do not try to create the database.
	if !bytes.Contains(p.Scripts["deb"]["postinst"], []byte("DBTOOL=\n")) {
		t.Errorf("postinst names a DB tool:\n%s", p.Scripts["deb"]["postinst"])
	}
}

func TestNoFileInCommon(t *testing.T) {
	k := fakeDefaults["kamailio"].tools().plan(t)
	s := fakeDefaults["ser"].tools().plan(t)
	files := map[string]bool{}
	for _, e := range k.Entries {
		files[e.Dest] = true
	}
	for _, e := range s.Entries {
		if files[e.Dest] {
			t.Errorf("kamailio and ser both have %s", e.Dest)
		}
	}
}

func TestMeta(t *testing.T) {
	tests := []struct {
		name                       string
		f                          fake
		pkg, version, deb, rpm     string
		conflicts, provides, debDp []string
	}{
		{"kamailio", fakeDefaults["kamailio"], "kamailio", "3.0.0",
			"kamailio_3.0.0-1_amd64.deb", "kamailio-3.0.0-1.x86_64.rpm",
			nil, []string{"sip-router"}, []string{"adduser"}},
		{"ser", fakeDefaults["ser"], "ser", "3.0.0",
			"ser_3.0.0-1_amd64.deb", "ser-3.0.0-1.x86_64.rpm",
			nil, nil, []string{"adduser"}},
		{"custom mix", fake{flavor: "kamailio", custom: true, modules: []string{"modules/tm"}}, "kamailio-custom", "3.0.0+custom.0123abcd",
			"kamailio-custom_3.0.0+custom.0123abcd-1_amd64.deb", "kamailio-custom-3.0.0+custom.0123abcd-1.x86_64.rpm",
			[]string{"kamailio"}, []string{"sip-router", "kamailio"}, []string{"adduser"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.f.plan(t)
			p.Spec.Arch = "amd64" // file names below are for amd64
			st, err := WriteStage(p, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			m := st.Meta
			man := p.Spec.Manifest.Package
			if m.Name != tc.pkg || m.Version != tc.version || m.Release != "1" ||
				m.Maintainer != man.Maintainer || m.License != man.License || m.Homepage != man.Homepage ||
				m.Section != man.Section || m.Priority != man.Priority || m.Summary != man.Summary || m.Vendor != man.Vendor {
				t.Errorf("meta %+v from %+v", m, man)
			}
			if !slices.Equal(m.Conflicts, tc.conflicts) || !slices.Equal(m.Provides, tc.provides) || !slices.Equal(m.DebDepends, tc.debDp) {
				t.Errorf("conflicts %q provides %q deb depends %q", m.Conflicts, m.Provides, m.DebDepends)
			}
			if tc.f.custom && !slices.Equal(m.Replaces, []string{"kamailio"}) {
				t.Errorf("replaces %q", m.Replaces)
			}
			if !slices.Equal(m.Suggests, man.Suggests) {
				t.Errorf("suggests %q", m.Suggests)
			}
			for format, want := range map[string]string{"deb": tc.deb, "rpm": tc.rpm} {
				got, err := st.FileName(format)
				if err != nil || got != want {
					t.Errorf("%s file name %q (%v), want %q", format, got, err, want)
				}
			}
			// The custom package's docs go under its own name.
			if tc.f.custom && p.Spec.DocDir() != "/usr/share/doc/kamailio-custom" {
				t.Errorf("doc dir %s", p.Spec.DocDir())
			}
		})
	}
}

func TestRelease(t *testing.T) {
	f := fakeDefaults["kamailio"]
	s, err := NewSpec(Options{Root: repoRoot(t), InfoFile: f.build(t), MTime: testTime, Release: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if s.FullVersion() != "3.0.0-7" {
		t.Errorf("version %s", s.FullVersion())
	}
	if _, err := NewSpec(Options{Root: repoRoot(t), InfoFile: f.build(t), MTime: testTime, Release: "1-2"}); err == nil {
		t.Error("release 1-2 accepted")
	}
}

// buildAll stages a plan and writes both formats, returning their bytes.
func buildAll(t *testing.T, p *Plan, stageDir string, mtime time.Time) map[string][]byte {
	t.Helper()
	st, err := WriteStage(p, stageDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range Formats {
		var b bytes.Buffer
		if err := st.Build(f, mtime, &b); err != nil {
			t.Fatal(err)
		}
		out[f] = b.Bytes()
	}
	return out
}

func TestReproducible(t *testing.T) {
	p := fakeDefaults["kamailio"].tools().plan(t)
	a := buildAll(t, p, t.TempDir(), testTime)
	// A second plan of another build tree, staged elsewhere.
	p2 := fakeDefaults["kamailio"].tools().plan(t)
	b := buildAll(t, p2, t.TempDir(), testTime)
	later := buildAll(t, p, t.TempDir(), testTime.Add(time.Hour))
	for _, f := range Formats {
		if !bytes.Equal(a[f], b[f]) {
			t.Errorf("%s: two builds differ: %x vs %x", f, sha256.Sum256(a[f]), sha256.Sum256(b[f]))
		}
		if bytes.Equal(a[f], later[f]) {
			t.Errorf("%s: a different time gives the same bytes", f)
		}
	}
}

func TestSourceDate(t *testing.T) {
	root := repoRoot(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	got, err := SourceDate(root)
	if err != nil || !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("SourceDate = %v, %v", got, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := SourceDate(root); err == nil {
		t.Error("a bad SOURCE_DATE_EPOCH is accepted")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct").Output()
	if err != nil {
		t.Skipf("no git history: %v", err)
	}
	got, err = SourceDate(root)
	if err != nil || got.Unix() != mustAtoi(t, strings.TrimSpace(string(out))) {
		t.Errorf("SourceDate = %v, %v; commit time %s", got, err, out)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// TestDeb reads the .deb back: the control fields, the conffiles, the
// scripts, and every file's mode, owner and time.
func TestDeb(t *testing.T) {
	p := fakeDefaults["kamailio"].tools().plan(t)
	deb := buildAll(t, p, t.TempDir(), testTime)["deb"]
	parts := readAr(t, deb)
	var names []string
	for _, pt := range parts {
		names = append(names, pt.name)
	}
	if !slices.Equal(names, []string{"debian-binary", "control.tar.gz", "data.tar.gz"}) {
		t.Fatalf("deb members %q", names)
	}
	control := map[string]string{}
	for _, e := range readTarGz(t, parts[1].body) {
		control[strings.TrimPrefix(e.hdr.Name, "./")] = string(e.body)
		if !e.hdr.ModTime.Equal(testTime) {
			t.Errorf("control member %s time %v", e.hdr.Name, e.hdr.ModTime)
		}
	}
	if got := control["conffiles"]; got != "/etc/default/kamailio\n/etc/kamailio/kamailio.cfg\n/etc/kamailio/kamctlrc\n" {
		t.Errorf("conffiles:\n%s", got)
	}
	for _, field := range []string{"Package: kamailio\n", "Version: 3.0.0-1\n", "Section: net\n", "Priority: optional\n",
		"Maintainer: sip-router developers <dev@sip-router.org>\n", "Depends: adduser\n", "Provides: sip-router\n",
		"Homepage: https://www.kamailio.org\n", "Description: SIP proxy, registrar and location server (Kamailio flavor)\n Kamailio is a SIP server"} {
		if !strings.Contains(control["control"], field) {
			t.Errorf("control lacks %q:\n%s", field, control["control"])
		}
	}
	if strings.Contains(control["control"], "License:") {
		t.Error("control has a License field (not a Debian field)")
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if !strings.HasPrefix(control[s], "#!/bin/sh\n") || !strings.Contains(control[s], "\nset -e\n") {
			t.Errorf("%s: no #!/bin/sh or set -e:\n%s", s, control[s])
		}
	}
	var paths []string
	for _, e := range readTarGz(t, parts[2].body) {
		paths = append(paths, e.hdr.Name)
		if !e.hdr.ModTime.Equal(testTime) {
			t.Errorf("%s: time %v, want %v", e.hdr.Name, e.hdr.ModTime, testTime)
		}
		if e.hdr.Uname != "root" || e.hdr.Gname != "root" || e.hdr.Uid != 0 || e.hdr.Gid != 0 {
			t.Errorf("%s: owner %s:%s %d:%d", e.hdr.Name, e.hdr.Uname, e.hdr.Gname, e.hdr.Uid, e.hdr.Gid)
		}
		mode := e.hdr.Mode
		switch {
		case strings.HasSuffix(e.hdr.Name, "/"):
			if mode != 0o755 {
				t.Errorf("%s: mode %o", e.hdr.Name, mode)
			}
		case strings.HasPrefix(e.hdr.Name, "./usr/sbin/"):
			if mode != 0o755 {
				t.Errorf("%s: mode %o", e.hdr.Name, mode)
			}
		default:
			if mode != 0o644 {
				t.Errorf("%s: mode %o", e.hdr.Name, mode)
			}
		}
		if strings.HasSuffix(e.hdr.Name, ".gz") {
			checkGzip(t, e.hdr.Name, e.body)
		}
	}
	if !sort.StringsAreSorted(paths) {
		t.Errorf("data.tar is not sorted: %q", paths)
	}
}

// checkGzip checks a compressed file has an empty header and unpacks.
func checkGzip(t *testing.T, name string, b []byte) {
	t.Helper()
	if len(b) < 10 || b[3] != 0 || !bytes.Equal(b[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("%s: gzip header with a name or a time: % x", name, b[:10])
		return
	}
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func TestManPages(t *testing.T) {
	p := fakeDefaults["kamailio"].tools().plan(t)
	pages := map[string]string{}
	for _, e := range p.Entries {
		if !strings.HasPrefix(e.Dest, "/usr/share/man/") {
			continue
		}
		r, err := gzip.NewReader(bytes.NewReader(e.Data))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(e.Dest)] = string(b)
	}
	checks := map[string][]string{
		"kamailio.8.gz": {`.TH "KAMAILIO" 8 "2026-01-02" "kamailio 3.0.0"`, `kamailio \- SIP proxy`,
			`.SH "OPTIONS"`, `\fB\-c\fR`, `.SH "FILES"`, `/etc/default/kamailio`, `kamctl(8)`},
		"kamailio.cfg.5.gz": {`.TH "KAMAILIO.CFG" 5`, `kamailio.cfg \- configuration file of kamailio(8)`,
			`.SH "ROUTING BLOCKS"`, `.SH "MODULES OF THIS BUILD"`, `.SS "tm (modules/tm)"`,
			`.SS "usrloc (modules_k/usrloc)"`, `fr_timer (int, default 30000)`, `t_relay(`,
			`.SS "nonexistent (modules/nonexistent)"`},
		"kamctl.8.gz":   {`.TH "KAMCTL" 8`, `kamctl \- the control tool of kamailio`, `.SH "COMMANDS"`, `.SS "Subscribers"`, `/etc/kamailio/kamctlrc`},
		"kamdbctl.8.gz": {`.TH "KAMDBCTL" 8`, `.SH "COMMANDS"`, `\fBcreate\fR \fI[DB]\fR`},
	}
	if len(pages) != len(checks) {
		t.Errorf("pages %d, want %d", len(pages), len(checks))
	}
	for name, wants := range checks {
		page, ok := pages[name]
		if !ok {
			t.Errorf("no page %s", name)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(page, w) {
				t.Errorf("%s lacks %q", name, w)
			}
		}
		if _, err := exec.LookPath("groff"); err == nil {
			cmd := exec.Command("groff", "-man", "-ww", "-z", "-Tutf8")
			cmd.Stdin = strings.NewReader(page)
			if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("%s: groff: %v\n%s", name, err, out)
			}
		}
	}
}

func TestScripts(t *testing.T) {
	p := fakeDefaults["kamailio"].tools().plan(t)
	for format, scripts := range p.Scripts {
		// deb: postinst, prerm, postrm (the user is made in postinst);
		// rpm: %pre makes the user before the files, then %post, %preun,
		// %postun.
		if n := map[string]int{"deb": 3, "rpm": 4}[format]; len(scripts) != n {
			t.Errorf("%s: %d scripts, want %d", format, len(scripts), n)
		}
		for kind, body := range scripts {
			cmd := exec.Command("sh", "-n")
			cmd.Stdin = bytes.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s %s: sh -n: %v\n%s", format, kind, err, out)
			}
			if strings.Contains(string(body), "<no value>") {
				t.Errorf("%s %s: a template value is missing", format, kind)
			}
		}
	}
	post := string(p.Scripts["deb"]["postinst"])
	for _, w := range []string{"SVC_USER=kamailio\n", "DATADIR=/var/lib/kamailio\n", "DBFILE=/var/lib/kamailio/kamailio.db\n",
		"DBTOOL=/usr/sbin/kamdbctl\n", "TMPFILES=/usr/lib/tmpfiles.d/kamailio.conf\n", "invoke try-restart"} {
		if !strings.Contains(post, w) {
			t.Errorf("postinst lacks %q", w)
		}
	}
	if !strings.Contains(string(p.Scripts["deb"]["postrm"]), "purge)\n\trm -rf \"$DATADIR\"") {
		t.Error("postrm does not remove the data on purge")
	}
	if strings.Contains(string(p.Scripts["rpm"]["postinst"]), "rm -rf") || strings.Contains(string(p.Scripts["rpm"]["postrm"]), "rm -rf") {
		t.Error("an rpm script removes data")
	}
}

func TestLoadInfoErrors(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"not json", "{", "flavor record"},
		{"no binary", `{"name":"k","version":"1","manifest":"m","config":"k.cfg","config_dir":"/etc/k"}`, `"binary" is empty`},
		{"path in a name", `{"name":"k","binary":"../k","version":"1","manifest":"m","config":"k.cfg","config_dir":"/etc/k"}`, "not a plain file name"},
		{"relative config dir", `{"name":"k","binary":"k","version":"1","manifest":"m","config":"k.cfg","config_dir":"etc/k"}`, "not absolute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "flavor.json")
			if err := os.WriteFile(f, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadInfo(f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTemplatesComplete(t *testing.T) {
	// Every generated text file is free of template leftovers.
	p := fakeDefaults["ser"].tools().plan(t)
	for _, e := range p.Entries {
		if e.Data == nil || strings.HasSuffix(e.Dest, ".gz") {
			continue
		}
		if bytes.Contains(e.Data, []byte("<no value>")) || bytes.Contains(e.Data, []byte("{{")) {
			t.Errorf("%s:\n%s", e.Dest, e.Data)
		}
	}
	unit := ""
	for _, e := range p.Entries {
		if e.Dest == "/lib/systemd/system/ser.service" {
			unit = string(e.Data)
		}
	}
	for _, w := range []string{"User=ser\n", "Group=ser\n", "ExecStartPre=/usr/sbin/ser -c -f ${CFGFILE} $OPTIONS\n",
		"ExecStart=/usr/sbin/ser -DD -E -f ${CFGFILE}", "EnvironmentFile=-/etc/default/ser\n", "Environment=CFGFILE=/etc/ser/ser.cfg\n"} {
		if !strings.Contains(unit, w) {
			t.Errorf("unit lacks %q:\n%s", w, unit)
		}
	}
}
