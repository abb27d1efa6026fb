package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sip-router.org/core/db"
)

// quietLog swallows the database layer's warnings: a tool reports one
// line per error, itself.
var quietLog = slog.New(slog.DiscardHandler)

// ToolSettingNames are the rc settings of the control tool besides the
// database and control-engine ones; the environment may set them too.
var ToolSettingNames = []string{"SIP_DOMAIN", "STORE_PLAINTEXT_PW", "UL_TABLE", "AVP_TABLE", "PING_TIMEOUT"}

// Tool is a control tool (kamctl, serctl) bound to its flavor and its rc
// settings. Verbs that need the database get it through the database
// plug-in (DBENGINE), verbs that talk to the running server through the
// control plug-in (CTLENGINE); a verb whose plug-in is missing fails with
// the setting to change.
type Tool struct {
	// Name is the tool's name (kamctl, serctl).
	Name string
	// Flavor is the flavor record; FlavorErr says why the built-in
	// defaults are used instead, when it could not be read.
	Flavor    *Flavor
	FlavorErr error
	// RC holds the settings; RCFiles are the files looked at, in order.
	RC      *RC
	RCFiles []string
	Stdout  io.Writer
	Stderr  io.Writer

	dbs    DBSettings
	dbErr  error
	ctls   CtlSettings
	ctlErr error
}

// Main runs a control tool with its arguments (without the program name)
// and returns the exit status: 0, or 1 after one line on stderr.
//
// Main silences the default slog logger: the database layer logs its
// retries there, and a tool reports its errors itself, on one line.
func Main(toolName, flavorName string, args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(quietLog)
	t, err := NewTool(toolName, flavorName, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", toolName, oneLine(err.Error()))
		return 1
	}
	return t.Run(args)
}

// NewTool reads the flavor record and the rc files. A missing flavor
// record is no error (the flavor's built-in defaults apply); an rc file
// that cannot be read or parsed is.
func NewTool(toolName, flavorName string, stdout, stderr io.Writer) (*Tool, error) {
	t := &Tool{Name: toolName, Stdout: stdout, Stderr: stderr}
	f, err := LoadFlavor(flavorName)
	if err != nil {
		t.FlavorErr = err
		f = BuiltinFlavor(flavorName, toolName)
	}
	t.Flavor = f
	rcName := f.CtlRC
	if rcName == "" {
		rcName = toolName + "rc"
	}
	t.RCFiles = RCFiles(f.Name, rcName)
	names := append(append(append([]string{}, DBSettingNames...), CtlSettingNames...), ToolSettingNames...)
	rc, err := LoadRC(t.RCFiles, names)
	if err != nil {
		return nil, err
	}
	t.RC = rc
	t.dbs, t.dbErr = rc.DB(f.DBDefaults())
	if t.dbErr != nil && rc.Get("DBENGINE", "") == "" {
		t.dbErr = fmt.Errorf("DBENGINE is not set: set DBENGINE=MYSQL, PGSQL or SQLITE in %s", t.rcWhere())
	}
	ctlDefaults := map[string]string{}
	for k, v := range f.Defaults {
		ctlDefaults[k] = v
	}
	if f.IsSER() && ctlDefaults["ctl_engine"] == "" {
		// SER's server has no mi_fifo: its tools talk to the ctl
		// module's socket, as sercmd does.
		ctlDefaults["ctl_engine"] = string(UnixSock)
	}
	t.ctls, t.ctlErr = rc.Ctl(ctlDefaults)
	return t, nil
}

// BuiltinFlavor is what a tool assumes of its flavor without a flavor
// record: the names and default paths of the standard flavors.
func BuiltinFlavor(flavor, tool string) *Flavor {
	if flavor == "" {
		flavor = "kamailio"
	}
	f := &Flavor{Name: flavor, Binary: flavor, CtlTool: tool, CtlRC: tool + "rc", Version: "3.0.0"}
	f.Defaults = map[string]string{
		"fifo":   "/run/" + flavor + "/" + flavor + "_fifo",
		"db_url": "sqlite:///var/lib/" + flavor + "/" + flavor + ".db",
	}
	f.DB.Name = flavor
	f.DB.URL = f.Defaults["db_url"]
	switch flavor {
	case "ser":
		f.DBTool = "ser_db"
		f.Defaults["ctl_socket"] = "unixs:/run/ser/ser_ctl"
	default:
		f.DBTool = "kamdbctl"
		f.Defaults["ctl_socket"] = "unix:/run/" + flavor + "/" + flavor + "_ctl"
	}
	return f
}

