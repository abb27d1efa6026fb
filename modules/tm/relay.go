package tm

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// maxBranches bounds the branches of one transaction (Kamailio's
// MAX_BRANCHES is 12).
const maxBranches = 12

// relayParams say where t_relay and friends send: an explicit next hop
// (t_relay(host, port), t_relay("proto:host:port")) and a forced
// transport (t_relay_to_tcp).
type relayParams struct {
	uri   string // explicit next hop as a SIP URI, "" for $du / the branch URI
	proto string // forced transport, "" for the URI's
	no100 bool   // do not send 100 Trying (t_relay_to flag 0x01)
}

// Relay errors, mapped to the reply sl_reply_error() sends.
var (
	errUnresolvable = errors.New("unresolvable destination")
	errSend         = errors.New("send failed")
	errNoBranch     = errors.New("no destination to relay to")
	errDropped      = errors.New("dropped by the script")
)

// replyFor maps a relay error to the reply that describes it.
func replyFor(err error) (int, string) {
	switch {
	case errors.Is(err, errUnresolvable):
		return 478, "Unresolvable destination"
	case errors.Is(err, errSend):
		return 477, "Unfortunately error on sending to next hop occurred"
	}
	return 500, "Server Internal Error"
}

// target is one destination of a relay: the Request-URI branch or an
// appended one.
type target struct {
	uri, dst, path string
	q              int
	flags          uint32
	sock           *sr.Socket
}

// consumedKey marks the Request-URI (and $du) a relay already used, so a
// second t_relay in the same route, or one in failure_route without a new
// Request-URI, does not send to it again (Kamailio's ruri_is_new).
type consumedKey struct{}

type ruriMark struct{ uri, du string }

// forward creates the branches of one relay: the Request-URI branch
// (unless consumed) and every appended branch, then clears the appended
// branches. It returns how many branches were sent and the last error.
func (t *Tx) forward(c *sr.Ctx, base *sip.Request, p relayParams) (int, error) {
	ruri := base.Recipient.String()
	var targets []target
	mark, marked := c.Value(consumedKey{}).(ruriMark)
	useRURI := p.uri != "" || !marked || mark.uri != ruri || mark.du != c.DstURI
	if useRURI {
		targets = append(targets, target{uri: ruri, dst: c.DstURI, path: c.Path, q: c.Q, flags: c.BranchFlags, sock: c.ForceSocket})
	}
	for _, b := range c.Branches {
		if useRURI && b.URI == ruri && b.DstURI == c.DstURI {
			continue // append_branch() of the Request-URI itself
		}
		targets = append(targets, target{uri: b.URI, dst: b.DstURI, path: b.Path, q: b.Q, flags: b.Flags, sock: b.Socket})
	}
	c.Branches = nil
	c.SetValue(consumedKey{}, ruriMark{ruri, c.DstURI})
	if len(targets) == 0 {
		return 0, errNoBranch
	}
	if t.expired {
		return 0, fmt.Errorf("%w: the transaction outlived max_inv_lifetime/max_noninv_lifetime", errNoBranch)
	}
	// t_on_branch applies to the branches of this relay only.
	onBranch := t.onBranch
	t.onBranch = ""
	sent := 0
	var last error
	for _, tg := range targets {
		if len(t.branches) >= maxBranches {
			last = fmt.Errorf("%w: more than %d branches", errNoBranch, maxBranches)
			t.log.Warn("tm: too many branches; the rest are not relayed", "max", maxBranches)
			break
		}
		if err := t.addBranch(c, base, tg, p, onBranch); err != nil {
			if !errors.Is(err, errDropped) {
				t.log.Warn("tm: branch not relayed", "uri", tg.uri, "error", err)
			}
			last = err
			continue
		}
		sent++
	}
	if sent == 0 && last == nil {
		last = errNoBranch
	}
	return sent, last
}

