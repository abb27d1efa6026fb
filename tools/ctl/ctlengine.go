package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/ctrl"
)

// CtlEngine is a control plug-in, chosen with CTLENGINE as in kamctlrc.
type CtlEngine string

// The control engines.
const (
	// FIFO talks the MI text protocol over the server's FIFO (mi_fifo, or
	// ctl's fifo:), as kamctl.fifo does.
	FIFO CtlEngine = "FIFO"
	// UnixSock talks JSON-RPC over ctl's control socket (unix:, unixs:
	// or tcp:), where kamctl.unixsock talked to the old unixsock module.
	UnixSock CtlEngine = "UNIXSOCK"
)

// ParseCtlEngine accepts FIFO/fifo and UNIXSOCK/unixsock; empty is FIFO,
// kamctl's default. The engines kamctl 3.x added later over kamcmd
// (SER_MI, SERCMD_MI) get an error naming the two we have.
func ParseCtlEngine(s string) (CtlEngine, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "fifo":
		return FIFO, nil
	case "unixsock", "unix", "socket":
		return UnixSock, nil
	case "ser_mi", "sercmd_mi", "sercmdmi", "kamcmd_mi", "kamcmdmi":
		return "", fmt.Errorf("CTLENGINE=%s is not supported: use FIFO or UNIXSOCK", s)
	}
	return "", fmt.Errorf("CTLENGINE=%s is unknown: use FIFO or UNIXSOCK", s)
}

// CtlSettingNames are the rc settings Ctl reads (the environment may set
// them too).
var CtlSettingNames = []string{"CTLENGINE", "OSER_FIFO", "FIFO_REPLY_DIR", "OSER_UNIXSOCK", "CTL_TIMEOUT"}

// CtlSettings are the control-engine settings of a tool.
type CtlSettings struct {
	Engine CtlEngine
	// FIFO is the server's FIFO (OSER_FIFO) and ReplyDir the folder
	// where the tool creates its reply FIFO (FIFO_REPLY_DIR): it must
	// be the server's reply_dir (mi_fifo's default /tmp/).
	FIFO, ReplyDir string
	// Socket is the control socket (OSER_UNIXSOCK): unix:/path,
	// unixs:/path, tcp:host:port, or a bare path (a unix socket).
	Socket string
	// Timeout bounds one command (CTL_TIMEOUT, seconds).
	Timeout time.Duration
}

// DefaultCtlTimeout is how long a command waits for the server's answer
// when CTL_TIMEOUT is not set.
const DefaultCtlTimeout = 5 * time.Second

// Ctl resolves the control settings. defaults are the flavor's default
// core settings: "fifo" and "ctl_socket" give the paths the flavor's
// server uses when its config sets none, and "ctl_engine" the engine
// when CTLENGINE is not set (FIFO, as kamctl, without it). The errors are
// an unknown CTLENGINE and a bad CTL_TIMEOUT, prefixed with where they
// were set.
func (rc *RC) Ctl(defaults map[string]string) (CtlSettings, error) {
	eng, err := ParseCtlEngine(rc.Get("CTLENGINE", defaults["ctl_engine"]))
	if err != nil {
		return CtlSettings{}, rc.located("CTLENGINE", err)
	}
	fifo := defaults["fifo"]
	if fifo == "" {
		fifo = "/tmp/kamailio_fifo" // kamctl.fifo's default
	}
	sock := defaults["ctl_socket"]
	if sock == "" {
		sock = "unixs:/tmp/ser_ctl" // the ctl module's default
	}
	s := CtlSettings{
		Engine:   eng,
		FIFO:     rc.Get("OSER_FIFO", fifo),
		ReplyDir: rc.Get("FIFO_REPLY_DIR", "/tmp"),
		Socket:   rc.Get("OSER_UNIXSOCK", sock),
		Timeout:  DefaultCtlTimeout,
	}
	if strings.HasPrefix(s.Socket, "/") {
		s.Socket = "unix:" + s.Socket
	}
	if v := rc.Get("CTL_TIMEOUT", ""); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n <= 0 || n > 3600 {
			return CtlSettings{}, rc.located("CTL_TIMEOUT", fmt.Errorf("CTL_TIMEOUT=%s is not a number of seconds (0 to 3600)", v))
		}
		s.Timeout = time.Duration(n * float64(time.Second))
	}
	if eng == UnixSock {
		if _, _, err := ctrl.SplitAddr(s.Socket); err != nil {
			return CtlSettings{}, rc.located("OSER_UNIXSOCK", err)
		}
	}
	return s, nil
}

