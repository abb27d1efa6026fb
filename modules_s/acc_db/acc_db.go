// Package accdb is SER 3.0's acc_db module: transactions marked with
// log_flag are written to the acc table when they complete, and INVITEs
// marked with log_missed_flag that fail to the missed_calls table, with
// SER's columns (uids and dids of both parties, digest credentials, the
// Request-URI before and after routing, timestamps of the request and of
// the reply).
//
// It is not Kamailio's acc module (modules_k/acc), whose tables have
// other columns.
package accdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/digest"
	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/modules/tm"
	"sip-router.org/modules_s/avp/serattr"
)

// Table versions (lib/srdb2/schema/acc.xml, missed_calls.xml).
const (
	AccVersion    = 4
	MissedVersion = 4
)

// allFmt is every log_fmt letter, in SER's order.
const allFmt = "acdfgimnoprtuxDFIMPRSTUX"

// flag is a message flag parameter: a number 0..31 or a name declared
// with "flags". 0, the default, turns the accounting off, as in SER.
type flag struct{ n int }

func (f *flag) SetParam(v sr.Value, env *module.ParamEnv) error {
	if v.K == sr.Int {
		if v.I < 0 || v.I > 31 {
			return fmt.Errorf("flag %d out of range 0..31", v.I)
		}
		f.n = v.I
		return nil
	}
	if env != nil && env.Flag != nil {
		if n, ok := env.Flag(strings.TrimSpace(v.S)); ok {
			f.n = n
			return nil
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.S))
	if err != nil || n < 0 || n > 31 {
		return fmt.Errorf("%q is neither a flag number nor a declared flag name", v.S)
	}
	f.n = n
	return nil
}

func (f *flag) ParamType() string { return "flag" }
func (f flag) String() string     { return strconv.Itoa(f.n) }

// on reports whether the flag is configured and set in flags.
func (f flag) on(flags uint32) bool { return f.n > 0 && flags&(1<<uint(f.n)) != 0 }

type accDB struct {
	EarlyMedia         int    `modparam:"early_media" min:"0" max:"1"`
	FailedTransactions int    `modparam:"failed_transactions" min:"0" max:"1"`
	ReportAck          int    `modparam:"report_ack" min:"0" max:"1"`
	ReportCancels      int    `modparam:"report_cancels" min:"0" max:"1"`
	LogFlag            flag   `modparam:"log_flag"`
	LogMissedFlag      flag   `modparam:"log_missed_flag"`
	LogFmt             string `modparam:"log_fmt"`
	Attrs              string `modparam:"attrs"`
	DBURL              string `modparam:"db_url"`
	AccTable           string `modparam:"acc_table"`
	McTable            string `modparam:"mc_table"`

	AttrsCol        string `modparam:"attrs_column"`
	CallIDCol       string `modparam:"callid_column"`
	ToTagCol        string `modparam:"totag_column"`
	FromCol         string `modparam:"from_column"`
	FlagsCol        string `modparam:"flags_column"`
	IURICol         string `modparam:"iuri_column"`
	MethodCol       string `modparam:"method_column"`
	CSeqCol         string `modparam:"cseq_column"`
	OURICol         string `modparam:"ouri_column"`
	FromTagCol      string `modparam:"fromtag_column"`
	ToCol           string `modparam:"to_column"`
	DigUserCol      string `modparam:"diguser_column"`
	ReqTimestampCol string `modparam:"reqtimestamp_column"`
	ToDIDCol        string `modparam:"todid_column"`
	FromURICol      string `modparam:"fromuri_column"`
	FromUIDCol      string `modparam:"fromuid_column"`
	FromDIDCol      string `modparam:"fromdid_column"`
	DigRealmCol     string `modparam:"digrealm_column"`
	StatusCol       string `modparam:"status_column"`
	ToURICol        string `modparam:"touri_column"`
	ToUIDCol        string `modparam:"touid_column"`
	ResTimestampCol string `modparam:"restimestamp_column"`
	SrcIPCol        string `modparam:"src_ip_column"`
	SrcPortCol      string `modparam:"src_port_column"`

	cols  []column // what log_fmt selects
	attrs []serattr.Ident
	url   string
	d     *db.DB
	log   *slog.Logger
	queue chan record
	qmu   sync.RWMutex // guards sending on queue against its close
	wg    sync.WaitGroup
	stats struct{ written, failed, dropped atomic.Int64 }
}

