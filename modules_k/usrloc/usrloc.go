// Package usrloc is Kamailio's usrloc module: the user location service.
// It keeps, per table ("domain": location, aliases …), the contacts
// registered for each address of record, in memory (sharded by AOR
// hash) and, depending on db_mode, in a database table: write-through
// (1), write-back flushed by the timer (2) or in the database only (3).
//
// It has no script functions: the registrar module (modules_k/registrar)
// uses it through the API interface of this package.
package usrloc

import (
	"fmt"
	"time"

	"sip-router.org/core/db/schema"
	"sip-router.org/core/location"
	"sip-router.org/core/module"
)

type usrloc struct {
	DBURL          string `modparam:"db_url"`
	DBMode         int    `modparam:"db_mode" min:"0" max:"3"`
	TimerInterval  int    `modparam:"timer_interval" min:"1" max:"86400"`
	UseDomainParam bool   `modparam:"use_domain"`
	MatchingMode   int    `modparam:"matching_mode" min:"0" max:"1"`
	NATBFlag       int    `modparam:"nat_bflag" min:"-1" max:"31"`
	HashSize       int    `modparam:"hash_size" min:"1" max:"16"`
	DescTimeOrder  bool   `modparam:"desc_time_order"`
	CSeqDelay      int    `modparam:"cseq_delay" min:"0" max:"86400"`
	// TimerProcs is Kamailio 4's number of dedicated timer processes;
	// accepted so 4.x/5.x configs load: one timer goroutine does the work.
	TimerProcs int `modparam:"timer_procs" min:"0" max:"64"`

	UserColumn      string `modparam:"user_column"`
	DomainColumn    string `modparam:"domain_column"`
	ContactColumn   string `modparam:"contact_column"`
	ExpiresColumn   string `modparam:"expires_column"`
	QColumn         string `modparam:"q_column"`
	CallIDColumn    string `modparam:"callid_column"`
	CSeqColumn      string `modparam:"cseq_column"`
	FlagsColumn     string `modparam:"flags_column"`
	CFlagsColumn    string `modparam:"cflags_column"`
	UserAgentColumn string `modparam:"user_agent_column"`
	ReceivedColumn  string `modparam:"received_column"`
	PathColumn      string `modparam:"path_column"`
	SocketColumn    string `modparam:"socket_column"`
	MethodsColumn   string `modparam:"methods_column"`
	LastModColumn   string `modparam:"last_mod_column"`

	url string // db_url, or the flavor's
	svc *location.Service[Contact, extra]
}

