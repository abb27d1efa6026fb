// Package flavor holds the identity of the product a binary was built as
// (kamailio, ser, or a custom mix). The values come from the flavor's
// manifest through generated code (flavors/<name>/zflavor.go); the commit
// and build date come from link flags.
package flavor

import (
	"fmt"
	"io"
	"runtime"
	"strings"
)

// Flavor is the identity of a product built from the tree.
type Flavor struct {
	// Name is the flavor ("kamailio", "ser"); a custom mix carries its own.
	Name string
	// Binary is the server's program name.
	Binary string
	// Version is the product version ("3.0.0").
	Version string
	// ConfigFile is the default config file name ("kamailio.cfg").
	ConfigFile string
	// ConfigDir is where the packaged config lives ("/etc/kamailio").
	ConfigDir string
	// Compat is the script mode used when a config has no #! header:
	// "kamailio", "ser" or "maxcompat".
	Compat string
	// CtlTool, CtlRC, DBTool name the control and database tools and the
	// control tool's rc file.
	CtlTool, CtlRC, DBTool string
	// Defaults are the flavor's default core parameters (server_header,
	// db_url, fifo, ctl_socket, …).
	Defaults map[string]string
	// DBName is the default database name; DBTables the tables of its
	// schema.
	DBName   string
	DBTables []string
	// Modules lists tree/name of the modules compiled in.
	Modules []string
	// Available lists tree/name of every module in the source tree.
	Available []string
	// BuildTags are the Go build tags the flavor was built with.
	BuildTags []string
	// Custom marks a custom module mix (include/exclude or own manifest).
	Custom bool
}

// Set by link flags (-X sip-router.org/core/flavor.Commit=...).
var (
	Commit    = "unknown"
	BuildDate = "unknown"
)

// ConfigPath is the default config file: ConfigDir/ConfigFile.
func (f *Flavor) ConfigPath() string {
	return strings.TrimRight(f.ConfigDir, "/") + "/" + f.ConfigFile
}

// Default returns a default core parameter, or "".
func (f *Flavor) Default(key string) string { return f.Defaults[key] }

// PrintVersion writes what -V prints.
func (f *Flavor) PrintVersion(w io.Writer) {
	fmt.Fprintf(w, "version: %s %s (%s/%s)\n", f.Binary, f.Version, runtime.GOARCH, runtime.GOOS)
	kind := f.Name
	if f.Custom {
		kind += " (custom module mix)"
	}
	fmt.Fprintf(w, "flavor: %s\n", kind)
	fmt.Fprintf(w, "commit: %s\n", Commit)
	fmt.Fprintf(w, "built: %s with %s\n", BuildDate, runtime.Version())
	tags := "none"
	if len(f.BuildTags) > 0 {
		tags = strings.Join(f.BuildTags, " ")
	}
	fmt.Fprintf(w, "build tags: %s\n", tags)
	fmt.Fprintf(w, "modules (%d):\n", len(f.Modules))
	for _, m := range f.Modules {
		fmt.Fprintf(w, "    %s\n", m)
	}
}
