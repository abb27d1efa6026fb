// Package avpops is Kamailio 3.0's avpops module: operations on AVPs
// (delete, copy, check, arithmetic, substitution, pushing values into the
// Request-URI or branches) and their storage in a database table
// (usr_preferences by convention), keyed by a user's uuid or by username
// and domain.
package avpops

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// TableVersion is the version of the usr_preferences table in Kamailio 3.0.
const TableVersion = 2

type avpops struct {
	DBURL           string   `modparam:"db_url"`
	AVPTable        string   `modparam:"avp_table"`
	UseDomain       bool     `modparam:"use_domain"`
	UUIDColumn      string   `modparam:"uuid_column"`
	UsernameColumn  string   `modparam:"username_column"`
	DomainColumn    string   `modparam:"domain_column"`
	AttributeColumn string   `modparam:"attribute_column"`
	ValueColumn     string   `modparam:"value_column"`
	TypeColumn      string   `modparam:"type_column"`
	DBScheme        []string `modparam:"db_scheme"`

	schemes map[string]*dbScheme
	db      *db.DB
	ctx     context.Context
	stop    context.CancelFunc
}

// Every function may run in request, failure, branch, reply and local
// routes, as in Kamailio 3.0.
const rtAll = sr.RouteRequest | sr.RouteFailure | sr.RouteBranch | sr.RouteOnReply | sr.RouteLocal

func init() {
	module.Register(module.Spec[*avpops]{
		Name:    "avpops",
		Tree:    "modules_k",
		Summary: "AVP operations and AVP storage in a database table",
		New: func() *avpops {
			return &avpops{
				UUIDColumn: "uuid", UsernameColumn: "username", DomainColumn: "domain",
				AttributeColumn: "attribute", ValueColumn: "value", TypeColumn: "type",
			}
		},
		Funcs: []module.Func[*avpops]{
			{Name: "avp_db_load", Args: []int{2}, Routes: rtAll, Fixup: fixupDBLoad, Call: (*avpops).dbLoad},
			{Name: "avp_db_store", Args: []int{2}, Routes: rtAll, Fixup: fixupDBStore, Call: (*avpops).dbStore},
			{Name: "avp_db_delete", Args: []int{2}, Routes: rtAll, Fixup: fixupDBDelete, Call: (*avpops).dbDelete},
			{Name: "avp_db_query", Args: []int{1, 2}, Routes: rtAll, Fixup: fixupDBQuery, Call: (*avpops).dbQuery},
			{Name: "avp_delete", Args: []int{1}, Routes: rtAll, Fixup: fixupDelete, Call: (*avpops).avpDelete},
			{Name: "avp_copy", Args: []int{2}, Routes: rtAll, Fixup: fixupCopy, Call: (*avpops).avpCopy},
			{Name: "avp_pushto", Args: []int{2}, Routes: rtAll, Fixup: fixupPushto, Call: (*avpops).avpPushto},
			{Name: "avp_check", Args: []int{2}, Routes: rtAll, Fixup: fixupCheck, Call: (*avpops).avpCheck},
			{Name: "avp_op", Args: []int{2}, Routes: rtAll, Fixup: fixupOp, Call: (*avpops).avpOp},
			{Name: "avp_subst", Args: []int{2}, Routes: rtAll, Fixup: fixupSubst, Call: (*avpops).avpSubst},
			{Name: "is_avp_set", Args: []int{1}, Routes: rtAll, Fixup: fixupIsSet, Call: (*avpops).isAVPSet},
			{Name: "avp_print", Routes: rtAll, Call: (*avpops).avpPrint},
			{Name: "avp_insert", Args: []int{3}, Routes: rtAll, Fixup: fixupInsert, Call: (*avpops).avpInsert},
		},
		Tables: []*schema.Table{Table()},
	})
}