// addBranch runs branch_route for one target, builds the branch request
// (our Via, the before-send hooks, onsend_route) and sends it.
func (t *Tx) addBranch(c *sr.Ctx, base *sip.Request, tg target, p relayParams, onBranch string) error {
	idx := len(t.branches)
	var u sip.Uri
	if err := sip.ParseUri(tg.uri, &u); err != nil {
		return fmt.Errorf("%w: bad branch URI %q: %w", errUnresolvable, tg.uri, err)
	}
	out := base.Clone()
	out.Recipient = u
	dstURI, path, sock, bflags := tg.dst, tg.path, tg.sock, tg.flags

	if onBranch != "" {
		sReq, sDu, sPath, sQ, sBf, sSock, sDrop := c.Req, c.DstURI, c.Path, c.Q, c.BranchFlags, c.ForceSocket, c.Dropped
		sIdx := c.Value(branchIdxKey{})
		c.Req, c.DstURI, c.Path, c.Q, c.BranchFlags, c.ForceSocket, c.Dropped = out, dstURI, path, tg.q, bflags, sock, false
		c.SetValue(branchIdxKey{}, idx)
		unhold := hold(c, t)
		t.core.RunRoute(c, sr.RouteBranch, onBranch)
		unhold()
		dropped := c.Dropped
		dstURI, path, sock, bflags = c.DstURI, c.Path, c.ForceSocket, c.BranchFlags
		c.Req, c.DstURI, c.Path, c.Q, c.BranchFlags, c.ForceSocket, c.Dropped = sReq, sDu, sPath, sQ, sBf, sSock, sDrop
		c.SetValue(branchIdxKey{}, sIdx)
		if dropped {
			return errDropped
		}
	}

	routes := pathRoutes(path)
	if len(routes) > 0 {
		out.PrependHeader(routes...)
	}
	next := p.uri
	if next == "" {
		next = dstURI
	}
	if next == "" && len(routes) > 0 {
		next = routes[0].(*sip.RouteHeader).Address.String()
	}
	if next == "" {
		next = out.Recipient.String()
	}
	dst, err := t.resolve(next, p.proto)
	if err != nil {
		return err
	}
	s := t.core.SocketFor(dst, sock)
	if s == nil {
		return fmt.Errorf("%w: no listening socket for %s", errSend, dst.Proto)
	}
	dst.Socket = s
	via := &sip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0",
		Transport: strings.ToUpper(dst.Proto),
		Host:      s.Host(), Port: s.Port(),
		Params: sip.NewParams(),
	}
	via.Params.Add("branch", branchValue(t.id, idx))
	if t.localRport {
		via.Params.Add("rport", "")
	}
	out.PrependHeader(via)
	if err := t.sendDerived(c, out, dst); err != nil {
		return err
	}

	br := &branch{idx: idx, leg: t.leg, uri: out.Recipient.String(), req: out, dst: dst, reliable: reliableProto(dst.Proto), bflags: bflags}
	if t.inFailure {
		br.leg = t.leg + 1
	}
	br.tRetr.init(tRetr, t, br)
	br.tFR.init(tFR, t, br)
	br.tCancel.init(tCancelRetr, t, br)
	if t.canceled {
		br.cancel = cancelPending
	}
	t.branches = append(t.branches, br)
	if !br.reliable {
		br.retrIv = t.m.t1
		t.m.wh.set(&br.tRetr, br.retrIv)
	}
	t.m.wh.set(&br.tFR, t.frTimeout())
	t.m.stats.branches.Add(1)
	return nil
}

// sendDerived sends a request derived from the message of c (out already
// carries our Via): the before-send hooks, then onsend_route, which may
// drop it.
func (t *Tx) sendDerived(c *sr.Ctx, out *sip.Request, dst sr.Dest) error {
	return sendDerived(c, t.core, out, dst, func() func() { return hold(c, t) })
}

func sendDerived(c *sr.Ctx, core sr.Core, out *sip.Request, dst sr.Dest, held func() func()) error {
	c.RunBeforeSend(out, dst)
	sReq, sSnd, sDrop := c.Req, c.Snd, c.Dropped
	c.Req, c.Snd, c.Dropped = out, &dst, false
	var unhold func()
	if held != nil {
		unhold = held()
	}
	core.RunRoute(c, sr.RouteOnSend, "")
	if unhold != nil {
		unhold()
	}
	dropped := c.Dropped
	c.Req, c.Snd, c.Dropped = sReq, sSnd, sDrop
	if dropped {
		return errDropped
	}
	if err := core.Send(out, dst); err != nil {
		return fmt.Errorf("%w: %w", errSend, err)
	}
	return nil
}

// resolve turns a next-hop URI into a destination, forcing proto.
func (t *Tx) resolve(uri, proto string) (sr.Dest, error) {
	return resolveDest(t.core, uri, proto)
}

func resolveDest(core sr.Core, uri, proto string) (sr.Dest, error) {
	dst, err := core.Resolve(uri)
	if err != nil {
		return sr.Dest{}, fmt.Errorf("%w: %s: %w", errUnresolvable, uri, err)
	}
	if proto != "" && !strings.EqualFold(proto, dst.Proto) {
		dst.Proto = strings.ToLower(proto)
		var u sip.Uri
		if sip.ParseUri(uri, &u) == nil && u.Port == 0 {
			dst.Addr = netip.AddrPortFrom(dst.Addr.Addr(), uint16(sipmsg.DefaultPort(dst.Proto)))
		}
	}
	return dst, nil
}

