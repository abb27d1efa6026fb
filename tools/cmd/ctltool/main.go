// Command ctltool is the flavor's control tool: kamctl for kamailio,
// serctl for ser. The build names it and binds it to its flavor:
//
//	go build -ldflags "-X main.toolName=kamctl -X main.flavorName=kamailio" ./tools/cmd/ctltool
//
// It reads /etc/<flavor>/<tool>rc, then ~/.<tool>rc (later files override
// earlier ones), manages subscribers, domains, aliases and attributes in
// the database (DBENGINE: MYSQL, PGSQL, SQLITE) and talks to the running
// server (CTLENGINE: FIFO, UNIXSOCK). Run it without arguments for the
// list of commands; docs/TOOLS.md describes the settings.
package main

import (
	"os"

	"sip-router.org/tools/ctl"

	// The database drivers of the DB plug-ins.
	_ "sip-router.org/modules/db_mysql"
	_ "sip-router.org/modules/db_postgres"
	_ "sip-router.org/modules/db_sqlite"
)

// Set by the build (-X).
var (
	toolName   = "kamctl"
	flavorName = "kamailio"
)

func main() {
	os.Exit(ctl.Main(toolName, flavorName, os.Args[1:], os.Stdout, os.Stderr))
}
