// Package manifest reads a flavor manifest (flavors/<name>.toml): which
// product a build is, which modules it holds, its defaults, schema and
// package metadata. Decoding is strict: an unknown key, a key of the wrong
// type, a missing required key are errors naming file:line and the key.
package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Manifest is one flavor manifest.
type Manifest struct {
	Flavor   Flavor            `toml:"flavor"`
	Config   Config            `toml:"config"`
	Tools    Tools             `toml:"tools"`
	Defaults map[string]string `toml:"defaults"`
	DB       DB                `toml:"db"`
	Modules  Modules           `toml:"modules"`
	Build    Build             `toml:"build"`
	Package  Package           `toml:"package"`

	// File is the path the manifest was read from.
	File  string `toml:"-"`
	lines lineIndex
}

// Flavor is the product identity.
type Flavor struct {
	// Name of the flavor: kamailio, ser.
	Name string `toml:"name"`
	// Binary is the server program's name.
	Binary string `toml:"binary"`
	// Version of the product.
	Version string `toml:"version"`
	// Compat is the script mode for configs without a #! header:
	// kamailio, ser or maxcompat.
	Compat string `toml:"compat"`
}

// Config names the default configuration.
type Config struct {
	// File is the config file name (kamailio.cfg).
	File string `toml:"file"`
	// Dir is where it is installed (/etc/kamailio).
	Dir string `toml:"dir"`
	// Default is the default config in the source tree, relative to the
	// repository root.
	Default string `toml:"default"`
}

// Tools names the control and database tools.
type Tools struct {
	Ctl   string `toml:"ctl"`
	CtlRC string `toml:"ctl_rc"`
	DB    string `toml:"db"`
}

// DB is the flavor's database identity and schema.
type DB struct {
	// Name of the database (kamailio, ser).
	Name string `toml:"name"`
	// URL is the default db_url.
	URL string `toml:"url"`
	// Tables of the schema, each owned by a module.
	Tables []string `toml:"tables"`
	// Dialects the schema is generated for.
	Dialects []string `toml:"dialects"`
}

// Modules selects the modules compiled in.
type Modules struct {
	// List entries are tree/name, tree/* globs, or group:NAME.
	List []string `toml:"list"`
	// Exclude entries are tree/name or globs, removed from the list.
	Exclude []string `toml:"exclude"`
	// Groups are named lists of entries (same forms as List).
	Groups map[string][]string `toml:"groups"`
}

// Build holds build switches.
type Build struct {
	// Tags are Go build tags for core-wide switches.
	Tags []string `toml:"tags"`
}

// Package is the .deb/.rpm metadata.
type Package struct {
	Name        string   `toml:"name"`
	Release     string   `toml:"release"`
	Maintainer  string   `toml:"maintainer"`
	Vendor      string   `toml:"vendor"`
	Summary     string   `toml:"summary"`
	Description string   `toml:"description"`
	License     string   `toml:"license"`
	Homepage    string   `toml:"homepage"`
	Section     string   `toml:"section"`
	Priority    string   `toml:"priority"`
	User        string   `toml:"user"`
	Group       string   `toml:"group"`
	Depends     []string `toml:"depends"`
	Recommends  []string `toml:"recommends"`
	Suggests    []string `toml:"suggests"`
	Conflicts   []string `toml:"conflicts"`
	Replaces    []string `toml:"replaces"`
	Provides    []string `toml:"provides"`
	// Copyright is the copyright line of the package's copyright file
	// ("2001-2010 FhG FOKUS; 2026 sip-router developers").
	Copyright string `toml:"copyright"`
	// Deb and RPM add relations for one package format only (adduser
	// for the .deb's maintainer scripts, shadow-utils for the .rpm's).
	Deb PackageFormat `toml:"deb"`
	RPM PackageFormat `toml:"rpm"`
}

// PackageFormat holds the relations of one package format, added to the
// common ones.
type PackageFormat struct {
	Depends    []string `toml:"depends"`
	Recommends []string `toml:"recommends"`
	Suggests   []string `toml:"suggests"`
}

