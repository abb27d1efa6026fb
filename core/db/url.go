package db

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// URL is a parsed database URL in Kamailio's form:
//
//	mysql://user:password@host[:port]/database
//	postgres://user:password@host[:port]/database   (also postgresql://, pgsql://)
//	sqlite:///absolute/path/file.db
//	sqlite://relative/path/file.db
//
// The user and password are optional, and so is the port. A query part
// (?key=value&…) carries driver options, such as sslmode for PostgreSQL.
// The user and password are taken literally, as Kamailio does: they may
// contain ':' (the password), '@' and '/' (the last '@' ends them), but
// not a '/' in the user name.
type URL struct {
	// Scheme is the scheme in lower case ("mysql", "pgsql" …).
	Scheme   string
	User     string
	Password string
	// Host is a name or an address (an IPv6 address without brackets).
	Host string
	// Port is 0 when the URL has none.
	Port int
	// Database is the database name, or for SQLite the file path
	// ("/var/lib/kamailio/kamailio.db", "data/kamailio.db").
	Database string
	// Params are the query parameters.
	Params map[string]string

	raw string
}

// FileSchemes are the schemes whose URL names a file rather than a server.
var fileSchemes = map[string]bool{"sqlite": true, "text": true, "berkeley": true, "flatstore": true}

// URLError is a database URL that cannot be used. Its message names the
// parameter the URL came from and shows the URL with its password hidden.
type URLError struct {
	// Param is the module parameter ("db_url").
	Param string
	// URL is the URL with its password replaced by ***.
	URL string
	Err error
}

func (e *URLError) Error() string {
	return fmt.Sprintf("%s %q: %v", e.Param, e.URL, e.Err)
}

func (e *URLError) Unwrap() error { return e.Err }

// ParseURL parses a database URL. The error never shows the password.
func ParseURL(raw string) (*URL, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, &URLError{Param: "db_url", URL: Redact(raw), Err: err}
	}
	return u, nil
}

func parseURL(raw string) (*URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("empty database URL")
	}
	if strings.TrimSpace(raw) != raw {
		return nil, fmt.Errorf("leading or trailing blanks")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			return nil, fmt.Errorf("control character at byte %d", i)
		}
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("not a database URL: it must start with a scheme such as mysql://, postgres:// or sqlite://")
	}
	if !validScheme(scheme) {
		return nil, fmt.Errorf("bad scheme %q", scheme)
	}
	u := &URL{Scheme: strings.ToLower(scheme), raw: raw, Params: map[string]string{}}
	if fileSchemes[u.Scheme] {
		return u, u.parseFile(rest)
	}
	return u, u.parseServer(rest)
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func (u *URL) parseFile(rest string) error {
	path, query, _ := strings.Cut(rest, "?")
	if err := u.parseQuery(query); err != nil {
		return err
	}
	if path == "" || path == "/" {
		return fmt.Errorf("no database file: write %s:///absolute/path/file.db or %s://relative/path/file.db", u.Scheme, u.Scheme)
	}
	if strings.HasSuffix(path, "/") {
		return fmt.Errorf("the database file %q is a folder name", path)
	}
	u.Database = path
	return nil
}

func (u *URL) parseServer(rest string) error {
	hostpart := rest
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		hostpart = rest[at+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		if user == "" {
			return fmt.Errorf("empty user name before '@'")
		}
		if strings.Contains(user, "/") {
			return fmt.Errorf("the user name contains '/'")
		}
		if hasPass && pass == "" {
			return fmt.Errorf("empty password after ':' (leave out the ':' for none)")
		}
		u.User, u.Password = user, pass
	}
	hostport, path, ok := strings.Cut(hostpart, "/")
	if !ok {
		return fmt.Errorf("no database name: the URL must end in /database")
	}
	if err := u.parseHostPort(hostport); err != nil {
		return err
	}
	name, query, _ := strings.Cut(path, "?")
	if err := u.parseQuery(query); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("no database name: the URL must end in /database")
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("database name %q contains '/'", name)
	}
	u.Database = name
	return nil
}

func (u *URL) parseHostPort(hp string) error {
	if hp == "" {
		return fmt.Errorf("no host")
	}
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.Index(hp, "]")
		if end < 0 {
			return fmt.Errorf("unterminated '[' in host %q", hp)
		}
		host = hp[1:end]
		switch after := hp[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port = after[1:]
		default:
			return fmt.Errorf("junk %q after the host", after)
		}
		if !strings.Contains(host, ":") {
			return fmt.Errorf("host %q in brackets is not an IPv6 address", host)
		}
	} else if i := strings.LastIndex(hp, ":"); i >= 0 {
		host, port = hp[:i], hp[i+1:]
		if strings.Contains(host, ":") {
			return fmt.Errorf("an IPv6 address must be written in brackets: [%s]", hp)
		}
	}
	if host == "" {
		return fmt.Errorf("no host")
	}
	for _, c := range host {
		if c <= ' ' || strings.ContainsRune(`"'\<>{}|^`+"`", c) {
			return fmt.Errorf("bad character %q in host", c)
		}
	}
	u.Host = host
	if port != "" || strings.HasSuffix(hp, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q (1..65535)", port)
		}
		u.Port = n
	}
	return nil
}

func (u *URL) parseQuery(q string) error {
	if q == "" {
		return nil
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return fmt.Errorf("bad parameters %q: %v", q, err)
	}
	for k, v := range vals {
		if k == "" {
			return fmt.Errorf("parameter without a name in %q", q)
		}
		if len(v) > 1 {
			return fmt.Errorf("parameter %s given %d times", k, len(v))
		}
		u.Params[k] = v[0]
	}
	return nil
}

// Raw is the URL as written, password included: never log it.
func (u *URL) Raw() string { return u.raw }

// String is the URL with its password hidden.
func (u *URL) String() string { return Redact(u.raw) }

// HostPort is host:port with the given default port, brackets around an
// IPv6 address.
func (u *URL) HostPort(defPort int) string {
	p := u.Port
	if p == 0 {
		p = defPort
	}
	host := u.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(p)
}

// ParamNames lists the query parameters, sorted.
func (u *URL) ParamNames() []string {
	names := make([]string, 0, len(u.Params))
	for k := range u.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Redact returns a database URL with the password replaced by ***. It
// works on malformed URLs too: whatever lies between the first ':' after
// "//" and the last '@' is taken as the password.
func Redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		// Not a URL: it may still hold a password; show only the start.
		if j := strings.IndexAny(raw, ":@"); j >= 0 {
			return raw[:j] + "…"
		}
		return raw
	}
	rest := raw[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return raw
	}
	return raw[:i+3] + rest[:colon+1] + "***" + rest[at:]
}