// column is one accounted item: its log_fmt letter and column name.
type column struct {
	letter byte
	name   string
}

const queueSize = 10000

func init() {
	module.Register(module.Spec[*accDB]{
		Name:    "acc_db",
		Tree:    "modules_s",
		Deps:    []string{"modules/tm"},
		Summary: "SER's accounting of transactions to the acc and missed_calls tables",
		New: func() *accDB {
			return &accDB{
				LogFmt: allFmt, AccTable: "acc", McTable: "missed_calls",
				AttrsCol: "attrs", CallIDCol: "sip_callid", ToTagCol: "to_tag", FromCol: "sip_from", FlagsCol: "flags",
				IURICol: "in_ruri", MethodCol: "sip_method", CSeqCol: "sip_cseq", OURICol: "out_ruri",
				FromTagCol: "from_tag", ToCol: "sip_to", DigUserCol: "digest_username",
				ReqTimestampCol: "request_timestamp", ToDIDCol: "to_did", FromURICol: "from_uri",
				FromUIDCol: "from_uid", FromDIDCol: "from_did", DigRealmCol: "digest_realm", StatusCol: "sip_status",
				ToURICol: "to_uri", ToUIDCol: "to_uid", ResTimestampCol: "response_timestamp",
				SrcIPCol: "src_ip", SrcPortCol: "src_port",
			}
		},
		Funcs: []module.Func[*accDB]{
			{Name: "acc_db_log", Args: []int{0, 1}, Routes: sr.RouteRequest | sr.RouteFailure, Fixup: fixCode, Call: (*accDB).accLog},
			{Name: "acc_db_missed", Args: []int{0, 1}, Routes: sr.RouteRequest | sr.RouteFailure, Fixup: fixCode, Call: (*accDB).accMissed},
		},
		Tables: Tables(),
	})
}

// Tables are acc and missed_calls, version 4, as SER 3.0 declares them.
func Tables() []*schema.Table {
	return []*schema.Table{accTable("acc", AccVersion, "acc"), accTable("missed_calls", MissedVersion, "mc")}
}

func accTable(name string, version int, key string) *schema.Table {
	comment := "Accounting records of transactions (one row per accounted transaction)"
	if name == "missed_calls" {
		comment = "Accounting records of INVITE transactions that failed (missed calls)"
	}
	t := &schema.Table{
		Name: name, Version: version, Comment: comment,
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true},
			{Name: "server_id", Type: schema.Int, Default: "0", Comment: "the SIP server that wrote the row"},
			{Name: "from_uid", Type: schema.String, Size: 64, Null: true},
			{Name: "to_uid", Type: schema.String, Size: 64, Null: true},
			{Name: "to_did", Type: schema.String, Size: 64, Null: true},
			{Name: "from_did", Type: schema.String, Size: 64, Null: true},
			{Name: "sip_from", Type: schema.String, Size: 255, Null: true},
			{Name: "sip_to", Type: schema.String, Size: 255, Null: true},
			{Name: "sip_status", Type: schema.Int, Null: true},
			{Name: "sip_method", Type: schema.String, Size: 16, Null: true},
			{Name: "in_ruri", Type: schema.String, Size: 255, Null: true},
			{Name: "out_ruri", Type: schema.String, Size: 255, Null: true},
			{Name: "from_uri", Type: schema.String, Size: 255, Null: true},
			{Name: "to_uri", Type: schema.String, Size: 255, Null: true},
			{Name: "sip_callid", Type: schema.String, Size: 255, Null: true},
			{Name: "sip_cseq", Type: schema.Int, Null: true},
			{Name: "digest_username", Type: schema.String, Size: 64, Null: true},
			{Name: "digest_realm", Type: schema.String, Size: 255, Null: true},
			{Name: "from_tag", Type: schema.String, Size: 128, Null: true},
			{Name: "to_tag", Type: schema.String, Size: 128, Null: true},
			{Name: "src_ip", Type: schema.BigInt, Null: true, Comment: "IPv4 source address as a number"},
			{Name: "src_port", Type: schema.Int, Null: true},
			{Name: "request_timestamp", Type: schema.DateTime},
			{Name: "response_timestamp", Type: schema.DateTime},
			{Name: "flags", Type: schema.Int, Unsigned: true, Default: "0"},
			{Name: "attrs", Type: schema.String, Size: 255, Null: true},
		},
		Keys: []schema.Index{{Name: key + "_id_key", Columns: []string{"server_id", "id"}}},
		Indexes: []schema.Index{
			{Name: key + "_cid_key", Columns: []string{"sip_callid"}},
		},
	}
	if name == "acc" {
		t.Indexes = append(t.Indexes, schema.Index{Name: "acc_from_uid", Columns: []string{"from_uid"}})
	}
	t.Indexes = append(t.Indexes, schema.Index{Name: key + "_to_uid", Columns: []string{"to_uid"}})
	return t
}

