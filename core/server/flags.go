package server

import (
	"fmt"
	"strconv"
	"strings"
)

// Options are the command-line options, as Kamailio's main.c takes them.
type Options struct {
	ConfigFile  string   // -f
	CheckOnly   bool     // -c
	Listen      []string // -l (repeatable)
	Children    int      // -n (0: from config)
	Debug       int      // -d (repeatable: each raises the level)
	Foreground  int      // -D count: 1 no fork, 2 no daemonize, 3 daemonize
	LogStderr   bool     // -E
	Version     bool     // -V
	Help        bool     // -h
	Defines     []string // -A NAME or NAME=VALUE
	ModulePath  string   // -L
	PidFile     string   // -P
	User, Group string   // -u, -g
	WorkDir     string   // -w
	DisableTCP  bool     // -T
	MemoryMB    int      // -m (accepted; Go manages memory)
	AutoAliases string   // -a
	// DumpSchema is a folder to write the SQL schema of the compiled-in
	// modules to (--dump-schema DIR), for the DB tool and packages.
	DumpSchema string
}

// optSpec says which short options take a value.
var optSpec = map[byte]bool{
	'f': true, 'c': false, 'l': true, 'n': true, 'd': false, 'D': false,
	'E': false, 'e': false, 'V': false, 'h': false, 'A': true, 'L': true,
	'P': true, 'G': true, 'u': true, 'g': true, 'w': true, 't': true,
	'T': false, 'N': true, 'W': true, 'm': true, 'M': true, 'b': true,
	'r': false, 'R': false, 'v': false, 'O': true, 'a': true, 'x': true,
	'X': true, 'Y': true, 'K': false, 'I': false,
}

// ParseArgs parses POSIX-style short options, clustered or not ("-DD",
// "-cf file", "-f file", "-ffile"), as getopt does for Kamailio.
func ParseArgs(args []string) (*Options, error) {
	o := &Options{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return nil, fmt.Errorf("unexpected argument %q", args[i+1])
			}
			break
		}
		if len(a) < 2 || a[0] != '-' {
			return nil, fmt.Errorf("unexpected argument %q (options start with -; see -h)", a)
		}
		if a == "--help" {
			o.Help = true
			continue
		}
		if a == "--version" {
			o.Version = true
			continue
		}
		if v, ok := strings.CutPrefix(a, "--dump-schema"); ok && (v == "" || v[0] == '=') {
			if v == "" {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("--dump-schema needs a folder")
				}
				i++
				v = "=" + args[i]
			}
			o.DumpSchema = v[1:]
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			takes, known := optSpec[c]
			if !known {
				return nil, fmt.Errorf("unknown option -%c (see -h)", c)
			}
			val := ""
			if takes {
				if j+1 < len(a) {
					val = a[j+1:]
				} else if i+1 < len(args) {
					i++
					val = args[i]
				} else {
					return nil, fmt.Errorf("option -%c needs a value", c)
				}
				j = len(a)
			}
			if err := o.set(c, val); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

func (o *Options) set(c byte, val string) error {
	num := func() (int, error) {
		n, err := strconv.Atoi(val)
		if err != nil {
			return 0, fmt.Errorf("option -%c: %q is not a number", c, val)
		}
		return n, nil
	}
	var err error
	switch c {
	case 'f':
		o.ConfigFile = val
	case 'c':
		o.CheckOnly = true
	case 'l':
		o.Listen = append(o.Listen, val)
	case 'n':
		o.Children, err = num()
		if err == nil && o.Children < 1 {
			err = fmt.Errorf("option -n: children must be at least 1")
		}
	case 'd':
		o.Debug++
	case 'D':
		o.Foreground++
	case 'E':
		o.LogStderr = true
	case 'V':
		o.Version = true
	case 'h':
		o.Help = true
	case 'A':
		if strings.TrimSpace(val) == "" {
			err = fmt.Errorf("option -A needs NAME or NAME=VALUE")
		}
		o.Defines = append(o.Defines, val)
	case 'L':
		o.ModulePath = val
	case 'P':
		o.PidFile = val
	case 'u':
		o.User = val
	case 'g':
		o.Group = val
	case 'w':
		o.WorkDir = val
	case 'T':
		o.DisableTCP = true
	case 'm':
		o.MemoryMB, err = num()
	case 'a':
		o.AutoAliases = val
	}
	// The remaining options are accepted for compatibility with Kamailio's
	// init scripts and have no effect here (see -h).
	return err
}

// DefineMap returns the -A symbols as a map (NAME → VALUE, "" for a bare NAME).
func (o *Options) DefineMap() map[string]string {
	m := map[string]string{}
	for _, d := range o.Defines {
		name, val, _ := strings.Cut(d, "=")
		m[strings.TrimSpace(name)] = val
	}
	return m
}

const usage = `Usage: %[1]s [options]
Options:
    -f file      Configuration file (default: %[2]s)
    -L path      Modules search path (accepted; modules are compiled in)
    -c           Check the configuration file for errors and exit
    -l address   Listen on the specified address (proto:addr:port; several -l
                 listen on several addresses); overrides listen= in the config
    -n processes Number of worker goroutines per listening socket
    -d           Debugging mode (each -d raises the log level)
    -D           Do not daemonize: -D and -DD keep the server in the
                 foreground (what systemd wants); without -D it detaches
    -E           Log to stderr
    -T           Disable TCP
    -A define    Add a config pre-processor define (-A WITH_AUTH or
                 -A NAME=VALUE)
    -P file      Create a pid file
    -u uid       Change uid after binding the sockets
    -g gid       Change gid after binding the sockets
    -w dir       Change the working directory to dir
    -a mode      Auto aliases mode: yes/on or no/off
    -m nr        Shared memory size in MB (accepted; Go manages memory)
    -V           Version, flavor, build tags and compiled-in modules
    -h           This help message
    --dump-schema DIR
                 Write the SQL schema of the compiled-in modules (create and
                 drop scripts per database, schema.json) under DIR and exit
`