// rcWhere names the system and the user rc file, for messages.
func (t *Tool) rcWhere() string {
	if len(t.RCFiles) == 0 {
		return "the rc file"
	}
	first, last := t.RCFiles[0], t.RCFiles[len(t.RCFiles)-1]
	if first == last {
		return first
	}
	return first + " or " + last
}

// dbTool is the flavor's database tool, for hints.
func (t *Tool) dbTool() string {
	if t.Flavor.DBTool != "" {
		return t.Flavor.DBTool
	}
	return "the database tool"
}

// createHint is what creates the flavor's tables.
func (t *Tool) createHint() string { return t.dbTool() + " create" }

// Run runs one verb and returns the exit status.
func (t *Tool) Run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		t.Usage(t.Stdout)
		return 0
	}
	v := lookupVerb(args[0])
	if v == nil {
		return t.fail(fmt.Errorf("unknown command %q (%s -h lists the commands)", args[0], t.Name))
	}
	if v.model != "" && v.model != t.model() {
		return t.fail(fmt.Errorf("%s is not a command of the %s flavor%s", args[0], t.Flavor.Name, v.why))
	}
	if err := v.run(t, args[0], args[1:]); err != nil {
		return t.fail(err)
	}
	return 0
}

func (t *Tool) fail(err error) int {
	fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, oneLine(err.Error()))
	return 1
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

// model is "ser" for SER's uid/did user model, "kam" otherwise.
func (t *Tool) model() string {
	if t.Flavor.IsSER() {
		return "ser"
	}
	return "kam"
}

// users is the flavor's user model.
func (t *Tool) users() Users { return UsersOf(t.Flavor) }

// DB returns the database plug-in, or why there is none.
func (t *Tool) DB() (DBPlugin, error) {
	if t.dbErr != nil {
		return nil, t.dbErr
	}
	return t.dbs.Plugin(t.createHint()), nil
}

// Ctl returns the control plug-in, or why there is none.
func (t *Tool) Ctl() (Controller, error) {
	if t.ctlErr != nil {
		return nil, t.ctlErr
	}
	return t.ctls.NewController(), nil
}

// withDB opens the database for one verb.
func (t *Tool) withDB(fn func(ctx context.Context, d *db.DB) error) error {
	p, err := t.DB()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	d, err := p.Open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(ctx, d)
}

// call runs a command over the control plug-in.
func (t *Tool) call(method string, params ...string) (any, error) {
	c, err := t.Ctl()
	if err != nil {
		return nil, err
	}
	res, err := c.Call(method, params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return res, nil
}

// account reads a user argument, with SIP_DOMAIN for a bare name.
func (t *Tool) account(s string) (Account, error) {
	a, err := ParseAccount(s, t.RC.Get("SIP_DOMAIN", ""))
	if errors.Is(err, ErrNoDomain) {
		return Account{}, fmt.Errorf("%q has no domain: write user@domain or set SIP_DOMAIN in %s", s, t.rcWhere())
	}
	return a, err
}

// plaintext tells whether passwords are stored in clear
// (STORE_PLAINTEXT_PW, default 1 as in kamctlrc).
func (t *Tool) plaintext() bool {
	switch strings.ToLower(t.RC.Get("STORE_PLAINTEXT_PW", "1")) {
	case "0", "no", "false", "off":
		return false
	}
	return true
}

// declaredTables are the tables the flavor's database tool creates: those
// its modules declare (the schema.json beside the flavor record) and those
// its manifest names; nil when unknown.
func (t *Tool) declaredTables() map[string]bool {
	if t.Flavor.ShareDir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(t.Flavor.ShareDir, "schema.json"))
	if err != nil {
		return nil
	}
	var s struct {
		Tables []struct {
			Name string `json:"name"`
		} `json:"tables"`
	}
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	m := map[string]bool{}
	for _, tb := range s.Tables {
		m[tb.Name] = true
	}
	for _, tb := range t.Flavor.DB.Tables {
		m[tb] = true
	}
	return m
}

// missingTable explains a table that is not in the database.
func (t *Tool) missingTable(table string) error {
	if dt := t.declaredTables(); dt != nil && !dt[table] {
		return fmt.Errorf("table %s does not exist, and the %s flavor does not declare it (%s create does not make it): create it by hand",
			table, t.Flavor.Name, t.dbTool())
	}
	return fmt.Errorf("table %s does not exist: create it with %s", table, t.createHint())
}

