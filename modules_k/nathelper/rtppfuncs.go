package nathelper

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// rtppFlags are the letters of force_rtp_proxy's first argument.
type rtppFlags struct {
	opts   string // letters passed on to the proxy (A, I, E, S, Z<n>)
	lookup bool   // l: only update an existing session
	force  bool   // f: ignore the nortpproxy marker
	real   bool   // r (and a): the SDP address is right, use it
	orgip  bool   // o: rewrite the o= address too
	commip bool   // c: rewrite the session c= address too
	swap   bool   // s: replies create sessions, requests confirm them
}

// parseRTPPFlags reads the flags as Kamailio 3.0 knows them.
func parseRTPPFlags(s string) (rtppFlags, error) {
	var f rtppFlags
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'a', 'A':
			f.opts += "A"
			f.real = true
		case 'i', 'I':
			f.opts += "I"
		case 'e', 'E':
			f.opts += "E"
		case 'l', 'L':
			f.lookup = true
		case 'f', 'F':
			f.force = true
		case 'r', 'R':
			f.real = true
		case 'o', 'O':
			f.orgip = true
		case 'c', 'C':
			f.commip = true
		case 's', 'S':
			f.swap = true
		case 'w', 'W':
			f.opts += "S"
		case 'z', 'Z':
			f.opts += "Z"
			for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				i++
				f.opts += s[i : i+1]
			}
		default:
			return f, fmt.Errorf("unknown flag %q (known: a, i, e, l, f, r, o, c, s, w, z<n>)", s[i])
		}
	}
	return f, nil
}

// rtppArgs are the prepared arguments of the rtpproxy functions.
type rtppArgs struct {
	flags  sr.Format // nil: none
	static *rtppFlags
	ip     sr.Format // nil: none
}

func fixupRTPP(_ *nathelper, fx *module.Fixup, args []module.Arg) ([]any, error) {
	ra := &rtppArgs{}
	if len(args) >= 1 {
		f, err := fx.Format(args[0])
		if err != nil {
			return nil, err
		}
		if s, ok := f.Static(); ok {
			fl, err := parseRTPPFlags(s)
			if err != nil {
				return nil, fx.Errorf(args[0], "%s: %v", fx.Func, err)
			}
			ra.static = &fl
		} else {
			ra.flags = f
		}
	} else {
		ra.static = &rtppFlags{}
	}
	if len(args) == 2 {
		f, err := fx.Format(args[1])
		if err != nil {
			return nil, err
		}
		if s, ok := f.Static(); ok {
			if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err != nil {
				return nil, fx.Errorf(args[1], "%s: %q is not an IP address", fx.Func, s)
			}
		}
		ra.ip = f
	}
	return []any{ra}, nil
}

func (ra *rtppArgs) flagsFor(c *sr.Ctx) (rtppFlags, error) {
	if ra.static != nil {
		return *ra.static, nil
	}
	return parseRTPPFlags(ra.flags.Expand(c))
}

// How a function treats the SDP: as Kamailio's force_rtp_proxy decides (an
// INVITE offers, a reply answers, the s flag swaps), or always as an offer
// or an answer.
const (
	modeAuto = iota
	modeOffer
	modeAnswer
)

func (m *nathelper) forceRTPProxy(c *sr.Ctx, p []any) int {
	return m.manage(c, p[0].(*rtppArgs), modeAuto, "force_rtp_proxy")
}

func (m *nathelper) rtpproxyOffer(c *sr.Ctx, p []any) int {
	return m.manage(c, p[0].(*rtppArgs), modeOffer, "rtpproxy_offer")
}

func (m *nathelper) rtpproxyAnswer(c *sr.Ctx, p []any) int {
	return m.manage(c, p[0].(*rtppArgs), modeAnswer, "rtpproxy_answer")
}

// dialogIDs returns the Call-ID and the From and To tags of a message.
func dialogIDs(msg sip.Message) (callID, fromTag, toTag string) {
	if h := sipmsg.Header(msg, "Call-ID"); h != nil {
		callID = strings.TrimSpace(h.Value())
	}
	if f, ok := sipmsg.Header(msg, "From").(*sip.FromHeader); ok && f.Params != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	if t, ok := sipmsg.Header(msg, "To").(*sip.ToHeader); ok && t.Params != nil {
		toTag, _ = t.Params.Get("tag")
	}
	return
}

// token reports whether s may go into an rtpproxy command as one word.
func token(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f || s[i] == ';' {
			return false
		}
	}
	return true
}