var (
	_ module.Configurer = (*accDB)(nil)
	_ module.Initer     = (*accDB)(nil)
	_ module.Destroyer  = (*accDB)(nil)
)

// Configure checks log_fmt, the attrs list, the names and the URL.
func (a *accDB) Configure(env *module.ConfigEnv) error {
	if a.LogFmt == "" {
		return errors.New("log_fmt is empty")
	}
	if len(a.LogFmt) > len(allFmt) {
		return fmt.Errorf("log_fmt %q is too long", a.LogFmt)
	}
	names := map[byte]string{
		'a': a.AttrsCol, 'c': a.CallIDCol, 'd': a.ToTagCol, 'f': a.FromCol, 'g': a.FlagsCol, 'i': a.IURICol,
		'm': a.MethodCol, 'n': a.CSeqCol, 'o': a.OURICol, 'p': a.SrcIPCol, 'r': a.FromTagCol, 't': a.ToCol,
		'u': a.DigUserCol, 'x': a.ReqTimestampCol, 'D': a.ToDIDCol, 'F': a.FromURICol, 'I': a.FromUIDCol,
		'M': a.FromDIDCol, 'P': a.SrcPortCol, 'R': a.DigRealmCol, 'S': a.StatusCol, 'T': a.ToURICol,
		'U': a.ToUIDCol, 'X': a.ResTimestampCol,
	}
	a.cols = nil
	seen := map[byte]bool{}
	for i := 0; i < len(a.LogFmt); i++ {
		l := a.LogFmt[i]
		name, ok := names[l]
		if !ok {
			return fmt.Errorf("log_fmt: invalid letter %q (letters of %q)", string(l), allFmt)
		}
		if seen[l] {
			return fmt.Errorf("log_fmt: letter %q given twice", string(l))
		}
		seen[l] = true
		if err := serattr.CheckIdent("column", name); err != nil {
			return err
		}
		a.cols = append(a.cols, column{l, name})
	}
	for _, t := range []struct{ p, v string }{{"acc_table", a.AccTable}, {"mc_table", a.McTable}} {
		if err := serattr.CheckIdent(t.p, t.v); err != nil {
			return err
		}
	}
	a.attrs = nil
	for _, tok := range strings.Split(a.Attrs, ",") {
		tok = strings.TrimSpace(tok)
		if !strings.HasPrefix(tok, "$") {
			continue
		}
		id, err := serattr.ParseIdent(tok)
		if err != nil {
			return fmt.Errorf("attrs: %w", err)
		}
		a.attrs = append(a.attrs, id)
	}
	a.url = a.DBURL
	if a.url == "" {
		a.url = env.Defaults["db_url"]
	}
	if a.url == "" {
		return errors.New("db_url is not set and the flavor has no default database URL")
	}
	return db.CheckURL("db_url", a.url)
}

