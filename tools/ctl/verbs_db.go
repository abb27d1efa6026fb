package ctl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/db"
)

func (t *Tool) usageErr(args string) error {
	return fmt.Errorf("usage: %s %s", t.Name, args)
}

// verbAdd is add <user> <password>: a new subscriber (Kamailio) or
// credentials + uri (SER), in one transaction.
func (t *Tool) verbAdd(_ string, args []string) error {
	if len(args) != 2 {
		return t.usageErr("add <user> <password>")
	}
	a, err := t.account(args[0])
	if err != nil {
		return err
	}
	if args[1] == "" {
		return errors.New("add: empty password")
	}
	users := t.users()
	var notes []string
	err = t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, users.Tables()...); err != nil {
			return err
		}
		return d.WithTx(ctx, func(tx *db.Tx) error {
			n, err := users.Add(ctx, tx, a, args[1], t.plaintext())
			notes = n
			return err
		})
	})
	switch {
	case errors.Is(err, ErrUserExists):
		return fmt.Errorf("user '%s' already exists", a)
	case err != nil:
		return fmt.Errorf("add %s: %w", a, err)
	}
	for _, n := range notes {
		t.printf("%s\n", n)
	}
	t.printf("new user '%s' added\n", a)
	return nil
}

// verbPasswd is passwd <user> <password>.
func (t *Tool) verbPasswd(_ string, args []string) error {
	if len(args) != 2 {
		return t.usageErr("passwd <user> <password>")
	}
	a, err := t.account(args[0])
	if err != nil {
		return err
	}
	if args[1] == "" {
		return errors.New("passwd: empty password")
	}
	users := t.users()
	err = t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, users.Tables()...); err != nil {
			return err
		}
		return d.WithTx(ctx, func(tx *db.Tx) error { return users.Passwd(ctx, tx, a, args[1], t.plaintext()) })
	})
	switch {
	case errors.Is(err, ErrNoUser):
		return fmt.Errorf("non-existent user '%s'", a)
	case err != nil:
		return fmt.Errorf("passwd %s: %w", a, err)
	}
	t.printf("password of '%s' changed\n", a)
	return nil
}

// verbRm is rm <user>: the account, then (when the server answers) its
// contacts, as kamctl does.
func (t *Tool) verbRm(_ string, args []string) error {
	if len(args) != 1 {
		return t.usageErr("rm <user>")
	}
	a, err := t.account(args[0])
	if err != nil {
		return err
	}
	users := t.users()
	err = t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, users.Tables()...); err != nil {
			return err
		}
		return d.WithTx(ctx, func(tx *db.Tx) error { return users.Remove(ctx, tx, a) })
	})
	switch {
	case errors.Is(err, ErrNoUser):
		return fmt.Errorf("non-existent user '%s'", a)
	case err != nil:
		return fmt.Errorf("rm %s: %w", a, err)
	}
	t.printf("user '%s' removed\n", a)
	if c, err := t.Ctl(); err == nil {
		if _, err := c.Call("ul.rm", []string{t.ulTable(), a.String()}); err == nil {
			t.printf("contacts of '%s' removed from the server\n", a)
		}
	}
	return nil
}

// verbRPID is rpid add|rm|show on subscriber.rpid.
func (t *Tool) verbRPID(_ string, args []string) error {
	if len(args) == 0 {
		return t.usageErr("rpid add <user> <rpid> | rpid rm <user> | rpid show [<user>]")
	}
	sub, args := args[0], args[1:]
	var val *string
	switch {
	case sub == "show" && len(args) <= 1:
	case sub == "add" && len(args) == 2:
		val = &args[1]
	case sub == "rm" && len(args) == 1:
	default:
		return t.usageErr("rpid add <user> <rpid> | rpid rm <user> | rpid show [<user>]")
	}
	var a Account
	if len(args) > 0 {
		var err error
		if a, err = t.account(args[0]); err != nil {
			return err
		}
	}
	return t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, "subscriber"); err != nil {
			return err
		}
		q := d.Dialect().Quote
		if sub != "show" {
			var arg any
			if val != nil {
				arg = *val
			}
			res, err := d.Exec(ctx, "UPDATE "+q("subscriber")+" SET "+q("rpid")+" = ? WHERE "+q("username")+" = ? AND "+q("domain")+" = ?",
				arg, a.User, a.Domain)
			if err := affected(res, err, "update subscriber", a); err != nil {
				if errors.Is(err, ErrNoUser) {
					return fmt.Errorf("rpid: invalid user '%s'", a)
				}
				return err
			}
		}
		query := "SELECT " + q("username") + ", " + q("domain") + ", " + q("rpid") + " FROM " + q("subscriber")
		var qargs []any
		if len(args) > 0 {
			ok, err := (kamUsers{}).Exists(ctx, d, a)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("rpid: invalid user '%s'", a)
			}
			query += " WHERE " + q("username") + " = ? AND " + q("domain") + " = ?"
			qargs = []any{a.User, a.Domain}
		}
		return t.printRows(ctx, d, query+" ORDER BY "+q("domain")+", "+q("username"), qargs...)
	})
}

