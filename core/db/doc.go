// Package db is the database layer of the server: the SQL dialects, the
// database URLs, the registry of drivers, shared connection pools with
// timeouts and retries, the version table, migrations, and the rendering
// of schemas for the tools.
//
// # Drivers
//
// The core links no database driver. The driver modules (modules/db_mysql,
// modules/db_postgres, modules/db_sqlite) register a Driver from their
// package init with RegisterDriver. As in Kamailio, a URL works only when
// the configuration loads its driver module: Open takes a function that
// tells which modules are loaded and fails with
//
//	db_url "mysql://openser:***@localhost/openser": module db_mysql is not loaded (add loadmodule "db_mysql.so")
//
// A module checks its URL in Configure with CheckURL (syntax, scheme,
// driver options; no connection), so that a bad URL fails the
// configuration check (-c) too, and opens it in Init with Open.
//
// # URLs
//
// Kamailio's forms: mysql://user:pass@host[:port]/db,
// postgres://user:pass@host[:port]/db (also postgresql:// and pgsql://),
// sqlite:///absolute/path.db and sqlite://relative/path.db. A query part
// carries driver options (?sslmode=require). Errors and URL.String show
// the URL with its password replaced by ***.
//
// # Handles and pools
//
// Open returns a *DB. Every Open of the same URL in one process shares one
// *sql.DB; Close releases a handle and the last one closes the pool.
// Statements take ? placeholders in every dialect (rewritten to $n for
// PostgreSQL) and time arguments are stored as UTC to the second.
//
// Each statement is bounded by a timeout (the driver's, 2 s by default;
// WithTimeout changes it), retries included. The handle stops waiting at
// the timeout even when the driver does not (a server frozen mid-reply):
// the abandoned call finishes in the background. A statement that fails
// because the connection was lost (ConnLost, Driver.ConnLost) runs again
// up to the driver's Retries times, as Kamailio's db_mysql does on
// CR_SERVER_GONE_ERROR; one that failed by itself never does. Like
// Kamailio, a retried INSERT whose connection died after the server ran it
// may run twice. A statement or a WithTx transaction that the server undid
// for a lock conflict (Driver.Conflict: a deadlock, a serialization
// failure) runs again up to ConflictRetries times, after a short random
// pause, whatever Retries says.
//
// Round trips: MySQL statements are interpolated client-side and
// PostgreSQL statements go with their arguments in one message
// (binary_parameters), one round trip each, with no statement kept on the
// server. An embedded database (Settings.Embedded: SQLite) is different:
// its statements end with their context, so they run on the caller's
// goroutine, and DB.Exec and DB.Query keep them prepared (MaxPrepared per
// pool). Tools that migrate or load big tables open a separate
// maintenance pool (OpenWith, Options.Maintenance) without I/O or
// statement timeouts.
//
// # Dialects and schemas
//
// Tables are declared once with package schema, and rendered per dialect:
// CreateScript (version row + CREATE TABLE, as Kamailio's
// <module>-create.sql), DropScript, StandardScript (the version table,
// with Kamailio 4.0's unique key on table_name). MySQL tables use InnoDB
// (Kamailio 3.0 used MyISAM, which has no transactions). Unique keys are
// constraints inside CREATE TABLE, except on SQLite where they are unique
// indexes (so that a migration can drop them). PostgreSQL and SQLite index
// names get the table name in front, as in Kamailio's PostgreSQL scripts,
// because their index names are per schema.
//
// # Versions and migrations
//
// TableVersion, CheckVersion and SetVersion read and write the version
// table as Kamailio does (a missing row, or a missing version table, reads
// as 0). CreateTables creates tables with their version rows. Migrate
// applies each table's declared migrations from the version found to the
// version declared, refuses a database newer than the code, and has a dry
// run; it is idempotent. On PostgreSQL and SQLite, CreateTables runs in
// one transaction and each migration step in its own. MySQL commits every
// DDL statement by itself: CreateTables then drops what it created when it
// fails, and Migrate skips each generated step that the catalog shows
// done, so a run cut half-way can be run again.
//
// # Tools
//
// RenderDump renders groups of tables (one per module) for the DB tool and
// the packages: per dialect the standard, create and drop scripts, and a
// JSON description of the tables, their versions and migrations with their
// SQL. ParseDump and LoadDump read that JSON back into tables with their
// migrations, for the DB tool, which works from the schema the server
// binary wrote rather than from module code. CheckTables validates
// declarations in every dialect, for the modules' tests.
package db