// Init hooks into tm, opens the database, checks the tables and starts the
// writer.
func (a *accDB) Init(env *module.InitEnv) error {
	a.log = env.Log
	dep, err := env.Dep("modules/tm")
	if err != nil {
		return err
	}
	t, ok := dep.(*tm.TM)
	if !ok {
		return errors.New("modules/tm does not offer tm's API")
	}
	if a.ReportAck != 0 {
		env.Log.Warn("acc_db: report_ack is not supported: the ACKs of 2xx replies are not accounted")
	}
	if a.EarlyMedia != 0 {
		env.Log.Warn("acc_db: early_media is not supported: 183 replies are not accounted")
	}
	d, err := db.OpenParam(env.Ctx, "db_url", a.url, env.Loaded)
	if err != nil {
		return err
	}
	d.SetLogger(env.Log)
	a.d = d
	hint := strings.TrimPrefix(env.MigrateHint(), "run ")
	for _, tb := range []struct {
		name string
		ver  int
	}{{a.AccTable, AccVersion}, {a.McTable, MissedVersion}} {
		if err := db.CheckVersion(env.Ctx, d, tb.name, tb.ver, hint); err != nil {
			return err
		}
	}
	if env.Stats != nil {
		env.Stats.Gauge("acc_db", "written", a.stats.written.Load)
		env.Stats.Gauge("acc_db", "failed", a.stats.failed.Load)
		env.Stats.Gauge("acc_db", "dropped", a.stats.dropped.Load)
	}
	q := make(chan record, queueSize)
	a.qmu.Lock()
	a.queue = q
	a.qmu.Unlock()
	a.wg.Add(1)
	go a.writer(q)
	t.OnCompletion(a.completed)
	return nil
}

// Destroy drains the queue and closes the database.
func (a *accDB) Destroy() {
	a.qmu.Lock()
	q := a.queue
	a.queue = nil
	if q != nil {
		close(q)
	}
	a.qmu.Unlock()
	if q != nil {
		a.wg.Wait()
	}
	if a.d != nil {
		a.d.Close()
		a.d = nil
	}
}

// record is one row to write.
type record struct {
	table string
	vals  []any
}

// event is what a row is built from.
type event struct {
	req     *sip.Request
	avps    *sr.AVPList
	flags   uint32
	rcv     sr.RecvInfo
	inRURI  string
	outRURI string
	to      *sip.ToHeader
	code    int
	reqTime time.Time
}

// completed is tm's completion callback.
func (a *accDB) completed(cp *tm.Completion) {
	if cp.Request == nil {
		return
	}
	failed := cp.Code >= 300
	ev := event{
		req: cp.Request, avps: cp.AVPs, flags: cp.Flags, rcv: cp.Source,
		inRURI: cp.Request.Recipient.String(), outRURI: cp.Request.Recipient.String(),
		to: cp.Request.To(), code: cp.Code, reqTime: cp.Created,
	}
	if cp.Reply != nil && cp.Reply.To() != nil {
		ev.to = cp.Reply.To()
	}
	if cp.Method == "INVITE" && failed && a.LogMissedFlag.on(cp.Flags) {
		a.enqueue(a.McTable, ev)
	}
	if failed && a.FailedTransactions == 0 {
		return
	}
	if !a.LogFlag.on(cp.Flags) || cp.Code < 200 {
		return
	}
	if cp.Method == "CANCEL" && a.ReportCancels == 0 {
		return
	}
	a.enqueue(a.AccTable, ev)
}

func fixCode(_ *accDB, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if len(args) == 0 {
		return []any{nil}, nil
	}
	g, err := serattr.CompileValue(fx, args[0])
	if err != nil {
		return nil, err
	}
	if k, ok := g.(serattr.Const); ok {
		if _, ok := sr.Value(k).AsInt(); !ok {
			return nil, fx.Errorf(args[0], "%s: %q is not a status code", fx.Func, args[0].S)
		}
	}
	return []any{g}, nil
}