// pathRoutes turns a Path vector ("<sip:a;lr>,<sip:b;lr>") into Route
// headers, in order.
func pathRoutes(path string) []sip.Header {
	path = strings.TrimSpace(path)
	if path == "" {
		return nil
	}
	var out []sip.Header
	for _, e := range splitList(path) {
		var u sip.Uri
		params := sip.NewParams()
		if _, err := sip.ParseAddressValue(e, &u, &params); err != nil {
			continue
		}
		out = append(out, &sip.RouteHeader{Address: u})
	}
	return out
}

// splitList splits a header value list at commas outside <> and quotes.
func splitList(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				depth++
			}
		case '>':
			if !quoted && depth > 0 {
				depth--
			}
		case ',':
			if !quoted && depth == 0 {
				if e := strings.TrimSpace(s[start:i]); e != "" {
					out = append(out, e)
				}
				start = i + 1
			}
		}
	}
	if e := strings.TrimSpace(s[start:]); e != "" {
		out = append(out, e)
	}
	return out
}

// sendAck sends the hop-by-hop ACK of a final non-2xx reply on a branch.
func (t *Tx) sendAck(b *branch, res *sip.Response) {
	ack := buildAck(b.req, res)
	if err := t.core.Send(ack, b.dst); err != nil {
		t.log.Debug("tm: sending ACK failed", "dst", b.dst.String(), "error", err)
	}
}

// sendCancel sends the hop-by-hop CANCEL of a branch and retransmits it
// over UDP; the branch then waits fr_timer at most for its final reply.
func (t *Tx) sendCancel(b *branch) {
	if b.final || b.cancel == cancelSent {
		return
	}
	b.cancel = cancelSent
	b.cancelReq = buildCancel(b.req)
	if err := t.core.Send(b.cancelReq, b.dst); err != nil {
		t.log.Debug("tm: sending CANCEL failed", "dst", b.dst.String(), "error", err)
	}
	b.cancelAt = time.Now()
	if !b.reliable {
		b.cancelIv = t.m.t1
		t.m.wh.set(&b.tCancel, b.cancelIv)
	}
	t.m.wh.set(&b.tFR, t.frTimeout())
}

// retransmitCancel resends a CANCEL until it is answered, the branch ends
// or 64*T1 passed.
func (t *Tx) retransmitCancel(b *branch) {
	if b.final || b.cancelReq == nil || time.Since(b.cancelAt) >= 64*t.m.t1 {
		return
	}
	_ = t.core.Send(b.cancelReq, b.dst)
	b.cancelIv *= 2
	if b.cancelIv > t.m.t2 {
		b.cancelIv = t.m.t2
	}
	t.m.wh.set(&b.tCancel, b.cancelIv)
}

// retransmit is Timers A and E: resend the branch request over UDP until
// a provisional reply (INVITE) or a final reply (others), doubling the
// interval up to T2; a non-INVITE that got a provisional goes on every T2.
func (t *Tx) retransmit(b *branch) {
	if b.final || (t.invite && b.provisional) {
		return
	}
	if err := t.core.Send(b.req, b.dst); err != nil {
		t.log.Debug("tm: retransmission failed", "dst", b.dst.String(), "error", err)
	}
	switch {
	case !t.invite && b.provisional:
		b.retrIv = t.m.t2
	default:
		b.retrIv *= 2
		if b.retrIv > t.m.t2 {
			b.retrIv = t.m.t2
		}
	}
	t.m.wh.set(&b.tRetr, b.retrIv)
}

// cancelBranch cancels one pending branch: CANCEL at once when it had a
// provisional reply; otherwise as cancel_b_method says (0: end it with a
// local 487; 1: send the CANCEL when a provisional comes, 487 if none
// comes before its timer; 2: send the CANCEL now). It reports whether
// the branch ended here.
func (t *Tx) cancelBranch(b *branch) bool {
	if b.final {
		return false
	}
	if !t.invite {
		// A non-INVITE cannot be cancelled: it is abandoned.
		t.endBranch(b, 0, nil)
		b.abandoned = true
		return true
	}
	if b.provisional {
		t.sendCancel(b)
		return false
	}
	switch t.m.CancelBMethod {
	case 0:
		t.endBranch(b, 487, nil)
		return true
	case 2:
		t.sendCancel(b)
	default:
		if b.cancel == cancelNone {
			b.cancel = cancelPending
		}
	}
	return false
}

// cancelPending cancels every pending branch; upstream says whether a
// CANCEL from the client caused it (t_is_canceled).
func (t *Tx) cancelPending(upstream bool) {
	if upstream {
		t.canceled = true
	}
	for _, b := range t.branches {
		t.cancelBranch(b)
	}
}

// endBranch gives a branch its final status; res is nil for a status
// generated here.
func (t *Tx) endBranch(b *branch, code int, res *sip.Response) {
	b.final = true
	b.status = code
	if res != nil {
		b.reply = res
	} else {
		b.fake = true
	}
	w := t.m.wh
	w.stopTimer(&b.tRetr)
	w.stopTimer(&b.tFR)
	w.stopTimer(&b.tCancel)
}

