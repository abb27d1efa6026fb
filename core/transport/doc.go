// Package transport is the SIP I/O layer of the server: the listening
// sockets (listen=), the TCP/TLS/WebSocket connections, the receive path
// every message goes through before the core, the worker pool that runs
// the core, and sending (sr.Core's Send, Resolve, Sockets, SocketFor and
// Myself are implemented by Manager).
//
// # Design
//
// UDP is ours. Each UDP listen socket has its own reader goroutines
// (Config.UDPReaders of them share the socket; the kernel gives each
// datagram to one, and they parse in parallel) and parses each datagram
// with a sipgo sip.Parser. sipgo's own UDP transport is not used because
//
//   - it drops an unparsable datagram after logging the whole payload at
//     ERROR: a log flood anyone can trigger, and no 400 can be sent;
//   - its handler is not told which local socket received a datagram;
//   - it runs a single reader per socket.
//
// UDP is also sent by this package, from the listening socket (so the
// source port is the listen port; no ephemeral socket is ever created).
// sipgo's UDP writer is never used, so its UDPMTUSize limit (1500 by
// default) plays no part and is left alone (it is a process-wide
// variable): the limit is Config.MaxUDPSize (65507), and a larger message
// makes Send return ErrTooLarge. Manager.Connection gives sipgo's
// transaction objects a sip.Connection that writes through Send, so a tm
// built on them does not need sipgo's UDP either.
//
// TCP, TLS, WS and WSS go through sipgo's sip.TransportLayer, built with
// sip.NewTransportLayer (never sipgo.NewUA, never a TransactionLayer): the
// receive handler is registered with OnMessage, and sipgo's Serve loops
// accept from listeners of this package that wrap the real ones:
//
//   - caps: MaxConnections in all (default 2048, tcp_max_connections),
//     MaxConnectionsPerIP accepted from one source (default 256); a
//     connection over a cap is closed at once;
//   - timeouts, enforced as read deadlines by a wrapper under sipgo (and
//     under TLS): an accepted connection must deliver a complete first
//     SIP message within FirstMessageTimeout (default 10 s; TLS and
//     WebSocket handshakes included: silent and slowloris connections),
//     then is closed after ConnectionLifetime without traffic (default
//     120 s, Kamailio's tcp_connection_lifetime, refreshed by every
//     message in or out);
//   - for ws/wss, the HTTP upgrade request is read (and the TLS handshake
//     done) on a goroutine per connection before sipgo sees it, because
//     sipgo upgrades inside its accept loop.
//
// Every connection is tracked by remote address, so the socket it belongs
// to is known for sr.RecvInfo, and replies and requests to that address
// reuse it (a request over TCP is answered on its connection). Outgoing
// TCP/TLS connections are dialed here, from the IP address of the chosen
// listen socket and an ephemeral port (as Kamailio without
// tcp_reuse_port), within ConnectTimeout, and handed to sipgo through an
// internal listener so that sipgo reads them like accepted ones; Send
// blocks while it dials. WebSocket connections are never opened from this
// side. sipgo's stream parser sizes a body buffer from Content-Length once
// the headers are in, bounded by MaxStreamSize per connection.
//
// sipgo's stream parser is given MaxStreamSize (default 16 KiB) as its
// message limit. A read filter installed in sipgo sees every read before
// the parser and frames the stream itself (header end, Content-Length,
// body): a framing defect (missing, negative, non-numeric, huge or
// repeated Content-Length, bare CR/LF, a message over the limit) closes
// the connection before anything is delivered; and the length of each
// message is known, for Incoming.Len. sipgo's own logs are demoted to
// DEBUG with payloads removed.
//
// # Receive path
//
// For a datagram (and, after sipgo's parse, for a stream message):
//
//  1. over the size limit: dropped and counted; CRLF keep-alives ignored
//     (sipgo answers a double-CRLF ping with a CRLF pong on TCP);
//  2. parsed with sipmsg.NewParser (CSeq up to 2^32-1, addr-spec "?" check,
//     the LWS sipgo mishandles in Via/To/From/Contact repaired). A bare LF
//     in the header section is refused first (sipgo would keep it inside a
//     value and render it again: header injection). Over UDP the body is
//     what Content-Length says: bytes after it are discarded (RFC 3261
//     §18.3, RFC 4475 dblreq); a Content-Length beyond the end of the
//     datagram is an error, and sipgo is never let size a body buffer
//     larger than the datagram (each reader has its own parser, whose
//     limit is set to the datagram size);
//  3. a reply that does not parse is dropped (debug log). A request whose
//     only fault is a Request-URI scheme sipgo refuses (soap.beep:) is
//     parsed again with a placeholder URI and answered 416. Any other
//     unparsable request gets a stateless 400 built from its raw bytes
//     (sipmsg.NewReplyFromRaw) when it has a usable top Via, else nothing;
//  4. sipmsg.Check (requests: 400/416/501/505) or sipmsg.CheckResponse
//     (replies: drop) runs on what parsed;
//  5. what passes is dispatched to the workers.
//
// Replies generated here are never sent to an ACK, go back on the
// connection for stream transports, and over UDP go to the source IP (not
// a Via host or maddr: a forged Via cannot aim them elsewhere) at the port
// RFC 3261 §18.2.2 / RFC 3581 give (rport, else the Via port, else 5060).
// Refusals are logged at INFO at most once per source IP every 5 s;
// payloads are never logged.
//
// Send never sends to a broadcast, multicast or unspecified address
// (255.255.255.255, local directed broadcasts, 224.0.0.0/4, ff00::/8,
// 0.0.0.0/8, ::) or to port 0: it returns ErrForbiddenDest.
//
// # Workers and ordering
//
// Config.Workers goroutines (default Children × 4) run Config.Handler,
// each with its own bounded queue (QueueLen). A message goes to the worker
// its Call-ID hashes to, so the messages of one call (and so of one
// transaction) are handled in the order they were read. A message for a
// full queue is dropped and counted: readers never block on the workers
// and no goroutine is spawned per message. Ordering holds from the point a
// message is read: with several readers on one UDP socket, two datagrams
// arriving back to back may be read by two readers and dispatched in the
// other order (as with Kamailio's children sharing a socket); UDPReaders
// = 1 keeps the arrival order. A connection's messages are read by one
// goroutine, in order. A panic in the handler, the
// receive path or the read filter is recovered, counted and logged
// (rate-limited), and serving goes on.
//
// # Listen addresses
//
// "*" (also 0.0.0.0 and ::) means every local address: one socket is
// opened per interface address (IPv6 link-local excepted), as Kamailio
// does, so every sr.Socket and RecvInfo.Dst is a concrete address. A host
// name is resolved at Start and every address bound. Port 0 binds a free
// port (the same one on every address of a spec).
package transport