// needTables fails when one of the tables is missing.
func (t *Tool) needTables(ctx context.Context, q db.Querier, tables ...string) error {
	for _, tb := range tables {
		ok, err := db.TableExists(ctx, q, tb)
		if err != nil {
			return err
		}
		if !ok {
			return t.missingTable(tb)
		}
	}
	return nil
}

func (t *Tool) printf(format string, args ...any) { fmt.Fprintf(t.Stdout, format, args...) }

// need says which plug-in a verb needs.
type need uint8

const (
	needNone need = iota
	needDB
	needCtl
)

// verb is a command of the tool.
type verb struct {
	names []string
	// model restricts the verb to one user model ("kam", "ser").
	model string
	why   string
	run   func(t *Tool, name string, args []string) error
}

var verbs []*verb

func lookupVerb(name string) *verb {
	for _, v := range verbs {
		for _, n := range v.names {
			if n == name {
				return v
			}
		}
	}
	return nil
}

func init() {
	verbs = []*verb{
		{names: []string{"add"}, run: (*Tool).verbAdd},
		{names: []string{"passwd"}, run: (*Tool).verbPasswd},
		{names: []string{"rm"}, run: (*Tool).verbRm},
		{names: []string{"rpid"}, model: "kam", why: " (SER keeps the RPID as a user attribute: use avp)", run: (*Tool).verbRPID},
		{names: []string{"ul", "usrloc"}, run: (*Tool).verbUL},
		{names: []string{"online"}, run: (*Tool).verbOnline},
		{names: []string{"domain"}, run: (*Tool).verbDomain},
		{names: []string{"alias_db", "aliasdb"}, model: "kam", why: " (SER's aliases are rows of the uri table)", run: (*Tool).verbAliasDB},
		{names: []string{"avp"}, run: (*Tool).verbAVP},
		{names: []string{"db"}, run: (*Tool).verbDBShow},
		{names: []string{"ps"}, run: (*Tool).verbPS},
		{names: []string{"uptime"}, run: (*Tool).verbUptime},
		{names: []string{"stats"}, run: (*Tool).verbStats},
		{names: []string{"fifo", "mi", "unixsock"}, run: (*Tool).verbRaw},
		{names: []string{"rpc", "ser", "sercmd"}, run: (*Tool).verbRaw},
		{names: []string{"ping"}, run: (*Tool).verbPing},
		{names: []string{"version"}, run: (*Tool).verbVersion},
	}
}

// usageLine is one line of the usage text.
type usageLine struct {
	cmd, text string
	needs     need
	model     string
}

