// Package usrloc is SER's usrloc module (modules_s): the user location
// service keyed by uid, SER's user identity. For each uid it keeps the
// contacts registered for it, with the address of record each was
// registered for, in memory and, depending on db_mode, in a database
// table: write-through (1), write-back flushed by the timer (2) or
// read-only (3: loaded at start, never written).
//
// It is not Kamailio's usrloc (modules_k/usrloc), whose records are keyed
// by user or user@domain and whose db_mode 3 keeps nothing in memory. The
// registrar of this tree (modules_s/registrar) uses it through the API
// interface of this package.
package usrloc

import (
	"fmt"
	"time"

	"sip-router.org/core/db/schema"
	"sip-router.org/core/location"
	"sip-router.org/core/module"
)

// The database modes.
const (
	NoDB         = 0
	WriteThrough = 1
	WriteBack    = 2
	ReadOnly     = 3
)

type usrloc struct {
	DBURL         string `modparam:"db_url"`
	DBMode        int    `modparam:"db_mode" min:"0" max:"3"`
	TimerInterval int    `modparam:"timer_interval" min:"1" max:"86400"`
	DescTimeOrder bool   `modparam:"desc_time_order"`
	DBSkipDelete  bool   `modparam:"db_skip_delete"`

	UIDColumn       string `modparam:"uid_column"`
	AORColumn       string `modparam:"aor_column"`
	ContactColumn   string `modparam:"contact_column"`
	ExpiresColumn   string `modparam:"expires_column"`
	QColumn         string `modparam:"q_column"`
	CallIDColumn    string `modparam:"callid_column"`
	CSeqColumn      string `modparam:"cseq_column"`
	FlagsColumn     string `modparam:"flags_column"`
	UserAgentColumn string `modparam:"user_agent_column"`
	ReceivedColumn  string `modparam:"received_column"`
	InstanceColumn  string `modparam:"instance_column"`
	// MethodColumn is accepted for SER configs and unused: SER 3.0's
	// location table has no such column either.
	MethodColumn string `modparam:"method_column"`

	url string // db_url, or the flavor's
	svc *location.Service[Contact, extra]
}

func init() {
	module.Register(module.Spec[*usrloc]{
		Name:    "usrloc",
		Tree:    "modules_s",
		Summary: "User location keyed by uid: the contacts registered for each user",
		New: func() *usrloc {
			return &usrloc{
				TimerInterval: 60,
				UIDColumn:     "uid", AORColumn: "aor", ContactColumn: "contact", ExpiresColumn: "expires",
				QColumn: "q", CallIDColumn: "callid", CSeqColumn: "cseq", FlagsColumn: "flags",
				UserAgentColumn: "user_agent", ReceivedColumn: "received", InstanceColumn: "instance",
				MethodColumn: "method",
			}
		},
		RPCs: []module.RPC[*usrloc]{
			{Name: "usrloc.stats", Doc: "Print usrloc statistics: per table, its users and the contacts expired.", Call: (*usrloc).rpcStats},
			{Name: "usrloc.delete_uid", Doc: "Delete all registered contacts of a uid: table, uid.", Call: (*usrloc).rpcDeleteUID},
			{Name: "usrloc.delete_contact", Doc: "Delete a contact if it exists: table, uid, contact.", Call: (*usrloc).rpcDeleteContact},
			{Name: "usrloc.dump", Doc: "Print all registered contacts.", Call: (*usrloc).rpcDump},
			{Name: "usrloc.flush", Doc: "Flush the cache into the database (db_mode 1 and 2).", Call: (*usrloc).rpcFlush},
			{Name: "usrloc.add_contact", Doc: "Create a contact: table, uid, contact, expires, q, flags[, server_id].", Call: (*usrloc).rpcAddContact},
			{Name: "usrloc.show_contacts", Doc: "List the registered contacts of a uid: table, uid.", Call: (*usrloc).rpcShowContacts},
			{Name: "ul.dump", Doc: "Dump the user location tables (\"brief\": the uids only).", Call: (*usrloc).rpcULDump},
			{Name: "ul.lookup", Doc: "Show the contacts of a uid: table, uid.", Call: (*usrloc).rpcULLookup},
			{Name: "ul.rm", Doc: "Remove every contact of a uid: table, uid.", Call: (*usrloc).rpcDeleteUID},
			{Name: "ul.rm_contact", Doc: "Remove one contact of a uid: table, uid, contact.", Call: (*usrloc).rpcDeleteContact},
			{Name: "ul.add", Doc: "Add a contact: table, uid, contact, expires, q[, replicate, flags].", Call: (*usrloc).rpcULAdd},
			{Name: "ul.flush", Doc: "Write the pending changes to the database now (db_mode 1 and 2).", Call: (*usrloc).rpcFlush},
		},
		Tables: []*schema.Table{Location()},
	})
}