// expireBranch ends a branch whose timer ran out: an INVITE branch that
// had a provisional gets a CANCEL; the branch counts as a 408, or a 487
// when the transaction was cancelled.
func (t *Tx) expireBranch(b *branch) {
	if t.invite && b.provisional && b.cancel != cancelSent {
		t.sendCancel(b)
	}
	code := 408
	if t.canceled || b.cancel != cancelNone {
		code = 487
	}
	b.timedOut = true
	t.endBranch(b, code, nil)
}

// branchTimeout is a branch's final-response timer.
func (t *Tx) branchTimeout(b *branch) {
	if b.final {
		return
	}
	t.expireBranch(b)
	t.checkAllFinal(nil)
}

// lookupInvite finds the INVITE transaction a CANCEL refers to.
func (m *TM) lookupInvite(req *sip.Request) *Tx {
	k, ok := serverKey(req, string(sip.INVITE))
	if !ok {
		return nil
	}
	tx := m.tbl.get(k.key)
	if tx == nil {
		return nil
	}
	if k.rfc2543 && tx.reqTag != toTag(req) {
		return nil
	}
	return tx
}

// forwardStateless sends the request of c without a transaction (ACK for
// a 2xx, unmatched CANCEL with unmatched_cancel=1): Via with a branch
// derived from the request (RFC 3261 §16.11), hooks, onsend_route.
func (m *TM) forwardStateless(c *sr.Ctx, p relayParams) int {
	req := c.Req
	next := p.uri
	if next == "" {
		next = c.DstURI
	}
	if next == "" {
		next = req.Recipient.String()
	}
	dst, err := resolveDest(c.Core, next, p.proto)
	if err != nil {
		c.SetReplyError(replyFor(err))
		c.Log.Error("tm: stateless relay failed", "uri", next, "error", err)
		return -1
	}
	s := c.Core.SocketFor(dst, c.ForceSocket)
	if s == nil {
		c.SetReplyError(477, "Unfortunately error on sending to next hop occurred")
		return -1
	}
	dst.Socket = s
	if c.Rcv.Src.IsValid() {
		if c.ForceRport {
			sipmsg.ForceRport(req)
		}
		sipmsg.AddReceived(req, c.Rcv.Src)
	}
	out := req.Clone()
	via := &sip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0",
		Transport: strings.ToUpper(dst.Proto),
		Host:      s.Host(), Port: s.Port(),
		Params: sip.NewParams(),
	}
	via.Params.Add("branch", sipmsg.Branch(req, dst.String()))
	if c.LocalRport {
		via.Params.Add("rport", "")
	}
	out.PrependHeader(via)
	if err := sendDerived(c, c.Core, out, dst, nil); err != nil {
		if errors.Is(err, errDropped) {
			return -1
		}
		c.SetReplyError(replyFor(err))
		c.Log.Error("tm: stateless relay failed", "dst", dst.String(), "error", err)
		return -1
	}
	m.stats.statelessACKs.Add(1)
	return 1
}

// destURI builds the next-hop URI of an explicit destination.
func destURI(proto, host string, port int) string {
	var b strings.Builder
	b.WriteString("sip:")
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	if port > 0 {
		b.WriteString(":" + strconv.Itoa(port))
	}
	if proto != "" && proto != sr.ProtoUDP {
		b.WriteString(";transport=" + proto)
	}
	return b.String()
}

// parseHostPort reads "[proto:]host[:port]" (host possibly an IPv6
// address in brackets) or a sip: URI, as t_relay("udp:1.2.3.4:5060")
// and t_relay_to take it.
func parseHostPort(s string) (proto, host string, port int, err error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(strings.ToLower(s), "sip:") || strings.HasPrefix(strings.ToLower(s), "sips:") {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			return "", "", 0, fmt.Errorf("bad URI %q: %w", s, err)
		}
		t, _ := u.UriParams.Get("transport")
		return strings.ToLower(t), u.Host, u.Port, nil
	}
	for _, p := range []string{"udp", "tcp", "tls", "sctp", "ws", "wss"} {
		if rest, ok := strings.CutPrefix(strings.ToLower(s), p+":"); ok {
			proto, s = p, s[len(s)-len(rest):]
			break
		}
	}
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", 0, fmt.Errorf("bad address %q", s)
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if port, err = parsePort(strings.TrimPrefix(rest, ":")); err != nil {
				return "", "", 0, err
			}
		}
		return proto, host, port, nil
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		if port, err = parsePort(p); err != nil {
			return "", "", 0, err
		}
		s = h
	}
	if s == "" || strings.ContainsAny(s, " \t;<>") {
		return "", "", 0, fmt.Errorf("bad host %q", s)
	}
	return proto, s, port, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}
