package rr

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// routedKey is the Ctx key of what loose_route found in the Route (or
// Request-URI) that pointed to this server.
type routedKey struct{}

type routed struct {
	// params are that URI's parameters as text, each with its leading
	// ';' (";lr;ftag=x;nat=yes"), for check_route_param.
	params string
	// ftag is its ftag parameter, for is_direction.
	ftag string
}

// looseRoute implements loose_route() (RFC 3261 §16.4, §16.12, as
// Kamailio's rr does it). It returns 1 when Route headers were processed
// and decided the next hop, -1 when there were none to process (or only
// our own preloaded one, or they were malformed).
func (m *rr) looseRoute(c *sr.Ctx, _ []any) int {
	req := c.Req
	if req == nil {
		return -1
	}
	rs, err := routeURIs(req)
	if err != nil {
		c.Log.Error("loose_route: cannot parse the Route headers", "error", err)
		return -1
	}
	if len(rs) == 0 {
		return -1
	}
	preloaded := !hasToTag(req)
	if !preloaded && m.isMyself(c, &req.Recipient) && looksLikeRR(&req.Recipient) {
		return m.afterStrict(c, rs)
	}
	return m.afterLoose(c, rs, preloaded)
}

// afterLoose handles a request whose previous hop was a loose router (or
// the UA): our own top Route value(s) are removed; the next value is the
// next hop ($du) when it is a loose router, else it goes into the
// Request-URI and the Request-URI becomes the last Route (RFC 3261 §16.6
// step 6).
func (m *rr) afterLoose(c *sr.Ctx, rs []sip.Uri, preloaded bool) int {
	req := c.Req
	i := 0
	if m.isMyself(c, &rs[0]) {
		m.setRouted(c, &rs[0])
		i = 1
		// The other half of our double Record-Route names the socket
		// the request must leave from.
		if m.EnableDoubleRR && hasParam(rs[0].UriParams, "r2") && len(rs) > 1 && m.isMyself(c, &rs[1]) {
			m.forceSocket(c, &rs[1])
			i = 2
		}
		if i == len(rs) {
			setRoutes(req, nil)
			if preloaded {
				return -1
			}
			return 1
		}
	}
	next := rs[i]
	if isStrict(&next) {
		rest := append(append([]sip.Uri(nil), rs[i+1:]...), *req.Recipient.Clone())
		req.Recipient = maddrURI(&next)
		setRoutes(req, rest)
		return 1
	}
	c.DstURI = uriText(maddrURI(&next))
	setRoutes(req, rs[i:])
	return 1
}

// afterStrict handles a request whose previous hop was a strict router:
// the Request-URI holds the Record-Route value we inserted, so the
// original Request-URI is the last Route value (RFC 3261 §16.4).
func (m *rr) afterStrict(c *sr.Ctx, rs []sip.Uri) int {
	req := c.Req
	m.setRouted(c, &req.Recipient)
	i := 0
	if m.EnableDoubleRR && hasParam(rs[0].UriParams, "r2") && m.isMyself(c, &rs[0]) {
		m.forceSocket(c, &rs[0])
		i = 1
		if i == len(rs) {
			setRoutes(req, nil)
			return -1
		}
	}
	next := rs[i]
	if isStrict(&next) {
		// The next hop is a strict router too: act as one.
		req.Recipient = maddrURI(&next)
		setRoutes(req, rs[i+1:])
		return 1
	}
	c.DstURI = uriText(maddrURI(&next))
	rest := rs[i:]
	req.Recipient = *rest[len(rest)-1].Clone()
	setRoutes(req, rest[:len(rest)-1])
	return 1
}

// setRouted records the parameters of the URI that pointed to us and
// restores the AVP cookie it carries.
func (m *rr) setRouted(c *sr.Ctx, u *sip.Uri) {
	r := &routed{}
	if len(u.UriParams) > 0 {
		r.params = ";" + u.UriParams.ToString(';')
	}
	r.ftag, _ = getParam(u.UriParams, "ftag")
	c.SetValue(routedKey{}, r)
	if ck, ok := getParam(u.UriParams, cookieParam); ok && ck != "" {
		m.restoreCookie(c, ck, flow(c, r) == upstream)
	}
}

// forceSocket makes the request leave from the socket a Route value of
// ours names (the second half of a double Record-Route).
func (m *rr) forceSocket(c *sr.Ctx, u *sip.Uri) {
	proto := uriProto(u)
	port := u.Port
	if port == 0 {
		port = sipmsg.DefaultPort(proto)
	}
	host := strings.Trim(u.Host, "[]")
	ip, ipErr := netip.ParseAddr(host)
	for _, s := range c.Core.Sockets() {
		if s.Proto != proto || (s.Port() != port && int(s.Addr.Port()) != port) {
			continue
		}
		if strings.EqualFold(strings.Trim(s.Host(), "[]"), host) || (ipErr == nil && s.Addr.Addr().Unmap() == ip.Unmap()) {
			c.ForceSocket = s
			return
		}
	}
	c.Log.Warn("loose_route: no socket matches the second Record-Route", "uri", u.String())
}

// checkRouteParam implements check_route_param(re): the regular
// expression is matched against the parameters of the Route that pointed
// to us, as found by loose_route (";lr;ftag=…;nat=yes").
func (m *rr) checkRouteParam(c *sr.Ctx, p []any) int {
	r, ok := c.Value(routedKey{}).(*routed)
	if !ok || r.params == "" {
		return -1
	}
	if p[0].(*regexp.Regexp).MatchString(r.params) {
		return 1
	}
	return -1
}