// setKey holds the set chosen by set_rtp_proxy_set for a message.
type setKey struct{}

func (m *nathelper) currentSet(c *sr.Ctx) *rtppSet {
	if s, ok := c.Value(setKey{}).(*rtppSet); ok {
		return s
	}
	return m.rtpp.defaultSet()
}

// manage rewrites the SDP of the message so that its media goes through
// an RTP proxy: for each RTP stream, the proxy is told the address and
// port of the sender (U to create or update the session, L to look it up)
// and its reply replaces the port of the m= line and the address of the
// c= line. 1 when done, -1 otherwise (the message is then unchanged).
func (m *nathelper) manage(c *sr.Ctx, ra *rtppArgs, mode int, who string) int {
	msg := c.Msg()
	if msg == nil {
		return -1
	}
	fl, err := ra.flagsFor(c)
	if err != nil {
		c.Log.Error(who+": bad flags", "error", err)
		return -1
	}
	isReq := c.IsRequest()
	method := ""
	if isReq {
		method = string(c.Req.Method)
	}
	var create bool
	switch mode {
	case modeAuto:
		switch {
		case !isReq:
			create = fl.swap
		case method == string(sip.INVITE) || method == string(sip.UPDATE):
			create = !fl.swap
		case method == string(sip.ACK):
			create = fl.swap
		default:
			c.Log.Error(who+": cannot be used for this method", "method", method)
			return -1
		}
	case modeOffer:
		create = true
	case modeAnswer:
		if isReq && method != string(sip.ACK) {
			c.Log.Error(who+": in a request, only an ACK carries an answer", "method", method)
			return -1
		}
	}
	callID, fromTag, toTag := dialogIDs(msg)
	if !token(callID) || !token(fromTag) || (toTag != "" && !token(toTag)) {
		c.Log.Info(who + ": missing or unusable Call-ID or From tag")
		return -1
	}
	if fl.lookup {
		if !create || toTag == "" {
			return -1
		}
		create = false
	}
	// The first tag is the sender's: From in requests, To in replies.
	tag1, tag2 := fromTag, toTag
	if !isReq {
		tag1, tag2 = toTag, fromTag
	}
	if tag1 == "" || (!create && tag2 == "") {
		c.Log.Info(who + ": the message lacks a To tag")
		return -1
	}
	body, ok := sdpBody(msg)
	if !ok {
		c.Log.Debug(who + ": no SDP body")
		return -1
	}
	s, err := parseSDP(body)
	if err != nil {
		c.Log.Info(who+": cannot read the SDP", "error", err)
		return -1
	}
	if !fl.force && m.marker != "" && s.hasLine(m.marker) {
		c.Log.Debug(who + ": the SDP already went through an RTP proxy")
		return -1
	}
	ms, sessEnd, err := s.medias()
	if err != nil || len(ms) == 0 {
		c.Log.Info(who + ": the SDP has no readable m= line")
		return -1
	}
	set := m.currentSet(c)
	if set == nil {
		c.Log.Error(who+": no RTP proxy", "error", errRTPPNoSet)
		return -1
	}
	node := m.rtpp.selectNode(set, callID)
	if node == nil {
		c.Log.Error(who+": no RTP proxy available", "set", set.id, "error", errRTPPNoProxy)
		return -1
	}
	// Addresses are read from the body as received, whatever was rewritten.
	orig := make([]string, len(s.lines))
	for i, l := range s.lines {
		orig[i] = l.text
	}
	sessConn := s.sessionConn(sessEnd)
	sessDone := false
	origin := -1
	if fl.orgip {
		origin = s.origin(sessEnd)
	}
	op := "L"
	if create {
		op = "U"
	}
	multi := len(ms) > 1
	for k, md := range ms {
		if md.port == 0 || !rtpProtos[md.proto] {
			continue
		}
		ci := md.connLine
		if ci < 0 {
			ci = sessConn
		}
		if ci < 0 {
			c.Log.Info(who + ": a stream has no c= line")
			return -1
		}
		ca, ok := parseConn(orig[ci])
		if !ok {
			c.Log.Info(who + ": malformed c= line")
			return -1
		}
		addr := srcHost(c)
		if fl.real {
			addr = ca.addr
		}
		opts := fl.opts
		if strings.Contains(addr, ":") {
			opts += "6"
		}
		t1, t2 := tag1, tag2
		if multi {
			n := strconv.Itoa(k + 1)
			t1 += ";" + n
			if t2 != "" {
				t2 += ";" + n
			}
		}
		cmd := op + opts + " " + callID + " " + addr + " " + strconv.Itoa(md.port) + " " + t1
		if t2 != "" {
			cmd += " " + t2
		}
		reply, err := m.rtpp.command(node, cmd)
		if err != nil {
			return -1
		}
		port, newIP, ok := m.parseReply(c, reply, ra)
		if !ok {
			if !(fl.lookup && strings.TrimSpace(reply) == "0") {
				c.Log.Error(who+": unusable reply from the RTP proxy", "rtpproxy", node.url, "reply", reply)
			}
			return -1
		}
		s.setPort(md, port)
		if md.connLine >= 0 || !sessDone {
			if !ca.isNull() {
				cur, _ := parseConn(s.lines[ci].text)
				s.setAddr(ci, cur, newIP)
			}
			if md.connLine < 0 {
				sessDone = true
			}
		}
		if fl.commip && sessConn >= 0 && !sessDone {
			if cur, ok := parseConn(s.lines[sessConn].text); ok && !cur.isNull() {
				s.setAddr(sessConn, cur, newIP)
			}
			sessDone = true
		}
		if origin >= 0 {
			if cur, ok := parseOrigin(s.lines[origin].text); ok && !cur.isNull() {
				s.setAddr(origin, cur, newIP)
			}
			origin = -1
		}
	}
	if m.marker != "" && !s.hasLine(m.marker) {
		s.appendLine(m.marker)
	}
	msg.SetBody(s.bytes())
	return 1
}