// verbDomain is domain show|reload (control engine) and
// showdb|add|rm (database).
func (t *Tool) verbDomain(_ string, args []string) error {
	use := "domain show | domain reload | domain showdb | domain add <domain> | domain rm <domain>"
	if t.model() == "ser" {
		use = "domain show | domain reload | domain showdb | domain add <domain> [<did> [<flags>]] | domain rm <domain>"
	}
	if len(args) == 0 {
		return t.usageErr(use)
	}
	sub, args := args[0], args[1:]
	switch {
	case sub == "show" && len(args) == 0:
		res, err := t.call("domain.dump")
		if err != nil {
			return err
		}
		t.printf("%s", FormatMI(res))
		return nil
	case sub == "reload" && len(args) == 0:
		if _, err := t.call("domain.reload"); err != nil {
			return err
		}
		t.printf("domain table reloaded\n")
		return nil
	case sub == "showdb" && len(args) == 0:
		return t.withDB(func(ctx context.Context, d *db.DB) error {
			if err := t.needTables(ctx, d, "domain"); err != nil {
				return err
			}
			return t.printRows(ctx, d, "SELECT * FROM "+d.Dialect().Quote("domain"))
		})
	case sub == "add" && (len(args) == 1 || t.model() == "ser" && len(args) <= 3):
		return t.domainAdd(args)
	case sub == "rm" && len(args) == 1:
		return t.domainRm(args[0])
	}
	return t.usageErr(use)
}

func (t *Tool) domainAdd(args []string) error {
	name := args[0]
	if err := checkDomain(name); err != nil {
		return err
	}
	did, flags := name, SERDomainFlags
	if len(args) > 1 && args[1] != "" {
		did = args[1]
	}
	if len(args) > 2 {
		n, err := strconv.ParseUint(args[2], 0, 31)
		if err != nil {
			return fmt.Errorf("domain add: flags %q are not a number", args[2])
		}
		flags = int(n)
	}
	added := false
	err := t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, "domain"); err != nil {
			return err
		}
		return d.WithTx(ctx, func(tx *db.Tx) error {
			added = false
			ok, err := exists(ctx, tx, "domain", []string{"domain"}, name)
			if err != nil || ok {
				return err
			}
			if t.model() == "ser" {
				_, err = tx.Exec(ctx, insertSQL(tx.Dialect(), "domain", "did", "domain", "flags"), did, name, flags)
			} else {
				_, err = tx.Exec(ctx, insertSQL(tx.Dialect(), "domain", "domain", "last_modified"), name, time.Now().UTC())
			}
			if err != nil {
				return fmt.Errorf("insert into domain: %w", err)
			}
			added = true
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("domain add %s: %w", name, err)
	}
	if !added {
		t.printf("'%s' is already in table domain\n", name)
		return nil
	}
	t.printf("domain '%s' added: run '%s domain reload' to update the server's cache\n", name, t.Name)
	return nil
}

func (t *Tool) domainRm(name string) error {
	err := t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, "domain"); err != nil {
			return err
		}
		q := d.Dialect().Quote
		res, err := d.Exec(ctx, "DELETE FROM "+q("domain")+" WHERE "+q("domain")+" = ?", name)
		if err != nil {
			return fmt.Errorf("delete from domain: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("domain '%s' is not in table domain", name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("domain rm: %w", err)
	}
	t.printf("domain '%s' removed: run '%s domain reload' to update the server's cache\n", name, t.Name)
	return nil
}

