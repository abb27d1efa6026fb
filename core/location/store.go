package location

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"sip-router.org/core/db"
)

// Layout is the SQL shape of a location table, which the module gives
// for each table (Config.Layout): its columns, and how a contact's values
// map onto them. The statements are built from it: insert the key, the
// contact key and the values; update the values where the key and the
// contact key match; delete where they match; select the Select columns,
// all of them or those of a key.
type Layout[X Extra[X]] struct {
	// Key are the columns of the record key (uid; username, and domain
	// with use_domain).
	Key []string
	// ContactKey are the columns that tell a contact within its record
	// (contact, and callid with matching by Call-ID).
	ContactKey []string
	// Values are the other columns written.
	Values []string
	// Select are the columns Scan reads, in its order.
	Select []string
	// Expires is the expires column, for deleting expired rows (DBOnly).
	Expires string

	// KeyArgs are the values of Key for a record key.
	KeyArgs func(key string) []any
	// ContactArgs and ValueArgs are a contact's values of ContactKey and
	// Values.
	ContactArgs func(e *Entry[X]) []any
	ValueArgs   func(e *Entry[X]) []any
	// Scan reads the current row of a SELECT of Select: its record key
	// and the contact; ok false skips the row (no contact, no key).
	Scan func(rows *db.Rows) (key string, e Entry[X], ok bool, err error)
}

// Epoch is how the expires of a permanent contact is stored (Unix time 0).
var Epoch = time.Unix(0, 0).UTC()

// NullStr is s, or NULL when it is empty.
func NullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// store is the SQL of one table.
type store[X Extra[X]] struct {
	d     *db.DB
	table string
	lay   *Layout[X]
	// skipDelete leaves the rows of deleted and expired contacts in the
	// table (db_skip_delete).
	skipDelete bool

	insertSQL, updateSQL, deleteKeySQL, selectKeySQL, selectAllSQL, deleteExpiredSQL string
}

func newStore[X Extra[X]](d *db.DB, table string, lay *Layout[X], skipDelete bool) *store[X] {
	q := d.Dialect().Quote
	s := &store[X]{d: d, table: table, lay: lay, skipDelete: skipDelete}
	t := q(table)
	quote := func(cols []string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = q(c)
		}
		return out
	}
	where := func(cols []string) string {
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = q(c) + " = ?"
		}
		return strings.Join(parts, " AND ")
	}
	ins := append(append(append([]string{}, lay.Key...), lay.ContactKey...), lay.Values...)
	s.insertSQL = "INSERT INTO " + t + " (" + strings.Join(quote(ins), ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(ins)), ", ") + ")"
	keyWhere := where(lay.Key)
	contactWhere := keyWhere + " AND " + where(lay.ContactKey)
	sets := make([]string, len(lay.Values))
	for i, c := range lay.Values {
		sets[i] = q(c) + " = ?"
	}
	s.updateSQL = "UPDATE " + t + " SET " + strings.Join(sets, ", ") + " WHERE " + contactWhere
	s.deleteKeySQL = "DELETE FROM " + t + " WHERE " + contactWhere
	s.selectAllSQL = "SELECT " + strings.Join(quote(lay.Select), ", ") + " FROM " + t
	s.selectKeySQL = s.selectAllSQL + " WHERE " + keyWhere
	if lay.Expires != "" {
		s.deleteExpiredSQL = "DELETE FROM " + t + " WHERE " + q(lay.Expires) + " < ? AND " + q(lay.Expires) + " > ?"
	}
	return s
}

func (s *store[X]) contactArgs(key string, e *Entry[X]) []any {
	return append(s.lay.KeyArgs(key), s.lay.ContactArgs(e)...)
}

// opKind is a database write of one contact.
type opKind uint8

const (
	opInsert opKind = iota + 1 // the row may not exist: delete by key, then insert
	opUpdate                   // the row exists: update it
	opDelete                   // delete the row
)

// op is one contact's write, from a snapshot taken under the shard lock.
type op[X Extra[X]] struct {
	kind    opKind
	rec     *record[X]
	key     string // the contact's key in its record
	c       Entry[X]
	version uint32
}

