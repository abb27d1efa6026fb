// Package gflags is SER 3.0's gflags module: 32 global flags shared by
// every message and worker, which the script tests (is_gflag) and the
// operator switches over RPC, and the global attributes of the
// global_attrs table ($g.x, or a bare $x), visible to every message.
package gflags

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
)

// TableVersion is the version of global_attrs.
const TableVersion = 1

// gflagsAttr is the global attribute that holds the flags in the table.
const gflagsAttr = "gflags"

// Module is the instance. Its AddGlobals method is what the server calls
// (as a request filter) to give a message the global attributes.
type Module struct {
	Initial    int    `modparam:"initial"`
	DBURL      string `modparam:"db_url"`
	LoadGlobal int    `modparam:"load_global_attrs" min:"0" max:"1"`
	AttrTable  string `modparam:"global_attrs_table"`
	AttrName   string `modparam:"global_attrs_name"`
	AttrType   string `modparam:"global_attrs_type"`
	AttrValue  string `modparam:"global_attrs_value"`
	AttrFlags  string `modparam:"global_attrs_flags"`

	flags   atomic.Uint32
	globals atomic.Pointer[[]sr.AVP]
	url     string
	db      *db.DB
	log     *slog.Logger
	mu      sync.Mutex // serialises reloads and flushes
}

const routes = sr.RouteRequest | sr.RouteFailure | sr.RouteOnReply

func init() {
	module.Register(module.Spec[*Module]{
		Name:    "gflags",
		Tree:    "modules_s",
		Summary: "Global flags and global attributes shared by every message",
		New: func() *Module {
			return &Module{AttrTable: "global_attrs", AttrName: "name", AttrType: "type", AttrValue: "value", AttrFlags: "flags"}
		},
		Funcs: []module.Func[*Module]{
			{Name: "set_gflag", Args: []int{1}, Routes: routes, Fixup: fixFlag, Call: (*Module).setGflag},
			{Name: "reset_gflag", Args: []int{1}, Routes: routes, Fixup: fixFlag, Call: (*Module).resetGflag},
			{Name: "is_gflag", Args: []int{1}, Routes: routes, Fixup: fixFlag, Call: (*Module).isGflag},
			{Name: "flush_gflags", Routes: routes, Call: (*Module).flushGflags},
		},
		RPCs: []module.RPC[*Module]{
			{Name: "gflags.set", Doc: "Set a global flag (0..31)", Call: (*Module).rpcSet},
			{Name: "gflags.is_set", Doc: "Tell whether a global flag (0..31) is set", Call: (*Module).rpcIsSet},
			{Name: "gflags.reset", Doc: "Reset a global flag (0..31)", Call: (*Module).rpcReset},
			{Name: "gflags.flush", Doc: "Store the global flags in the database", Call: (*Module).rpcFlush},
			{Name: "gflags.dump", Doc: "List the 32 global flags", Call: (*Module).rpcDump},
			{Name: "global.reload", Doc: "Reload global attributes from database", Call: (*Module).rpcReload},
		},
		Tables: []*schema.Table{Table()},
	})
}