// verbAliasDB is alias_db show|list|add|rm on the dbaliases table.
func (t *Tool) verbAliasDB(_ string, args []string) error {
	use := "alias_db show <alias> | alias_db list [<user>] | alias_db add <alias> <user> | alias_db rm <alias>"
	if len(args) == 0 {
		return t.usageErr(use)
	}
	sub, args := args[0], args[1:]
	var accts []Account
	for _, s := range args {
		a, err := t.account(s)
		if err != nil {
			return err
		}
		accts = append(accts, a)
	}
	ok := sub == "show" && len(args) == 1 || sub == "list" && len(args) <= 1 ||
		sub == "add" && len(args) == 2 || sub == "rm" && len(args) == 1
	if !ok {
		return t.usageErr(use)
	}
	var msg string
	err := t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, "dbaliases"); err != nil {
			return err
		}
		q := d.Dialect().Quote
		aliasWhere := " WHERE " + q("alias_username") + " = ? AND " + q("alias_domain") + " = ?"
		switch sub {
		case "show":
			return t.printRows(ctx, d, "SELECT "+q("username")+", "+q("domain")+" FROM "+q("dbaliases")+aliasWhere,
				accts[0].User, accts[0].Domain)
		case "list":
			query := "SELECT " + q("alias_username") + ", " + q("alias_domain") + ", " + q("username") + ", " + q("domain") +
				" FROM " + q("dbaliases")
			var qargs []any
			if len(accts) == 1 {
				query += " WHERE " + q("username") + " = ? AND " + q("domain") + " = ?"
				qargs = []any{accts[0].User, accts[0].Domain}
			}
			return t.printRows(ctx, d, query+" ORDER BY "+q("alias_domain")+", "+q("alias_username"), qargs...)
		case "add":
			alias, user := accts[0], accts[1]
			return d.WithTx(ctx, func(tx *db.Tx) error {
				if ok, err := exists(ctx, tx, "dbaliases", []string{"alias_username", "alias_domain"}, alias.User, alias.Domain); err != nil {
					return err
				} else if ok {
					return fmt.Errorf("alias '%s' already exists", alias)
				}
				if _, err := tx.Exec(ctx, insertSQL(tx.Dialect(), "dbaliases", "alias_username", "alias_domain", "username", "domain"),
					alias.User, alias.Domain, user.User, user.Domain); err != nil {
					return fmt.Errorf("insert into dbaliases: %w", err)
				}
				msg = fmt.Sprintf("alias '%s' of '%s' added\n", alias, user)
				return nil
			})
		default: // rm
			res, err := d.Exec(ctx, "DELETE FROM "+q("dbaliases")+aliasWhere, accts[0].User, accts[0].Domain)
			if err != nil {
				return fmt.Errorf("delete from dbaliases: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return fmt.Errorf("alias '%s' does not exist", accts[0])
			}
			msg = fmt.Sprintf("alias '%s' removed\n", accts[0])
			return nil
		}
	})
	if err != nil {
		return fmt.Errorf("alias_db %s: %w", sub, err)
	}
	t.printf("%s", msg)
	return nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// avpArgs are the options of the avp verb.
type avpArgs struct {
	table, id, attr, value, typ string
	rest                        []string
}

func parseAVPArgs(args []string, positional bool) (avpArgs, error) {
	var a avpArgs
	for i := 0; i < len(args); i++ {
		opt := args[i]
		var dst *string
		switch opt {
		case "-T":
			dst = &a.table
		case "-u":
			dst = &a.id
		case "-a":
			dst = &a.attr
		case "-v":
			dst = &a.value
		case "-t":
			dst = &a.typ
		default:
			if positional && !strings.HasPrefix(opt, "-") {
				a.rest = args[i:]
				return a, nil
			}
			return a, fmt.Errorf("unknown option %q", opt)
		}
		if positional && opt != "-T" {
			return a, fmt.Errorf("option %s: give the attribute as arguments", opt)
		}
		if i+1 >= len(args) || args[i+1] == "" {
			return a, fmt.Errorf("option %s needs a value", opt)
		}
		i++
		*dst = args[i]
	}
	return a, nil
}

