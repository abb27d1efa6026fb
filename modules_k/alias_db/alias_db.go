// Package aliasdb is Kamailio's alias_db module: it replaces a
// Request-URI that is an alias (a row of the dbaliases table) by the URI
// of the user it stands for, looking the table up for every request (no
// cache).
package aliasdb

import (
	"context"
	"database/sql"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/db"
	"sip-router.org/core/db/dbmod"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// TableVersion is the version of the dbaliases table.
const TableVersion = 1

type aliasDB struct {
	DBURL             string `modparam:"db_url"`
	UserColumn        string `modparam:"user_column"`
	DomainColumn      string `modparam:"domain_column"`
	AliasUserColumn   string `modparam:"alias_user_column"`
	AliasDomainColumn string `modparam:"alias_domain_column"`
	UseDomain         bool   `modparam:"use_domain"`
	DomainPrefix      string `modparam:"domain_prefix"`
	AppendBranches    bool   `modparam:"append_branches"`

	url string
	db  *db.DB
}

func init() {
	module.Register(module.Spec[*aliasDB]{
		Name:    "alias_db",
		Tree:    "modules_k",
		Summary: "Request-URI aliases from the dbaliases table",
		New: func() *aliasDB {
			return &aliasDB{
				UserColumn: "username", DomainColumn: "domain",
				AliasUserColumn: "alias_username", AliasDomainColumn: "alias_domain",
			}
		},
		Funcs: []module.Func[*aliasDB]{
			{
				Name: "alias_db_lookup", Args: []int{1, 2}, Routes: sr.RouteRequest | sr.RouteFailure,
				Fixup: fixupLookup, Call: (*aliasDB).lookup,
			},
		},
		Tables: []*schema.Table{Table()},
	})
}

// Table is the dbaliases table (version 1), as Kamailio 3.0's
// alias_db-create.sql declares it, with the shape fix that brings OpenSER
// 1.0's and 1.2's dbaliases table to it (see history.go).
func Table() *schema.Table {
	t := &schema.Table{
		Name:    "dbaliases",
		Version: TableVersion,
		Comment: "Aliases of users: alias_username@alias_domain stands for username@domain",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "alias_username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "alias_domain", Type: schema.String, Size: 64, Default: "''"},
			{Name: "username", Type: schema.String, Size: 64, Default: "''"},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
		},
		Keys:    []schema.Index{{Name: "alias_idx", Columns: []string{"alias_username", "alias_domain"}}},
		Indexes: []schema.Index{{Name: "target_idx", Columns: []string{"username", "domain"}}},
	}
	t.Fixes = TableFixes(t)
	return t
}

var (
	_ module.Configurer = (*aliasDB)(nil)
	_ module.Initer     = (*aliasDB)(nil)
	_ module.Destroyer  = (*aliasDB)(nil)
)

// Configure checks the URL and the column names.
func (m *aliasDB) Configure(env *module.ConfigEnv) error {
	url, err := dbmod.URLColumns(env, m.DBURL,
		"user_column", m.UserColumn, "domain_column", m.DomainColumn,
		"alias_user_column", m.AliasUserColumn, "alias_domain_column", m.AliasDomainColumn,
	)
	if err != nil {
		return err
	}
	m.url = url
	return nil
}

// Init opens the database.
func (m *aliasDB) Init(env *module.InitEnv) error {
	d, err := dbmod.Open(env, m.url)
	if err != nil {
		return err
	}
	m.db = d
	return nil
}

// Destroy closes the database.
func (m *aliasDB) Destroy() {
	dbmod.Close(&m.db)
}

// lookupArgs are the prepared arguments of alias_db_lookup.
type lookupArgs struct {
	table     string
	useDomain int // -1 module default, 0 no, 1 yes
}

// fixupLookup prepares (table[, flags]): flags "d" looks the alias up by
// user only, "u" by user and domain, whatever use_domain says.
func fixupLookup(_ *aliasDB, fx *module.Fixup, args []module.Arg) ([]any, error) {
	table, err := fx.Str(args[0])
	if err != nil {
		return nil, err
	}
	if err := dbmod.CheckTableArg(fx, args[0], table); err != nil {
		return nil, err
	}
	la := lookupArgs{table: table, useDomain: -1}
	if len(args) == 2 {
		flags, err := fx.Str(args[1])
		if err != nil {
			return nil, err
		}
		for _, f := range flags {
			switch f {
			case 'd', 'D':
				la.useDomain = 0
			case 'u', 'U':
				la.useDomain = 1
			default:
				return nil, fx.Errorf(args[1], "%s: unknown flag %q (d or u)", fx.Func, f)
			}
		}
	}
	return []any{la}, nil
}

// lookup is alias_db_lookup(table[, flags]): when the Request-URI is an
// alias, it becomes sip:username@domain of the first row found; with
// append_branches the other rows become branches. 1 when the alias was
// found, -1 when not (or on a database error).
func (m *aliasDB) lookup(c *sr.Ctx, p []any) int {
	la := p[0].(lookupArgs)
	req := c.Req
	if req == nil || m.db == nil {
		return -1
	}
	user := req.Recipient.User
	if user == "" {
		c.Log.Debug("alias_db: the Request-URI has no user")
		return -1
	}
	host := req.Recipient.Host
	if m.DomainPrefix != "" && len(host) > len(m.DomainPrefix) && strings.HasPrefix(host, m.DomainPrefix) {
		host = host[len(m.DomainPrefix):]
	}
	useDomain := m.UseDomain
	if la.useDomain >= 0 {
		useDomain = la.useDomain == 1
	}
	where := []string{m.AliasUserColumn}
	args := []any{user}
	if useDomain {
		where = append(where, m.AliasDomainColumn)
		args = append(args, host)
	}
	query := dbmod.Select(m.db.Dialect(), la.table, []string{m.UserColumn, m.DomainColumn}, where)
	if !m.AppendBranches {
		query += " LIMIT 1"
	}
	targets, err := m.targets(query, args)
	if err != nil {
		c.Log.Error("alias_db: query failed", "table", la.table, "error", err)
		return -1
	}
	if len(targets) == 0 {
		return -1
	}
	for i, t := range targets {
		var u sip.Uri
		if err := sip.ParseUri(t, &u); err != nil || u.Host == "" {
			c.Log.Error("alias_db: the alias leads to an invalid URI", "uri", t)
			if i == 0 {
				return -1
			}
			continue
		}
		if i == 0 {
			req.Recipient = u
			continue
		}
		c.Branches = append(c.Branches, sr.Branch{URI: t, Q: sr.QUnset})
	}
	return 1
}

// targets runs the query and builds sip:user@domain for each row.
func (m *aliasDB) targets(query string, args []any) ([]string, error) {
	rows, err := m.db.Query(context.Background(), query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u, d sql.NullString
		if err := rows.Scan(&u, &d); err != nil {
			return nil, err
		}
		if d.String == "" {
			continue
		}
		t := "sip:" + d.String
		if u.String != "" {
			t = "sip:" + u.String + "@" + d.String
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
