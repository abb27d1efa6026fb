// Package dbmod is the database boilerplate of the modules that read a
// database (auth_db, domain, alias_db, uri_db, avp_db, usrloc … of both
// trees): the URL is db_url or else the flavor's default, checked in
// Configure without connecting; Init opens it (refusing a URL whose
// driver module is not loaded) and checks the versions of the tables the
// module reads, with the flavor's migrate hint; Destroy closes it.
package dbmod

import (
	"errors"
	"fmt"

	"sip-router.org/core/db"
	"sip-router.org/core/module"
)

// ErrNoURL is returned by URL when neither db_url nor the flavor gives a
// database URL.
var ErrNoURL = errors.New("db_url is not set and the flavor has no default database URL")

// Default is the URL a module uses: dbURL (its db_url parameter), or the
// flavor's default db_url; "" when neither is set.
func Default(env *module.ConfigEnv, dbURL string) string {
	if dbURL == "" && env != nil && env.Defaults != nil {
		return env.Defaults["db_url"]
	}
	return dbURL
}

// URL is Default, required and checked (db.CheckURL): a module's
// Configure.
func URL(env *module.ConfigEnv, dbURL string) (string, error) {
	url := Default(env, dbURL)
	if url == "" {
		return "", ErrNoURL
	}
	if err := db.CheckURL("db_url", url); err != nil {
		return "", err
	}
	return url, nil
}

// CheckLoaded checks in Configure what Open checks in Init: that the
// configuration loads the driver module of url. load is how the error
// tells to load it ("%s.so" for loadmodule "db_mysql.so"). A URL that
// does not parse is left to db.CheckURL.
func CheckLoaded(env *module.ConfigEnv, url, load string) error {
	u, err := db.ParseURL(url)
	if err != nil || env == nil || env.Loaded == nil {
		return nil
	}
	if drv, ok := db.LookupDriver(u.Scheme); ok && !env.Loaded(drv.Module()) {
		return fmt.Errorf("db_url %q: module %s is not loaded (add loadmodule \"%s\")", u.String(), drv.Module(), fmt.Sprintf(load, drv.Module()))
	}
	return nil
}

// Table is a table a module reads and the version it needs.
type Table struct {
	Name    string
	Version int
}

// Open opens the database of url (its driver module must be loaded),
// logging to the module's logger, and checks the versions of tables, the
// migrate hint naming the flavor's database tool: a module's Init. On
// error nothing stays open.
func Open(env *module.InitEnv, url string, tables ...Table) (*db.DB, error) {
	d, err := db.Open(env.Ctx, url, env.Loaded)
	if err != nil {
		return nil, err
	}
	d.SetLogger(env.Log)
	for _, t := range tables {
		if err := db.CheckVersion(env.Ctx, d, t.Name, t.Version, env.MigrateHint()); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// Close closes *d when it is open and clears it: a module's Destroy.
func Close(d **db.DB) {
	if *d != nil {
		(*d).Close()
		*d = nil
	}
}

// ValidName reports whether s may be a table or column name given as a
// parameter, to be put (quoted) into SQL: a letter or '_', then up to 63
// letters, digits and '_'.
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// CheckColumns checks column name parameters, given as pairs of the
// parameter's name and its value.
func CheckColumns(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !ValidName(pairs[i+1]) {
			return fmt.Errorf("%s %q is not a column name", pairs[i], pairs[i+1])
		}
	}
	return nil
}
