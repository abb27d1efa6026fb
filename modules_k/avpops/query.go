package avpops

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// maxQueryRows bounds the AVPs one avp_db_query may add.
const maxQueryRows = 1000

// The query of avp_db_query is SQL text with pseudo-variables in it. They
// are not pasted into the text, as Kamailio does (which lets a crafted
// header inject SQL): each pseudo-variable outside a string literal
// becomes a statement parameter holding its value, and a string literal
// holding pseudo-variables becomes one parameter holding the literal's
// text with their values. So "WHERE username='$fU' AND id=$var(id)" runs as
// "WHERE username=? AND id=?". A consequence is that pseudo-variables can
// only stand for values, not for SQL (table or column names, operators).

// sqlQuery is a compiled query: SQL with ? placeholders and, for each, how
// to compute its value.
type sqlQuery struct {
	sql  string
	args []sqlArg
}

// sqlArg is a placeholder's value: one pseudo-variable (its value keeps
// its type), or the parts of a string literal.
type sqlArg struct {
	get   sr.Getter
	parts []litPart
}

type litPart struct {
	text string
	get  sr.Getter
}

func (a *sqlArg) value(c *sr.Ctx) any {
	if a.get != nil {
		v := a.get.Get(c)
		switch v.K {
		case sr.Int:
			return int64(v.I)
		case sr.Str:
			return v.S
		}
		return nil
	}
	var b strings.Builder
	for _, p := range a.parts {
		if p.get != nil {
			b.WriteString(p.get.Get(c).Text())
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// isPVStart reports whether a pseudo-variable starts at s[i].
func isPVStart(s string, i int) bool {
	return s[i] == '$' && i+1 < len(s) && (s[i+1] == '(' || s[i+1] >= 'a' && s[i+1] <= 'z' || s[i+1] >= 'A' && s[i+1] <= 'Z' || s[i+1] == '_')
}

// compileQuery splits the query into SQL and parameters.
func compileQuery(fx *module.Fixup, a module.Arg) (*sqlQuery, error) {
	s := a.S
	q := &sqlQuery{}
	var out strings.Builder
	getter := func(text string) (sr.Getter, error) {
		g, err := fx.Env.Getter(text, a.Pos)
		if err != nil {
			return nil, fx.Errorf(a, "%s: %v", fx.Func, err)
		}
		return g, nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			// A string literal: up to the closing quote (doubled quotes and
			// backslashes escape).
			j := i + 1
			var parts []litPart
			var text strings.Builder
			hasPV := false
			closed := false
			for j < len(s) {
				switch {
				case s[j] == c && j+1 < len(s) && s[j+1] == c:
					text.WriteByte(c)
					j += 2
					continue
				case s[j] == c:
					closed = true
				case s[j] == '\\' && j+1 < len(s):
					text.WriteByte(s[j+1])
					j += 2
					continue
				case isPVStart(s, j):
					end := pvEnd(s[j:])
					if end < 0 {
						return nil, fx.Errorf(a, "%s: unclosed pseudo-variable at %q", fx.Func, s[j:])
					}
					g, err := getter(s[j : j+end])
					if err != nil {
						return nil, err
					}
					if text.Len() > 0 {
						parts = append(parts, litPart{text: text.String()})
						text.Reset()
					}
					parts = append(parts, litPart{get: g})
					hasPV = true
					j += end
					continue
				default:
					text.WriteByte(s[j])
					j++
					continue
				}
				break
			}
			if !closed {
				return nil, fx.Errorf(a, "%s: unclosed string literal in the query", fx.Func)
			}
			if !hasPV {
				out.WriteString(s[i : j+1])
			} else {
				if text.Len() > 0 {
					parts = append(parts, litPart{text: text.String()})
				}
				out.WriteByte('?')
				q.args = append(q.args, sqlArg{parts: parts})
			}
			i = j
		case isPVStart(s, i):
			end := pvEnd(s[i:])
			if end < 0 {
				return nil, fx.Errorf(a, "%s: unclosed pseudo-variable at %q", fx.Func, s[i:])
			}
			g, err := getter(s[i : i+end])
			if err != nil {
				return nil, err
			}
			out.WriteByte('?')
			q.args = append(q.args, sqlArg{get: g})
			i += end - 1
		default:
			out.WriteByte(c)
		}
	}
	q.sql = out.String()
	if strings.Trim(q.sql, "? \t\r\n;") == "" {
		return nil, fx.Errorf(a, "%s: the query must be SQL text: pseudo-variables are passed as values, not as SQL", fx.Func)
	}
	return q, nil
}

// queryArgs are the prepared arguments of avp_db_query.
type queryArgs struct {
	q    *sqlQuery
	dest []*avpRef // nil: $avp(i:1), $avp(i:2) … by column
}

func fixupDBQuery(m *avpops, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if m.DBURL == "" {
		return nil, fx.Errorf(args[0], "%s: %v", fx.Func, errNoDB)
	}
	if args[0].Kind == module.ArgPV {
		return nil, fx.Errorf(args[0], "%s: the query must be a string", fx.Func)
	}
	q, err := compileQuery(fx, args[0])
	if err != nil {
		return nil, err
	}
	qa := &queryArgs{q: q}
	if len(args) == 2 {
		for _, part := range strings.Split(args[1].S, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			ref, err := compileAVP(fx, args[1], part)
			if err != nil {
				return nil, err
			}
			qa.dest = append(qa.dest, ref)
		}
		if len(qa.dest) == 0 {
			return nil, fx.Errorf(args[1], "%s: no AVP in %q", fx.Func, args[1].S)
		}
	}
	return []any{qa}, nil
}

var errNoRows = errors.New("no rows")

// dbQuery implements avp_db_query(query[, dest]): the columns of every
// row become values of the destination AVPs, the first row's the newest.
// NULL columns are skipped. 1 with rows, -2 without, -1 on error.
func (m *avpops) dbQuery(c *sr.Ctx, p []any) int {
	qa := p[0].(*queryArgs)
	if m.db == nil {
		return -1
	}
	args := make([]any, len(qa.q.args))
	for i := range qa.q.args {
		args[i] = qa.q.args[i].value(c)
	}
	rows, err := m.query(qa.q.sql, args)
	if errors.Is(err, errNoRows) {
		return -2
	}
	if err != nil {
		c.Log.Error("avp_db_query: query failed", "error", err)
		return -1
	}
	for i := len(rows) - 1; i >= 0; i-- {
		for j, v := range rows[i] {
			if qa.dest != nil && j >= len(qa.dest) {
				break
			}
			if v.IsNull() {
				continue
			}
			if qa.dest == nil {
				addAVP(c, sr.AVPName{ID: j + 1, IsID: true}, 0, v, 0)
			} else {
				qa.dest[j].add(c, v, 0)
			}
		}
	}
	return 1
}

// query runs a statement and returns its rows as values (null for NULL).
func (m *avpops) query(query string, args []any) ([][]sr.Value, error) {
	ctx, cancel := context.WithTimeout(m.ctx, m.db.Timeout()+time.Second)
	defer cancel()
	rows, err := m.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, errNoRows
	}
	intCol := make([]bool, len(types))
	for i, t := range types {
		n := strings.ToUpper(t.DatabaseTypeName())
		intCol[i] = strings.Contains(n, "INT") || strings.Contains(n, "SERIAL")
	}
	var out [][]sr.Value
	for rows.Next() {
		if len(out) >= maxQueryRows {
			break
		}
		raw := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]sr.Value, len(types))
		for i, r := range raw {
			row[i] = toValue(r, intCol[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errNoRows
	}
	return out, nil
}

// toValue converts a column value: integers stay integers (also when the
// driver returns an integer column as text), times become Unix seconds as
// Kamailio stores datetimes in AVPs, the rest is text.
func toValue(r any, intCol bool) sr.Value {
	switch v := r.(type) {
	case nil:
		return sr.NullVal
	case int64:
		return sr.IntVal(int(v))
	case float64:
		return sr.StrVal(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		if v {
			return sr.IntVal(1)
		}
		return sr.IntVal(0)
	case time.Time:
		return sr.IntVal(int(v.Unix()))
	case []byte:
		return textValue(string(v), intCol)
	case string:
		return textValue(v, intCol)
	case sql.RawBytes:
		return textValue(string(v), intCol)
	}
	return sr.NullVal
}

func textValue(s string, intCol bool) sr.Value {
	if intCol {
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return sr.IntVal(int(n))
		}
	}
	return sr.StrVal(s)
}