func init() {
	module.Register(module.Spec[*usrloc]{
		Name:    "usrloc",
		Tree:    "modules_k",
		Summary: "User location: the contacts registered for each address of record",
		New: func() *usrloc {
			return &usrloc{
				TimerInterval: 60, NATBFlag: -1, HashSize: 9, CSeqDelay: 20,
				UserColumn: "username", DomainColumn: "domain", ContactColumn: "contact",
				ExpiresColumn: "expires", QColumn: "q", CallIDColumn: "callid", CSeqColumn: "cseq",
				FlagsColumn: "flags", CFlagsColumn: "cflags", UserAgentColumn: "user_agent",
				ReceivedColumn: "received", PathColumn: "path", SocketColumn: "socket",
				MethodsColumn: "methods", LastModColumn: "last_modified",
			}
		},
		RPCs: []module.RPC[*usrloc]{
			{Name: "ul.dump", Doc: "Dump the user location tables (\"brief\": the AORs only).", Call: (*usrloc).rpcDump},
			{Name: "ul.lookup", Doc: "Show the contacts of an AOR: table, AOR.", Call: (*usrloc).rpcLookup},
			{Name: "ul.rm", Doc: "Remove every contact of an AOR: table, AOR.", Call: (*usrloc).rpcRm},
			{Name: "ul.rm_contact", Doc: "Remove one contact of an AOR: table, AOR, contact.", Call: (*usrloc).rpcRmContact},
			{Name: "ul.add", Doc: "Add a contact: table, AOR, contact, expires, q[, replicate, flags, cflags, methods].", Call: (*usrloc).rpcAdd},
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

// Configure checks the parameters and the database URL, without
// connecting.
func (m *usrloc) Configure(env *module.ConfigEnv) error {
	for _, c := range m.cols() {
		if !location.ValidName(c) {
			return fmt.Errorf("column name %q is not a valid name", c)
		}
	}
	url, err := location.ConfigureDB(env, m.DBMode, m.DBURL, "%s.so")
	m.url = url
	return err
}

func (m *usrloc) cols() []string {
	return []string{m.UserColumn, m.DomainColumn, m.ContactColumn, m.ExpiresColumn, m.QColumn, m.CallIDColumn,
		m.CSeqColumn, m.FlagsColumn, m.CFlagsColumn, m.UserAgentColumn, m.ReceivedColumn, m.PathColumn,
		m.SocketColumn, m.MethodsColumn, m.LastModColumn}
}

// modes maps db_mode to the location modes: 3 keeps nothing in memory.
var modes = [...]location.Mode{location.NoDB, location.WriteThrough, location.WriteBack, location.DBOnly}

// Init opens the database (db_mode 1, 2, 3) and starts the timer.
func (m *usrloc) Init(env *module.InitEnv) error {
	m.url = location.InitURL(env, m.DBMode, m.url, m.DBURL)
	svc, err := location.Start(env, location.Config[Contact, extra]{
		Name: "usrloc", KeyName: "aor", Mode: modes[m.DBMode], URL: m.url, Version: TableVersion,
		TimerInterval: time.Duration(m.TimerInterval) * time.Second, Shards: 1 << m.HashSize,
		ByCallID: m.MatchingMode == 1, DescTimeOrder: m.DescTimeOrder, MemFlag: FLMem,
		Pack: pack, Unpack: unpack, Layout: m.layout,
	})
	m.svc = svc
	return err
}

// Destroy stops the timer, writes what is pending (the shutdown flush of
// db_mode 2) and closes the database.
func (m *usrloc) Destroy() {
	m.svc.Stop()
	m.svc = nil
}

// RegisterDomain returns the domain of that name, creating it: in the
// database modes after checking the table's version, and in modes 1 and
// 2 loading its rows.
func (m *usrloc) RegisterDomain(name string) (Domain, error) {
	d, err := location.Register(m.svc, name, newRecord)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// domain is a usrloc table: in memory (modes 0, 1, 2) with its rows in
// the database (modes 1, 2), or only in the database (mode 3).
type domain = location.View[Contact, extra, Record]

var _ Domain = domain{}

func newRecord(aor string, cs []Contact) Record { return Record{AOR: aor, Contacts: cs} }

// UseDomain reports use_domain.
func (m *usrloc) UseDomain() bool { return m.UseDomainParam }

// NATFlag is the mask of nat_bflag.
func (m *usrloc) NATFlag() uint32 {
	if m.NATBFlag < 0 {
		return 0
	}
	return 1 << uint(m.NATBFlag)
}

// Match finds a REGISTER's contact in a list (see API).
func (m *usrloc) Match(list []Contact, uri, callID string, cseq uint32, now time.Time) (int, MatchResult) {
	byCallID := m.MatchingMode == 1
	for i := range list {
		c := &list[i]
		if c.URI != uri || (byCallID && c.CallID != callID) {
			continue
		}
		if byCallID || c.CallID == callID {
			if cseq < c.CSeq {
				return i, BadCSeq
			}
			if cseq == c.CSeq {
				if c.LastModified.Add(time.Duration(m.CSeqDelay) * time.Second).After(now) {
					return i, Retransmission
				}
				return i, BadCSeq
			}
		}
		return i, Found
	}
	return -1, NotFound
}