// usageGroups is the usage text, grouped as kamctl groups it.
var usageGroups = []struct {
	title string
	lines []usageLine
}{
	{"subscribers", []usageLine{
		{"add <user> <password>", "add a new subscriber (*)", needDB, ""},
		{"passwd <user> <password>", "change a subscriber's password (*)", needDB, ""},
		{"rm <user>", "remove a subscriber, and its contacts if the server runs (*)", needDB, ""},
		{"rpid add <user> <rpid>", "set a subscriber's Remote-Party-ID (*)", needDB, "kam"},
		{"rpid rm <user>", "clear a subscriber's Remote-Party-ID (*)", needDB, "kam"},
		{"rpid show [<user>]", "show the Remote-Party-IDs", needDB, "kam"},
	}},
	{"user location", []usageLine{
		{"ul show [<user>|--brief]", "show the registered contacts", needCtl, ""},
		{"ul rm <user> [<contact>]", "remove the contacts of a user (or one)", needCtl, ""},
		{"ul add <user> <uri> [<expires> [<q>]]", "add a contact (expires 0: permanent)", needCtl, ""},
		{"online", "list the users that have contacts", needCtl, ""},
	}},
	{"domains", []usageLine{
		{"domain show", "show the domains the server serves", needCtl, ""},
		{"domain reload", "make the server reload the domain table", needCtl, ""},
		{"domain showdb", "show the domain table", needDB, ""},
		{"domain add <domain>", "add a domain (*)", needDB, "kam"},
		{"domain add <domain> [<did> [<flags>]]", "add a domain to a did (default: itself) (*)", needDB, "ser"},
		{"domain rm <domain>", "remove a domain (*)", needDB, ""},
	}},
	{"aliases", []usageLine{
		{"alias_db show <alias>", "show the user an alias stands for", needDB, "kam"},
		{"alias_db list [<user>]", "list the aliases (of a user)", needDB, "kam"},
		{"alias_db add <alias> <user>", "add an alias (*)", needDB, "kam"},
		{"alias_db rm <alias>", "remove an alias (*)", needDB, "kam"},
	}},
	{"attributes (AVPs)", []usageLine{
		{"avp list [-T <table>] [-u <user|uuid>] [-a <attribute>] [-v <value>] [-t <type>]", "list attributes", needDB, "kam"},
		{"avp add [-T <table>] <user|uuid> <attribute> <type> <value>", "add an attribute (*)", needDB, "kam"},
		{"avp rm [-T <table>] [-u <user|uuid>] [-a <attribute>] [-v <value>] [-t <type>]", "remove attributes (*)", needDB, "kam"},
		{"avp list [-u <user|uid>] [-a <name>] [-v <value>] [-t <type>]", "list user attributes", needDB, "ser"},
		{"avp add <user|uid> <name> <type> <value>", "add a user attribute (type 2: string) (*)", needDB, "ser"},
		{"avp rm [-u <user|uid>] [-a <name>] [-v <value>] [-t <type>]", "remove user attributes (*)", needDB, "ser"},
	}},
	{"database", []usageLine{
		{"db show <table>", "print the rows of a table", needDB, ""},
	}},
	{"server", []usageLine{
		{"ps", "list the server's tasks", needCtl, ""},
		{"uptime", "show how long the server has run", needCtl, ""},
		{"stats [<group>|<group>:<name>]", "show statistics", needCtl, ""},
		{"fifo <command> [<param>...]", "run a control command, print the reply as MI text", needCtl, ""},
		{"rpc <command> [<param>...]", "run a control command, print the reply as JSON", needCtl, ""},
		{"ping [-t <seconds>] <uri>", "send an OPTIONS request and print the reply's status", needNone, ""},
		{"version", "print the tool's version and the server's", needNone, ""},
	}},
}

// Usage prints the verbs of the flavor, grouped, marking those the
// current settings make unavailable and why.
func (t *Tool) Usage(w io.Writer) {
	fmt.Fprintf(w, "%s %s - control tool of the %s SIP server\n\n", t.Name, t.Flavor.Version, t.Flavor.Name)
	fmt.Fprintf(w, "Usage: %s <command> [<arguments>]\n\n", t.Name)
	fmt.Fprintf(w, "Settings: %s", strings.Join(t.RCFiles, ", "))
	if len(t.RC.Files) == 0 {
		fmt.Fprintf(w, " (none found)")
	}
	fmt.Fprintln(w)
	if t.dbErr != nil {
		fmt.Fprintf(w, "Database engine: none: %s\n  The commands marked [no DB] are unavailable.\n", t.dbErr)
	} else {
		p, _ := t.DB()
		fmt.Fprintf(w, "Database engine: %s, %s\n", p.Engine(), p.Where())
	}
	if t.ctlErr != nil {
		fmt.Fprintf(w, "Control engine: none: %s\n  The commands marked [no control engine] are unavailable.\n", t.ctlErr)
	} else {
		c, _ := t.Ctl()
		fmt.Fprintf(w, "Control engine: %s, %s\n", c.Engine(), c.Where())
	}
	width := 0
	for _, g := range usageGroups {
		for _, l := range g.lines {
			if len(l.cmd) > width && len(l.cmd) < 44 {
				width = len(l.cmd)
			}
		}
	}
	model := t.model()
	for _, g := range usageGroups {
		var lines []string
		for _, l := range g.lines {
			if l.model != "" && l.model != model {
				continue
			}
			mark := ""
			switch {
			case l.needs == needDB && t.dbErr != nil:
				mark = "  [no DB]"
			case l.needs == needCtl && t.ctlErr != nil:
				mark = "  [no control engine]"
			}
			pad := width + 2 - len(l.cmd)
			if pad < 2 {
				lines = append(lines, fmt.Sprintf("  %s\n  %s  %s%s", l.cmd, strings.Repeat(" ", width), l.text, mark))
				continue
			}
			lines = append(lines, fmt.Sprintf("  %s%s%s%s", l.cmd, strings.Repeat(" ", pad), l.text, mark))
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n -- %s\n%s\n", g.title, strings.Join(lines, "\n"))
	}
	fmt.Fprintf(w, "\n(*) changes the database. A user without a domain takes SIP_DOMAIN.\n")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
