package dbmod

import (
	"fmt"
	"slices"
	"strings"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
)

// URLColumns is the usual Configure check of a database module's
// parameters: it returns the URL of dbURL (see URL), then checks the
// column name parameters, given as CheckColumns takes them.
func URLColumns(env *module.ConfigEnv, dbURL string, columns ...string) (string, error) {
	url, err := URL(env, dbURL)
	if err != nil {
		return "", err
	}
	if err := CheckColumns(columns...); err != nil {
		return "", err
	}
	return url, nil
}

// CheckTable checks a table name parameter (param, its value name): it
// must pass ValidName.
func CheckTable(param, name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%s %q is not a table name", param, name)
	}
	return nil
}

// CheckTableArg checks, at fixup, a table name given to a script function
// (name, the value of argument arg): it must pass ValidName.
func CheckTableArg(fx *module.Fixup, arg module.Arg, name string) error {
	if !ValidName(name) {
		return fx.Errorf(arg, "%s: %q is not a table name", fx.Func, name)
	}
	return nil
}

// Tables gathers the tables the script's calls of a module name, all read
// in one version, so that Init checks the version of each.
type Tables struct {
	// Version is the table version the module reads.
	Version int
	names   []string
}

// Add checks a table name argument (see CheckTableArg) and adds the name
// to the set, once.
func (t *Tables) Add(fx *module.Fixup, arg module.Arg, name string) error {
	if err := CheckTableArg(fx, arg, name); err != nil {
		return err
	}
	if !slices.Contains(t.names, name) {
		t.names = append(t.names, name)
	}
	return nil
}

// Open is Open with the version check of every table added; with none
// added (no call in the script) it opens nothing and returns nil.
func (t *Tables) Open(env *module.InitEnv, url string) (*db.DB, error) {
	if len(t.names) == 0 {
		return nil, nil
	}
	tables := make([]Table, len(t.names))
	for i, n := range t.names {
		tables[i] = Table{Name: n, Version: t.Version}
	}
	return Open(env, url, tables...)
}

// Select is the query SELECT columns FROM table WHERE each of where = ?,
// joined by AND, every name quoted for dialect d.
func Select(d *db.Dialect, table string, columns, where []string) string {
	var q strings.Builder
	q.WriteString("SELECT ")
	for i, c := range columns {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(d.Quote(c))
	}
	q.WriteString(" FROM ")
	q.WriteString(d.Quote(table))
	for i, w := range where {
		if i == 0 {
			q.WriteString(" WHERE ")
		} else {
			q.WriteString(" AND ")
		}
		q.WriteString(d.Quote(w))
		q.WriteString(" = ?")
	}
	return q.String()
}
