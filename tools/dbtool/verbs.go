package dbtool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"sip-router.org/core/db"
	"sip-router.org/core/db/schema"
	"sip-router.org/tools/ctl"
)

// errNotConfirmed is returned when the user does not confirm.
var errNotConfirmed = errors.New("not confirmed: nothing changed (use -y to answer yes)")

// create makes the database, its users and every table.
func (t *Tool) create(ctx context.Context, name string) error {
	v := t.cfg.target(name)
	exists, err := v.Exists(ctx)
	if err != nil {
		return err
	}
	if exists {
		if v.s.Engine != ctl.SQLite {
			return fmt.Errorf("create: %s exists already: drop it first (%s drop, or %s reinit), or upgrade it (%s migrate)",
				v, t.Name, t.Name, t.Name)
		}
		if n, err := countTables(ctx, v); err != nil {
			return fmt.Errorf("create: %w", err)
		} else if n > 0 {
			return fmt.Errorf("create: %s exists already with %d tables: drop it first (%s drop, or %s reinit), or upgrade it (%s migrate)",
				v, n, t.Name, t.Name, t.Name)
		}
	}
	t.say("creating %s", v)
	if err := t.createAll(ctx, v, !exists); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	t.say("created %d tables in %s", len(t.cfg.Tables()), v.name)
	return nil
}

// countTables counts the tables of an existing SQLite file.
func countTables(ctx context.Context, v *server) (int, error) {
	h, err := v.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	var n int
	if err := h.QueryRow(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").Scan(&n); err != nil {
		return 0, fmt.Errorf("tables of %s: %w", v.name, err)
	}
	return n, nil
}

// createAll creates the database (unless it exists: an empty SQLite
// file), its users, and every table with its version row. On an error,
// what it created is removed again.
func (t *Tool) createAll(ctx context.Context, v *server, fresh bool) (err error) {
	if fresh {
		if err := v.CreateDB(ctx); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				if derr := v.DropDB(context.WithoutCancel(ctx)); derr != nil {
					err = fmt.Errorf("%w (and removing what was created failed: %v)", err, derr)
				}
			}
		}()
	}
	h, err := v.Open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := db.CreateTables(ctx, h, t.cfg.Tables()); err != nil {
		return err
	}
	return v.Grant(ctx, h)
}

// drop removes the database, after asking.
func (t *Tool) drop(ctx context.Context, name string) error {
	v := t.cfg.target(name)
	exists, err := v.Exists(ctx)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("drop: %s does not exist", v)
	}
	if !t.confirm(fmt.Sprintf("Drop %s with every table and row in it?", v)) {
		return fmt.Errorf("drop: %w", errNotConfirmed)
	}
	if err := v.DropDB(ctx); err != nil {
		return err
	}
	t.say("dropped %s", v)
	return nil
}

// reinit drops the database (after asking) and creates it again.
func (t *Tool) reinit(ctx context.Context, name string) error {
	v := t.cfg.target(name)
	exists, err := v.Exists(ctx)
	if err != nil {
		return err
	}
	if exists {
		if !t.confirm(fmt.Sprintf("Drop %s with every table and row in it, and create it again empty?", v)) {
			return fmt.Errorf("reinit: %w", errNotConfirmed)
		}
		if err := v.DropDB(ctx); err != nil {
			return err
		}
		t.say("dropped %s", v)
	}
	t.say("creating %s", v)
	if err := t.createAll(ctx, v, true); err != nil {
		return fmt.Errorf("reinit: %w", err)
	}
	t.say("created %d tables in %s", len(t.cfg.Tables()), v.name)
	return nil
}

