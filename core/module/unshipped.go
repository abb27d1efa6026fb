package module

// unshippedModule is a module that configurations in the wild load but
// this tree does not have: why, and the script functions it would export,
// so that a call to one names the module instead of an unknown function.
type unshippedModule struct {
	why   string
	funcs []string
}

// unshipped lists them: SER 3.0's xmlrpc (deferred), and the Kamailio 4.x
// and later modules that Kamailio 5's default config loads.
var unshipped = map[string]unshippedModule{
	"xmlrpc": {"the XML-RPC control interface is deferred; the ctl module (JSON-RPC on a unix socket) and mi_fifo serve the same RPC commands",
		[]string{"dispatch_rpc", "xmlrpc_reply"}},
	"jsonrpcs": {"a Kamailio 4.x module not in this 3.0 tree; the ctl module serves JSON-RPC on a unix socket",
		[]string{"jsonrpc_dispatch", "jsonrpc_exec"}},
	"corex":    {"a Kamailio 4.x module not in this 3.0 tree", nil},
	"textopsx": {"a Kamailio 4.x module not in this 3.0 tree", []string{"msg_apply_changes", "change_reply_status", "remove_body", "keep_hf", "fnmatch"}},
	"counters": {"a Kamailio 4.x module not in this 3.0 tree; statistics are in the core (stats.get)", []string{"cnt_inc", "cnt_add", "cnt_reset"}},
}

// UnshippedFunc names the module a script function belongs to when that
// module is one this tree does not ship, and why.
func UnshippedFunc(name string) (module, why string, ok bool) {
	for m, u := range unshipped {
		for _, f := range u.funcs {
			if f == name {
				return m, u.why, true
			}
		}
	}
	return "", "", false
}
