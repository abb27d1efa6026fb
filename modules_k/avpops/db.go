package avpops

import (
	"database/sql"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// Bits of the type column.
const (
	dbValInt  = 1 << 0 // the value is an integer
	dbNameInt = 1 << 1 // the attribute is an integer id
)

// How the source of a database function keys the rows.
const (
	keyUUID   = iota // the uuid column
	keyURI           // username and (with use_domain) domain of a SIP URI
	keyUser          // the username of a SIP URI
	keyDomain        // the domain of a SIP URI
)

// dbSource is the first argument of the database functions.
type dbSource struct {
	key   int
	get   sr.Getter // nil: the constant
	value string
}

// uriPVs are the pseudo-variables whose value is a SIP URI: a source made
// of one of them is keyed by username and domain unless told otherwise.
var uriPVs = map[string]bool{"$ru": true, "$ruri": true, "$fu": true, "$from": true, "$tu": true, "$to": true, "$ou": true}

func parseSource(m *avpops, fx *module.Fixup, a module.Arg) (*dbSource, error) {
	if m.DBURL == "" {
		return nil, fx.Errorf(a, "%s: %v", fx.Func, errNoDB)
	}
	s := strings.TrimSpace(a.S)
	src := &dbSource{key: -1}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		switch strings.ToLower(s[i+1:]) {
		case "uuid":
			src.key = keyUUID
		case "uri":
			src.key = keyURI
		case "username":
			src.key = keyUser
		case "domain":
			src.key = keyDomain
		}
		if src.key >= 0 {
			s = s[:i]
		}
	}
	if s == "" {
		return nil, fx.Errorf(a, "%s: empty source", fx.Func)
	}
	if strings.HasPrefix(s, "$") {
		g, err := fx.Env.Getter(s, a.Pos)
		if err != nil {
			return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
		}
		src.get = g
		if src.key < 0 {
			src.key = keyUUID
			if uriPVs[s] {
				src.key = keyURI
			}
		}
	} else {
		src.value = s
		if src.key < 0 {
			src.key = keyUUID
		}
	}
	return src, nil
}

// keys are the values a row is looked up by; "" is not used.
type keys struct {
	uuid, user, domain string
	hasUser, hasDomain bool
}

// resolve reads the source for a message.
func (m *avpops) resolve(c *sr.Ctx, src *dbSource, who string) (keys, bool) {
	val := src.value
	if src.get != nil {
		v := src.get.Get(c)
		if v.IsNull() || v.Text() == "" {
			c.Log.Info(who + ": the source has no value")
			return keys{}, false
		}
		val = v.Text()
	}
	if src.key == keyUUID {
		return keys{uuid: val}, true
	}
	var u sip.Uri
	if err := sip.ParseUri(val, &u); err != nil || u.User == "" || u.Host == "" {
		c.Log.Info(who+": the source is not a SIP URI with user and host", "uri", val)
		return keys{}, false
	}
	k := keys{}
	if src.key == keyURI || src.key == keyUser {
		k.user, k.hasUser = u.User, true
	}
	if src.key == keyDomain || (src.key == keyURI && m.UseDomain) {
		k.domain, k.hasDomain = u.Host, true
	}
	return k, true
}

// where builds the key condition with the columns given (the module's,
// or a scheme's).
func where(q func(string) string, k keys, uuidCol, userCol, domainCol string) (string, []any) {
	if !k.hasUser && !k.hasDomain {
		return q(uuidCol) + " = ?", []any{k.uuid}
	}
	var conds []string
	var args []any
	if k.hasUser {
		conds = append(conds, q(userCol)+" = ?")
		args = append(args, k.user)
	}
	if k.hasDomain {
		conds = append(conds, q(domainCol)+" = ?")
		args = append(args, k.domain)
	}
	return strings.Join(conds, " AND "), args
}

// dbName is the second argument of the database functions.
type dbName struct {
	ref    *avpRef // nil: every attribute of the selected kind
	kind   nameKind
	table  string
	scheme *dbScheme
}

// attr is the attribute column's value for the named AVP.
func (n *dbName) attr() string {
	if n.ref.name.IsID {
		return strconv.Itoa(n.ref.name.ID)
	}
	return n.ref.name.S
}