// accLog is acc_db_log([code]): writes the current request to the acc
// table now.
func (a *accDB) accLog(c *sr.Ctx, p []any) int { return a.scriptLog(c, p, a.AccTable) }

// accMissed is acc_db_missed([code]): writes the current request to the
// missed_calls table now.
func (a *accDB) accMissed(c *sr.Ctx, p []any) int { return a.scriptLog(c, p, a.McTable) }

func (a *accDB) scriptLog(c *sr.Ctx, p []any, table string) int {
	req := c.Req
	if req == nil {
		return -1
	}
	if req.Method == sip.CANCEL && a.ReportCancels == 0 {
		return 1
	}
	code := 0
	if g, _ := p[0].(sr.Getter); g != nil {
		code, _ = g.Get(c).AsInt()
	}
	in := c.OrigRURI
	if in == "" {
		in = req.Recipient.String()
	}
	ev := event{req: req, avps: c.AVPs, flags: c.Flags, rcv: c.Rcv, inRURI: in, outRURI: req.Recipient.String(),
		to: req.To(), code: code, reqTime: time.Now()}
	if !a.enqueue(table, ev) {
		return -1
	}
	return 1
}

func (a *accDB) enqueue(table string, ev event) bool {
	r := record{table: table, vals: a.values(ev)}
	a.qmu.RLock()
	defer a.qmu.RUnlock()
	if a.queue == nil {
		a.log.Error("acc_db: the module is shut down; record dropped", "table", table)
		return false
	}
	select {
	case a.queue <- r:
		return true
	default:
		a.stats.dropped.Add(1)
		a.log.Error("acc_db: database queue full; record dropped", "table", table)
		return false
	}
}

