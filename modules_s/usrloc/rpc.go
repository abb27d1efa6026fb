package usrloc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/location"
	"sip-router.org/core/rpc"
)

// Values the RPCs that add contacts give what a REGISTER would carry: SER's
// for usrloc.add_contact, Kamailio's MI ones for ul.add.
const (
	rpcCallID     = "RPC-Call-ID"
	rpcCSeq       = 42
	rpcUserAgent  = "SER-RPC"
	miCallID      = "dfl_call_ID"
	miUserAgent   = "SIP Router MI Server"
	maxContactLen = 255
)

var (
	errNoDomain    = errors.New("table not found")
	errNoUID       = errors.New("AOR not found")
	errNoContact   = errors.New("contact not found")
	errNoContacts  = errors.New("no registered contacts found")
	errNotPersists = errors.New("expires is 0 and the contact is not permanent (flag 128)")
)

// tableUID reads the table and uid parameters.
func (m *usrloc) tableUID(req *rpc.Request) (domain, string, error) {
	var d domain
	table, err := req.Str(0)
	if err != nil {
		return d, "", err
	}
	uid, err := req.Str(1)
	if err != nil {
		return d, "", err
	}
	t, ok := m.svc.Table(strings.TrimSpace(table))
	if !ok {
		return d, "", fmt.Errorf("%w: %s", errNoDomain, table)
	}
	d.t = t
	uid = strings.TrimSpace(uid)
	if uid == "" {
		return d, "", fmt.Errorf("%w: empty uid", rpc.ErrParams)
	}
	return d, uid, nil
}

func expiresLeft(c *Contact, now time.Time) int64 {
	if c.Permanent() {
		return 0
	}
	return c.Expires.Unix() - now.Unix()
}

func qFloat(q int) float64 {
	if q < 0 {
		return -0.001
	}
	return float64(q) / 1000
}

// rpcStats implements usrloc.stats: per table, its users and the
// contacts expired so far.
func (m *usrloc) rpcStats(*rpc.Request) (any, error) {
	now := time.Now()
	out := []any{}
	for _, t := range m.svc.Tables() {
		users, contacts := t.Counts(now)
		out = append(out, map[string]any{"domain": t.Name(), "users": users, "contacts": contacts, "expired": t.Expired()})
	}
	return out, nil
}

// rpcDeleteUID implements usrloc.delete_uid table uid.
func (m *usrloc) rpcDeleteUID(req *rpc.Request) (any, error) {
	d, uid, err := m.tableUID(req)
	if err != nil {
		return nil, err
	}
	return nil, d.Delete(uid, false)
}

// deleteContact removes one contact of a uid.
func deleteContact(d domain, uid, uri string) error {
	uri = strings.TrimSpace(uri)
	_, err := d.Update(uid, false, func(cur []Contact) ([]Contact, error) {
		if len(cur) == 0 {
			return nil, fmt.Errorf("%w: %s", errNoUID, uid)
		}
		out := make([]Contact, 0, len(cur))
		for _, c := range cur {
			if c.URI != uri {
				out = append(out, c)
			}
		}
		if len(out) == len(cur) {
			return nil, fmt.Errorf("%w: %s of %s", errNoContact, uri, uid)
		}
		return out, nil
	})
	return err
}

// rpcDeleteContact implements usrloc.delete_contact table uid contact.
func (m *usrloc) rpcDeleteContact(req *rpc.Request) (any, error) {
	d, uid, err := m.tableUID(req)
	if err != nil {
		return nil, err
	}
	uri, err := req.Str(2)
	if err != nil {
		return nil, err
	}
	return nil, deleteContact(d, uid, uri)
}

// rpcDump implements usrloc.dump: every table with its uids and their
// valid contacts (SER 3.0 answered "Not Yet Implemented").
func (m *usrloc) rpcDump(*rpc.Request) (any, error) {
	now := time.Now()
	out := []any{}
	for _, t := range m.svc.Tables() {
		recs, err := t.Records()
		if err != nil {
			return nil, err
		}
		uids := []any{}
		for _, r := range recs {
			cs := showContacts(r.Contacts, now)
			if len(cs) > 0 {
				uids = append(uids, map[string]any{"uid": r.Key, "contacts": cs})
			}
		}
		out = append(out, map[string]any{"domain": t.Name(), "uids": uids})
	}
	return out, nil
}

