// Package integration_test runs the whole packaging chain (make package)
// for both flavors on a copy of the working tree, inspects the packages
// with dpkg-deb, rpm and lintian, checks that two runs give identical
// files, and installs them: the .rpm into an empty root, the .deb (and
// the .rpm with its scriptlets) into a throwaway root, where the
// installed kamailio is started, answers OPTIONS and registers a user
// added with the installed kamctl, survives an upgrade with its edited
// config, and is purged.
//
// It skips when dpkg-deb, rpm or lintian is missing, except under CI
// (SIPROUTER_CI=1). Without a throwaway root (not root, no overlayfs) the
// install part runs on the machine itself only under SIPROUTER_CI=1 or
// SIPROUTER_INSTALL_TEST=1, and removes everything afterwards.
package integration_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

var ci = os.Getenv("SIPROUTER_CI") != ""

func need(t *testing.T, prog string) {
	t.Helper()
	if _, err := exec.LookPath(prog); err != nil {
		if ci {
			t.Fatalf("%s is required under CI: %v", prog, err)
		}
		t.Skipf("%s not installed: apt-get install dpkg rpm lintian to run the packaging test", prog)
	}
}

// flavor names the files of one flavor's packages.
type flavor struct {
	name, binary, ctl, db string
}

var flavors = []flavor{
	{"kamailio", "kamailio", "kamctl", "kamdbctl"},
	{"ser", "ser", "serctl", "ser_db"},
}

func (f flavor) deb(dir, release string) string {
	return filepath.Join(dir, fmt.Sprintf("%s_3.0.0-%s_amd64.deb", f.name, release))
}

func (f flavor) rpm(dir, release string) string {
	return filepath.Join(dir, fmt.Sprintf("%s-3.0.0-%s.x86_64.rpm", f.name, release))
}

// chain holds the result of the builds shared by the subtests.
type chain struct {
	src            string // the copy of the working tree
	dist, again    string // two runs of make package
	next           string // release 2 of kamailio
	custom         string // a custom mix of kamailio
	output         string // make's output of the first kamailio run
	share          string // the test's folder
	sourceDateTime string
}

func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both flavors twice and installs them")
	}
	for _, p := range []string{"dpkg-deb", "rpm", "lintian", "make", "git"} {
		need(t, p)
	}
	if out, err := exec.Command("go", "env", "GOARCH").Output(); err != nil || strings.TrimSpace(string(out)) != "amd64" {
		t.Skipf("the expected file names are for amd64, not %s", out)
	}
	c := buildChain(t)

	t.Run("progress", func(t *testing.T) {
		for _, w := range []string{"==> flavor kamailio", "==> built build/kamailio/sbin/kamailio",
			"==> staged ", "==> wrote " + c.dist + "/kamailio_3.0.0-1_amd64.deb", "==> wrote " + c.dist + "/kamailio-3.0.0-1.x86_64.rpm"} {
			if !strings.Contains(c.output, w) {
				t.Errorf("make package printed no %q:\n%s", w, c.output)
			}
		}
		for _, l := range strings.Split(strings.TrimSpace(c.output), "\n") {
			if !strings.HasPrefix(l, "==> ") {
				t.Errorf("not a progress line: %q", l)
			}
		}
	})
	for _, f := range flavors {
		t.Run("deb contents/"+f.name, func(t *testing.T) { checkDeb(t, c, f) })
		t.Run("rpm contents/"+f.name, func(t *testing.T) { checkRPM(t, c, f) })
	}
	t.Run("side by side", func(t *testing.T) {
		k, s := debFiles(t, flavors[0].deb(c.dist, "1")), debFiles(t, flavors[1].deb(c.dist, "1"))
		for p, mode := range k {
			if _, ok := s[p]; ok && !strings.HasPrefix(mode, "d") {
				t.Errorf("both packages have %s", p)
			}
		}
	})
	t.Run("lintian", func(t *testing.T) {
		out, err := exec.Command("lintian", "--pedantic", "-I", "--show-overrides",
			flavors[0].deb(c.dist, "1"), flavors[1].deb(c.dist, "1")).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "\nE: ") && !strings.HasPrefix(string(out), "E: ") {
			t.Errorf("lintian failed: %v\n%s", err, out)
		}
		var tags []string
		for _, l := range strings.Split(string(out), "\n") {
			// Errors fail the acceptance; the packages have no warning
			// either (docs/PACKAGING.md explains the overrides).
			if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
				t.Errorf("lintian: %s", l)
			}
			if l != "" && !strings.HasPrefix(l, "N:") {
				tags = append(tags, l)
			}
		}
		t.Logf("lintian (warnings, information, overrides):\n%s", strings.Join(tags, "\n"))
	})
	t.Run("reproducible", func(t *testing.T) {
		for _, f := range flavors {
			for _, pair := range [][2]string{{f.deb(c.dist, "1"), f.deb(c.again, "1")}, {f.rpm(c.dist, "1"), f.rpm(c.again, "1")}} {
				a, b := sum(t, pair[0]), sum(t, pair[1])
				if a != b {
					t.Errorf("%s: two runs differ: %s %s", filepath.Base(pair[0]), a, b)
				} else {
					t.Logf("%s %s", a, filepath.Base(pair[0]))
				}
			}
		}
	})
	t.Run("custom mix", func(t *testing.T) { checkCustom(t, c) })
	t.Run("rpm in an empty root", func(t *testing.T) { rpmRoot(t, c) })
	t.Run("install", func(t *testing.T) { install(t, c) })
}