var (
	_ module.Configurer = (*usrloc)(nil)
	_ module.Initer     = (*usrloc)(nil)
	_ module.Destroyer  = (*usrloc)(nil)
	_ API               = (*usrloc)(nil)
)

// Configure checks the column names and, with a database mode, the
// database URL and its driver module, without connecting.
func (m *usrloc) Configure(env *module.ConfigEnv) error {
	for _, c := range m.paramCols() {
		if !location.ValidName(c.v) {
			return fmt.Errorf("%s %q is not a valid column name", c.name, c.v)
		}
	}
	url, err := location.ConfigureDB(env, m.DBMode, m.DBURL, "%s")
	m.url = url
	return err
}

type namedCol struct{ name, v string }

func (m *usrloc) paramCols() []namedCol {
	return []namedCol{
		{"uid_column", m.UIDColumn}, {"aor_column", m.AORColumn}, {"contact_column", m.ContactColumn},
		{"expires_column", m.ExpiresColumn}, {"q_column", m.QColumn}, {"callid_column", m.CallIDColumn},
		{"cseq_column", m.CSeqColumn}, {"flags_column", m.FlagsColumn}, {"user_agent_column", m.UserAgentColumn},
		{"received_column", m.ReceivedColumn}, {"instance_column", m.InstanceColumn}, {"method_column", m.MethodColumn},
	}
}

// modes maps db_mode to the location modes: 3 is read-only.
var modes = [...]location.Mode{location.NoDB, location.WriteThrough, location.WriteBack, location.ReadOnly}

// memShards is the number of slots of each table (each with its lock).
const memShards = 512

// Init opens the database (db_mode 1, 2, 3), registers the statistics
// and starts the timer.
func (m *usrloc) Init(env *module.InitEnv) error {
	m.url = location.InitURL(env, m.DBMode, m.url, m.DBURL)
	svc, err := location.Start(env, location.Config[Contact, extra]{
		Name: "usrloc", KeyName: "uid", Mode: modes[m.DBMode], URL: m.url, Version: TableVersion,
		TimerInterval: time.Duration(m.TimerInterval) * time.Second, Shards: memShards,
		DescTimeOrder: m.DescTimeOrder, UnsetQIsOne: true, PermanentFlag: FLPermanent, MemFlag: FLMem,
		SkipDelete: m.DBSkipDelete, CountValidOnly: true,
		Pack: pack, Unpack: unpack, Layout: m.layout,
	})
	m.svc = svc
	return err
}

// Destroy stops the timer, writes what is pending (the shutdown flush of
// db_mode 2, and what write-through could not write) and closes the
// database.
func (m *usrloc) Destroy() {
	m.svc.Stop()
	m.svc = nil
}

// RegisterDomain returns the table of that name, creating it: with a
// database after checking the table's version and loading its rows.
func (m *usrloc) RegisterDomain(name string) (Domain, error) {
	if m.svc == nil {
		return nil, location.ErrNotStarted
	}
	if !location.ValidName(name) {
		return nil, fmt.Errorf("usrloc: %q is not a valid table name", name)
	}
	d, err := location.Register(m.svc, name, newRecord)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// domain is a usrloc table ("udomain" in SER): in memory, with its rows
// in the database in db_mode 1, 2 and 3.
type domain = location.View[Contact, extra, Record]

var _ Domain = domain{}

func newRecord(uid string, cs []Contact) Record { return Record{UID: uid, Contacts: cs} }
