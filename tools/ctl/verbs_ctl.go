package ctl

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/ctrl"
)

// verbUL is ul show|rm|add over the control engine (ul.dump, ul.lookup,
// ul.rm, ul.rm_contact, ul.add).
func (t *Tool) verbUL(name string, args []string) error {
	use := name + " show [<user>|--brief] | " + name + " rm <user> [<contact>] | " + name + " add <user> <uri> [<expires> [<q>]]"
	if len(args) == 0 {
		return t.usageErr(use)
	}
	sub, args := args[0], args[1:]
	table := t.ulTable()
	switch {
	case sub == "show" && len(args) == 0:
		res, err := t.call("ul.dump")
		if err != nil {
			return err
		}
		printDump(t.Stdout, res)
		return nil
	case sub == "show" && len(args) == 1 && args[0] == "--brief":
		res, err := t.call("ul.dump", "brief")
		if err != nil {
			return err
		}
		for _, aor := range dumpAoRs(res) {
			t.printf("%s\n", aor)
		}
		return nil
	case sub == "show" && len(args) == 1:
		a, err := t.account(args[0])
		if err != nil {
			return err
		}
		res, err := t.call("ul.lookup", table, a.String())
		if err != nil {
			return err
		}
		printRecord(t.Stdout, Map(res))
		return nil
	case sub == "rm" && (len(args) == 1 || len(args) == 2):
		a, err := t.account(args[0])
		if err != nil {
			return err
		}
		if len(args) == 2 {
			if err := checkContactURI(args[1]); err != nil {
				return err
			}
			if _, err := t.call("ul.rm_contact", table, a.String(), args[1]); err != nil {
				return err
			}
			t.printf("contact %s of '%s' removed\n", args[1], a)
			return nil
		}
		if _, err := t.call("ul.rm", table, a.String()); err != nil {
			return err
		}
		t.printf("contacts of '%s' removed\n", a)
		return nil
	case sub == "add" && len(args) >= 2 && len(args) <= 4:
		a, err := t.account(args[0])
		if err != nil {
			return err
		}
		if err := checkContactURI(args[1]); err != nil {
			return err
		}
		expires, q := "0", "1"
		if len(args) > 2 {
			if n, err := strconv.Atoi(args[2]); err != nil || n < 0 {
				return fmt.Errorf("%s add: expires %q is not a number of seconds", name, args[2])
			}
			expires = args[2]
		}
		if len(args) > 3 {
			q = args[3]
		}
		if _, err := t.call("ul.add", table, a.String(), args[1], expires, q); err != nil {
			return err
		}
		t.printf("contact %s of '%s' added\n", args[1], a)
		return nil
	}
	return t.usageErr(use)
}