// Error is a manifest error at a line.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Errors is a list of manifest errors.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Load reads and checks a manifest file.
func Load(path string) (*Manifest, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return Parse(path, src)
}

// Parse decodes a manifest strictly.
func Parse(file string, src []byte) (*Manifest, error) {
	m := &Manifest{File: file, lines: indexLines(src)}
	md, err := toml.Decode(string(src), m)
	if err != nil {
		return nil, m.decodeError(err)
	}
	var errs Errors
	known := knownKeys()
	for _, k := range md.Keys() {
		key := k.String()
		if !known.match(key) && !isUndecodedChild(md, key) {
			// A key that decoded only because matching is case-insensitive.
			errs = append(errs, m.errAt(key, "unknown key %q%s", key, known.suggest(key)))
		}
	}
	reported := map[string]bool{}
	for _, k := range md.Undecoded() {
		key := k.String()
		if parentReported(reported, key) {
			continue
		}
		reported[key] = true
		errs = append(errs, m.errAt(key, "unknown key %q%s", key, known.suggest(key)))
	}
	errs = append(errs, m.checkRequired(md)...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return m, nil
}

func isUndecodedChild(md toml.MetaData, key string) bool {
	for _, u := range md.Undecoded() {
		if u.String() == key || strings.HasPrefix(key, u.String()+".") {
			return true
		}
	}
	return false
}

func parentReported(reported map[string]bool, key string) bool {
	for k := range reported {
		if strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}

var typeErrRe = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

func (m *Manifest) decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return Errors{{File: m.File, Line: pe.Position.Line, Col: pe.Position.Col, Msg: "syntax error: " + pe.Message}}
	}
	if sm := typeErrRe.FindStringSubmatch(err.Error()); sm != nil {
		line, _ := strconv.Atoi(sm[1])
		msg := strings.Replace(sm[3], "incompatible types: TOML value has type", "wrong type: the value is a TOML", 1)
		msg = strings.Replace(msg, "; destination has type", ", the key needs a", 1)
		return Errors{{File: m.File, Line: line, Msg: fmt.Sprintf("key %q: %s", sm[2], msg)}}
	}
	return Errors{{File: m.File, Msg: err.Error()}}
}

func (m *Manifest) checkRequired(md toml.MetaData) Errors {
	var errs Errors
	req := []struct {
		key string
		val string
	}{
		{"flavor.name", m.Flavor.Name},
		{"flavor.binary", m.Flavor.Binary},
		{"flavor.version", m.Flavor.Version},
		{"config.file", m.Config.File},
		{"config.dir", m.Config.Dir},
		{"config.default", m.Config.Default},
		{"package.name", m.Package.Name},
		{"package.maintainer", m.Package.Maintainer},
		{"package.license", m.Package.License},
	}
	for _, r := range req {
		if r.val == "" {
			section, _, _ := strings.Cut(r.key, ".")
			errs = append(errs, m.errAt(section, "missing required key %q", r.key))
		}
	}
	if len(m.Modules.List) == 0 {
		errs = append(errs, m.errAt("modules", "modules.list is empty: a flavor needs modules"))
	}
	switch m.Flavor.Compat {
	case "", "kamailio", "ser", "maxcompat":
	default:
		errs = append(errs, m.errAt("flavor.compat", "flavor.compat must be kamailio, ser or maxcompat, not %q", m.Flavor.Compat))
	}
	if !regexp.MustCompile(`^[a-z][a-z0-9_-]*$`).MatchString(m.Flavor.Name) && m.Flavor.Name != "" {
		errs = append(errs, m.errAt("flavor.name", "flavor.name %q must be lower-case letters, digits, - or _", m.Flavor.Name))
	}
	errs = append(errs, m.checkPackage()...)
	return errs
}

var (
	pkgNameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	pkgReleaseRe = regexp.MustCompile(`^[0-9A-Za-z.+~]+$`)
	pkgUserRe    = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
)