// buildChain copies the working tree and runs make package in it: both
// flavors twice (same time stamp), kamailio with release 2, and a custom
// mix.
func buildChain(t *testing.T) *chain {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	share, err := os.MkdirTemp("", "srtest-pkg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(share) })
	c := &chain{
		share: share, src: filepath.Join(share, "src"),
		dist: filepath.Join(share, "dist"), again: filepath.Join(share, "again"),
		next: filepath.Join(share, "next"), custom: filepath.Join(share, "custom"),
	}
	copyTree(t, root, c.src)
	// The copy has no git history: date the packages by the commit.
	c.sourceDateTime = os.Getenv("SOURCE_DATE_EPOCH")
	if c.sourceDateTime == "" {
		out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct").Output()
		if err != nil {
			t.Fatalf("git log: %v", err)
		}
		c.sourceDateTime = strings.TrimSpace(string(out))
	}
	mk := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("make", args...)
		cmd.Dir = c.src
		cmd.Env = append(makeFreeEnv(), "SOURCE_DATE_EPOCH="+c.sourceDateTime)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	start := time.Now()
	c.output = mk("flavor=kamailio", "dist="+c.dist, "package")
	mk("flavor=ser", "dist="+c.dist, "package")
	mk("flavor=kamailio", "dist="+c.again, "package")
	mk("flavor=ser", "dist="+c.again, "package")
	mk("flavor=kamailio", "release=2", "dist="+c.next, "package")
	mk("flavor=kamailio", "exclude_modules=modules_k/acc", "dist="+c.custom, "package")
	t.Logf("make package ×6 took %v", time.Since(start).Round(time.Second))
	// The tools are part of every flavor's package.
	for _, f := range flavors {
		for _, tool := range []string{f.ctl, f.db} {
			if _, err := os.Stat(filepath.Join(c.src, "build", f.name, "sbin", tool)); err != nil {
				t.Errorf("make package did not build %s: %v", tool, err)
			}
		}
	}
	return c
}

// makeFreeEnv is the environment without the variables an outer make
// (make test) passes down, so that the inner make runs as a user's would:
// no "Entering directory" lines, no inherited variables or jobserver.
func makeFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// copyTree copies the files git knows of (committed or not, not ignored)
// from the working tree.
func copyTree(t *testing.T, root, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		src := filepath.Join(root, rel)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func sum(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// debFiles lists a .deb's paths (without ./ and trailing /) and modes.
func debFiles(t *testing.T, deb string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, l := range strings.Split(run(t, "dpkg-deb", "-c", deb), "\n") {
		fields := strings.Fields(l)
		if len(fields) < 6 {
			continue
		}
		p := strings.TrimSuffix(strings.TrimPrefix(fields[5], "."), "/")
		if p == "" {
			continue
		}
		files[p] = fields[0] + " " + fields[1]
	}
	return files
}

// expected lists the files both formats carry (besides the unit, whose
// folder differs, and the deb-only changelog and lintian overrides).
func expected(f flavor) map[string]string {
	const exe, file = "-rwxr-xr-x root/root", "-rw-r--r-- root/root"
	w := map[string]string{
		"/usr/sbin/" + f.binary:                           exe,
		"/etc/" + f.name + "/" + f.name + ".cfg":          file,
		"/etc/default/" + f.name:                          file,
		"/usr/lib/tmpfiles.d/" + f.name + ".conf":         file,
		"/usr/share/man/man8/" + f.binary + ".8.gz":       file,
		"/usr/share/man/man5/" + f.name + ".cfg.5.gz":     file,
		"/usr/share/" + f.name + "/flavor.json":           file,
		"/usr/share/" + f.name + "/schema.json":           file,
		"/usr/share/doc/" + f.name + "/copyright":         file,
		"/usr/share/doc/" + f.name + "/modules/README.tm": file,
	}
	for _, d := range []string{"mysql", "postgres", "sqlite"} {
		w["/usr/share/"+f.name+"/"+d+"/standard-create.sql"] = file
	}
	w["/etc/"+f.name+"/"+f.ctl+"rc"] = file
	for _, tool := range []string{f.ctl, f.db} {
		w["/usr/sbin/"+tool] = exe
		w["/usr/share/man/man8/"+tool+".8.gz"] = file
	}
	return w
}

func checkDeb(t *testing.T, c *chain, f flavor) {
	deb := f.deb(c.dist, "1")
	files := debFiles(t, deb)
	w := expected(f)
	w["/lib/systemd/system/"+f.name+".service"] = "-rw-r--r-- root/root"
	w["/usr/share/doc/"+f.name+"/changelog.Debian.gz"] = "-rw-r--r-- root/root"
	w["/usr/share/lintian/overrides/"+f.name] = "-rw-r--r-- root/root"
	for p, mode := range w {
		if files[p] != mode {
			t.Errorf("%s: %q, want %q", p, files[p], mode)
		}
	}
	for p := range files {
		if strings.Contains(p, "/usr/lib/systemd") {
			t.Errorf("the .deb has %s (Debian 12 wants /lib/systemd)", p)
		}
	}
	info := run(t, "dpkg-deb", "-I", deb)
	for _, field := range []string{"Package: " + f.name, "Version: 3.0.0-1", "Architecture: amd64", "Section: net",
		"Priority: optional", "Maintainer: sip-router developers <dev@sip-router.org>", "Depends: adduser", "Homepage: ", "Description: "} {
		if !strings.Contains(info, "\n "+field) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", field, info)
		}
	}
	conf := run(t, "dpkg-deb", "-I", deb, "conffiles")
	want := []string{"/etc/default/" + f.name, "/etc/" + f.name + "/" + f.name + ".cfg", "/etc/" + f.name + "/" + f.ctl + "rc"}
	if got := strings.Fields(conf); !slices.Equal(got, want) {
		t.Errorf("conffiles %q, want %q", got, want)
	}
}

func checkRPM(t *testing.T, c *chain, f flavor) {
	rpm := f.rpm(c.dist, "1")
	list := map[string]bool{}
	for _, p := range strings.Fields(run(t, "rpm", "-qpl", rpm)) {
		list[p] = true
	}
	w := expected(f)
	w["/usr/lib/systemd/system/"+f.name+".service"] = ""
	for p := range w {
		if !list[p] {
			t.Errorf("rpm -qpl lacks %s", p)
		}
	}
	// The same files as the .deb, but for the unit's folder and the
	// Debian-only changelog and lintian overrides.
	for p, mode := range debFiles(t, f.deb(c.dist, "1")) {
		if strings.HasPrefix(mode, "d") || strings.HasPrefix(p, "/lib/systemd/") ||
			strings.HasSuffix(p, "changelog.Debian.gz") || strings.HasPrefix(p, "/usr/share/lintian/") {
			continue
		}
		if !list[p] {
			t.Errorf("the .deb has %s, the .rpm not", p)
		}
	}
	info := run(t, "rpm", "-qpi", rpm)
	for _, field := range []string{"Name        : " + f.name, "Version     : 3.0.0", "Release     : 1", "Architecture: x86_64",
		"License     : GPL-2.0-or-later", "Packager    : sip-router developers <dev@sip-router.org>", "Summary     : SIP "} {
		if !strings.Contains(info, field) {
			t.Errorf("rpm -qpi lacks %q:\n%s", field, info)
		}
	}
	flags := map[string]string{}
	for _, l := range strings.Split(run(t, "rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpm), "\n") {
		if fl, p, ok := strings.Cut(l, " "); ok {
			flags[strings.TrimSpace(p)] = fl
		}
	}
	conf := strings.Fields(run(t, "rpm", "-qpc", rpm))
	for _, p := range conf {
		if flags[p] != "cn" {
			t.Errorf("%s: flags %q, want cn (%%config(noreplace))", p, flags[p])
		}
	}
	if !slices.Contains(conf, "/etc/"+f.name+"/"+f.name+".cfg") || !slices.Contains(conf, "/etc/default/"+f.name) {
		t.Errorf("rpm -qpc: %q", conf)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", rpm)
	for _, s := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet"} {
		if !strings.Contains(scripts, s) {
			t.Errorf("no %s", s)
		}
	}
}

func checkCustom(t *testing.T, c *chain) {
	debs, _ := filepath.Glob(filepath.Join(c.custom, "kamailio-custom_3.0.0+custom.*-1_amd64.deb"))
	rpms, _ := filepath.Glob(filepath.Join(c.custom, "kamailio-custom-3.0.0+custom.*-1.x86_64.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		entries, _ := os.ReadDir(c.custom)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("custom packages: %q", names)
	}
	for field, want := range map[string]string{"Package": "kamailio-custom", "Conflicts": "kamailio", "Replaces": "kamailio"} {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", debs[0], field)); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	if v := strings.TrimSpace(run(t, "dpkg-deb", "-f", debs[0], "Version")); !regexp.MustCompile(`^3\.0\.0\+custom\.[0-9a-f]{8}-1$`).MatchString(v) {
		t.Errorf("version %q", v)
	}
	if files := debFiles(t, debs[0]); files["/usr/share/doc/kamailio-custom/copyright"] == "" || files["/usr/share/doc/kamailio-custom/modules/README.acc"] != "" {
		t.Errorf("custom package docs: copyright %q, README.acc %q", files["/usr/share/doc/kamailio-custom/copyright"], files["/usr/share/doc/kamailio-custom/modules/README.acc"])
	}
}

// rpmRoot installs the .rpm into an empty root: with its scriptlets if
// the root can run them, else without, and checks the files and the
// %config(noreplace) marks.
func rpmRoot(t *testing.T, c *chain) {
	if os.Geteuid() != 0 {
		t.Skip("rpm --root needs root (chroot)")
	}
	for _, f := range flavors {
		root := filepath.Join(c.share, "rpmroot-"+f.name)
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("rpm", "-i", "--nodeps", "--root", root, f.rpm(c.dist, "1")).CombinedOutput()
		if err != nil {
			if !strings.Contains(string(out), "scriptlet") {
				t.Fatalf("rpm -i --root: %v\n%s", err, out)
			}
			t.Logf("the empty root cannot run the scriptlets (no /bin/sh); installing with --noscripts:\n%s", out)
			if err := os.RemoveAll(root); err != nil {
				t.Fatal(err)
			}
			run(t, "rpm", "-i", "--nodeps", "--noscripts", "--root", root, f.rpm(c.dist, "1"))
		}
		for p := range expected(f) {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		flags := run(t, "rpm", "--root", root, "-q", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", f.name)
		conf := strings.Fields(run(t, "rpm", "--root", root, "-qc", f.name))
		sort.Strings(conf)
		want := []string{"/etc/default/" + f.name, "/etc/" + f.name + "/" + f.name + ".cfg", "/etc/" + f.name + "/" + f.ctl + "rc"}
		sort.Strings(want)
		if !slices.Equal(conf, want) {
			t.Errorf("%s: rpm -qc %q, want %q", f.name, conf, want)
		}
		for _, p := range conf {
			if !strings.Contains(flags, "cn "+p+"\n") {
				t.Errorf("%s is not %%config(noreplace):\n%s", p, flags)
			}
		}
	}
}

// install installs, runs, upgrades and purges the packages.
func install(t *testing.T, c *chain) {
	var r runner
	sb, err := newSandbox(t, c.share)
	switch {
	case err == nil:
		r = sb
	case ci || os.Getenv("SIPROUTER_INSTALL_TEST") != "":
		t.Logf("no throwaway root (%v): installing on this machine", err)
		r = hostRunner{}
		for _, f := range flavors {
			out, _ := exec.Command("dpkg-query", "-W", "-f", "${Version} ${Status}", f.name).Output()
			v, status, _ := strings.Cut(string(out), " ")
			if status == "install ok installed" && !strings.HasPrefix(v, "3.0.0-") {
				msg := fmt.Sprintf("%s %s is installed on this machine and there is no throwaway root (%v): the install test would replace it", f.name, v, err)
				if ci {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
		}
		t.Cleanup(func() { _, _ = shErr(r, "dpkg -P kamailio ser >/dev/null 2>&1") })
	default:
		t.Skipf("no throwaway root (%v); set SIPROUTER_INSTALL_TEST=1 to install on this machine (removed afterwards)", err)
	}
	t.Logf("installing into %s", r.Kind())
	if sb != nil {
		// The throwaway root is a copy of this machine: packages of the
		// same names installed here (the real Kamailio, say) go first.
		sh(t, r, `pkgs=$(dpkg-query -W -f '${Package} ${Status}\n' 'kamailio*' 'ser' 'ser-*' 2>/dev/null | awk '/ installed$/ {print $1}'); [ -z "$pkgs" ] || dpkg -P $pkgs >/dev/null`)
	}
	// In the throwaway root, systemd "runs": /run/systemd/system exists
	// and systemctl and deb-systemd-invoke are stand-ins that log their
	// calls, so the scripts' reload, restart and stop are seen.
	fake := sb != nil
	if fake {
		sh(t, r, fakeSystemd)
		// A runtime folder made by root before the package (a server
		// started by hand, say): the scripts give it to the service.
		sh(t, r, "mkdir -m 0755 /run/ser")
	}
	calls := func(t *testing.T, want, unwanted []string) {
		t.Helper()
		if !fake {
			return
		}
		log := sh(t, r, "cat /run/srtest-systemd.log 2>/dev/null; : > /run/srtest-systemd.log")
		for _, w := range want {
			if !strings.Contains(log, w+"\n") {
				t.Errorf("the scripts did not call %q; calls:\n%s", w, log)
			}
		}
		for _, u := range unwanted {
			if strings.Contains(log, u) {
				t.Errorf("the scripts called %q; calls:\n%s", u, log)
			}
		}
	}
	k, s := flavors[0], flavors[1]
	sh(t, r, fmt.Sprintf("dpkg -i %s %s", r.Path(k.deb(c.dist, "1")), r.Path(s.deb(c.dist, "1"))))
	t.Run("systemd on install", func(t *testing.T) {
		calls(t, []string{"systemctl daemon-reload"}, []string{"restart", "start kamailio", "enable"})
	})

	t.Run("programs", func(t *testing.T) {
		for _, f := range flavors {
			out := sh(t, r, "/usr/sbin/"+f.binary+" -V")
			if !strings.Contains(out, "version: "+f.name+" 3.0.0 ") {
				t.Errorf("%s -V:\n%s", f.binary, out)
			}
		}
	})
	t.Run("system user and folders", func(t *testing.T) {
		for _, f := range flavors {
			out := sh(t, r, fmt.Sprintf("id -un %[1]s; stat -c '%%U:%%G %%a' /var/lib/%[1]s /run/%[1]s", f.name))
			want := fmt.Sprintf("%[1]s\n%[1]s:%[1]s 750\n%[1]s:%[1]s 750\n", f.name)
			if out != want {
				t.Errorf("%s: %q, want %q", f.name, out, want)
			}
		}
	})
	t.Run("database", func(t *testing.T) {
		for _, f := range flavors {
			out := sh(t, r, fmt.Sprintf("stat -c '%%U' /var/lib/%[1]s/%[1]s.db", f.name))
			if strings.TrimSpace(out) != f.name {
				t.Errorf("%s database owned by %q", f.name, out)
			}
		}
	})
	t.Run("kamailio runs", func(t *testing.T) { runInstalled(t, r) })

	t.Run("upgrade keeps the edited config", func(t *testing.T) {
		mark := fmt.Sprintf("# edited by the packaging test %d", time.Now().UnixNano())
		sh(t, r, fmt.Sprintf("echo '%s' >> /etc/kamailio/kamailio.cfg", mark))
		sh(t, r, "dpkg -i --force-confold "+r.Path(k.deb(c.next, "2")))
		if v := sh(t, r, "dpkg-query -W -f '${Version}' kamailio"); v != "3.0.0-2" {
			t.Errorf("installed version %q after the upgrade", v)
		}
		if cfg := sh(t, r, "cat /etc/kamailio/kamailio.cfg"); !strings.Contains(cfg, mark) {
			t.Error("the upgrade lost the edit of /etc/kamailio/kamailio.cfg")
		}
		calls(t, []string{"systemctl daemon-reload", "deb-systemd-invoke try-restart kamailio.service"}, []string{"stop"})
	})
	t.Run("remove and purge", func(t *testing.T) {
		sh(t, r, "dpkg -r kamailio ser")
		calls(t, []string{"deb-systemd-invoke stop kamailio.service", "deb-systemd-invoke stop ser.service", "systemctl daemon-reload"}, nil)
		for _, check := range []string{"test -d /var/lib/kamailio", "id kamailio", "test -e /etc/kamailio/kamailio.cfg", "test ! -e /usr/sbin/kamailio"} {
			if out, err := shErr(r, check); err != nil {
				t.Errorf("after dpkg -r: %s: %v %s", check, err, out)
			}
		}
		sh(t, r, "dpkg -P kamailio ser")
		for _, p := range []string{"/usr/sbin/kamailio", "/usr/sbin/ser", "/var/lib/kamailio", "/var/lib/ser", "/etc/kamailio", "/etc/ser", "/etc/default/kamailio"} {
			if out, err := shErr(r, "test -e "+p); err == nil {
				t.Errorf("%s is left after the purge %s", p, out)
			}
		}
		for _, u := range []string{"kamailio", "ser"} {
			if _, err := shErr(r, "id "+u); err == nil {
				t.Errorf("user %s is left after the purge", u)
			}
		}
	})
	if sb != nil {
		t.Run("rpm with scriptlets", func(t *testing.T) { rpmInstall(t, r, c, calls) })
	}
}

// fakeSystemd makes the throwaway root look like a running systemd to the
// maintainer scripts, logging what they ask of it. The stand-ins go to
// /usr/sbin, ahead of the real ones (/usr/bin) in the PATH of dpkg and of
// rpm's scriptlets.
const fakeSystemd = `mkdir -p /run/systemd/system
for prog in systemctl deb-systemd-invoke; do
	printf '#!/bin/sh\necho "%s $*" >> /run/srtest-systemd.log\n' "$prog" > /usr/sbin/$prog
	chmod 755 /usr/sbin/$prog
done
: > /run/srtest-systemd.log`

// runInstalled starts the installed kamailio as its installed unit does:
// the unit's user and group, its ExecStartPre (-c) and then its ExecStart
// (-DD -E -f ${CFGFILE} …) with the settings of /etc/default/kamailio,
// plus a listen address on a free port in OPTIONS. OPTIONS is answered, a
// user added with the installed kamctl registers, SIGTERM (systemctl
// stop) stops it.
func runInstalled(t *testing.T, r runner) {
	port := freeUDPPort(t)
	u := readUnit(t, r, "/lib/systemd/system/kamailio.service",
		map[string]string{"OPTIONS": fmt.Sprintf("-l udp:127.0.0.1:%d", port)})
	t.Logf("the unit runs %s", u)
	if u.user != "kamailio" || !slices.Contains(u.start, "-DD") || !slices.Contains(u.start, "-E") ||
		!slices.Contains(u.start, "/etc/kamailio/kamailio.cfg") {
		t.Errorf("the unit does not run kamailio as kamailio in the foreground with its config: %s", u)
	}
	if len(u.pre) > 0 {
		pre := append(u.asUser(), u.pre...)
		if out, err := r.Command(pre[0], pre[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("ExecStartPre %q: %v\n%s", pre, err, out)
		}
	}
	start := append(u.asUser(), u.start...)
	cmd := r.Command(start[0], start[1:]...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("kamailio did not stop on SIGTERM within 10s")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("kamailio's log:\n%s", log.String())
		}
	})
	peer := newPeer(t, port)
	if reply := peer.waitOptions(t, 15*time.Second); !strings.HasPrefix(reply, "SIP/2.0 200") {
		t.Fatalf("OPTIONS: %s", statusLine(reply))
	}
	sh(t, r, "kamctl add alice@127.0.0.1 s3cret")
	reply, err := peer.register("alice", "127.0.0.1", "s3cret")
	if err != nil || !strings.HasPrefix(reply, "SIP/2.0 200") {
		t.Errorf("REGISTER: %v %s", err, statusLine(reply))
	} else {
		t.Logf("alice (added with the installed kamctl) registered: %s", statusLine(reply))
	}
	if reply, _ := peer.register("alice", "127.0.0.1", "wrong"); !strings.HasPrefix(reply, "SIP/2.0 401") && !strings.HasPrefix(reply, "SIP/2.0 403") {
		t.Errorf("REGISTER with a wrong password: %s", statusLine(reply))
	}
	stop()
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// rpmInstall installs the .rpm with its scriptlets in the throwaway
// root: the user and folders appear, an upgrade keeps an edited config,
// erasing leaves the data.
func rpmInstall(t *testing.T, r runner, c *chain, calls func(*testing.T, []string, []string)) {
	k := flavors[0]
	sh(t, r, "rpm -i --nodeps "+r.Path(k.rpm(c.dist, "1")))
	if out := sh(t, r, "rpm -q kamailio"); strings.TrimSpace(out) != "kamailio-3.0.0-1.x86_64" {
		t.Fatalf("rpm -q: %s", out)
	}
	if out := sh(t, r, "id -un kamailio; stat -c '%U %a' /var/lib/kamailio"); out != "kamailio\nkamailio 750\n" {
		t.Errorf("after rpm -i: %q", out)
	}
	mark := "# edited before the rpm upgrade"
	sh(t, r, fmt.Sprintf("echo '%s' >> /etc/kamailio/kamailio.cfg", mark))
	sh(t, r, "rpm -U --nodeps "+r.Path(k.rpm(c.next, "2")))
	if out := sh(t, r, "rpm -q kamailio"); strings.TrimSpace(out) != "kamailio-3.0.0-2.x86_64" {
		t.Errorf("rpm -q after the upgrade: %s", out)
	}
	if cfg := sh(t, r, "cat /etc/kamailio/kamailio.cfg"); !strings.Contains(cfg, mark) {
		t.Error("the rpm upgrade lost the edit of /etc/kamailio/kamailio.cfg")
	}
	calls(t, []string{"systemctl daemon-reload", "systemctl try-restart kamailio.service"}, []string{"stop"})
	sh(t, r, "rpm -e --nodeps kamailio")
	calls(t, []string{"systemctl stop kamailio.service"}, []string{"restart"})
	if _, err := shErr(r, "test -d /var/lib/kamailio"); err != nil {
		t.Error("rpm -e removed /var/lib/kamailio; data must stay")
	}
	if _, err := shErr(r, "test -e /usr/sbin/kamailio"); err == nil {
		t.Error("rpm -e left /usr/sbin/kamailio")
	}
}