// Table is global_attrs, version 1.
func Table() *schema.Table {
	return &schema.Table{
		Name: "global_attrs", Version: TableVersion,
		Comment: "Global attributes, visible to every message ($g.name); the gflags row keeps the global flags",
		Columns: []schema.Column{
			{Name: "name", Type: schema.String, Size: 32},
			{Name: "type", Type: schema.Int, Default: "0", Comment: "2 string, otherwise integer"},
			{Name: "value", Type: schema.String, Size: 255, Null: true},
			{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0", Comment: "1 load by SER, 32 for SERWeb …"},
		},
		Keys: []schema.Index{{Name: "global_attrs_idx", Columns: []string{"name", "value"}}},
	}
}

var (
	_ module.Configurer    = (*Module)(nil)
	_ module.Initer        = (*Module)(nil)
	_ module.Destroyer     = (*Module)(nil)
	_ module.RequestFilter = (*Module)(nil)
)

// Configure checks the URL and names; the database is needed only with
// load_global_attrs.
func (m *Module) Configure(env *module.ConfigEnv) error {
	m.flags.Store(uint32(m.Initial))
	for _, p := range []struct{ name, v string }{
		{"global_attrs_table", m.AttrTable}, {"global_attrs_name", m.AttrName}, {"global_attrs_type", m.AttrType},
		{"global_attrs_value", m.AttrValue}, {"global_attrs_flags", m.AttrFlags},
	} {
		if err := serattr.CheckIdent(p.name, p.v); err != nil {
			return err
		}
	}
	m.url = m.DBURL
	if m.url == "" {
		m.url = env.Defaults["db_url"]
	}
	if m.url == "" {
		if m.LoadGlobal == 1 {
			return errors.New("load_global_attrs needs a database: db_url is not set and the flavor has no default database URL")
		}
		return nil
	}
	return db.CheckURL("db_url", m.url)
}

// Init loads the global attributes (and the stored flags) when
// load_global_attrs is set.
func (m *Module) Init(env *module.InitEnv) error {
	m.log = env.Log
	if m.LoadGlobal == 0 {
		return nil
	}
	d, err := db.OpenParam(env.Ctx, "db_url", m.url, env.Loaded)
	if err != nil {
		return err
	}
	d.SetLogger(env.Log)
	m.db = d
	if err := db.CheckVersion(env.Ctx, d, m.AttrTable, TableVersion, strings.TrimPrefix(env.MigrateHint(), "run ")); err != nil {
		return err
	}
	n, err := m.reload(env.Ctx)
	if err != nil {
		return err
	}
	env.Log.Info("gflags: global attributes loaded", "count", n)
	return nil
}

// Destroy closes the database.
func (m *Module) Destroy() {
	if m.db != nil {
		m.db.Close()
		m.db = nil
	}
}

// FilterRequest gives every request the global attributes; it never
// consumes the request.
func (m *Module) FilterRequest(c *sr.Ctx) bool {
	m.AddGlobals(c)
	return false
}

// AddGlobals adds the global attributes to a message's attributes.
func (m *Module) AddGlobals(c *sr.Ctx) {
	p := m.globals.Load()
	if p == nil || len(*p) == 0 {
		return
	}
	if c.AVPs == nil {
		c.AVPs = sr.NewAVPList()
	}
	for _, a := range *p {
		c.AVPs.Add(a.Name, a.Val, a.Flags)
	}
}

// Flags returns the global flags.
func (m *Module) Flags() uint32 { return m.flags.Load() }

func (m *Module) reload(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.db == nil {
		return 0, errors.New("load_global_attrs is off: there is no database")
	}
	q := m.db.Dialect().Quote
	rows, err := m.db.Query(ctx, "SELECT "+q(m.AttrName)+", "+q(m.AttrType)+", "+q(m.AttrValue)+", "+q(m.AttrFlags)+
		" FROM "+q(m.AttrTable))
	if err != nil {
		return 0, fmt.Errorf("load table %s: %w", m.AttrTable, err)
	}
	defer rows.Close()
	var list []sr.AVP
	restore, has := uint32(0), false
	for rows.Next() {
		var name, value sql.NullString
		var typ, flags sql.NullInt64
		if err := rows.Scan(&name, &typ, &value, &flags); err != nil {
			return 0, fmt.Errorf("load table %s: %w", m.AttrTable, err)
		}
		if !name.Valid || !typ.Valid || !flags.Valid {
			m.log.Error("gflags: row with NULL columns skipped", "table", m.AttrTable)
			continue
		}
		if flags.Int64&serattr.FlagLoadSER == 0 {
			continue
		}
		var v sr.Value
		if typ.Int64 == serattr.TypeStr {
			v = sr.StrVal(value.String)
		} else {
			n, _ := strconv.ParseInt(strings.TrimSpace(value.String), 10, 64)
			v = sr.IntVal(int(int32(n)))
			if name.String == gflagsAttr {
				restore, has = uint32(n), true
			}
		}
		list = append(list, sr.AVP{Name: serattr.Name(name.String), Val: v, Flags: serattr.GroupGlobal})
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("load table %s: %w", m.AttrTable, err)
	}
	m.globals.Store(&list)
	if has {
		m.flags.Store(restore)
	}
	return len(list), nil
}

// flush stores the flags as the gflags row of global_attrs, replacing the
// previous one.
func (m *Module) flush(ctx context.Context) error {
	if m.LoadGlobal == 0 || m.db == nil {
		return errors.New("flush_gflags needs load_global_attrs (and its database)")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.db.Dialect().Quote
	val := strconv.FormatUint(uint64(m.flags.Load()), 10)
	return m.db.WithTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM "+q(m.AttrTable)+" WHERE "+q(m.AttrName)+" = ?", gflagsAttr); err != nil {
			return fmt.Errorf("store the global flags: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+q(m.AttrTable)+" ("+q(m.AttrName)+", "+q(m.AttrType)+", "+q(m.AttrValue)+", "+
			q(m.AttrFlags)+") VALUES (?, ?, ?, ?)", gflagsAttr, 0, val, serattr.FlagLoadSER); err != nil {
			return fmt.Errorf("store the global flags: %w", err)
		}
		return nil
	})
}

func fixFlag(_ *Module, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := fx.Int(args[0])
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 31 {
		return nil, fx.Errorf(args[0], "%s: flag %d is out of range 0..31", fx.Func, n)
	}
	return []any{uint32(1) << uint(n)}, nil
}

func (m *Module) set(bit uint32)   { m.flags.Or(bit) }
func (m *Module) reset(bit uint32) { m.flags.And(^bit) }

func (m *Module) setGflag(_ *sr.Ctx, p []any) int {
	m.set(p[0].(uint32))
	return 1
}

func (m *Module) resetGflag(_ *sr.Ctx, p []any) int {
	m.reset(p[0].(uint32))
	return 1
}

func (m *Module) isGflag(_ *sr.Ctx, p []any) int {
	if m.flags.Load()&p[0].(uint32) != 0 {
		return 1
	}
	return -1
}

func (m *Module) flushGflags(c *sr.Ctx, _ []any) int {
	if err := m.flush(context.Background()); err != nil {
		c.Log.Error("flush_gflags failed", "error", err)
		return -1
	}
	return 1
}

func flagParam(req *rpc.Request) (uint32, error) {
	n, err := req.Int(0)
	if err != nil {
		return 0, fmt.Errorf("flag number expected: %w", err)
	}
	if n < 0 || n > 31 {
		return 0, fmt.Errorf("%w: flag number %d out of range 0..31", rpc.ErrParams, n)
	}
	return uint32(1) << uint(n), nil
}

func (m *Module) rpcSet(req *rpc.Request) (any, error) {
	bit, err := flagParam(req)
	if err != nil {
		return nil, err
	}
	m.set(bit)
	return nil, nil
}

func (m *Module) rpcReset(req *rpc.Request) (any, error) {
	bit, err := flagParam(req)
	if err != nil {
		return nil, err
	}
	m.reset(bit)
	return nil, nil
}

func (m *Module) rpcIsSet(req *rpc.Request) (any, error) {
	bit, err := flagParam(req)
	if err != nil {
		return nil, err
	}
	return m.flags.Load()&bit != 0, nil
}

func (m *Module) rpcFlush(_ *rpc.Request) (any, error) {
	if err := m.flush(context.Background()); err != nil {
		return nil, fmt.Errorf("error while saving flags to database: %w", err)
	}
	return nil, nil
}

func (m *Module) rpcDump(_ *rpc.Request) (any, error) {
	f := m.flags.Load()
	out := make([]any, 32)
	for i := range out {
		out[i] = f&(1<<uint(i)) != 0
	}
	return out, nil
}

func (m *Module) rpcReload(_ *rpc.Request) (any, error) {
	n, err := m.reload(context.Background())
	if err != nil {
		if m.log != nil {
			m.log.Error("gflags: reloading global_attrs failed; the previous attributes stay", "error", err)
		}
		return nil, fmt.Errorf("reloading of global attributes failed: %w", err)
	}
	return map[string]any{"attributes": n}, nil
}