// showContacts lists the valid contacts as usrloc.show_contacts prints
// them.
func showContacts(cs []Contact, now time.Time) []any {
	out := []any{}
	for i := range cs {
		c := &cs[i]
		if !c.Valid(now) {
			continue
		}
		out = append(out, map[string]any{
			"contact": c.URI, "q": qFloat(c.Q), "expires": expiresLeft(c, now),
			"ua": c.UserAgent, "recv": c.Received,
		})
	}
	return out
}

// rpcShowContacts implements usrloc.show_contacts table uid.
func (m *usrloc) rpcShowContacts(req *rpc.Request) (any, error) {
	d, uid, err := m.tableUID(req)
	if err != nil {
		return nil, err
	}
	rec, found, err := d.Get(uid)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", errNoUID, uid)
	}
	cs := showContacts(rec.Contacts, time.Now())
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: %s", errNoContacts, uid)
	}
	return cs, nil
}

// rpcFlush implements usrloc.flush (and ul.flush): an expiry and flush
// pass now.
func (m *usrloc) rpcFlush(*rpc.Request) (any, error) { return m.svc.FlushRPC() }

// addContact inserts a contact of uid, or updates it when the uid has it.
func addContact(d domain, uid string, c Contact) error {
	_, err := d.Update(uid, false, func(cur []Contact) ([]Contact, error) {
		for i := range cur {
			if cur[i].URI == c.URI {
				cur[i] = c
				return cur, nil
			}
		}
		return append(cur, c), nil
	})
	return err
}

func checkContactURI(uri string) (string, error) {
	uri = strings.TrimSpace(uri)
	if uri == "" || len(uri) > maxContactLen || strings.ContainsAny(uri, "\r\n") {
		return "", fmt.Errorf("%w: bad contact %q", rpc.ErrParams, uri)
	}
	return uri, nil
}

// rpcAddContact implements usrloc.add_contact table uid contact expires
// q flags [server_id]: q is a number from 0 to 1; expires 0 needs the
// permanent flag (128).
func (m *usrloc) rpcAddContact(req *rpc.Request) (any, error) {
	d, uid, err := m.tableUID(req)
	if err != nil {
		return nil, err
	}
	if len(req.Params) < 6 {
		return nil, fmt.Errorf("%w: table, uid, contact, expires, q and flags expected", rpc.ErrParams)
	}
	uri, err := checkContactURI(req.Params[2])
	if err != nil {
		return nil, err
	}
	expires, err := req.Int(3)
	if err != nil || expires < 0 {
		return nil, fmt.Errorf("%w: expires must be a number of seconds", rpc.ErrParams)
	}
	q, err := parseRPCQ(req.Params[4])
	if err != nil {
		return nil, err
	}
	flags, err := strconv.ParseUint(strings.TrimSpace(req.Params[5]), 0, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: flags %q is not a number", rpc.ErrParams, req.Params[5])
	}
	sid := 0
	if len(req.Params) > 6 && strings.TrimSpace(req.Params[6]) != "" {
		if sid, err = req.Int(6); err != nil {
			return nil, err
		}
	}
	c := Contact{URI: uri, Q: q, CallID: rpcCallID, CSeq: rpcCSeq, UserAgent: rpcUserAgent,
		Flags: uint32(flags) &^ FLMem, ServerID: sid}
	now := time.Unix(time.Now().Unix(), 0)
	c.LastModified = now
	if expires == 0 && c.Flags&FLPermanent == 0 {
		return nil, fmt.Errorf("%w: %w", rpc.ErrParams, errNotPersists)
	}
	if expires > 0 {
		c.Expires = now.Add(time.Duration(expires) * time.Second)
	}
	return nil, addContact(d, uid, c)
}

// parseRPCQ reads a q given to an RPC: a number from 0 to 1 ("0.5"), or
// -1 for none.
func parseRPCQ(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "-1" || s == "" {
		return -1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("%w: q %q is not a number between 0 and 1", rpc.ErrParams, s)
	}
	return int(f*1000 + 0.5), nil
}

