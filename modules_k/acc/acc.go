// Package acc is the acc module: accounting of transactions, as Kamailio
// 3.0's acc does it, to the log and to the database tables acc and
// missed_calls.
package acc

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
	"sip-router.org/core/srlog"
	"sip-router.org/modules/tm"
)

// flag is a message flag parameter: -1 (off), 0..31, or a SER flag name.
type flag struct{ n int }

func (f *flag) SetParam(v sr.Value, env *module.ParamEnv) error {
	if v.K == sr.Int {
		if v.I < -1 || v.I > 31 {
			return fmt.Errorf("flag %d out of range -1..31", v.I)
		}
		f.n = v.I
		return nil
	}
	if env != nil && env.Flag != nil {
		if n, ok := env.Flag(v.S); ok {
			f.n = n
			return nil
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.S))
	if err != nil || n < -1 || n > 31 {
		return fmt.Errorf("%q is neither a flag number nor a declared flag name", v.S)
	}
	f.n = n
	return nil
}

func (f *flag) ParamType() string { return "flag" }
func (f flag) String() string     { return strconv.Itoa(f.n) }

func (f flag) set(flags uint32) bool { return f.n >= 0 && flags&(1<<uint(f.n)) != 0 }

type acc struct {
	LogFlag           flag   `modparam:"log_flag"`
	LogMissedFlag     flag   `modparam:"log_missed_flag"`
	FailedTxFlag      flag   `modparam:"failed_transaction_flag"`
	LogLevel          int    `modparam:"log_level"`
	LogFacility       string `modparam:"log_facility"`
	LogExtra          string `modparam:"log_extra"`
	ReportAck         int    `modparam:"report_ack" min:"0" max:"1"`
	ReportCancels     int    `modparam:"report_cancels" min:"0" max:"1"`
	EarlyMedia        int    `modparam:"early_media" min:"0" max:"1"`
	DetectDirection   int    `modparam:"detect_direction" min:"0" max:"1"`
	DBFlag            flag   `modparam:"db_flag"`
	DBMissedFlag      flag   `modparam:"db_missed_flag"`
	DBURL             string `modparam:"db_url"`
	DBExtra           string `modparam:"db_extra"`
	DBTableAcc        string `modparam:"db_table_acc"`
	DBTableMissed     string `modparam:"db_table_missed_calls"`
	MethodColumn      string `modparam:"acc_method_column"`
	FromTagColumn     string `modparam:"acc_from_tag_column"`
	ToTagColumn       string `modparam:"acc_to_tag_column"`
	CallIDColumn      string `modparam:"acc_callid_column"`
	SIPCodeColumn     string `modparam:"acc_sip_code_column"`
	SIPReasonColumn   string `modparam:"acc_sip_reason_column"`
	TimeColumn        string `modparam:"acc_time_column"`
	DBQueue           int    `modparam:"db_queue" min:"1" max:"1000000"`
	logExtra, dbExtra []extra
	level             slog.Level
	log               *slog.Logger
	d                 *db.DB
	queue             chan record
	wg                sync.WaitGroup
	stats             struct{ logged, missed, dbWritten, dbFailed, dbDropped atomic.Int64 }
}

// extra is one name=$pv pair of log_extra or db_extra.
type extra struct {
	name string
	f    sr.Format
}

func init() {
	module.Register(module.Spec[*acc]{
		Name:    "acc",
		Tree:    "modules_k",
		Deps:    []string{"modules/tm"},
		Summary: "accounting of transactions to the log and the database",
		New: func() *acc {
			return &acc{
				LogFlag: flag{-1}, LogMissedFlag: flag{-1}, FailedTxFlag: flag{-1},
				DBFlag: flag{-1}, DBMissedFlag: flag{-1},
				LogLevel: srlog.LNotice, LogFacility: "LOG_DAEMON",
				DBTableAcc: "acc", DBTableMissed: "missed_calls",
				MethodColumn: "method", FromTagColumn: "from_tag", ToTagColumn: "to_tag",
				CallIDColumn: "callid", SIPCodeColumn: "sip_code", SIPReasonColumn: "sip_reason",
				TimeColumn: "time", DBQueue: 10000,
			}
		},
		Funcs: []module.Func[*acc]{
			{Name: "acc_log_request", Args: []int{1}, Routes: sr.RouteRequest | sr.RouteFailure,
				Fixup: fixupComment, Call: (*acc).logRequest},
			{Name: "acc_db_request", Args: []int{2}, Routes: sr.RouteRequest | sr.RouteFailure,
				Fixup: fixupCommentTable, Call: (*acc).dbRequest},
		},
		Tables: []*schema.Table{Acc(), MissedCalls()},
	})
}

