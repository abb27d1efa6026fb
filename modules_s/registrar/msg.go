package registrar

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/location"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
)

// Size limits: a contact and a received URI fit the location table's
// columns.
const (
	maxContactLen  = 255
	maxReceivedLen = 255
	maxCallIDLen   = 255
	maxUALen       = 64
	maxUIDLen      = 64
	maxAORLen      = 255
)

// expiresHeader reads the Expires header: present, and its value.
func expiresHeader(msg sip.Message) (int, bool, *regError) {
	n, present, ok := location.ExpiresHeader(msg)
	if !ok {
		return 0, false, errParseExp
	}
	return n, present, nil
}

// contacts returns the Contact header values of a message, and whether
// they are the star (which must be alone).
func contacts(msg sip.Message) ([]*sip.ContactHeader, bool, *regError) {
	cs, star, err := location.Contacts(msg)
	switch {
	case errors.Is(err, location.ErrStar):
		return nil, false, errStarCont
	case err != nil:
		return nil, false, errParseCont
	}
	return cs, star, nil
}

// method is the method of the request, or the CSeq method of a reply.
func method(c *sr.Ctx) sip.RequestMethod {
	if c.Resp != nil {
		if cs := c.Resp.CSeq(); cs != nil {
			return cs.MethodName
		}
		return ""
	}
	if c.Req != nil {
		return c.Req.Method
	}
	return ""
}

// avpOrder is SER's search order of the classes within a track.
var avpOrder = []sr.AVPFlags{sr.AVPClassURI, sr.AVPClassUser, sr.AVPClassDomain, sr.AVPClassGlobal}

// firstAttr returns the first value of an attribute name within track
// (and, when class is not 0, that class only), in SER's search order:
// URI, user, domain, then global class.
func firstAttr(c *sr.Ctx, name string, track, class sr.AVPFlags) (sr.Value, bool) {
	if c.AVPs == nil || name == "" {
		return sr.NullVal, false
	}
	n := sr.AVPName{S: name}
	if class != 0 {
		return c.AVPs.Get(n, track|class, 0)
	}
	for _, cl := range avpOrder {
		if v, ok := c.AVPs.Get(n, track|cl, 0); ok {
			return v, true
		}
	}
	return sr.NullVal, false
}

// addAttr pushes a value as SER's add_avp does: an attribute written
// without class or track goes to the URI class of the from-track; a global
// one belongs to both tracks.
func addAttr(c *sr.Ctx, a attr, v sr.Value) {
	if !a.on {
		return
	}
	serattr.Add(c, a.name, v, a.flags)
}

// toUID is SER's get_to_uid: the uid attribute of the to-track user class
// ($tu.uid); without it the username of the To URI (REGISTER) or of the
// Request-URI (other requests), lower-cased, which then becomes $tu.uid.
// ok is false when there is no usable username.
func toUID(c *sr.Ctx) (string, bool) {
	if v, ok := firstAttr(c, "uid", sr.AVPTrackTo, sr.AVPClassUser); ok {
		uid := v.Text()
		return uid, uid != "" && len(uid) <= maxUIDLen
	}
	var user string
	msg := c.Msg()
	if method(c) == sip.REGISTER {
		to, ok := sipmsg.Header(msg, "To").(*sip.ToHeader)
		if !ok || to == nil {
			return "", false
		}
		user = uriUser(&to.Address)
	} else {
		if c.Req == nil {
			return "", false
		}
		user = uriUser(&c.Req.Recipient)
	}
	if user == "" || len(user) > maxUIDLen {
		return "", false
	}
	uid := strings.ToLower(user)
	if c.AVPs == nil {
		c.AVPs = sr.NewAVPList()
	}
	c.AVPs.Add(sr.AVPName{S: "uid"}, sr.StrVal(uid), sr.AVPClassUser|sr.AVPTrackTo)
	return uid, true
}

// uriUser is the user part of a URI: of a tel: URI the number.
func uriUser(u *sip.Uri) string {
	if raw := u.Raw(); raw != "" {
		if !strings.EqualFold(u.Scheme, "tel") && !strings.EqualFold(u.Scheme, "tels") {
			return ""
		}
		num, _, _ := strings.Cut(raw, ";")
		return num
	}
	return u.User
}

// receivedURI is SER's create_rcv_uri: where a REGISTER behind a NAT came
// from, as a SIP URI naming the local socket it arrived on too:
// sip:src_ip:src_port[;transport=TCP];dstip=ip;dstport=port.
func receivedURI(c *sr.Ctx) string {
	src := c.Rcv.Src
	if !src.IsValid() {
		return ""
	}
	var b strings.Builder
	b.WriteString("sip:")
	b.WriteString(hostPort(src))
	switch strings.ToLower(c.Rcv.Proto) {
	case "", sr.ProtoUDP:
	default:
		b.WriteString(";transport=")
		b.WriteString(strings.ToUpper(c.Rcv.Proto))
	}
	dst := c.Rcv.Dst
	if c.Rcv.Socket != nil {
		dst = c.Rcv.Socket.Addr
	}
	if dst.IsValid() {
		b.WriteString(";dstip=")
		b.WriteString(addrText(dst.Addr()))
		b.WriteString(";dstport=")
		b.WriteString(strconv.Itoa(int(dst.Port())))
	}
	return b.String()
}

func addrText(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

func hostPort(ap netip.AddrPort) string {
	return addrText(ap.Addr()) + ":" + strconv.Itoa(int(ap.Port()))
}

// receivedSocket finds the local socket a received URI names with its
// dstip and dstport parameters (SER's find_send_socket), or nil.
func receivedSocket(c *sr.Ctx, received string) *sr.Socket {
	if c.Core == nil || received == "" {
		return nil
	}
	var u sip.Uri
	if sip.ParseUri(received, &u) != nil {
		return nil
	}
	ipText, ok := u.UriParams.Get("dstip")
	if !ok {
		return nil
	}
	ip, err := netip.ParseAddr(strings.Trim(ipText, "[]"))
	if err != nil {
		return nil
	}
	port := 0
	if p, ok := u.UriParams.Get("dstport"); ok {
		if port, err = strconv.Atoi(p); err != nil {
			return nil
		}
	}
	proto := sr.ProtoUDP
	if t, ok := u.UriParams.Get("transport"); ok {
		proto = strings.ToLower(t)
	}
	for _, s := range c.Core.Sockets() {
		if s.Proto == proto && s.Addr.Addr().Unmap() == ip.Unmap() && (port == 0 || int(s.Addr.Port()) == port) {
			return s
		}
	}
	return nil
}

// localSocket finds the listening socket written proto:host:port.
func localSocket(c *sr.Ctx, s string) *sr.Socket {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || c.Core == nil {
		return nil
	}
	for _, sock := range c.Core.Sockets() {
		if strings.ToLower(sock.String()) == s {
			return sock
		}
	}
	return nil
}
