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
	errNoUID       = errors.New("AOR not found")
	errNoContacts  = errors.New("no registered contacts found")
	errNotPersists = errors.New("expires is 0 and the contact is not permanent (flag 128)")
)

// table is a usrloc table as the RPCs use it.
type table = *location.Table[Contact, extra]

// tableUID reads the table and uid parameters.
func (m *usrloc) tableUID(req *rpc.Request) (table, string, error) {
	t, uid, err := m.svc.TableArg(req)
	if err != nil {
		return nil, "", err
	}
	uid = strings.TrimSpace(uid)
	if uid == "" {
		return nil, "", fmt.Errorf("%w: empty uid", rpc.ErrParams)
	}
	return t, uid, nil
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

// rpcDeleteUID implements usrloc.delete_uid table uid (and ul.rm).
func (m *usrloc) rpcDeleteUID(req *rpc.Request) (any, error) {
	return location.KeyArgs[Contact, extra](m.tableUID).Rm(req)
}

// rpcDeleteContact implements usrloc.delete_contact table uid contact
// (and ul.rm_contact).
func (m *usrloc) rpcDeleteContact(req *rpc.Request) (any, error) {
	return location.KeyArgs[Contact, extra](m.tableUID).RmContact(req, errNoUID)
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
	t, uid, err := m.tableUID(req)
	if err != nil {
		return nil, err
	}
	all, found, err := t.Get(uid)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", errNoUID, uid)
	}
	cs := showContacts(all, time.Now())
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: %s", errNoContacts, uid)
	}
	return cs, nil
}

// rpcFlush implements usrloc.flush (and ul.flush): an expiry and flush
// pass now.
func (m *usrloc) rpcFlush(*rpc.Request) (any, error) { return m.svc.FlushRPC() }

// addArgs reads what both RPCs that add a contact start with: table,
// uid, contact and expires, from at least n parameters (named by want);
// expiresHint ends the error of a bad expires.
func (m *usrloc) addArgs(req *rpc.Request, n int, want, expiresHint string) (t table, uid, uri string, expires int, err error) {
	if t, uid, err = m.tableUID(req); err != nil {
		return nil, "", "", 0, err
	}
	if len(req.Params) < n {
		return nil, "", "", 0, fmt.Errorf("%w: %s expected", rpc.ErrParams, want)
	}
	uri = strings.TrimSpace(req.Params[2])
	if uri == "" || len(uri) > maxContactLen || strings.ContainsAny(uri, "\r\n") {
		return nil, "", "", 0, fmt.Errorf("%w: bad contact %q", rpc.ErrParams, uri)
	}
	expires, err = req.Int(3)
	if err != nil || expires < 0 {
		return nil, "", "", 0, fmt.Errorf("%w: expires must be a number of seconds%s", rpc.ErrParams, expiresHint)
	}
	return t, uid, uri, expires, nil
}

// rpcAddContact implements usrloc.add_contact table uid contact expires
// q flags [server_id]: q is a number from 0 to 1; expires 0 needs the
// permanent flag (128).
func (m *usrloc) rpcAddContact(req *rpc.Request) (any, error) {
	t, uid, uri, expires, err := m.addArgs(req, 6, "table, uid, contact, expires, q and flags", "")
	if err != nil {
		return nil, err
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
	return nil, t.Put(uid, c)
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

// contactInfo describes a valid contact as ul.dump and ul.lookup print
// it, with the keys Kamailio's MI uses where they apply; nil when it has
// expired.
func contactInfo(c *Contact, now time.Time) map[string]any {
	if !c.Valid(now) {
		return nil
	}
	return map[string]any{
		"Contact":       c.URI,
		"AOR":           c.AOR,
		"Q":             QString(c.Q),
		"Expires":       location.ExpiresIn(c.Permanent(), c.Expires, now),
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

// rpcULDump implements ul.dump [brief], in the shape of Kamailio's: the
// AoRs are the uids.
func (m *usrloc) rpcULDump(req *rpc.Request) (any, error) {
	doms, err := m.svc.Dump(req, contactInfo)
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
	return location.KeyArgs[Contact, extra](m.tableUID).Lookup(req, errNoUID, contactInfo)
}

// rpcULAdd implements ul.add table uid contact expires q [replicate
// flags]: expires 0 makes a permanent contact; replicate is accepted and
// ignored, as in Kamailio 3.0.
func (m *usrloc) rpcULAdd(req *rpc.Request) (any, error) {
	t, uid, uri, expires, err := m.addArgs(req, 5, "table, uid, contact, expires and q", " (0: permanent)")
	if err != nil {
		return nil, err
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
	return nil, t.Put(uid, c)
}