// verbAVP is avp list|add|rm: usr_preferences (Kamailio, as avpops
// reads it) or user_attrs (SER).
func (t *Tool) verbAVP(_ string, args []string) error {
	ser := t.model() == "ser"
	use := "avp list [-T <table>] [-u <user|uuid>] [-a <attribute>] [-v <value>] [-t <type>] | " +
		"avp add [-T <table>] <user|uuid> <attribute> <type> <value> | avp rm [options as list]"
	if ser {
		use = "avp list [-u <user|uid>] [-a <name>] [-v <value>] [-t <type>] | avp add <user|uid> <name> <type> <value> | avp rm [options as list]"
	}
	if len(args) == 0 {
		return t.usageErr(use)
	}
	sub := args[0]
	if sub != "list" && sub != "add" && sub != "rm" {
		return t.usageErr(use)
	}
	o, err := parseAVPArgs(args[1:], sub == "add")
	if err != nil {
		return fmt.Errorf("avp %s: %w", sub, err)
	}
	if sub == "add" && len(o.rest) != 4 {
		return t.usageErr(use)
	}
	if sub == "rm" && o.id == "" && o.attr == "" && o.value == "" && o.typ == "" {
		return fmt.Errorf("avp rm: give at least one of -u, -a, -v, -t (removing every attribute is not done from here)")
	}
	if sub == "add" {
		o.id, o.attr, o.typ, o.value = o.rest[0], o.rest[1], o.rest[2], o.rest[3]
	}
	if o.typ != "" {
		if _, err := strconv.Atoi(o.typ); err != nil {
			return fmt.Errorf("avp %s: type %q is not a number", sub, o.typ)
		}
	}
	table := o.table
	if table == "" {
		def := "usr_preferences"
		if ser {
			def = "user_attrs"
		}
		table = t.RC.Get("AVP_TABLE", def)
	}
	if !identRE.MatchString(table) {
		return fmt.Errorf("avp %s: %q is not a table name", sub, table)
	}
	if ser && table != "user_attrs" && o.table != "" {
		return fmt.Errorf("avp %s: serctl works on table user_attrs only", sub)
	}
	var acct *Account
	if strings.Contains(o.id, "@") {
		a, err := t.account(o.id)
		if err != nil {
			return err
		}
		acct = &a
	}
	var msg string
	err = t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, table); err != nil {
			return err
		}
		if ser {
			var err error
			msg, err = t.serAVP(ctx, d, sub, o, acct)
			return err
		}
		var err error
		msg, err = t.kamAVP(ctx, d, sub, table, o, acct)
		return err
	})
	if err != nil {
		return fmt.Errorf("avp %s: %w", sub, err)
	}
	t.printf("%s", msg)
	return nil
}