// contactInfo describes a contact as ul.dump and ul.lookup print it, with
// the keys Kamailio's MI uses where they apply.
func contactInfo(c *Contact, now time.Time) map[string]any {
	exp := "permanent"
	if !c.Permanent() {
		exp = strconv.FormatInt(c.Expires.Unix()-now.Unix(), 10)
	}
	return map[string]any{
		"Contact":       c.URI,
		"AOR":           c.AOR,
		"Q":             QString(c.Q),
		"Expires":       exp,
		"Call-ID":       c.CallID,
		"CSeq":          int64(c.CSeq),
		"User-Agent":    c.UserAgent,
		"Received":      c.Received,
		"Instance":      c.Instance,
		"Flags":         int64(c.Flags),
		"Socket":        c.Socket,
		"Server-ID":     int64(c.ServerID),
		"Last-Modified": c.LastModified.Unix(),
	}
}

func recordInfo(uid string, contacts []Contact, now time.Time) map[string]any {
	cs := make([]any, 0, len(contacts))
	for i := range contacts {
		if contacts[i].Valid(now) {
			cs = append(cs, contactInfo(&contacts[i], now))
		}
	}
	return map[string]any{"AoR": uid, "Contacts": cs}
}

// rpcULDump implements ul.dump [brief], in the shape of Kamailio's: the
// AoRs are the uids.
func (m *usrloc) rpcULDump(req *rpc.Request) (any, error) {
	doms, err := m.svc.Dump(req, func(r *location.Record[Contact], now time.Time) map[string]any {
		return recordInfo(r.Key, r.Contacts, now)
	})
	if err != nil {
		return nil, err
	}
	if doms == nil {
		doms = []any{}
	}
	return map[string]any{"Domains": doms}, nil
}

// rpcULLookup implements ul.lookup table uid.
func (m *usrloc) rpcULLookup(req *rpc.Request) (any, error) {
	d, uid, err := m.tableUID(req)
	if err != nil {
		return nil, err
	}
	rec, found, err := d.Get(uid)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", errNoUID, uid)
	}
	return recordInfo(rec.UID, rec.Contacts, time.Now()), nil
}

// rpcULRm implements ul.rm table uid.
func (m *usrloc) rpcULRm(req *rpc.Request) (any, error) {
	return m.rpcDeleteUID(req)
}

// rpcULRmContact implements ul.rm_contact table uid contact.
func (m *usrloc) rpcULRmContact(req *rpc.Request) (any, error) {
	return m.rpcDeleteContact(req)
}

// rpcULAdd implements ul.add table uid contact expires q [replicate
// flags]: expires 0 makes a permanent contact; replicate is accepted and
// ignored, as in Kamailio 3.0.
func (m *usrloc) rpcULAdd(req *rpc.Request) (any, error) {
	d, uid, err := m.tableUID(req)
	if err != nil {
		return nil, err
	}
	if len(req.Params) < 5 {
		return nil, fmt.Errorf("%w: table, uid, contact, expires and q expected", rpc.ErrParams)
	}
	uri, err := checkContactURI(req.Params[2])
	if err != nil {
		return nil, err
	}
	expires, err := req.Int(3)
	if err != nil || expires < 0 {
		return nil, fmt.Errorf("%w: expires must be a number of seconds (0: permanent)", rpc.ErrParams)
	}
	q, ok := ParseQ(req.Params[4])
	if !ok {
		return nil, fmt.Errorf("%w: q %q is not a number between 0 and 1", rpc.ErrParams, req.Params[4])
	}
	var flags uint64
	if len(req.Params) > 6 && strings.TrimSpace(req.Params[6]) != "" {
		if flags, err = strconv.ParseUint(strings.TrimSpace(req.Params[6]), 0, 32); err != nil {
			return nil, fmt.Errorf("%w: flags %q is not a number", rpc.ErrParams, req.Params[6])
		}
	}
	now := time.Unix(time.Now().Unix(), 0)
	c := Contact{URI: uri, Q: q, CallID: miCallID, CSeq: 1, UserAgent: miUserAgent,
		Flags: uint32(flags) &^ FLMem, LastModified: now}
	if expires == 0 {
		c.Flags |= FLPermanent
	} else {
		c.Expires = now.Add(time.Duration(expires) * time.Second)
	}
	return nil, addContact(d, uid, c)
}