// openExisting opens the configured database, which must exist.
func (t *Tool) openExisting(ctx context.Context, verb string) (*server, *db.DB, error) {
	v := t.cfg.target("")
	exists, err := v.Exists(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !exists {
		return nil, nil, fmt.Errorf("%s: %s does not exist: create it with %s create", verb, v, t.Name)
	}
	h, err := v.Open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return v, h, nil
}

// migrate upgrades the configured database in place.
func (t *Tool) migrate(ctx context.Context, dryRun bool) error {
	v, h, err := t.openExisting(ctx, "migrate")
	if err != nil {
		return err
	}
	defer h.Close()
	tables := t.cfg.Tables()
	rep, err := db.Migrate(ctx, h, tables, db.MigrateOptions{DryRun: dryRun})
	if err != nil {
		// The tables before the one named were brought up to date; a
		// second run goes on from there.
		return fmt.Errorf("migrate %s: %w", v.name, err)
	}
	if !dryRun {
		t.reportMigration(rep)
	}
	if dryRun {
		fmt.Fprintf(t.Stdout, "-- %s migrate --dry-run on %s (%s): nothing was changed\n", t.Name, v, rep.Dialect)
		if !rep.Changed() {
			fmt.Fprintln(t.Stdout, "-- nothing to do: every table has the version of this release")
		}
		fmt.Fprint(t.Stdout, rep.SQL())
		return nil
	}
	if !rep.Changed() {
		t.say("nothing to do: every table of %s has the version of this release", v.name)
		return nil
	}
	if err := v.Grant(ctx, h); err != nil {
		return fmt.Errorf("migrate %s: %w", v.name, err)
	}
	t.say("%s is up to date", v)
	return nil
}

// reportMigration says what Migrate did, table by table, with the
// backup tables it kept.
func (t *Tool) reportMigration(rep *db.MigrateReport) {
	for _, p := range rep.Tables {
		switch p.Action {
		case db.ActionCreate:
			t.say("table %s: created (version %d)", p.Table, p.To)
		case db.ActionFix:
			t.say("table %s: version %d, shape fixed (%s)", p.Table, p.To, fixNotes(p))
		case db.ActionMigrate:
			line := fmt.Sprintf("table %s: version %d → %d", p.Table, p.From, p.To)
			if decl := t.cfg.Table(p.Table); decl != nil {
				var baks []string
				for _, m := range decl.Migrations {
					if m.From < p.From || m.From >= p.To {
						continue
					}
					if slices.ContainsFunc(m.Steps, func(s schema.Step) bool { return s.Kind == schema.StepBackupTable }) {
						baks = append(baks, schema.BackupName(p.Table, m.From))
					}
				}
				if len(baks) > 0 {
					line += " (rows as they were kept in " + strings.Join(baks, ", ") + ")"
				}
			}
			t.say("%s", line)
		}
	}
}

// fixNotes joins the notes of the shape fixes of a plan.
func fixNotes(p db.TablePlan) string {
	var notes []string
	for _, s := range p.Steps {
		if s.Fix {
			notes = append(notes, s.Note)
		}
	}
	return strings.Join(notes, "; ")
}

// version prints the tool's version and each table's version.
func (t *Tool) version(ctx context.Context) error {
	t.say("%s", t.toolVersion())
	v, h, err := t.openExisting(ctx, "version")
	if err != nil {
		return err
	}
	defer h.Close()
	t.say("%s", v)
	w := tabwriter.NewWriter(t.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tMODULE\tFOUND\tEXPECTED\tSTATUS")
	for _, g := range t.cfg.Groups {
		for _, tb := range g.Tables {
			found, status, err := tableStatus(ctx, h, tb, t.Name)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", tb.Name, g.Name, found, tb.Version, status)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, n := range t.cfg.Undeclared {
		t.say("note: the flavor names table %s, which no module of this build declares", n)
	}
	return nil
}

func tableStatus(ctx context.Context, h *db.DB, tb *schema.Table, tool string) (found, status string, err error) {
	ok, err := db.TableExists(ctx, h, tb.Name)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "-", "missing (" + tool + " migrate creates it)", nil
	}
	have, err := db.TableVersion(ctx, h, tb.Name)
	if err != nil {
		return "", "", err
	}
	found = fmt.Sprint(have)
	switch {
	case have == 0 && tb.Version != 0:
		return "-", "no version row", nil
	case have == tb.Version:
		fixes, err := db.PendingFixes(ctx, h, tb, have)
		if err != nil {
			return "", "", err
		}
		if len(fixes) > 0 {
			return found, "older shape (" + tool + " migrate)", nil
		}
		return found, "ok", nil
	case have > tb.Version:
		return found, "newer than this release", nil
	}
	return found, "older (" + tool + " migrate)", nil
}

// tables lists the schema.
func (t *Tool) tables() error {
	w := tabwriter.NewWriter(t.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tMODULE\tVERSION\tMIGRATES FROM")
	for _, g := range t.cfg.Groups {
		for _, tb := range g.Tables {
			from := "-"
			if len(tb.Migrations) > 0 {
				oldest := tb.Migrations[0].From
				for _, m := range tb.Migrations {
					oldest = min(oldest, m.From)
				}
				from = fmt.Sprint(oldest)
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", tb.Name, g.Name, tb.Version, from)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, n := range t.cfg.Undeclared {
		t.say("note: the flavor names table %s, which no module of this build declares", n)
	}
	return nil
}

// show prints the settings.
func (t *Tool) show() error {
	c := t.cfg
	origin := func(name string) string {
		if o := c.RC.Origin(name); o != "" {
			return " (" + o + ")"
		}
		return " (default)"
	}
	files := "none"
	if len(c.RC.Files) > 0 {
		files = strings.Join(c.RC.Files, ", ")
	}
	t.say("rc files read: %s", files)
	t.say("share folder: %s", c.Flavor.ShareDir)
	t.say("DBENGINE=%s%s", c.DB.Engine, origin("DBENGINE"))
	if c.DB.Engine == ctl.SQLite {
		t.say("database file: %s", c.target("").name)
	} else {
		t.say("DBHOST=%s%s", c.DB.Host, origin("DBHOST"))
		if c.DB.Port != "" {
			t.say("DBPORT=%s%s", c.DB.Port, origin("DBPORT"))
		}
		t.say("DBNAME=%s%s", c.DB.Name, origin("DBNAME"))
		t.say("DBRWUSER=%s%s", c.DB.RWUser, origin("DBRWUSER"))
		t.say("DBROUSER=%s%s", c.DB.ROUser, origin("DBROUSER"))
		t.say("DBROOTUSER=%s%s", c.DB.RootUser, origin("DBROOTUSER"))
	}
	t.say("read-write URL: %s", db.Redact(c.DB.URL(ctl.RoleRW, "")))
	if c.DB.Engine != ctl.SQLite {
		t.say("read-only URL: %s", db.Redact(c.DB.URL(ctl.RoleRO, "")))
		t.say("administrator URL: %s", db.Redact(c.DB.URL(ctl.RoleRoot, "")))
	}
	return nil
}