func (t *Tool) kamAVP(ctx context.Context, d *db.DB, sub, table string, o avpArgs, acct *Account) (string, error) {
	q := d.Dialect().Quote
	if sub == "add" {
		uuid, user, domain := o.id, "", ""
		if acct != nil {
			uuid, user, domain = "", acct.User, acct.Domain
		}
		typ, _ := strconv.Atoi(o.typ)
		_, err := d.Exec(ctx, insertSQL(d.Dialect(), table, "uuid", "username", "domain", "attribute", "type", "value", "last_modified"),
			uuid, user, domain, o.attr, typ, o.value, time.Now().UTC())
		if err != nil {
			return "", fmt.Errorf("insert into %s: %w", table, err)
		}
		return "attribute added\n", nil
	}
	var where []string
	var args []any
	if acct != nil {
		where = append(where, q("username")+" = ?", q("domain")+" = ?")
		args = append(args, acct.User, acct.Domain)
	} else if o.id != "" {
		where = append(where, q("uuid")+" = ?")
		args = append(args, o.id)
	}
	for _, f := range []struct{ col, v string }{{"attribute", o.attr}, {"value", o.value}, {"type", o.typ}} {
		if f.v != "" {
			where = append(where, q(f.col)+" = ?")
			args = append(args, f.v)
		}
	}
	clause := ""
	if len(where) > 0 {
		clause = " WHERE " + strings.Join(where, " AND ")
	}
	if sub == "list" {
		cols := []string{"uuid", "username", "domain", "attribute", "type", "value"}
		for i, c := range cols {
			cols[i] = q(c)
		}
		return "", t.printRows(ctx, d, "SELECT "+strings.Join(cols, ", ")+" FROM "+q(table)+clause, args...)
	}
	res, err := d.Exec(ctx, "DELETE FROM "+q(table)+clause, args...)
	if err != nil {
		return "", fmt.Errorf("delete from %s: %w", table, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d attribute(s) removed\n", n), nil
}

func (t *Tool) serAVP(ctx context.Context, d *db.DB, sub string, o avpArgs, acct *Account) (string, error) {
	q := d.Dialect().Quote
	uid := o.id
	if acct != nil {
		if err := t.needTables(ctx, d, "uri", "domain"); err != nil {
			return "", err
		}
		var err error
		if uid, err = serUID(ctx, d, *acct); err != nil {
			return "", err
		}
		if uid == "" {
			return "", fmt.Errorf("user '%s' has no uid (no row in table uri)", acct)
		}
	}
	if sub == "add" {
		typ, _ := strconv.Atoi(o.typ)
		_, err := d.Exec(ctx, insertSQL(d.Dialect(), "user_attrs", "uid", "name", "value", "type", "flags"),
			uid, o.attr, o.value, typ, SERAttrFlags)
		if err != nil {
			return "", fmt.Errorf("insert into user_attrs: %w", err)
		}
		return "attribute added\n", nil
	}
	var where []string
	var args []any
	for _, f := range []struct{ col, v string }{{"uid", uid}, {"name", o.attr}, {"value", o.value}, {"type", o.typ}} {
		if f.v != "" {
			where = append(where, q(f.col)+" = ?")
			args = append(args, f.v)
		}
	}
	clause := ""
	if len(where) > 0 {
		clause = " WHERE " + strings.Join(where, " AND ")
	}
	if sub == "list" {
		return "", t.printRows(ctx, d, "SELECT "+q("uid")+", "+q("name")+", "+q("type")+", "+q("value")+", "+q("flags")+
			" FROM "+q("user_attrs")+clause, args...)
	}
	res, err := d.Exec(ctx, "DELETE FROM "+q("user_attrs")+clause, args...)
	if err != nil {
		return "", fmt.Errorf("delete from user_attrs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d attribute(s) removed\n", n), nil
}

// verbDBShow is db show <table>.
func (t *Tool) verbDBShow(_ string, args []string) error {
	if len(args) != 2 || args[0] != "show" {
		return t.usageErr("db show <table>")
	}
	table := args[1]
	if !identRE.MatchString(table) {
		return fmt.Errorf("db show: %q is not a table name", table)
	}
	return t.withDB(func(ctx context.Context, d *db.DB) error {
		if err := t.needTables(ctx, d, table); err != nil {
			return err
		}
		return t.printRows(ctx, d, "SELECT * FROM "+d.Dialect().Quote(table))
	})
}

// printRows prints a query's result: a header line of column names, then
// one line per row, tab-separated; NULL prints as NULL.
func (t *Tool) printRows(ctx context.Context, q db.Querier, query string, args ...any) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	var out strings.Builder
	out.WriteString(strings.Join(cols, "\t") + "\n")
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = cell(v)
		}
		out.WriteString(strings.Join(cells, "\t") + "\n")
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	t.printf("%s", out.String())
	return nil
}

// cell formats a column value for printRows.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return oneCell(string(x))
	case string:
		return oneCell(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05")
	case sql.RawBytes:
		return oneCell(string(x))
	}
	return fmt.Sprint(v)
}

// oneCell keeps a value on its line and column.
func oneCell(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") {
		return s
	}
	return strings.NewReplacer("\t", `\t`, "\r", `\r`, "\n", `\n`).Replace(s)
}

// ulTable is the usrloc table of the ul verbs (UL_TABLE).
func (t *Tool) ulTable() string { return t.RC.Get("UL_TABLE", "location") }