// accTable is the acc / missed_calls table of Kamailio 3.0.
func accTable(name string, version int) *schema.Table {
	return &schema.Table{
		Name: name, Version: version,
		Columns: []schema.Column{
			{Name: "id", Type: schema.Int, Auto: true, Unsigned: true},
			{Name: "method", Type: schema.String, Size: 16, Default: "''"},
			{Name: "from_tag", Type: schema.String, Size: 64, Default: "''"},
			{Name: "to_tag", Type: schema.String, Size: 64, Default: "''"},
			{Name: "callid", Type: schema.String, Size: 64, Default: "''"},
			{Name: "sip_code", Type: schema.String, Size: 3, Default: "''"},
			{Name: "sip_reason", Type: schema.String, Size: 32, Default: "''"},
			{Name: "time", Type: schema.DateTime},
		},
		Indexes: []schema.Index{{Name: "callid_idx", Columns: []string{"callid"}}},
	}
}

// parseExtra reads "name=$pv;name2=$pv2".
func parseExtra(spec string, env *module.ConfigEnv) ([]extra, error) {
	var out []extra
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.TrimSpace(val) == "" {
			return nil, fmt.Errorf("extra %q: want name=$pv", part)
		}
		f, err := parseFormat(env, strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("extra %q: %w", part, err)
		}
		out = append(out, extra{name: name, f: f})
	}
	return out, nil
}

// parseFormat compiles one extra's value ($fU, or text with PVs).
func parseFormat(env *module.ConfigEnv, s string) (sr.Format, error) {
	reg, ok := env.PVs.(*pv.Registry)
	if !ok {
		return nil, fmt.Errorf("no pseudo-variable registry")
	}
	return reg.ParseFormat(s, pv.MaxCompat)
}

// Configure compiles the extras and checks the DB URL.
func (a *acc) Configure(env *module.ConfigEnv) error {
	var err error
	if a.logExtra, err = parseExtra(a.LogExtra, env); err != nil {
		return fmt.Errorf("log_extra: %w", err)
	}
	if a.dbExtra, err = parseExtra(a.DBExtra, env); err != nil {
		return fmt.Errorf("db_extra: %w", err)
	}
	a.level = srlog.Level(a.LogLevel)
	if a.dbOn() {
		if a.DBURL == "" {
			a.DBURL = env.Defaults["db_url"]
		}
		if err := db.CheckURL("db_url", a.DBURL); err != nil {
			return err
		}
	}
	return nil
}

func (a *acc) dbOn() bool { return a.DBFlag.n >= 0 || a.DBMissedFlag.n >= 0 }

// Init hooks into tm and, with DB accounting on, opens the database and
// starts the writer.
func (a *acc) Init(env *module.InitEnv) error {
	a.log = env.Log
	dep, err := env.Dep("modules/tm")
	if err != nil {
		return err
	}
	t, ok := dep.(*tm.TM)
	if !ok {
		return fmt.Errorf("modules/tm does not offer tm's API")
	}
	if env.Stats != nil {
		env.Stats.Gauge("acc", "logged", a.stats.logged.Load)
		env.Stats.Gauge("acc", "missed", a.stats.missed.Load)
		env.Stats.Gauge("acc", "db_written", a.stats.dbWritten.Load)
		env.Stats.Gauge("acc", "db_failed", a.stats.dbFailed.Load)
		env.Stats.Gauge("acc", "db_dropped", a.stats.dbDropped.Load)
	}
	if a.dbOn() {
		ctx := env.Ctx
		if ctx == nil {
			ctx = context.Background()
		}
		d, err := db.OpenParam(ctx, "db_url", a.DBURL, env.Loaded)
		if err != nil {
			return err
		}
		a.d = d
		for _, tbl := range []struct {
			name string
			ver  int
		}{{a.DBTableAcc, 4}, {a.DBTableMissed, 3}} {
			if err := db.CheckVersion(ctx, d, tbl.name, tbl.ver, env.MigrateHint()); err != nil {
				d.Close()
				a.d = nil
				return err
			}
		}
		a.queue = make(chan record, a.DBQueue)
		a.wg.Add(1)
		go a.writer()
	}
	t.OnCompletion(a.completed)
	return nil
}

// Destroy drains the DB queue and closes the database.
func (a *acc) Destroy() {
	if a.queue != nil {
		close(a.queue)
		a.wg.Wait()
		a.queue = nil
	}
	if a.d != nil {
		a.d.Close()
		a.d = nil
	}
}

// record is one accounting entry.
type record struct {
	table   string
	method  string
	fromTag string
	toTag   string
	callID  string
	code    int
	reason  string
	when    time.Time
	extras  []string // values of dbExtra
}

func tagOf(p sip.HeaderParams) string {
	v, _ := p.Get("tag")
	return v
}

// entry fills the common fields from a request and a final reply.
func entry(req *sip.Request, code int, reason string, reply *sip.Response) record {
	r := record{method: string(req.Method), code: code, reason: reason, when: time.Now()}
	if f := req.From(); f != nil {
		r.fromTag = tagOf(f.Params)
	}
	if reply != nil && reply.To() != nil {
		r.toTag = tagOf(reply.To().Params)
	} else if t := req.To(); t != nil {
		r.toTag = tagOf(t.Params)
	}
	if cid := req.CallID(); cid != nil {
		r.callID = cid.Value()
	}
	return r
}

