package location

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/rpc"
)

// QString formats a q value (thousandths) as Kamailio and SER print it:
// "1", "0", "0.5", "0.05", "0.125"; "" when unset.
func QString(q int) string {
	switch {
	case q < 0:
		return ""
	case q >= 1000:
		return "1"
	case q == 0:
		return "0"
	}
	return strings.TrimRight(fmt.Sprintf("0.%03d", q), "0")
}

// ParseQ reads a q value ("0.5", "1", "0.125", "1.000") into thousandths:
// a decimal number from 0 to 1 with at most three decimals.
func ParseQ(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eE+-xX") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > 3 {
		return 0, false
	}
	return int(math.Round(f * 1000)), true
}

// Dump is the body of ul.dump [brief]: per table its name, the size of
// its hash, its records and contacts, and its records — their keys with
// "brief", otherwise each as RecordInfo shows it with info describing
// its contacts at now. It is nil without tables.
func (s *Service[C, X]) Dump(req *rpc.Request, info func(c *C, now time.Time) map[string]any) ([]any, error) {
	brief := len(req.Params) > 0 && strings.EqualFold(req.Params[0], "brief")
	if len(req.Params) > 0 && !brief {
		return nil, fmt.Errorf("%w: the only option is \"brief\"", rpc.ErrParams)
	}
	now := time.Now()
	var doms []any
	for _, t := range s.Tables() {
		recs, err := t.Records()
		if err != nil {
			return nil, err
		}
		keys := make([]any, 0, len(recs))
		contacts := 0
		for i := range recs {
			contacts += len(recs[i].Contacts)
			if brief {
				keys = append(keys, recs[i].Key)
			} else {
				keys = append(keys, RecordInfo(recs[i].Key, recs[i].Contacts, func(c *C) map[string]any { return info(c, now) }))
			}
		}
		doms = append(doms, map[string]any{"Domain": t.name, "Size": t.Shards(), "Records": len(recs),
			"Contacts": contacts, "AoRs": keys})
	}
	return doms, nil
}

// Errors of the RPCs.
var (
	// ErrNoTable: the RPC names a table that is not registered.
	ErrNoTable = errors.New("table not found")
	// ErrNoContact: the record has no contact of that URI.
	ErrNoContact = errors.New("contact not found")
)

// TableArg reads an RPC's first two parameters: a table name (blanks
// around it ignored), the table returned, and a key, returned as given.
// A table that is not registered is ErrNoTable.
func (s *Service[C, X]) TableArg(req *rpc.Request) (*Table[C, X], string, error) {
	table, err := req.Str(0)
	if err != nil {
		return nil, "", err
	}
	key, err := req.Str(1)
	if err != nil {
		return nil, "", err
	}
	t, ok := s.Table(strings.TrimSpace(table))
	if !ok {
		return nil, "", fmt.Errorf("%w: %s", ErrNoTable, table)
	}
	return t, key, nil
}

// contactKey is a contact's identity in its record (rules.key).
func (t *Table[C, X]) contactKey(c *C) string {
	e := t.s.cfg.Pack(c)
	return t.s.ru.key(e.URI, e.CallID)
}

// Put inserts c into the key's record, or replaces the contact of the
// same identity (its URI, and Call-ID with Config.ByCallID): the RPCs
// that add a contact.
func (t *Table[C, X]) Put(key string, c C) error {
	k := t.contactKey(&c)
	_, err := t.Update(key, false, func(cur []C) ([]C, error) {
		for i := range cur {
			if t.contactKey(&cur[i]) == k {
				cur[i] = c
				return cur, nil
			}
		}
		return append(cur, c), nil
	})
	return err
}

// RemoveURI removes the contacts of uri (blanks around it ignored) from
// the key's record: an error wrapping ErrNoContact when it has none, or
// wrapping noKey, when noKey is not nil, when the key has no contact at
// all.
func (t *Table[C, X]) RemoveURI(key, uri string, noKey error) error {
	uri = strings.TrimSpace(uri)
	_, err := t.Update(key, false, func(cur []C) ([]C, error) {
		if len(cur) == 0 && noKey != nil {
			return nil, fmt.Errorf("%w: %s", noKey, key)
		}
		out := make([]C, 0, len(cur))
		for i := range cur {
			if t.s.cfg.Pack(&cur[i]).URI != uri {
				out = append(out, cur[i])
			}
		}
		if len(out) == len(cur) {
			return nil, fmt.Errorf("%w: %s of %s", ErrNoContact, uri, key)
		}
		return out, nil
	})
	return err
}

// ExpiresIn is a contact's expiry as ul.dump and ul.lookup show it:
// "permanent", or the seconds left at now.
func ExpiresIn(permanent bool, expires, now time.Time) string {
	if permanent {
		return "permanent"
	}
	return strconv.FormatInt(expires.Unix()-now.Unix(), 10)
}

// RecordInfo is a record as ul.dump and ul.lookup show it: the key as
// its AoR, and its contacts as info describes them (info returning nil
// leaves a contact out).
func RecordInfo[C any](key string, cs []C, info func(c *C) map[string]any) map[string]any {
	out := make([]any, 0, len(cs))
	for i := range cs {
		if m := info(&cs[i]); m != nil {
			out = append(out, m)
		}
	}
	return map[string]any{"AoR": key, "Contacts": out}
}

// Lookup is the body of ul.lookup for a key of t: its record as
// RecordInfo shows it, or an error wrapping noKey when it has no contact.
func (t *Table[C, X]) Lookup(key string, noKey error, info func(c *C) map[string]any) (any, error) {
	cs, found, err := t.Get(key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", noKey, key)
	}
	return RecordInfo(key, cs, info), nil
}

// KeyArgs reads the table and the key an RPC names (TableArg, with the
// key checked and normalized as the module wants it). Its methods are
// the RPCs on one key both usrloc modules offer.
type KeyArgs[C any, X Extra[X]] func(req *rpc.Request) (*Table[C, X], string, error)

// Rm is ul.rm table key: every contact of the key removed.
func (a KeyArgs[C, X]) Rm(req *rpc.Request) (any, error) {
	t, key, err := a(req)
	if err != nil {
		return nil, err
	}
	return nil, t.Delete(key, false)
}

// RmContact is ul.rm_contact table key contact: the contacts of that URI
// removed (see Table.RemoveURI for noKey).
func (a KeyArgs[C, X]) RmContact(req *rpc.Request, noKey error) (any, error) {
	t, key, err := a(req)
	if err != nil {
		return nil, err
	}
	uri, err := req.Str(2)
	if err != nil {
		return nil, err
	}
	return nil, t.RemoveURI(key, uri, noKey)
}

// Lookup is ul.lookup table key (see Table.Lookup), info describing the
// contacts at the time of the call.
func (a KeyArgs[C, X]) Lookup(req *rpc.Request, noKey error, info func(c *C, now time.Time) map[string]any) (any, error) {
	t, key, err := a(req)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return t.Lookup(key, noKey, func(c *C) map[string]any { return info(c, now) })
}