func parseDBName(m *avpops, fx *module.Fixup, a module.Arg, allowScheme bool) (*dbName, error) {
	s := strings.TrimSpace(a.S)
	dn := &dbName{table: m.AVPTable}
	var rest string
	if strings.HasPrefix(s, "$") {
		pv, r, err := splitPV(fx, a, s)
		if err != nil {
			return nil, err
		}
		if dn.ref, err = compileAVP(fx, a, pv); err != nil {
			return nil, err
		}
		rest = r
	} else {
		sel, r, _ := strings.Cut(s, "/")
		k, err := parseKind(sel)
		if err != nil {
			return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
		}
		dn.kind, rest = k, r
	}
	switch {
	case strings.HasPrefix(rest, "$"):
		if !allowScheme {
			return nil, fx.Errorf(a, "%s: does not take a db_scheme", fx.Func)
		}
		if dn.ref == nil {
			return nil, fx.Errorf(a, "%s: a db_scheme needs an AVP name", fx.Func)
		}
		sc := m.schemes[rest[1:]]
		if sc == nil {
			return nil, fx.Errorf(a, "%s: db_scheme %q is not defined", fx.Func, rest[1:])
		}
		dn.scheme = sc
		if sc.table != "" {
			dn.table = sc.table
		}
	case rest != "":
		if !identRE.MatchString(rest) {
			return nil, fx.Errorf(a, "%s: %q is not a table name", fx.Func, rest)
		}
		dn.table = rest
	}
	return dn, nil
}

func fixupDBLoad(m *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	return fixupDB(m, fx, args, true)
}

func fixupDBStore(m *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	return fixupDB(m, fx, args, false)
}

func fixupDBDelete(m *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	return fixupDB(m, fx, args, false)
}

func fixupDB(m *avpops, fx *module.Fixup, args []module.Arg, allowScheme bool) ([]any, error) {
	src, err := parseSource(m, fx, args[0])
	if err != nil {
		return nil, err
	}
	dn, err := parseDBName(m, fx, args[1], allowScheme)
	if err != nil {
		return nil, err
	}
	return []any{src, dn}, nil
}

// loadedKey holds, per message, the AVP values that came from the
// database (or went to it), so that avp_db_store does not write them back.
type loadedKey struct{}

type loadedAVP struct {
	name string // lower-cased string name, or "#id"
	val  sr.Value
}

func loadedName(n sr.AVPName) string {
	if n.IsID {
		return "#" + strconv.Itoa(n.ID)
	}
	return strings.ToLower(n.S)
}

func markLoaded(c *sr.Ctx, n sr.AVPName, v sr.Value) {
	m, _ := c.Value(loadedKey{}).(map[loadedAVP]int)
	if m == nil {
		m = map[loadedAVP]int{}
		c.SetValue(loadedKey{}, m)
	}
	m[loadedAVP{loadedName(n), v}]++
}

// takeLoaded reports (and forgets once) whether a value came from the
// database.
func takeLoaded(c *sr.Ctx, n sr.AVPName, v sr.Value) bool {
	m, _ := c.Value(loadedKey{}).(map[loadedAVP]int)
	k := loadedAVP{loadedName(n), v}
	if m[k] > 0 {
		m[k]--
		return true
	}
	return false
}

