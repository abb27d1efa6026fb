// Package ctl is the shared part of the control and database tools
// (kamctl/kamdbctl, serctl/ser_db): the rc-file chain, the control-engine
// plug-ins (FIFO, UNIXSOCK) and the database-engine plug-ins (MYSQL,
// PGSQL, SQLITE), chosen by settings as kamctlrc chooses them.
package ctl

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RC is the settings of a tool: the rc files read in order (later ones
// override earlier ones), then the environment for the names it sets.
type RC struct {
	vals  map[string]string
	from  map[string]string // setting → file (or "environment")
	Files []string          // files read, in order
}

// SysConfDir is where the system rc file lives: $SIPROUTER_SYSCONFDIR or
// /etc, then /<flavor>/<rc file>.
func SysConfDir() string {
	if d := os.Getenv("SIPROUTER_SYSCONFDIR"); d != "" {
		return d
	}
	return "/etc"
}

// RCFiles lists the rc files a tool reads, in order: the system one
// (/etc/<flavor>/<rc>), the one under /usr/local/etc, then ~/.<rc>.
func RCFiles(flavor, rc string) []string {
	files := []string{filepath.Join(SysConfDir(), flavor, rc)}
	if os.Getenv("SIPROUTER_SYSCONFDIR") == "" {
		files = append(files, filepath.Join("/usr/local/etc", flavor, rc))
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		files = append(files, filepath.Join(home, "."+rc))
	}
	return files
}

// LoadRC reads the rc files that exist, in order. A file that exists but
// cannot be read, or a line that is not a shell assignment, is an error
// naming file:line. Environment variables of the same names override the
// files, as kamctl lets the environment set DBENGINE and friends.
func LoadRC(files []string, envNames []string) (*RC, error) {
	rc := &RC{vals: map[string]string{}, from: map[string]string{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("rc file %s: %w", f, err)
		}
		if err := rc.parse(f, string(b)); err != nil {
			return nil, err
		}
		rc.Files = append(rc.Files, f)
	}
	for _, n := range envNames {
		if v, ok := os.LookupEnv(n); ok {
			rc.vals[n], rc.from[n] = v, "environment"
		}
	}
	return rc, nil
}

// parse reads shell-style assignments: NAME=value, NAME="value",
// NAME='value', optional "export", comments and blank lines. $NAME and
// ${NAME} in double-quoted or bare values expand earlier settings.
func (rc *RC) parse(file, text string) error {
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, val, ok := strings.Cut(line, "=")
		if !ok || !validName(name) {
			return fmt.Errorf("%s:%d: not a NAME=value line: %q", file, n, sc.Text())
		}
		v, err := rc.value(strings.TrimSpace(val))
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", file, n, name, err)
		}
		rc.vals[name], rc.from[name] = v, fmt.Sprintf("%s:%d", file, n)
	}
	return sc.Err()
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// value unquotes a shell value and expands $NAME/${NAME} (not in single
// quotes). A trailing comment after an unquoted value is dropped.
func (rc *RC) value(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "'"):
		end := strings.Index(v[1:], "'")
		if end < 0 {
			return "", fmt.Errorf("unterminated quote")
		}
		return v[1 : end+1], nil
	case strings.HasPrefix(v, `"`):
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return rc.expand(b.String()), nil
			default:
				b.WriteByte(v[i])
			}
		}
		return "", fmt.Errorf("unterminated quote")
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return rc.expand(v), nil
}

func (rc *RC) expand(s string) string {
	return os.Expand(s, func(n string) string {
		if v, ok := rc.vals[n]; ok {
			return v
		}
		return os.Getenv(n)
	})
}

// Get returns a setting, or def when it is not set.
func (rc *RC) Get(name, def string) string {
	if v, ok := rc.vals[name]; ok && v != "" {
		return v
	}
	return def
}

// Has reports whether a setting is set (to anything, even empty).
func (rc *RC) Has(name string) bool {
	_, ok := rc.vals[name]
	return ok
}

// Set sets a value (command-line overrides).
func (rc *RC) Set(name, v string) {
	rc.vals[name], rc.from[name] = v, "command line"
}

// Origin says where a setting came from: file:line, "environment", or "".
func (rc *RC) Origin(name string) string { return rc.from[name] }