// located prefixes an error with the place a setting came from.
func (rc *RC) located(name string, err error) error {
	if o := rc.Origin(name); o != "" {
		return fmt.Errorf("%s: %w", o, err)
	}
	return err
}

// Controller is a control-engine plug-in: it runs the server's RPC
// commands (core.uptime, ul.dump …; over the FIFO the Kamailio MI names
// work too).
type Controller interface {
	// Engine is the plug-in's CTLENGINE.
	Engine() CtlEngine
	// Where names what the plug-in talks to (the FIFO or socket), for
	// messages.
	Where() string
	// Call runs a command and returns its result as generic values:
	// nil, strings, numbers, []any and map[string]any. Over the FIFO,
	// every leaf is a string and one-element lists may come back as their
	// element (see core/ctrl.FromTree): use the List, Map and Text
	// helpers to read results. A command the server refuses fails with a
	// *ctrl.Error.
	Call(method string, params []string) (any, error)
}

// NewController returns the plug-in of the settings.
func (s CtlSettings) NewController() Controller {
	if s.Engine == UnixSock {
		return &sockController{addr: s.Socket, timeout: s.Timeout}
	}
	return &fifoController{fifo: s.FIFO, replyDir: s.ReplyDir, timeout: s.Timeout}
}

type fifoController struct {
	fifo, replyDir string
	timeout        time.Duration
}

func (c *fifoController) Engine() CtlEngine { return FIFO }
func (c *fifoController) Where() string     { return c.fifo }

func (c *fifoController) Call(method string, params []string) (any, error) {
	if err := checkCommand(method, params); err != nil {
		return nil, err
	}
	return ctrl.CallFIFO(c.fifo, c.replyDir, method, params, c.timeout)
}

type sockController struct {
	addr    string
	timeout time.Duration
}

func (c *sockController) Engine() CtlEngine { return UnixSock }
func (c *sockController) Where() string     { return c.addr }

func (c *sockController) Call(method string, params []string) (any, error) {
	if err := checkCommand(method, params); err != nil {
		return nil, err
	}
	return ctrl.CallSocket(c.addr, method, params, c.timeout)
}

// checkCommand refuses what neither protocol can carry: an empty command
// name, a name with blanks or ':' (the FIFO's separator), and line breaks.
func checkCommand(method string, params []string) error {
	if method == "" {
		return errors.New("missing command name")
	}
	if strings.ContainsAny(method, " \t\r\n:") {
		return fmt.Errorf("malformed command name %q", method)
	}
	for _, p := range params {
		if strings.ContainsAny(p, "\r\n") {
			return fmt.Errorf("a parameter may not contain a line break: %q", p)
		}
	}
	return nil
}

// FormatMI renders a result as the MI text tree a FIFO reply carries
// ("name:: value" lines, children indented by a tab), without the status
// line, as kamctl prints FIFO replies.
func FormatMI(v any) string {
	var b strings.Builder
	ctrl.WriteTree(&b, ctrl.ToTree(normalize(v)), 0)
	return b.String()
}

// FormatJSON renders a result as the JSON a control-socket reply carries.
func FormatJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode the reply: %w", err)
	}
	return string(b) + "\n", nil
}

// normalize turns the float64 numbers a JSON reply decodes to back into
// integers where they are whole, so that MI text shows "42", not "42.0".
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// List reads a result node as a list: a list is itself, nothing (nil, "")
// is empty, anything else is a list of one (the FIFO decodes a
// one-element list as its element).
func List(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case string:
		if x == "" {
			return nil
		}
	}
	return []any{v}
}

// Map reads a result node as a map; anything else is an empty map.
func Map(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// Text reads a result leaf as text: strings as they are, whole numbers
// without a fraction, nil as "".
func Text(v any) string {
	switch x := normalize(v).(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}
