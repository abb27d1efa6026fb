package dbtool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"sip-router.org/core/flavor"
)

// Tool is one run of the DB tool: its name and flavor, its streams, and
// the settings it found.
type Tool struct {
	Name   string // kamdbctl, ser_db
	Flavor string // kamailio, ser
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Yes answers every question with yes (-y).
	Yes bool
	// Verbose shows the database layer's log (-v): retries, driver
	// warnings.
	Verbose bool

	in  *bufio.Reader
	cfg *Config
}

// usageText lists the verbs; %[1]s is the tool's name.
const usageText = `usage: %[1]s [-y] [-v] COMMAND [ARGS]

Creates, upgrades, saves and copies the database of %[2]s, as configured in
the rc files (%[3]s: DBENGINE, DBHOST, DBNAME, DBRWUSER, DBROOTUSER ...)
or the environment.

Commands:
  create [DB]       create the database, its users and every table
  drop [DB]         drop the database (asks first)
  reinit [DB]       drop and create again (asks first)
  migrate [--dry-run]
                    upgrade the tables of the database to the versions of
                    this release, in place; --dry-run prints the SQL only
  version           the tool's version and each table's version, found
                    and expected
  backup FILE       write every row of the database to FILE ("-": stdout)
  restore FILE      replace the rows of the database by those of a backup
                    (creates the database when missing; asks first)
  copy NEWDB        create NEWDB and copy every row into it
  tables            list the tables of the schema, with their versions
  show              show the settings and the database URLs (passwords
                    hidden)

Options:
  -y                answer yes to every question (drop, overwrite)
  -v                show the database layer's log (retries, warnings)
  -h, --help        this text
`

// Main runs the tool with its arguments (without the program name) and
// returns the exit status: 0 on success, 1 on an error (one line on
// stderr), 2 for a usage error.
func Main(name, flavorName string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := &Tool{Name: name, Flavor: flavorName, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return t.Run(ctx, args)
}

// errUsage is a usage error: the message, then the usage text.
type errUsage struct{ msg string }

func (e *errUsage) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &errUsage{fmt.Sprintf(format, args...)} }

// Run parses the options and runs a command.
func (t *Tool) Run(ctx context.Context, args []string) int {
	if t.Name == "" {
		t.Name = "dbtool"
	}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-y", "--yes":
			t.Yes = true
		case "-v", "--verbose":
			t.Verbose = true
		case "-h", "--help", "-help":
			t.usage(t.Stdout)
			return 0
		default:
			fmt.Fprintf(t.Stderr, "%s: unknown option %s\n", t.Name, args[0])
			t.usage(t.Stderr)
			return 2
		}
		args = args[1:]
	}
	if len(args) == 0 {
		t.usage(t.Stderr)
		return 2
	}
	// The database layer logs retries and driver warnings with slog; the
	// tool reports its one error line itself.
	var logTo io.Writer = io.Discard
	if t.Verbose {
		logTo = t.Stderr
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)
	err := t.dispatch(ctx, args[0], args[1:])
	var ue *errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, ue.msg)
		t.usage(t.Stderr)
		return 2
	}
	fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, oneLine(err.Error()))
	return 1
}

func (t *Tool) usage(w io.Writer) {
	rc := "kamctlrc"
	if t.Flavor == "ser" {
		rc = "serctlrc"
	}
	fl := t.Flavor
	if fl == "" {
		fl = "the server"
	}
	fmt.Fprintf(w, usageText, t.Name, fl, rc)
}

func (t *Tool) dispatch(ctx context.Context, verb string, args []string) error {
	nargs := func(min, max int, what string) error {
		if len(args) < min || len(args) > max {
			return usagef("%s takes %s", verb, what)
		}
		return nil
	}
	if verb != "migrate" {
		for _, a := range args {
			if len(a) > 1 && strings.HasPrefix(a, "-") {
				return usagef("%s: options go before the command (%s %s %s)", a, t.Name, a, verb)
			}
		}
	}
	optName := func() string {
		if len(args) == 1 {
			return args[0]
		}
		return ""
	}
	switch verb {
	case "create":
		if err := nargs(0, 1, "at most one argument, the database"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.create(ctx, optName()) })
	case "drop":
		if err := nargs(0, 1, "at most one argument, the database"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.drop(ctx, optName()) })
	case "reinit":
		if err := nargs(0, 1, "at most one argument, the database"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.reinit(ctx, optName()) })
	case "migrate":
		dry := false
		for _, a := range args {
			if a != "--dry-run" && a != "-n" {
				return usagef("migrate upgrades the configured database in place and takes only --dry-run, not %q", a)
			}
			dry = true
		}
		return t.withConfig(func() error { return t.migrate(ctx, dry) })
	case "version":
		if err := nargs(0, 0, "no argument"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.version(ctx) })
	case "backup":
		if err := nargs(1, 1, "one argument, the file"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.backup(ctx, args[0]) })
	case "restore":
		if err := nargs(1, 1, "one argument, the file"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.restore(ctx, args[0]) })
	case "copy":
		if err := nargs(1, 1, "one argument, the new database"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.copyDB(ctx, args[0]) })
	case "tables":
		if err := nargs(0, 0, "no argument"); err != nil {
			return err
		}
		return t.withSchema(func() error { return t.tables() })
	case "show":
		if err := nargs(0, 0, "no argument"); err != nil {
			return err
		}
		return t.withConfig(func() error { return t.show() })
	case "help":
		t.usage(t.Stdout)
		return nil
	}
	return usagef("unknown command %q", verb)
}

// withSchema loads the flavor record and the schema only.
func (t *Tool) withSchema(fn func() error) error {
	c, err := LoadConfig(t.Flavor, false)
	if err != nil {
		return err
	}
	t.cfg = c
	return fn()
}

// withConfig loads the flavor record, the schema and the settings.
func (t *Tool) withConfig(fn func() error) error {
	c, err := LoadConfig(t.Flavor, true)
	if err != nil {
		return err
	}
	t.cfg = c
	return fn()
}

// confirm asks a yes/no question on stderr and reads the answer from
// stdin; -y answers yes. No answer (end of input) is no.
func (t *Tool) confirm(question string) bool {
	if t.Yes {
		return true
	}
	fmt.Fprintf(t.Stderr, "%s [y/N] ", question)
	if t.in == nil {
		if t.Stdin == nil {
			t.Stdin = strings.NewReader("")
		}
		t.in = bufio.NewReader(t.Stdin)
	}
	line, _ := t.in.ReadString('\n')
	if !isTerminal(t.Stdin) || line == "" {
		// The answer was not echoed: end the question's line.
		fmt.Fprintln(t.Stderr)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// isTerminal reports whether r is a terminal (which echoes what is
// typed).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// say prints a progress line.
func (t *Tool) say(format string, args ...any) {
	fmt.Fprintf(t.Stdout, format+"\n", args...)
}

// toolVersion is the tool's version line.
func (t *Tool) toolVersion() string {
	v := "unknown"
	if t.cfg != nil && t.cfg.Flavor.Version != "" {
		v = t.cfg.Flavor.Version
	}
	return fmt.Sprintf("%s %s (flavor %s, commit %s, built %s)", t.Name, v, t.Flavor, flavor.Commit, flavor.BuildDate)
}

// oneLine joins the lines of a message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