// checkPackage checks the [package] values that end up in package file
// names, control fields and maintainer scripts.
func (m *Manifest) checkPackage() Errors {
	var errs Errors
	p := m.Package
	if p.Name != "" && !pkgNameRe.MatchString(p.Name) {
		errs = append(errs, m.errAt("package.name", "package.name %q must be lower-case letters, digits, +, - or . (at least two, starting with a letter or digit)", p.Name))
	}
	if p.Release != "" && !pkgReleaseRe.MatchString(p.Release) {
		errs = append(errs, m.errAt("package.release", "package.release %q must be letters, digits, ., + or ~ (no -)", p.Release))
	}
	switch p.Priority {
	case "", "required", "important", "standard", "optional", "extra":
	default:
		errs = append(errs, m.errAt("package.priority", "package.priority must be required, important, standard, optional or extra, not %q", p.Priority))
	}
	for _, k := range []struct{ key, val string }{{"package.user", p.User}, {"package.group", p.Group}} {
		if k.val != "" && !pkgUserRe.MatchString(k.val) {
			errs = append(errs, m.errAt(k.key, "%s %q must be a system account name: lower-case letters, digits, _ or -", k.key, k.val))
		}
	}
	return errs
}

// errAt returns an error at the line of a dotted key (or its closest
// known parent).
func (m *Manifest) errAt(key, format string, args ...any) *Error {
	return &Error{File: m.File, Line: m.lines.lineOf(key), Msg: fmt.Sprintf(format, args...)}
}

// Errorf returns an error at the line of a key; used by callers that check
// values further (module names).
func (m *Manifest) Errorf(key, format string, args ...any) *Error {
	return m.errAt(key, format, args...)
}

// ValueError returns an error at the line where a string value of an array
// key appears ("modules.list" holding "modules_k/usrlco").
func (m *Manifest) ValueError(key, value, format string, args ...any) *Error {
	line := m.lines.valueLine(key, value)
	return &Error{File: m.File, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Line returns the line of a dotted key, 0 if it is not in the file.
func (m *Manifest) Line(key string) int { return m.lines.lineOf(key) }

// ValueLine returns the line where a string value of an array key appears.
func (m *Manifest) ValueLine(key, value string) int { return m.lines.valueLine(key, value) }

func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// lineIndex maps dotted keys to the line that defines them, from a small
// scan of the TOML text (the decoder does not report positions of keys).
type lineIndex struct {
	keys  map[string]int
	lines []string
}

var (
	tableRe = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?\s*(#.*)?$`)
	keyRe   = regexp.MustCompile(`^\s*([A-Za-z0-9_\-."]+)\s*=`)
)

func indexLines(src []byte) lineIndex {
	idx := lineIndex{keys: map[string]int{}}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	table := ""
	n := 0
	inArray := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		idx.lines = append(idx.lines, line)
		if inArray > 0 {
			inArray += strings.Count(line, "[") - strings.Count(line, "]")
			continue
		}
		if sm := tableRe.FindStringSubmatch(line); sm != nil {
			table = unquoteKey(sm[1])
			if _, ok := idx.keys[table]; !ok {
				idx.keys[table] = n
			}
			continue
		}
		if sm := keyRe.FindStringSubmatch(line); sm != nil {
			key := unquoteKey(sm[1])
			if table != "" {
				key = table + "." + key
			}
			if _, ok := idx.keys[key]; !ok {
				idx.keys[key] = n
			}
			rest := line[len(sm[0]):]
			inArray = strings.Count(rest, "[") - strings.Count(rest, "]")
			if inArray < 0 {
				inArray = 0
			}
		}
	}
	return idx
}

func unquoteKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"`)
	}
	return strings.Join(parts, ".")
}

func (idx lineIndex) lineOf(key string) int {
	for k := key; k != ""; {
		if n, ok := idx.keys[k]; ok {
			return n
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func (idx lineIndex) valueLine(key, value string) int {
	start := idx.lineOf(key)
	if start == 0 {
		return 0
	}
	q := strconv.Quote(value)
	for i := start - 1; i < len(idx.lines) && i < start-1+500; i++ {
		if strings.Contains(idx.lines[i], q) {
			return i + 1
		}
	}
	return start
}