// isDirection implements is_direction(dir): upstream when the ftag of our
// Route differs from the From tag (the callee is sending), downstream
// otherwise, also when there is no ftag.
func (m *rr) isDirection(c *sr.Ctx, p []any) int {
	r, _ := c.Value(routedKey{}).(*routed)
	if flow(c, r) == p[0].(int) {
		return 1
	}
	return -1
}

func flow(c *sr.Ctx, r *routed) int {
	if r == nil || r.ftag == "" || c.Req == nil {
		return downstream
	}
	f := c.Req.From()
	if f == nil {
		return downstream
	}
	tag, _ := f.Params.Get("tag")
	if tag == "" || tag == r.ftag {
		return downstream
	}
	return upstream
}

// isMyself reports whether a SIP URI names this server. A URI without a
// port means the transport's default port (5060, 5061 for sips or TLS).
func (m *rr) isMyself(c *sr.Ctx, u *sip.Uri) bool {
	if u.Scheme != "sip" && u.Scheme != "sips" || u.Host == "" {
		return false
	}
	port := u.Port
	if port == 0 {
		port = sipmsg.DefaultPort(uriProto(u))
	}
	return c.Core.Myself(u.Host, port)
}

// uriProto is the transport a SIP URI asks for: its transport parameter,
// tls for sips, udp otherwise.
func uriProto(u *sip.Uri) string {
	if t, ok := getParam(u.UriParams, "transport"); ok && t != "" {
		return strings.ToLower(t)
	}
	if u.Scheme == "sips" {
		return sr.ProtoTLS
	}
	return sr.ProtoUDP
}

// looksLikeRR reports whether a Request-URI can be a Record-Route value we
// inserted: ours carry lr, and have no user unless add_username is on. A
// contact of a UA on this host (a user, no lr) is not taken for one.
func looksLikeRR(u *sip.Uri) bool {
	return hasParam(u.UriParams, "lr") || u.User == ""
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	tag, _ := to.Params.Get("tag")
	return tag != ""
}

// isStrict reports whether a Route value is a strict router (no lr).
func isStrict(u *sip.Uri) bool { return !hasParam(u.UriParams, "lr") }

func hasParam(p sip.HeaderParams, name string) bool {
	_, ok := getParam(p, name)
	return ok
}

// getParam looks a URI parameter up by name, ignoring case.
func getParam(p sip.HeaderParams, name string) (string, bool) {
	for _, kv := range p {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

// maddrURI returns the URI to send to for a Route value: sip:maddr[:port]
// when it has a maddr parameter, else the value itself.
func maddrURI(u *sip.Uri) sip.Uri {
	if maddr, ok := getParam(u.UriParams, "maddr"); ok && maddr != "" {
		return sip.Uri{Scheme: "sip", Host: maddr, Port: u.Port}
	}
	return *u.Clone()
}

func uriText(u sip.Uri) string { return u.String() }

var errRoute = errors.New("malformed Route value")

// routeURIs returns the Route values of req in order, one per URI, also
// from Route headers added as text (append_hf) that hold several.
func routeURIs(req *sip.Request) ([]sip.Uri, error) {
	var out []sip.Uri
	for _, h := range sipmsg.Headers(req, "Route") {
		if r, ok := h.(*sip.RouteHeader); ok {
			if !usable(&r.Address) {
				return nil, errRoute
			}
			out = append(out, *r.Address.Clone())
			continue
		}
		for _, v := range splitValues(h.Value()) {
			u, err := parseNameAddr(v)
			if err != nil {
				return nil, err
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// parseNameAddr parses "<uri>;params" (or a bare URI) and returns the URI.
func parseNameAddr(v string) (sip.Uri, error) {
	var u sip.Uri
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return u, errRoute
		}
		v = v[i+1 : i+j]
	}
	if v == "" {
		return u, errRoute
	}
	if err := sip.ParseUri(v, &u); err != nil {
		return u, errors.Join(errRoute, err)
	}
	if !usable(&u) {
		return u, errRoute
	}
	return u, nil
}

// usable reports whether a Route value is a SIP URI with a host.
func usable(u *sip.Uri) bool {
	return (u.Scheme == "sip" || u.Scheme == "sips") && u.Host != ""
}

// splitValues splits a header value on the commas outside quoted strings
// and <>.
func splitValues(s string) []string {
	var out []string
	inQuote, esc, angle, start := false, false, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inQuote:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == ',' && angle == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

// setRoutes replaces the Route headers of req by one header per URI, where
// the first Route header was (at the end when there was none).
func setRoutes(req *sip.Request, uris []sip.Uri) {
	hs := req.Headers()
	first, anchor := -1, ""
	for i, h := range hs {
		if sipmsg.Same(h.Name(), "Route") {
			first = i
			if i > 0 {
				anchor = hs[i-1].Name()
			}
			break
		}
	}
	sipmsg.Remove(req, "Route")
	if len(uris) == 0 {
		return
	}
	nh := make([]sip.Header, len(uris))
	for i := range uris {
		nh[i] = &sip.RouteHeader{Address: uris[i]}
	}
	switch {
	case first == 0:
		req.PrependHeader(nh...)
	case anchor != "":
		for i := len(nh) - 1; i >= 0; i-- {
			req.AppendHeaderAfter(nh[i], anchor)
		}
	default:
		for _, h := range nh {
			req.AppendHeader(h)
		}
	}
}
