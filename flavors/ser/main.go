// Command ser is the ser SIP server: the core with the modules its
// manifest (flavors/ser.toml) selects, imported by the generated
// zmodules.go.
package main

//go:generate go run sip-router.org/tools/cmd/flavorgen -manifest flavors/ser.toml

import "sip-router.org/core/server"

func main() { server.Main(&theFlavor) }
