package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `[flavor]
name = "kam"
binary = "kam"
version = "1.0"

[config]
file = "kam.cfg"
dir = "/etc/kam"
default = "flavors/kam/etc/kam.cfg"

[defaults]
server_header = "Server: kam"

[modules]
list = ["modules/*"]

[modules.groups]
g = ["modules/tm"]

[package]
name = "kam"
maintainer = "x <x@example.com>"
license = "GPL-2.0-or-later"
`

func TestParseGood(t *testing.T) {
	m, err := Parse("kam.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if m.Flavor.Name != "kam" || m.Defaults["server_header"] != "Server: kam" || m.Modules.Groups["g"][0] != "modules/tm" {
		t.Fatalf("decoded %+v", m)
	}
	src := good + "copyright = \"2026 x\"\n\n[package.deb]\ndepends = [\"adduser\"]\n\n[package.rpm]\ndepends = [\"shadow-utils\"]\n"
	m, err = Parse("kam.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if m.Package.Copyright != "2026 x" || m.Package.Deb.Depends[0] != "adduser" || m.Package.RPM.Depends[0] != "shadow-utils" {
		t.Fatalf("decoded package %+v", m.Package)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string
		want    []string
	}{
		{"misspelt key", [2]string{`binary = "kam"`, `binray = "kam"`},
			[]string{`kam.toml:3: unknown key "flavor.binray" (did you mean "flavor.binary"?)`, `kam.toml:1: missing required key "flavor.binary"`}},
		{"wrong case", [2]string{`version = "1.0"`, `Version = "1.0"`},
			[]string{`kam.toml:4: unknown key "flavor.Version" (did you mean "flavor.version"?)`}},
		{"unknown table reported once", [2]string{"[package]", "[extra]\na = 1\nb = 2\n\n[package]"},
			[]string{`kam.toml:20: unknown key "extra"`}},
		{"wrong type", [2]string{`version = "1.0"`, `version = 1`},
			[]string{`kam.toml:4: key "flavor.version": wrong type`}},
		{"syntax error", [2]string{`dir = "/etc/kam"`, `dir = "/etc/kam`},
			[]string{`kam.toml:8:`, `syntax error`}},
		{"missing required", [2]string{`license = "GPL-2.0-or-later"`, ``},
			[]string{`kam.toml:20: missing required key "package.license"`}},
		{"bad compat", [2]string{`version = "1.0"`, "version = \"1.0\"\ncompat = \"openser\""},
			[]string{`kam.toml:5: flavor.compat must be kamailio, ser or maxcompat, not "openser"`}},
		{"bad package name", [2]string{`name = "kam"
maintainer`, `name = "Kam_1"
maintainer`},
			[]string{`kam.toml:21: package.name "Kam_1" must be`}},
		{"release with a dash", [2]string{`license = "GPL-2.0-or-later"`, "license = \"GPL-2.0-or-later\"\nrelease = \"1-2\""},
			[]string{`kam.toml:24: package.release "1-2" must be`}},
		{"bad priority", [2]string{`license = "GPL-2.0-or-later"`, "license = \"GPL-2.0-or-later\"\npriority = \"high\""},
			[]string{`kam.toml:24: package.priority must be`}},
		{"bad user", [2]string{`license = "GPL-2.0-or-later"`, "license = \"GPL-2.0-or-later\"\nuser = \"Kam User\""},
			[]string{`kam.toml:24: package.user "Kam User" must be a system account name`}},
		{"unknown key in a format table", [2]string{`license = "GPL-2.0-or-later"`, "license = \"GPL-2.0-or-later\"\n\n[package.deb]\ndepend = [\"adduser\"]"},
			[]string{`kam.toml:26: unknown key "package.deb.depend" (did you mean "package.deb.depends"?)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.replace[0], tc.replace[1], 1)
			_, err := Parse("kam.toml", []byte(src))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// The committed flavor manifests decode strictly.
func TestRealManifests(t *testing.T) {
	files, err := filepath.Glob("../../flavors/*.toml")
	if err != nil || len(files) < 2 {
		t.Fatalf("flavor manifests not found: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(f, src)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(filepath.Base(f), ".toml"); m.Flavor.Name != want {
				t.Errorf("flavor.name %q in %s", m.Flavor.Name, f)
			}
		})
	}
}
