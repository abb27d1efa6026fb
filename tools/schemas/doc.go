// Package schemas declares database tables that no module of the tree
// declares yet, for the DB tool: the Kamailio 3.0 tables of the
// permissions (trusted, address), msilo (silo), lcr (gw, lcr), group (grp,
// re_grp) and siptrace (sip_trace) modules, each with its history from
// OpenSER 1.0 as migrations, so that kamdbctl creates them and upgrades an
// OpenSER 1.0 database to Kamailio 3.0 with one command.
//
// The tool adds a table of Extra(flavor) when the flavor's manifest names
// it in [db] tables and no compiled-in module declares it (a module that
// ships later takes its table over). Oldest gives each table in the
// version its migrations start from, for tests and for tools that
// recognise old databases.
package schemas