// opFor returns the write a pending contact needs.
func opFor[X Extra[X]](ru *rules, r *record[X], c *contact[X]) op[X] {
	o := op[X]{rec: r, key: ru.key(c.URI, c.CallID), c: c.Entry, version: c.version}
	switch {
	case c.deleted:
		o.kind = opDelete
	case c.state == stNew:
		o.kind = opInsert
	default:
		o.kind = opUpdate
	}
	return o
}

// exec runs writes in the database, all in one transaction.
func (s *store[X]) exec(ctx context.Context, ops []op[X]) error {
	return s.d.WithTx(ctx, func(tx *db.Tx) error {
		for i := range ops {
			if err := s.execOne(ctx, tx, &ops[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *store[X]) execOne(ctx context.Context, q db.Querier, o *op[X]) error {
	key := o.rec.key
	switch o.kind {
	case opInsert:
		// Delete first: an insert whose outcome was unknown (a timeout)
		// may have happened; this way it never leaves two rows.
		if _, err := q.Exec(ctx, s.deleteKeySQL, s.contactArgs(key, &o.c)...); err != nil {
			return fmt.Errorf("delete contact %s of %s in table %s: %w", o.c.URI, key, s.table, err)
		}
		args := append(s.contactArgs(key, &o.c), s.lay.ValueArgs(&o.c)...)
		if _, err := q.Exec(ctx, s.insertSQL, args...); err != nil {
			return fmt.Errorf("insert contact %s of %s in table %s: %w", o.c.URI, key, s.table, err)
		}
	case opUpdate:
		args := append(s.lay.ValueArgs(&o.c), s.contactArgs(key, &o.c)...)
		if _, err := q.Exec(ctx, s.updateSQL, args...); err != nil {
			return fmt.Errorf("update contact %s of %s in table %s: %w", o.c.URI, key, s.table, err)
		}
	case opDelete:
		if s.skipDelete {
			return nil
		}
		if _, err := q.Exec(ctx, s.deleteKeySQL, s.contactArgs(key, &o.c)...); err != nil {
			return fmt.Errorf("delete contact %s of %s in table %s: %w", o.c.URI, key, s.table, err)
		}
	}
	return nil
}

// row is one contact read from the table.
type row[X Extra[X]] struct {
	key string
	c   Entry[X]
}

// scan reads the rows of a SELECT of the Select columns.
func (s *store[X]) scan(rows *db.Rows, fn func(r row[X])) error {
	for rows.Next() {
		key, e, ok, err := s.lay.Scan(rows)
		if err != nil {
			return fmt.Errorf("read table %s: %w", s.table, err)
		}
		if ok {
			fn(row[X]{key: key, c: e})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read table %s: %w", s.table, err)
	}
	return nil
}

// loadAll reads every row of the table.
func (s *store[X]) loadAll(ctx context.Context, fn func(r row[X])) error {
	rows, err := s.d.Query(ctx, s.selectAllSQL)
	if err != nil {
		return fmt.Errorf("load table %s: %w", s.table, err)
	}
	defer rows.Close()
	return s.scan(rows, fn)
}

// loadKey reads the rows of one record.
func (s *store[X]) loadKey(ctx context.Context, q db.Querier, key string) ([]Entry[X], error) {
	rows, err := q.Query(ctx, s.selectKeySQL, s.lay.KeyArgs(key)...)
	if err != nil {
		return nil, fmt.Errorf("read %s from table %s: %w", key, s.table, err)
	}
	defer rows.Close()
	var out []Entry[X]
	err = s.scan(rows, func(r row[X]) { out = append(out, r.c) })
	return out, err
}

// deleteExpired removes the rows expired at now (not the permanent ones).
func (s *store[X]) deleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if s.deleteExpiredSQL == "" {
		return 0, nil
	}
	res, err := s.d.Exec(ctx, s.deleteExpiredSQL, now, Epoch)
	if err != nil {
		return 0, fmt.Errorf("delete expired contacts of table %s: %w", s.table, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// dbDown reports whether a database error says the server cannot be
// reached (lost connection, timeout), rather than a statement error.
func dbDown(err error) bool {
	return db.ConnLost(err) || errors.Is(err, db.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}
