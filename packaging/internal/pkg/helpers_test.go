package pkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository root: the real manifests and module READMEs
// are read from there.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

const fakeServerHelp = `Usage: %s [options]
Options:
    -f file      Configuration file (default: /etc/%s/%s.cfg)
    -c           Check the configuration file for errors and exit
    -V           Version, flavor, build tags and compiled-in modules
    -h           This help message
`

const fakeCtlHelp = `%s 3.0.0 - control tool

Usage: %s <command> [<arguments>]

 -- subscribers
  add <user> <password>      add a new subscriber
`

const fakeDBHelp = `usage: %s [-y] COMMAND

Commands:
  create [DB]       create the database
`

// fake is a build tree of a flavor in a temporary folder, with shell
// scripts standing for the programs.
type fake struct {
	flavor  string // kamailio, ser
	custom  bool
	ctlHelp string // "": the tool is not built; "-": it prints nothing
	dbHelp  string
	modules []string
}

var fakeDefaults = map[string]fake{
	"kamailio": {flavor: "kamailio", modules: []string{"modules/tm", "modules_k/usrloc", "modules/nonexistent"}},
	"ser":      {flavor: "ser", modules: []string{"modules/tm", "modules_s/domain"}},
}

// programs are the binary, the ctl tool and the DB tool of a flavor.
var programs = map[string][3]string{
	"kamailio": {"kamailio", "kamctl", "kamdbctl"},
	"ser":      {"ser", "serctl", "ser_db"},
}

// tools returns the fake with both tools built.
func (f fake) tools() fake {
	n := programs[f.flavor]
	f.ctlHelp = fmt.Sprintf(fakeCtlHelp, n[1], n[1])
	f.dbHelp = fmt.Sprintf(fakeDBHelp, n[2])
	return f
}

// build writes the tree and returns flavor.json's path.
func (f fake) build(t *testing.T) string {
	t.Helper()
	names := programs[f.flavor]
	id, version := f.flavor, "3.0.0"
	if f.custom {
		id, version = f.flavor+"-custom-0123abcd", "3.0.0+custom.0123abcd"
	}
	dir := filepath.Join(t.TempDir(), "build", id)
	write := func(rel, body string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	script := func(help string) string {
		return "#!/bin/sh\ncat <<'EOF'\n" + help + "EOF\n"
	}
	write("sbin/"+names[0], script(fmt.Sprintf(fakeServerHelp, names[0], f.flavor, f.flavor)), 0o755)
	for i, h := range []string{f.ctlHelp, f.dbHelp} {
		switch h {
		case "":
		case "-":
			write("sbin/"+names[i+1], "#!/bin/sh\nexit 0\n", 0o755)
		default:
			write("sbin/"+names[i+1], script(h), 0o755)
		}
	}
	write("etc/"+f.flavor+".cfg", "# the default config\n", 0o644)
	share := "share/" + f.flavor + "/"
	for _, d := range []string{"mysql", "postgres", "sqlite"} {
		write(share+d+"/standard-create.sql", "CREATE TABLE version (table_name VARCHAR(32));\n", 0o644)
	}
	write(share+"schema.json", "{}\n", 0o644)
	info := map[string]any{
		"id": id, "name": f.flavor, "binary": names[0], "version": version, "custom": f.custom,
		"manifest": "flavors/" + f.flavor + ".toml", "build_dir": "build/" + id,
		"config": f.flavor + ".cfg", "config_dir": "/etc/" + f.flavor,
		"ctl_tool": names[1], "ctl_rc": names[1] + "rc", "db_tool": names[2],
		"modules": f.modules, "build_tags": []string{},
		"defaults": map[string]string{"fifo": "/run/" + f.flavor + "/" + f.flavor + "_fifo", "ctl_socket": "unix:/run/" + f.flavor + "/" + f.flavor + "_ctl"},
		"db":       map[string]any{"name": f.flavor, "url": "sqlite:///var/lib/" + f.flavor + "/" + f.flavor + ".db", "tables": []string{"version"}},
	}
	js, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write("flavor.json", string(js), 0o644)
	write(share+"flavor.json", string(js), 0o644)
	return filepath.Join(dir, "flavor.json")
}

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// plan builds a fake tree and plans its packages.
func (f fake) plan(t *testing.T) *Plan {
	t.Helper()
	s, err := NewSpec(Options{Root: repoRoot(t), InfoFile: f.build(t), MTime: testTime})
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// debPart is one member of a .deb (an ar archive).
type debPart struct {
	name string
	body []byte
}

// readAr splits an ar archive.
func readAr(t *testing.T, b []byte) []debPart {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		t.Fatal("not an ar archive")
	}
	var parts []debPart
	for off := 8; off+60 <= len(b); {
		h := b[off : off+60]
		size, err := strconv.Atoi(strings.TrimSpace(string(h[48:58])))
		if err != nil {
			t.Fatalf("ar header %q: %v", h, err)
		}
		name := strings.TrimRight(strings.TrimSpace(string(h[0:16])), "/")
		parts = append(parts, debPart{name, b[off+60 : off+60+size]})
		off += 60 + size + size%2
	}
	return parts
}

// tarEntry is a header and body of a tar member.
type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

// readTarGz reads a gzipped tar.
func readTarGz(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{h, body})
	}
}
