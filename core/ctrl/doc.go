// Package ctrl serves the server's RPC commands (core/rpc) to operators
// and their tools, and is the client those tools use. Two transports:
//
// # The FIFO (Kamailio MI FIFO text protocol)
//
// The server creates a named pipe (mi_fifo's fifo_name, ctl's "fifo:"),
// readable and writable by its owner and group only (mode, user and group
// are parameters). A client creates its own reply FIFO in the reply folder
// (mi_fifo's reply_dir, default /tmp/), then writes one command:
//
//	:<command>:<reply fifo name>\n
//	<parameter 1>\n
//	…
//	\n
//
// The reply fifo name is a plain file name (no "/"): the server opens
// reply_dir/<name>, and only if that is a FIFO. The command is an RPC name
// (core.uptime, ul.dump) or one of the Kamailio MI names the server maps to
// them (uptime, ps, version, which, get_statistics, reset_statistics,
// ul_dump, ul_rm, ul_add, ul_show_contact, domain_reload, domain_dump).
// The reply is written into the client's FIFO:
//
//	<code> <reason>\n
//	<body lines>\n
//	\n
//
// with code 200 on success, 400 for bad parameters, 404 for an unknown
// command, 500 for a failed one. The body is the result as an MI tree: one
// node per line, "name:: value", children indented by one tab, list
// elements as repeated nodes. A command whose parameter lines do not all
// arrive within two seconds is answered 400 and dropped; lines longer than
// 64 KiB are refused.
//
// # The control socket (JSON-RPC 2.0 over a stream)
//
// ctl's "binrpc" addresses (unix:/path, unixs:/path, tcp:host:port) accept
// stream connections. Each request is one JSON-RPC 2.0 object on one line:
//
//	{"jsonrpc":"2.0","id":1,"method":"ul.dump","params":["alice"]}\n
//
// and each answer is one line, {"jsonrpc":"2.0","id":1,"result":…} or
// {"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"…"}}. Params are
// strings (numbers and booleans are turned into their text). A connection
// may carry many requests; the server closes it after an idle minute, on
// a line over 1 MiB, or on malformed JSON (after answering a parse error).
// The unix socket file gets the configured mode, user and group.
package ctrl