// dbLoad implements avp_db_load(source, name): the attributes of the
// source's rows (the named one, or all of a kind) become AVPs. 1 when at
// least one was loaded, -1 otherwise.
func (m *avpops) dbLoad(c *sr.Ctx, p []any) int {
	src, dn := p[0].(*dbSource), p[1].(*dbName)
	if m.db == nil {
		return -1
	}
	k, ok := m.resolve(c, src, "avp_db_load")
	if !ok {
		return -1
	}
	q := m.db.Dialect().Quote
	var query string
	var args []any
	if sc := dn.scheme; sc != nil {
		cond, a := where(q, k, or(sc.uuidCol, m.UUIDColumn), or(sc.usernameCol, m.UsernameColumn), or(sc.domainCol, m.DomainColumn))
		query = "SELECT " + q(or(sc.valCol, m.ValueColumn)) + " FROM " + q(dn.table) + " WHERE " + cond
		args = a
	} else {
		cond, a := where(q, k, m.UUIDColumn, m.UsernameColumn, m.DomainColumn)
		query = "SELECT " + q(m.ValueColumn) + ", " + q(m.AttributeColumn) + ", " + q(m.TypeColumn) +
			" FROM " + q(dn.table) + " WHERE " + cond
		args = a
		if dn.ref != nil {
			query += " AND " + q(m.AttributeColumn) + " = ?"
			args = append(args, dn.attr())
		}
	}
	rows, err := m.db.Query(m.ctx, query, args...)
	if err != nil {
		c.Log.Error("avp_db_load: query failed", "error", err)
		return -1
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var val, attr sql.NullString
		var typ sql.NullInt64
		if dn.scheme != nil {
			err = rows.Scan(&val)
			typ.Int64, typ.Valid = 0, true
			if dn.scheme.intValue {
				typ.Int64 = dbValInt
			}
			attr = sql.NullString{String: dn.attr(), Valid: true}
		} else {
			err = rows.Scan(&val, &attr, &typ)
		}
		if err != nil {
			c.Log.Error("avp_db_load: bad row", "error", err)
			continue
		}
		if !val.Valid || !attr.Valid || !typ.Valid {
			c.Log.Info("avp_db_load: row with NULL fields skipped")
			continue
		}
		v := sr.StrVal(val.String)
		if typ.Int64&dbValInt != 0 {
			i, err := strconv.Atoi(strings.TrimSpace(val.String))
			if err != nil {
				c.Log.Info("avp_db_load: the value is not an integer as its type says", "value", val.String)
				continue
			}
			v = sr.IntVal(i)
		}
		if dn.ref != nil {
			dn.ref.add(c, v, 0)
			markLoaded(c, dn.ref.name, v)
			n++
			continue
		}
		name := sr.AVPName{S: attr.String}
		if typ.Int64&dbNameInt != 0 {
			id, err := strconv.ParseUint(strings.TrimSpace(attr.String), 10, 31)
			if err != nil {
				c.Log.Info("avp_db_load: the attribute is not an id as its type says", "attribute", attr.String)
				continue
			}
			name = sr.AVPName{ID: int(id), IsID: true}
		}
		if name.IsID && !dn.kind.intNames || !name.IsID && !dn.kind.strNames {
			continue
		}
		if !name.IsID && name.S == "" {
			continue
		}
		addAVP(c, name, 0, v, dn.kind.flags)
		markLoaded(c, name, v)
		n++
	}
	if err := rows.Err(); err != nil {
		c.Log.Error("avp_db_load: reading the rows failed", "error", err)
		return -1
	}
	return truth(n > 0)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// dbStore implements avp_db_store(source, name): every value of the named
// AVP (or every AVP of a kind), except those loaded from the database, is
// inserted as a row. 1 when at least one was stored.
func (m *avpops) dbStore(c *sr.Ctx, p []any) int {
	src, dn := p[0].(*dbSource), p[1].(*dbName)
	if m.db == nil {
		return -1
	}
	k, ok := m.resolve(c, src, "avp_db_store")
	if !ok {
		return -1
	}
	type item struct {
		name sr.AVPName
		val  sr.Value
	}
	var items []item
	if dn.ref != nil {
		for _, v := range dn.ref.values(c) {
			items = append(items, item{dn.ref.name, v})
		}
	} else {
		c.AVPs.Each(func(a *sr.AVP) bool {
			if dn.kind.match(a) {
				items = append(items, item{a.Name, a.Val})
			}
			return true
		})
	}
	q := m.db.Dialect().Quote
	query := "INSERT INTO " + q(dn.table) + " (" + strings.Join([]string{q(m.UUIDColumn), q(m.AttributeColumn),
		q(m.ValueColumn), q(m.TypeColumn), q(m.UsernameColumn), q(m.DomainColumn)}, ", ") + ") VALUES (?, ?, ?, ?, ?, ?)"
	n := 0
	for _, it := range items {
		if it.val.IsNull() || takeLoaded(c, it.name, it.val) {
			continue
		}
		typ := 0
		attr := it.name.S
		if it.name.IsID {
			typ |= dbNameInt
			attr = strconv.Itoa(it.name.ID)
		}
		if it.val.K == sr.Int {
			typ |= dbValInt
		}
		if _, err := m.db.Exec(m.ctx, query, k.uuid, attr, it.val.Text(), typ, k.user, k.domain); err != nil {
			c.Log.Error("avp_db_store: insert failed", "error", err)
			continue
		}
		markLoaded(c, it.name, it.val) // in the database now: not stored again
		n++
	}
	return truth(n > 0)
}

// dbDelete implements avp_db_delete(source, name): the source's rows of
// the named attribute (all its rows for a name-less selector) are deleted.
// 1 unless the statement failed.
func (m *avpops) dbDelete(c *sr.Ctx, p []any) int {
	src, dn := p[0].(*dbSource), p[1].(*dbName)
	if m.db == nil {
		return -1
	}
	k, ok := m.resolve(c, src, "avp_db_delete")
	if !ok {
		return -1
	}
	q := m.db.Dialect().Quote
	cond, args := where(q, k, m.UUIDColumn, m.UsernameColumn, m.DomainColumn)
	query := "DELETE FROM " + q(dn.table) + " WHERE " + cond
	if dn.ref != nil {
		query += " AND " + q(m.AttributeColumn) + " = ?"
		args = append(args, dn.attr())
	}
	if _, err := m.db.Exec(m.ctx, query, args...); err != nil {
		c.Log.Error("avp_db_delete: delete failed", "error", err)
		return -1
	}
	return 1
}