// Table is the usr_preferences table (version 2), as Kamailio 3.0's
// avpops-create.sql declares it.
func Table() *schema.Table {
	return &schema.Table{
		Name:    "usr_preferences",
		Version: TableVersion,
		Comment: "User preferences: attributes loaded into AVPs by avp_db_load, by uuid or by username and domain",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true, Unsigned: true},
			{Name: "uuid", Type: schema.String, Size: 64, Default: "''"},
			{Name: "username", Type: schema.String, Size: 128, Default: "'0'"},
			{Name: "domain", Type: schema.String, Size: 64, Default: "''"},
			{Name: "attribute", Type: schema.String, Size: 32, Default: "''"},
			{Name: "type", Type: schema.Int, Default: "0",
				Comment: "bit 0: the value is an integer; bit 1: the attribute name is an integer id"},
			{Name: "value", Type: schema.String, Size: 128, Default: "''"},
			{Name: "last_modified", Type: schema.DateTime, Default: "'1900-01-01 00:00:01'"},
		},
		Indexes: []schema.Index{
			{Name: "ua_idx", Columns: []string{"uuid", "attribute"}},
			{Name: "uda_idx", Columns: []string{"username", "domain", "attribute"}},
		},
	}
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

var (
	_ module.Configurer = (*avpops)(nil)
	_ module.Initer     = (*avpops)(nil)
	_ module.Destroyer  = (*avpops)(nil)
)

// errNoDB is the fixup error of the database functions without db_url.
var errNoDB = errors.New("set db_url to use the avp_db_* functions")

// Configure checks the database parameters and the schemes, without
// connecting.
func (m *avpops) Configure(env *module.ConfigEnv) error {
	for _, c := range []struct{ param, v string }{
		{"uuid_column", m.UUIDColumn}, {"username_column", m.UsernameColumn}, {"domain_column", m.DomainColumn},
		{"attribute_column", m.AttributeColumn}, {"value_column", m.ValueColumn}, {"type_column", m.TypeColumn},
	} {
		if !identRE.MatchString(c.v) {
			return fmt.Errorf("%s %q is not a column name", c.param, c.v)
		}
	}
	m.schemes = map[string]*dbScheme{}
	for _, s := range m.DBScheme {
		sc, err := parseScheme(s)
		if err != nil {
			return fmt.Errorf("db_scheme %q: %w", s, err)
		}
		if _, dup := m.schemes[sc.name]; dup {
			return fmt.Errorf("db_scheme %q: scheme %q is defined twice", s, sc.name)
		}
		m.schemes[sc.name] = sc
	}
	if m.DBURL == "" {
		return nil
	}
	if m.AVPTable == "" {
		return errors.New("db_url is set but avp_table is empty: set avp_table (usually \"usr_preferences\")")
	}
	if !identRE.MatchString(m.AVPTable) {
		return fmt.Errorf("avp_table %q is not a table name", m.AVPTable)
	}
	if err := db.CheckURL("db_url", m.DBURL); err != nil {
		return err
	}
	if u, err := db.ParseURL(m.DBURL); err == nil && env.Loaded != nil {
		if drv, ok := db.LookupDriver(u.Scheme); ok && !env.Loaded(drv.Module()) {
			return fmt.Errorf("db_url %q: module %s is not loaded (add loadmodule \"%s.so\")", u.String(), drv.Module(), drv.Module())
		}
	}
	return nil
}

// Init opens the database when db_url is set and checks the version of
// avp_table when it is usr_preferences.
func (m *avpops) Init(env *module.InitEnv) error {
	parent := env.Ctx
	if parent == nil {
		parent = context.Background()
	}
	m.ctx, m.stop = context.WithCancel(parent)
	if m.DBURL == "" {
		return nil
	}
	d, err := db.Open(m.ctx, m.DBURL, env.Loaded)
	if err != nil {
		return err
	}
	d.SetLogger(env.Log)
	m.db = d
	if m.AVPTable == Table().Name {
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		defer cancel()
		if err := db.CheckVersion(ctx, d, m.AVPTable, TableVersion, env.MigrateHint()); err != nil {
			return err
		}
	}
	return nil
}

// Destroy closes the database.
func (m *avpops) Destroy() {
	if m.stop != nil {
		m.stop()
	}
	if m.db != nil {
		m.db.Close()
		m.db = nil
	}
}
