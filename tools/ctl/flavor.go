package ctl

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Flavor is what a tool knows of the flavor it was built for: the record
// the build writes to share/<flavor>/flavor.json beside the schema.
type Flavor struct {
	Name      string            `json:"name"`
	Binary    string            `json:"binary"`
	Version   string            `json:"version"`
	Config    string            `json:"config"`
	ConfigDir string            `json:"config_dir"`
	CtlTool   string            `json:"ctl_tool"`
	CtlRC     string            `json:"ctl_rc"`
	DBTool    string            `json:"db_tool"`
	Modules   []string          `json:"modules"`
	Defaults  map[string]string `json:"defaults"`
	DB        struct {
		Name   string   `json:"name"`
		URL    string   `json:"url"`
		Tables []string `json:"tables"`
	} `json:"db"`

	// ShareDir is the folder the record was read from (the schema is
	// there too).
	ShareDir string `json:"-"`
}

// ShareDirs lists where a tool looks for share/<flavor>, in order:
// $SIPROUTER_SHAREDIR, ../share/<flavor> beside the executable (a build
// tree: build/<flavor>/sbin/kamctl), /usr/share/<flavor> (a package).
func ShareDirs(flavor string) []string {
	if d := os.Getenv("SIPROUTER_SHAREDIR"); d != "" {
		return []string{d}
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "..", "share", flavor))
	}
	return append(dirs, filepath.Join("/usr/share", flavor), filepath.Join("/usr/local/share", flavor))
}

// LoadFlavor reads the flavor record from the first share folder that has
// one.
func LoadFlavor(flavor string) (*Flavor, error) {
	dirs := ShareDirs(flavor)
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "flavor.json"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("flavor record: %w", err)
		}
		f := &Flavor{}
		if err := json.Unmarshal(b, f); err != nil {
			return nil, fmt.Errorf("flavor record %s: %w", filepath.Join(d, "flavor.json"), err)
		}
		if f.Name != flavor {
			return nil, fmt.Errorf("flavor record %s is for %q, not %q", filepath.Join(d, "flavor.json"), f.Name, flavor)
		}
		f.ShareDir = filepath.Clean(d)
		return f, nil
	}
	return nil, fmt.Errorf("no flavor record for %s (looked for flavor.json in %s; set SIPROUTER_SHAREDIR)",
		flavor, strings.Join(dirs, ", "))
}

// DBDefaults are the flavor's database identity for the rc settings: its
// database name, and the file of its default SQLite URL.
func (f *Flavor) DBDefaults() DBDefaults {
	d := DBDefaults{Name: f.DB.Name}
	for _, u := range []string{f.DB.URL, f.Defaults["db_url"]} {
		if p, ok := strings.CutPrefix(u, "sqlite://"); ok {
			d.Path = p
			break
		}
	}
	if d.Path == "" {
		d.Path = filepath.Join("/var/lib", f.Name, f.Name+".db")
	}
	return d
}
