package rr

import (
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// recKey is the Ctx key of a message's Record-Route state.
type recKey struct{}

// recState is what record_route and friends asked for a message. The
// Record-Route headers are built from it when a copy of the request is
// sent (the before-send hook), once the outgoing socket is known.
type recState struct {
	mu     sync.Mutex
	hooked bool // the hook is registered on the message
	recData
}

// recData is the part of recState the hook reads.
type recData struct {
	recorded bool     // record_route or record_route_preset was called
	preset   []string // record_route_preset URIs, nil for record_route
	params   string   // record_route("params"), with its leading ';'
	extra    string   // add_rr_param values, each with its leading ';'
	user     string   // Request-URI user (add_username)
	fromTag  string   // From tag (append_fromtag)
}

func state(c *sr.Ctx) *recState {
	if st, ok := c.Value(recKey{}).(*recState); ok {
		return st
	}
	st := &recState{}
	c.SetValue(recKey{}, st)
	return st
}

// paramText returns s as URI parameters: trimmed, with a leading ';'
// added when missing (Kamailio copies the text as it is), "" for none.
func paramText(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == ";" {
		return ""
	}
	if s[0] != ';' {
		s = ";" + s
	}
	return s
}

// record marks the message as record-routed and registers the hook once.
// It returns false when the message was already record-routed.
func (m *rr) record(c *sr.Ctx, preset []string, params string) bool {
	st := state(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.recorded {
		return false
	}
	st.recorded = true
	st.preset = preset
	st.params = params
	st.fromTag, st.user = "", ""
	if f := c.Req.From(); f != nil && m.AppendFromTag {
		st.fromTag, _ = f.Params.Get("tag")
	}
	if m.AddUsername {
		st.user = rruser(c)
	}
	if !st.hooked {
		st.hooked = true
		c.OnBeforeSend(m.hook(st))
	}
	return true
}

// rruser is the user part for add_username: the user of the Request-URI
// as received, or of the current one when that has none (Kamailio's
// get_username).
func rruser(c *sr.Ctx) string {
	var u sip.Uri
	if c.OrigRURI != "" && sip.ParseUri(c.OrigRURI, &u) == nil && u.User != "" {
		return u.User
	}
	return c.Req.Recipient.User
}

// recordRoute implements record_route([params]).
func (m *rr) recordRoute(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	params := ""
	if len(p) == 1 {
		params = paramText(p[0].(sr.Format).Expand(c))
	}
	if !m.record(c, nil, params) {
		c.Log.Error("record_route: double attempt to record-route")
		return -1
	}
	return 1
}

// recordRoutePreset implements record_route_preset(uri[, uri2]): the given
// address(es) instead of the socket's, with lr (and ftag) added; two
// addresses make two headers marked r2=on.
func (m *rr) recordRoutePreset(c *sr.Ctx, p []any) int {
	if c.Req == nil {
		return -1
	}
	preset := make([]string, len(p))
	for i, f := range p {
		preset[i] = strings.TrimSpace(f.(sr.Format).Expand(c))
		if preset[i] == "" {
			c.Log.Error("record_route_preset: empty address")
			return -1
		}
	}
	if !m.record(c, preset, "") {
		c.Log.Error("record_route_preset: double attempt to record-route")
		return -1
	}
	return 1
}

// addRRParam implements add_rr_param(param): the parameter goes into the
// Record-Route headers of this message, whether record_route was called
// before or is called after.
func (m *rr) addRRParam(c *sr.Ctx, p []any) int {
	if c.Req == nil || c.RouteType == sr.RouteOnReply {
		return -1
	}
	param := paramText(p[0].(sr.Format).Expand(c))
	if param == "" {
		return 1
	}
	st := state(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.extra)+len(param) > maxParamLen {
		c.Log.Error("add_rr_param: too many parameters", "max", maxParamLen)
		return -1
	}
	st.extra += param
	return 1
}

// maxParamLen bounds the parameters added with add_rr_param (Kamailio's
// RR_PARAM_BUF_SIZE).
const maxParamLen = 512

// removeRecordRoute implements SER's remove_record_route(): the
// Record-Route this message would get is dropped.
func (m *rr) removeRecordRoute(c *sr.Ctx, _ []any) int {
	st := state(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.recorded = false
	st.preset, st.params, st.extra = nil, "", ""
	return 1
}

// hook adds the Record-Route headers to an outgoing copy.
func (m *rr) hook(st *recState) sr.BeforeSend {
	return func(c *sr.Ctx, out *sip.Request, dst sr.Dest) {
		st.mu.Lock()
		snap := st.recData
		st.mu.Unlock()
		if !snap.recorded || out == nil {
			return
		}
		// A CANCEL or ACK that tm builds from the INVITE is not
		// record-routed.
		if c.Req != nil && out.Method != c.Req.Method && (out.Method == sip.CANCEL || out.Method == sip.ACK) {
			return
		}
		hdrs := m.headers(c, &snap, dst)
		if len(hdrs) == 0 {
			return
		}
		if top := sipmsg.Header(out, "Record-Route"); top != nil && top.Value() == hdrs[0].Value() {
			return // already on this copy
		}
		out.PrependHeader(hdrs...)
	}
}

// headers builds the Record-Route headers for a copy sent to dst.
func (m *rr) headers(c *sr.Ctx, st *recData, dst sr.Dest) []sip.Header {
	suffix := m.suffix(c, st)
	if st.preset != nil {
		r2 := ""
		if len(st.preset) > 1 {
			r2 = ";r2=on"
		}
		out := make([]sip.Header, 0, len(st.preset))
		for _, p := range st.preset {
			out = append(out, rrHeader(presetURI(p, st.user)+r2+suffix+st.params+st.extra))
		}
		return out
	}
	outSock := dst.Socket
	if outSock == nil && c.Core != nil {
		outSock = c.Core.SocketFor(dst, c.ForceSocket)
	}
	inSock := c.Rcv.Socket
	if inSock == nil {
		inSock = outSock
	}
	if inSock == nil {
		c.Log.Error("record_route: no socket to announce")
		return nil
	}
	tail := suffix + st.params + st.extra
	if m.EnableDoubleRR && outSock != nil && differentRealm(inSock, outSock) {
		// The first header is the one facing the next hop, the second
		// the one facing the previous hop; the next hop's route set
		// lists them in this order, the previous hop's in reverse.
		return []sip.Header{
			rrHeader(socketURI(outSock, st.user) + ";r2=on" + tail),
			rrHeader(socketURI(inSock, st.user) + ";r2=on" + tail),
		}
	}
	// One header, for the socket the request arrived on (Kamailio's
	// inbound Record-Route): the same as the outgoing one unless double
	// Record-Route is off.
	return []sip.Header{rrHeader(socketURI(inSock, st.user) + tail)}
}

// suffix is ";lr" (or ";lr=on"), ";ftag=…" and the AVP cookie.
func (m *rr) suffix(c *sr.Ctx, st *recData) string {
	var b strings.Builder
	if m.EnableFullLR {
		b.WriteString(";lr=on")
	} else {
		b.WriteString(";lr")
	}
	if st.fromTag != "" {
		b.WriteString(";ftag=")
		b.WriteString(st.fromTag)
	}
	if ck := m.cookie(c); ck != "" {
		b.WriteString(";" + cookieParam + "=")
		b.WriteString(ck)
	}
	return b.String()
}

// differentRealm reports whether two sockets differ in address, port or
// transport (Kamailio's COND_IF_DIFF_REALMS).
func differentRealm(a, b *sr.Socket) bool {
	return a != b && (a.Proto != b.Proto || a.Addr != b.Addr || a.Host() != b.Host() || a.Port() != b.Port())
}

// socketURI is the Record-Route URI of a socket: the announced host, the
// port unless it is 5060 on UDP, TCP or SCTP, and the transport unless it
// is UDP (ws for WebSocket, secure or not, as RFC 7118 writes it).
func socketURI(s *sr.Socket, user string) string {
	var b strings.Builder
	b.WriteString("sip:")
	if user != "" {
		b.WriteString(user)
		b.WriteByte('@')
	}
	b.WriteString(s.Host())
	proto := strings.ToLower(s.Proto)
	if port := s.Port(); port > 0 && !(port == 5060 && sipmsg.DefaultPort(proto) == 5060) {
		b.WriteString(":" + strconv.Itoa(port))
	}
	switch proto {
	case "", sr.ProtoUDP:
	case sr.ProtoWS, sr.ProtoWSS:
		b.WriteString(";transport=ws")
	default:
		b.WriteString(";transport=" + proto)
	}
	return b.String()
}

// presetURI turns a record_route_preset address into a URI: "sip:" is
// added when the text has no scheme, and the user when add_username is on
// and the address has none.
func presetURI(p, user string) string {
	low := strings.ToLower(p)
	if strings.HasPrefix(low, "sip:") || strings.HasPrefix(low, "sips:") {
		return p
	}
	if user != "" && !strings.Contains(p, "@") {
		return "sip:" + user + "@" + p
	}
	return "sip:" + p
}

// rrHeader makes a Record-Route header for a URI: a typed header when the
// URI parses, otherwise the text as it is.
func rrHeader(uri string) sip.Header {
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err == nil && u.Host != "" {
		return &sip.RecordRouteHeader{Address: u}
	}
	return sip.NewHeader("Record-Route", "<"+uri+">")
}
