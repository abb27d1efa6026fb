// Command dbtool is the database tool of a flavor: kamdbctl for kamailio,
// ser_db for ser. The build (tools/cmd/srbuild) links it once per flavor
// with its name and flavor:
//
//	go build -ldflags "-X main.toolName=kamdbctl -X main.flavorName=kamailio" ./tools/cmd/dbtool
//
// It creates, drops, upgrades (migrate), backs up, restores and copies the
// flavor's database on MySQL, PostgreSQL or SQLite, with the settings of
// the flavor's rc files (kamctlrc, serctlrc) and the schema the build
// wrote to share/<flavor>/schema.json. See package sip-router.org/tools/dbtool
// and docs/TOOLS.md.
package main

import (
	"os"

	"sip-router.org/tools/dbtool"

	// The database drivers, as the server's modules register them.
	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/db_postgres"
	_ "sip-router.org/modules/db_sqlite"
)

// Set by the build with -X.
var (
	toolName   = "dbtool"
	flavorName = ""
)

func main() {
	os.Exit(dbtool.Main(toolName, flavorName, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