// values computes the columns log_fmt selects.
func (a *accDB) values(ev event) []any {
	req := ev.req
	c := &sr.Ctx{Req: req, AVPs: ev.avps, Flags: ev.flags, Rcv: ev.rcv, Q: sr.QUnset, Log: a.log}
	out := make([]any, len(a.cols))
	for i, col := range a.cols {
		var v any
		switch col.letter {
		case 'a':
			v = nullStr(printAttrs(ev.avps, a.attrs))
		case 'c':
			if h := req.CallID(); h != nil {
				v = nullStr(h.Value())
			}
		case 'd':
			if ev.to != nil {
				v = nullStr(param(ev.to.Params, "tag"))
			}
		case 'f':
			if h := req.From(); h != nil {
				v = nullStr(h.Value())
			}
		case 'g':
			v = int64(ev.flags)
		case 'i':
			v = ev.inRURI
		case 'm':
			v = string(req.Method)
		case 'n':
			if h := req.CSeq(); h != nil {
				v = int64(h.SeqNo)
			}
		case 'o':
			v = ev.outRURI
		case 'p':
			if ip := ev.rcv.Src.Addr().Unmap(); ip.Is4() {
				v = ipNumber(ip)
			}
		case 'r':
			if h := req.From(); h != nil {
				v = nullStr(param(h.Params, "tag"))
			}
		case 't':
			if ev.to != nil {
				v = nullStr(ev.to.Value())
			}
		case 'u':
			user, _ := credentials(req)
			v = nullStr(user)
		case 'x':
			v = ev.reqTime.UTC()
		case 'D':
			v = nullStr(serattr.DID(c, sr.AVPTrackTo))
		case 'F':
			if h := req.From(); h != nil {
				v = nullStr(h.Address.String())
			}
		case 'I':
			v = nullStr(fromUID(c))
		case 'M':
			v = nullStr(serattr.DID(c, sr.AVPTrackFrom))
		case 'P':
			if ev.rcv.Src.IsValid() {
				v = int64(ev.rcv.Src.Port())
			}
		case 'R':
			_, realm := credentials(req)
			v = nullStr(realm)
		case 'S':
			if ev.code > 0 {
				v = int64(ev.code)
			}
		case 'T':
			if h := req.To(); h != nil {
				v = nullStr(h.Address.String())
			}
		case 'U':
			v = nullStr(toUID(c))
		case 'X':
			v = time.Now().UTC()
		}
		out[i] = clip(col.letter, v)
	}
	return out
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func param(p sip.HeaderParams, name string) string {
	v, _ := p.Get(name)
	return v
}

func ipNumber(ip netip.Addr) int64 {
	b := ip.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

// credentials returns the username (without a domain) and realm of the
// digest credentials of the request (Proxy-Authorization first, then
// Authorization), or "" when it has none that parse.
func credentials(req *sip.Request) (user, realm string) {
	for _, name := range []string{"Proxy-Authorization", "Authorization"} {
		h := sipmsg.Header(req, name)
		if h == nil {
			continue
		}
		cr, err := digest.ParseFields(h.Value())
		if err != nil {
			return "", ""
		}
		return cr.User, cr.Realm
	}
	return "", ""
}

// fromUID is SER's get_from_uid: $fu.uid, else the digest username, else
// the From URI's username in lower case.
func fromUID(c *sr.Ctx) string {
	if uid, ok := serattr.UID(c, sr.AVPTrackFrom); ok {
		return uid
	}
	if user, _ := credentials(c.Req); user != "" {
		return user
	}
	if h := c.Req.From(); h != nil {
		return strings.ToLower(h.Address.User)
	}
	return ""
}

// toUID is SER's get_to_uid: $tu.uid, else the To username of a REGISTER
// or the Request-URI's username of other requests, in lower case.
func toUID(c *sr.Ctx) string {
	if uid, ok := serattr.UID(c, sr.AVPTrackTo); ok {
		return uid
	}
	if c.Req.Method == sip.REGISTER {
		if h := c.Req.To(); h != nil {
			return strings.ToLower(h.Address.User)
		}
		return ""
	}
	return strings.ToLower(c.Req.Recipient.User)
}

// printAttrs formats the attrs column: "name:value,name:value", with
// SER's escapes for the delimiters.
func printAttrs(l *sr.AVPList, ids []serattr.Ident) string {
	var parts []string
	for _, id := range ids {
		for _, av := range serattr.Values(l, id.Name, id.Flags) {
			parts = append(parts, id.Name.String()+":"+escapeAttr(av.Val.Text()))
		}
	}
	return strings.Join(parts, ",")
}

var attrEscaper = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`, `\`, `\\`, "\x00", `\0`, ":", `\o`, ",", `\c`)

func escapeAttr(s string) string { return attrEscaper.Replace(s) }

// writer inserts queued records off the transaction's lock.
func (a *accDB) writer(q <-chan record) {
	defer a.wg.Done()
	for r := range q {
		if err := a.insert(r); err != nil {
			a.stats.failed.Add(1)
			a.log.Error("acc_db: database write failed", "table", r.table, "error", err)
			continue
		}
		a.stats.written.Add(1)
	}
}

func (a *accDB) insert(r record) error {
	d := a.d.Dialect()
	names := make([]string, len(a.cols))
	marks := make([]string, len(a.cols))
	for i, c := range a.cols {
		names[i] = d.Quote(c.name)
		marks[i] = "?"
	}
	q := "INSERT INTO " + d.Quote(r.table) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.d.Exec(ctx, q, r.vals...); err != nil {
		return fmt.Errorf("insert into %s: %w", r.table, err)
	}
	return nil
}

// sizes are the widths of the string columns, by log_fmt letter.
var sizes = map[byte]int{
	'a': 255, 'c': 255, 'd': 128, 'f': 255, 'i': 255, 'm': 16, 'o': 255, 'r': 128, 't': 255, 'u': 64,
	'D': 64, 'F': 255, 'I': 64, 'M': 64, 'R': 255, 'T': 255, 'U': 64,
}

// clip cuts a string value to the width of its column.
func clip(letter byte, v any) any {
	s, ok := v.(string)
	if n := sizes[letter]; ok && n > 0 && len(s) > n {
		return s[:n]
	}
	return v
}
