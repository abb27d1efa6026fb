package location

import (
	"errors"
	"fmt"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/module"
)

// This file holds what both usrloc modules do around the store: their
// database parameters, and their tables as the modules' APIs show them.

// ValidName reports whether s may be a column or table name given as a
// usrloc parameter: 1 to 64 letters, digits and '_'.
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ConfigureDB checks a module's database parameters in Configure,
// without connecting: with db_mode 0 there is no database (""); with
// another mode db_url, or the flavor's default, is required, must parse,
// and its driver module must be loaded (load says how the error tells to
// load it, as dbmod.CheckLoaded). It returns the URL to use.
func ConfigureDB(env *module.ConfigEnv, dbMode int, dbURL, load string) (string, error) {
	if dbMode == 0 {
		return "", nil
	}
	url := dbmod.Default(env, dbURL)
	if url == "" {
		return "", fmt.Errorf("db_mode %d needs a database: set db_url", dbMode)
	}
	if err := db.CheckURL("db_url", url); err != nil {
		return "", err
	}
	return url, dbmod.CheckLoaded(env, url, load)
}

// InitURL is the database URL for Init: url as ConfigureDB returned it,
// or, when Configure was not run (a module set built by hand), db_url or
// the flavor's default db_url. It is "" with db_mode 0.
func InitURL(env *module.InitEnv, dbMode int, url, dbURL string) string {
	if dbMode == 0 || url != "" {
		return url
	}
	if dbURL == "" && env.Flavor != nil {
		return env.Flavor.Default("db_url")
	}
	return dbURL
}

// ErrNotStarted is what a module's API says before Init.
var ErrNotStarted = errors.New("usrloc is not initialised")

// View is a table as a module's API shows it: records of the module's
// type R, made of a key and its contacts by Rec. Its methods are those of
// Table, returning R.
type View[C any, X Extra[X], R any] struct {
	T   *Table[C, X]
	Rec func(key string, cs []C) R
}

// Name is the table name.
func (v View[C, X, R]) Name() string { return v.T.Name() }

// Get returns the key's record (see Table.Get).
func (v View[C, X, R]) Get(key string) (R, bool, error) {
	cs, found, err := v.T.Get(key)
	return v.Rec(key, cs), found, err
}

// Update changes the key's record (see Table.Update).
func (v View[C, X, R]) Update(key string, memOnly bool, fn func(cur []C) ([]C, error)) (R, error) {
	cs, err := v.T.Update(key, memOnly, fn)
	return v.Rec(key, cs), err
}

// Delete removes every contact of the key.
func (v View[C, X, R]) Delete(key string, memOnly bool) error { return v.T.Delete(key, memOnly) }

// Register returns the view of the table of that name, creating the
// table (see Service.Register); ErrNotStarted on a nil service.
func Register[C any, X Extra[X], R any](s *Service[C, X], name string, rec func(key string, cs []C) R) (View[C, X, R], error) {
	if s == nil {
		return View[C, X, R]{}, ErrNotStarted
	}
	t, err := s.Register(name)
	if err != nil {
		return View[C, X, R]{}, err
	}
	return View[C, X, R]{T: t, Rec: rec}, nil
}
