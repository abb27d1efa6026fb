// Package dbtool is the database tool of the flavors (kamdbctl, ser_db;
// the command is tools/cmd/dbtool): create, drop, reinit, migrate,
// version, backup, restore and copy the flavor's database on MySQL,
// PostgreSQL or SQLite.
//
// # Settings and schema
//
// The settings come from the flavor's rc files (kamctlrc for kamailio, as
// Kamailio's kamdbctl reads it; serctlrc for ser) and the environment,
// through package sip-router.org/tools/ctl: DBENGINE, DBHOST, DBPORT,
// DBNAME, DB_PATH, DBRWUSER/DBRWPW, DBROUSER/DBROPW and DBROOTUSER/
// DBROOTPW. The tool connects as the administrator (DBROOTUSER) for every
// command, as kamdbctl did.
//
// The schema is the build's share/<flavor>/schema.json, read back with
// db.LoadDump: every table the compiled-in modules declare, with its
// version and migrations. The flavor record (flavor.json) lists the
// tables of the flavor's database in db.tables; those no module declares
// are taken from package sip-router.org/tools/schemas (the tables of
// Kamailio modules the tree does not ship yet, with their history from
// OpenSER 1.0), so that create makes them and migrate upgrades them.
//
// # Commands
//
// create makes the database (utf8mb4 on MySQL, UTF8 on PostgreSQL), the
// read-write and read-only users with their grants (on MySQL as
// 'user'@'%' and 'user'@'DBHOST'), and every table with its version row;
// when it fails, what it made is dropped. migrate runs db.Migrate on the
// configured database: missing tables are created, older ones migrated
// version by version, a newer one refused; --dry-run prints the SQL. The
// backup format (SQL INSERTs, one line each, with a line per table giving
// its version and row count, and an end line) is described in backup.go
// and docs/TOOLS.md; restore checks a file completely before loading it in
// one transaction.
//
// Every error is one line (the caller prints it after the tool's name)
// naming what failed: the setting with its file:line, the URL with its
// password hidden, the file:line of a backup.
package dbtool
