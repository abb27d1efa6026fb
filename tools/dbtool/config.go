package dbtool

import (
	"fmt"
	"slices"
	"strings"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/tools/ctl"
	"sip-router.org/tools/schemas"
)

// Config is what a run of the tool knows: the flavor record, the schema,
// and (for the commands that reach a database) the settings.
type Config struct {
	Flavor *ctl.Flavor
	// Groups are the tables of the flavor's database, one group per
	// module: the groups of schema.json (the modules compiled into the
	// flavor), then those of the tools' own declarations that the flavor
	// record names in db.tables.
	Groups []db.Group
	// Undeclared are the names of db.tables that nothing declares.
	Undeclared []string
	// RCFiles are the rc files looked for, RC the settings read.
	RCFiles []string
	RC      *ctl.RC
	DB      ctl.DBSettings
}

// LoadConfig reads the flavor record and its schema from the share folder
// and, with settings, the rc files and the environment.
func LoadConfig(flavorName string, settings bool) (*Config, error) {
	if flavorName == "" {
		return nil, fmt.Errorf("this binary does not know its flavor (build it with -X main.flavorName=kamailio)")
	}
	f, err := ctl.LoadFlavor(flavorName)
	if err != nil {
		return nil, err
	}
	groups, err := db.LoadDump(f.ShareDir)
	if err != nil {
		return nil, err
	}
	c := &Config{Flavor: f}
	c.Groups, c.Undeclared = flavorTables(f, groups)
	if !settings {
		return c, nil
	}
	rcName := f.CtlRC
	if rcName == "" {
		rcName = map[string]string{"kamailio": "kamctlrc", "ser": "serctlrc"}[flavorName]
	}
	if rcName == "" {
		return nil, fmt.Errorf("flavor record %s/flavor.json names no rc file (ctl_rc)", f.ShareDir)
	}
	c.RCFiles = ctl.RCFiles(flavorName, rcName)
	rc, err := ctl.LoadRC(c.RCFiles, ctl.DBSettingNames)
	if err != nil {
		return nil, err
	}
	c.RC = rc
	if len(rc.Files) == 0 && !rc.Has("DBENGINE") {
		return nil, fmt.Errorf("no rc file (looked for %s) and no DBENGINE in the environment: write one with DBENGINE=MYSQL, PGSQL or SQLITE",
			strings.Join(c.RCFiles, ", "))
	}
	s, err := rc.DB(f.DBDefaults())
	if err != nil {
		if len(rc.Files) > 0 && rc.Origin("DBENGINE") == "" {
			return nil, fmt.Errorf("%w (read %s)", err, strings.Join(rc.Files, ", "))
		}
		return nil, err
	}
	c.DB = s
	return c, nil
}

// flavorTables adds to the module groups the tools' declarations of the
// tables the flavor names and no module declares.
func flavorTables(f *ctl.Flavor, groups []db.Group) ([]db.Group, []string) {
	have := map[string]bool{db.VersionTable: true}
	for _, g := range groups {
		for _, t := range g.Tables {
			have[t.Name] = true
		}
	}
	for _, g := range schemas.Extra(f.Name) {
		var picked []*schema.Table
		for _, t := range g.Tables {
			if !have[t.Name] && slices.Contains(f.DB.Tables, t.Name) {
				picked = append(picked, t)
				have[t.Name] = true
			}
		}
		if len(picked) > 0 {
			groups = append(groups, db.Group{Name: g.Name, Tables: picked})
		}
	}
	var missing []string
	for _, n := range f.DB.Tables {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	return groups, missing
}

// Tables lists every table of the schema, in order.
func (c *Config) Tables() []*schema.Table {
	var out []*schema.Table
	for _, g := range c.Groups {
		out = append(out, g.Tables...)
	}
	return out
}

// Table returns the declaration of a table, or nil.
func (c *Config) Table(name string) *schema.Table {
	for _, g := range c.Groups {
		for _, t := range g.Tables {
			if t.Name == name {
				return t
			}
		}
	}
	return nil
}

// dialect is the SQL dialect of the configured engine.
func (c *Config) dialect() *db.Dialect {
	switch c.DB.Engine {
	case ctl.MySQL:
		return db.MySQL
	case ctl.PgSQL:
		return db.Postgres
	}
	return db.SQLite
}