// checkContactURI accepts a sip:, sips: or tel: URI on one line.
func checkContactURI(u string) error {
	l := strings.ToLower(u)
	if !(strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:") || strings.HasPrefix(l, "tel:")) ||
		strings.ContainsAny(u, " \t\r\n<>\"") || len(u) > 255 {
		return fmt.Errorf("%q is not a valid SIP URI (sip:[user@]host[:port])", u)
	}
	return nil
}

// printDump prints ul.dump's result: per table, the AoRs and their
// contacts, one contact per line.
func printDump(w io.Writer, res any) {
	m := Map(res)
	doms, ok := m["Domains"]
	if !ok {
		fmt.Fprint(w, FormatMI(res))
		return
	}
	for _, d := range List(doms) {
		dm := Map(d)
		fmt.Fprintf(w, "Domain: %s (records %s, contacts %s)\n", Text(dm["Domain"]), Text(dm["Records"]), Text(dm["Contacts"]))
		for _, rec := range List(dm["AoRs"]) {
			printRecord(w, Map(rec))
		}
	}
}

// dumpAoRs lists the AoRs of a ul.dump result (brief or not), sorted and
// without duplicates.
func dumpAoRs(res any) []string {
	seen := map[string]bool{}
	for _, d := range List(Map(res)["Domains"]) {
		for _, rec := range List(Map(d)["AoRs"]) {
			aor := Text(rec)
			if m, ok := rec.(map[string]any); ok {
				aor = Text(m["AoR"])
			}
			if aor != "" {
				seen[aor] = true
			}
		}
	}
	return sortedKeys(seen)
}

// printRecord prints one AoR and its contacts.
func printRecord(w io.Writer, rec map[string]any) {
	fmt.Fprintf(w, "AOR: %s\n", Text(rec["AoR"]))
	for _, c := range List(rec["Contacts"]) {
		cm := Map(c)
		var b strings.Builder
		fmt.Fprintf(&b, "\tContact: <%s> expires=%s q=%s", Text(cm["Contact"]), Text(cm["Expires"]), Text(cm["Q"]))
		for _, f := range []struct{ label, key string }{
			{"received", "Received"}, {"path", "Path"}, {"socket", "Socket"}, {"callid", "Call-ID"},
		} {
			if v := Text(cm[f.key]); v != "" {
				fmt.Fprintf(&b, " %s=%s", f.label, v)
			}
		}
		if ua := Text(cm["User-Agent"]); ua != "" {
			fmt.Fprintf(&b, " user_agent=%q", ua)
		}
		fmt.Fprintln(w, b.String())
	}
}

// verbOnline lists the AoRs that have contacts (ul.dump brief).
func (t *Tool) verbOnline(_ string, args []string) error {
	if len(args) != 0 {
		return t.usageErr("online")
	}
	res, err := t.call("ul.dump", "brief")
	if err != nil {
		return err
	}
	for _, aor := range dumpAoRs(res) {
		t.printf("%s\n", aor)
	}
	return nil
}

// verbPS lists the server's tasks (core.ps).
func (t *Tool) verbPS(_ string, args []string) error {
	if len(args) != 0 {
		return t.usageErr("ps")
	}
	res, err := t.call("core.ps")
	if err != nil {
		return err
	}
	t.printf("PID\tDescription\n")
	for _, p := range List(res) {
		pm := Map(p)
		t.printf("%s\t%s\n", Text(pm["pid"]), Text(pm["desc"]))
	}
	return nil
}

// verbUptime shows core.uptime as Kamailio's MI uptime does.
func (t *Tool) verbUptime(_ string, args []string) error {
	if len(args) != 0 {
		return t.usageErr("uptime")
	}
	res, err := t.call("core.uptime")
	if err != nil {
		return err
	}
	m := Map(res)
	t.printf("Now: %s\nUp since: %s\nUp time: %s [sec]\n", Text(m["now"]), Text(m["up_since"]), Text(m["uptime"]))
	return nil
}

// verbStats shows statistics (stats.get): all, a group, or group:name.
// kamctl's "group:" spelling is accepted.
func (t *Tool) verbStats(_ string, args []string) error {
	if len(args) > 1 {
		return t.usageErr("stats [<group>|<group>:<name>]")
	}
	what := "all"
	if len(args) == 1 {
		what = strings.TrimSuffix(args[0], ":")
		if what == "" {
			return t.usageErr("stats [<group>|<group>:<name>]")
		}
	}
	res, err := t.call("stats.get", what)
	if err != nil {
		return err
	}
	m := Map(res)
	for _, k := range sortedKeys(m) {
		t.printf("%s = %s\n", k, Text(m[k]))
	}
	return nil
}

// verbRaw runs a raw control command: fifo/mi/unixsock print the reply
// as MI text, rpc/ser/sercmd as JSON.
func (t *Tool) verbRaw(name string, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s: missing command (usage: %s %s <command> [<param>...])", name, t.Name, name)
	}
	c, err := t.Ctl()
	if err != nil {
		return err
	}
	res, err := c.Call(args[0], args[1:])
	if err != nil {
		var ce *ctrl.Error
		if errors.As(err, &ce) {
			return fmt.Errorf("%s %s: the server answered %d %s", name, args[0], ce.Code, ce.Message)
		}
		return fmt.Errorf("%s %s: %w", name, args[0], err)
	}
	switch name {
	case "rpc", "ser", "sercmd":
		out, err := FormatJSON(res)
		if err != nil {
			return err
		}
		t.printf("%s", out)
	default:
		t.printf("%s", FormatMI(res))
	}
	return nil
}

// verbVersion prints the tool's version and, when the server answers,
// core.version. A server that does not answer is no error.
func (t *Tool) verbVersion(_ string, args []string) error {
	if len(args) != 0 {
		return t.usageErr("version")
	}
	t.printf("%s %s (%s flavor)\n", t.Name, t.Flavor.Version, t.Flavor.Name)
	if t.FlavorErr != nil {
		t.printf("flavor record: not found, using the built-in defaults\n")
	}
	s := t.ctls
	if t.ctlErr != nil {
		t.printf("server: unknown (%s)\n", oneLine(t.ctlErr.Error()))
		return nil
	}
	s.Timeout = min(s.Timeout, 2*time.Second)
	res, err := s.NewController().Call("core.version", nil)
	if err != nil {
		t.printf("server: not reachable (%s)\n", oneLine(err.Error()))
		return nil
	}
	t.printf("server: %s\n", Text(res))
	return nil
}

// verbPing sends an OPTIONS request and prints the status line of the
// final reply: exit 0 on any final reply, 1 on none in time.
func (t *Tool) verbPing(_ string, args []string) error {
	timeout := 5 * time.Second
	if v := t.RC.Get("PING_TIMEOUT", ""); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n <= 0 || n > 3600 {
			return t.RC.located("PING_TIMEOUT", fmt.Errorf("PING_TIMEOUT=%s is not a number of seconds", v))
		}
		timeout = time.Duration(n * float64(time.Second))
	}
	var target string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-t" && i+1 < len(args):
			n, err := strconv.ParseFloat(args[i+1], 64)
			if err != nil || n <= 0 || n > 3600 {
				return fmt.Errorf("ping: -t %s is not a number of seconds", args[i+1])
			}
			timeout = time.Duration(n * float64(time.Second))
			i++
		case target == "" && !strings.HasPrefix(args[i], "-"):
			target = args[i]
		default:
			return t.usageErr("ping [-t <seconds>] <uri>")
		}
	}
	if target == "" {
		return t.usageErr("ping [-t <seconds>] <uri>")
	}
	r, err := Ping(target, PingOptions{Timeout: timeout, UserAgent: t.Name + " " + t.Flavor.Version})
	if err != nil {
		return fmt.Errorf("ping %s: %w", target, err)
	}
	t.printf("%s\n", r.StatusLine)
	return nil
}