// completed is tm's completion callback: it decides what to account.
func (a *acc) completed(cp *tm.Completion) {
	if cp.Request == nil {
		return
	}
	if cp.Method == "CANCEL" && a.ReportCancels == 0 {
		return
	}
	rec := entry(cp.Request, cp.Code, cp.Reason, cp.Reply)
	c := &sr.Ctx{Req: cp.Request, Rcv: cp.Source, AVPs: cp.AVPs, Flags: cp.Flags, Log: a.log, Q: sr.QUnset}
	failed := cp.Code >= 300
	if a.LogFlag.set(cp.Flags) && (!failed || a.FailedTxFlag.set(cp.Flags)) {
		a.emit(c, "transaction answered", rec)
		a.stats.logged.Add(1)
	}
	if failed && a.LogMissedFlag.set(cp.Flags) {
		a.emit(c, "call missed", rec)
		a.stats.missed.Add(1)
	}
	if a.queue == nil {
		return
	}
	if a.DBFlag.set(cp.Flags) && (!failed || a.FailedTxFlag.set(cp.Flags)) {
		a.enqueue(c, rec, a.DBTableAcc)
	}
	if failed && a.DBMissedFlag.set(cp.Flags) {
		a.enqueue(c, rec, a.DBTableMissed)
	}
}

// emit writes one log record in Kamailio's acc format.
func (a *acc) emit(c *sr.Ctx, what string, r record) {
	var b strings.Builder
	fmt.Fprintf(&b, "ACC: %s: timestamp=%d;method=%s;from_tag=%s;to_tag=%s;call_id=%s;code=%d;reason=%s",
		what, r.when.Unix(), r.method, r.fromTag, r.toTag, r.callID, r.code, r.reason)
	for _, e := range a.logExtra {
		b.WriteString(";" + e.name + "=" + e.f.Expand(c))
	}
	a.log.Log(context.Background(), a.level, b.String(), "facility", a.LogFacility)
}

func (a *acc) enqueue(c *sr.Ctx, r record, table string) {
	r.table = table
	r.extras = make([]string, len(a.dbExtra))
	for i, e := range a.dbExtra {
		r.extras[i] = e.f.Expand(c)
	}
	select {
	case a.queue <- r:
	default:
		a.stats.dbDropped.Add(1)
		a.log.Error("acc: database queue full; record dropped", "callid", r.callID)
	}
}

// writer inserts queued records; it runs off the transaction's lock so a
// slow database never holds up calls.
func (a *acc) writer() {
	defer a.wg.Done()
	for r := range a.queue {
		if err := a.insert(r); err != nil {
			a.stats.dbFailed.Add(1)
			a.log.Error("acc: database write failed", "table", r.table, "callid", r.callID, "error", err)
			continue
		}
		a.stats.dbWritten.Add(1)
	}
}

func (a *acc) insert(r record) error {
	d := a.d.Dialect()
	cols := []string{a.MethodColumn, a.FromTagColumn, a.ToTagColumn, a.CallIDColumn, a.SIPCodeColumn, a.SIPReasonColumn, a.TimeColumn}
	vals := []any{r.method, r.fromTag, r.toTag, r.callID, strconv.Itoa(r.code), clip(r.reason, 32), r.when.UTC()}
	for i, e := range a.dbExtra {
		cols = append(cols, e.name)
		vals = append(vals, r.extras[i])
	}
	quoted := make([]string, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = d.Quote(c)
		marks[i] = "?"
	}
	q := "INSERT INTO " + d.Quote(r.table) + " (" + strings.Join(quoted, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.d.Exec(ctx, q, vals...)
	return err
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func fixupComment(_ *acc, fx *module.Fixup, args []module.Arg) ([]any, error) {
	f, err := fx.TextFormat(args[0])
	if err != nil {
		return nil, err
	}
	return []any{f}, nil
}

func fixupCommentTable(_ *acc, fx *module.Fixup, args []module.Arg) ([]any, error) {
	f, err := fx.TextFormat(args[0])
	if err != nil {
		return nil, err
	}
	t, err := fx.Str(args[1])
	if err != nil {
		return nil, err
	}
	return []any{f, t}, nil
}

// comment splits "200 OK" into a code and a reason, as acc_log_request's
// argument gives them.
func comment(s string) (int, string) {
	s = strings.TrimSpace(s)
	code, reason, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 {
		return 0, s
	}
	return n, strings.TrimSpace(reason)
}

// logRequest is acc_log_request(comment): account the current request now
// (a request answered statelessly, or refused by the script).
func (a *acc) logRequest(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	code, reason := comment(p[0].(sr.Format).Expand(c))
	a.emit(c, "request accounted", entry(c.Req, code, reason, nil))
	a.stats.logged.Add(1)
	return 1
}

// dbRequest is acc_db_request(comment, table).
func (a *acc) dbRequest(c *sr.Ctx, p []any) int {
	if c.Req == nil || a.queue == nil {
		if a.queue == nil {
			c.Log.Error("acc_db_request: database accounting is off (set db_flag or db_missed_flag)")
		}
		return -1
	}
	code, reason := comment(p[0].(sr.Format).Expand(c))
	a.enqueue(c, entry(c.Req, code, reason, nil), p[1].(string))
	return 1
}