// parseReply reads "<port> [<ip> [6]]"; the address to advertise is the
// proxy's when it gave one, else the function's ip argument, else the
// local address the message came in on.
func (m *nathelper) parseReply(c *sr.Ctx, reply string, ra *rtppArgs) (int, string, bool) {
	f := strings.Fields(reply)
	if len(f) == 0 {
		return 0, "", false
	}
	port, err := strconv.Atoi(f[0])
	if err != nil || port <= 0 || port > 65535 {
		return 0, "", false
	}
	var ip string
	switch {
	case len(f) >= 2:
		ip = f[1]
	case ra.ip != nil:
		ip = strings.TrimSpace(ra.ip.Expand(c))
	default:
		if !c.Rcv.Dst.IsValid() {
			return 0, "", false
		}
		ip = c.Rcv.Dst.Addr().String()
	}
	a, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	if err != nil {
		return 0, "", false
	}
	return port, a.Unmap().WithZone("").String(), true
}

// unforceRTPProxy implements unforce_rtp_proxy(): the proxy deletes the
// call's session (D).
func (m *nathelper) unforceRTPProxy(c *sr.Ctx, _ []any) int {
	return m.simpleCommand(c, "D", "unforce_rtp_proxy")
}

// startRecording implements start_recording(): the proxy records the
// call's session (R).
func (m *nathelper) startRecording(c *sr.Ctx, _ []any) int {
	return m.simpleCommand(c, "R", "start_recording")
}

func (m *nathelper) simpleCommand(c *sr.Ctx, op, who string) int {
	msg := c.Msg()
	if msg == nil {
		return -1
	}
	callID, fromTag, toTag := dialogIDs(msg)
	if !token(callID) || !token(fromTag) || (toTag != "" && !token(toTag)) {
		c.Log.Info(who + ": missing or unusable Call-ID or From tag")
		return -1
	}
	set := m.currentSet(c)
	if set == nil {
		c.Log.Error(who+": no RTP proxy", "error", errRTPPNoSet)
		return -1
	}
	node := m.rtpp.selectNode(set, callID)
	if node == nil {
		c.Log.Error(who+": no RTP proxy available", "set", set.id, "error", errRTPPNoProxy)
		return -1
	}
	cmd := op + " " + callID + " " + fromTag
	if toTag != "" {
		cmd += " " + toTag
	}
	if _, err := m.rtpp.command(node, cmd); err != nil {
		return -1
	}
	return 1
}

func fixupSetID(m *nathelper, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := fx.Int(args[0])
	if err != nil {
		return nil, err
	}
	set := m.rtpp.byID[n]
	if set == nil {
		return nil, fx.Errorf(args[0], "%s: RTP proxy set %d is not configured (rtpproxy_sock)", fx.Func, n)
	}
	return []any{set}, nil
}

// setRTPProxySet implements set_rtp_proxy_set(n): the following rtpproxy
// functions of this message use set n.
func (m *nathelper) setRTPProxySet(c *sr.Ctx, p []any) int {
	c.SetValue(setKey{}, p[0].(*rtppSet))
	return 1
}
