package nathelper

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// nat_uac_test bits, as Kamailio 3.0 numbers them.
const (
	testContact1918 = 0x01 // the Contact URI host is an RFC 1918 address
	testRcvd        = 0x02 // the source IP differs from the top Via host
	testVia1918     = 0x04 // the top Via host is an RFC 1918 address
	testSDP1918     = 0x08 // a c= line of the SDP is an RFC 1918 address
	testRport       = 0x10 // the source port differs from the top Via port
	testAll         = testContact1918 | testRcvd | testVia1918 | testSDP1918 | testRport
)

// sipPort is the port a Via or URI without one means (Kamailio's SIP_PORT,
// whatever the transport).
const sipPort = 5060

func fixupUACTest(_ *nathelper, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := fx.Int(args[0])
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fx.Errorf(args[0], "%s: flags %d must not be negative", fx.Func, n)
	}
	if n&^testAll != 0 {
		fx.Env.Warn(args[0].Pos, "nat_uac_test: bits other than 1, 2, 4, 8 and 16 do not test anything")
	}
	return []any{n}, nil
}

// natUACTest implements nat_uac_test(flags): 1 when one of the selected
// tests finds the sender behind a NAT, -1 otherwise.
func (m *nathelper) natUACTest(c *sr.Ctx, p []any) int {
	tests := p[0].(int)
	msg := c.Msg()
	if msg == nil {
		return -1
	}
	via := topVia(msg)
	if tests&testRport != 0 && via != nil {
		port := via.Port
		if port <= 0 {
			port = sipPort
		}
		if int(c.Rcv.Src.Port()) != port {
			return 1
		}
	}
	if tests&testRcvd != 0 && via != nil && receivedTest(c, via) {
		return 1
	}
	if tests&testContact1918 != 0 {
		if ct := firstContact(msg); ct != nil && ct.Address.Raw() == "" && is1918(ct.Address.Host) {
			return 1
		}
	}
	if tests&testSDP1918 != 0 && sdp1918(c, msg) {
		return 1
	}
	if tests&testVia1918 != 0 && via != nil && is1918(via.Host) {
		return 1
	}
	return -1
}

// receivedTest: the sender put a received parameter in its Via, or the Via
// host is not the source IP (a host name never is: no DNS lookup is done).
func receivedTest(c *sr.Ctx, via *sip.ViaHeader) bool {
	if via.Params != nil && via.Params.Has("received") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(via.Host, "[]"))
	if err != nil {
		return true
	}
	return a.Unmap() != c.Rcv.Src.Addr().Unmap()
}

// sdp1918 reports whether a c= line of the body holds an RFC 1918
// address.
func sdp1918(c *sr.Ctx, msg sip.Message) bool {
	body, ok := sdpBody(msg)
	if !ok {
		return false
	}
	s, err := parseSDP(body)
	if err != nil {
		c.Log.Debug("nat_uac_test: unreadable SDP", "error", err)
		return false
	}
	for i := range s.lines {
		if s.typ(i) != 'c' {
			continue
		}
		if ca, ok := parseConn(s.lines[i].text); ok && ca.af == "IP4" && is1918(ca.addr) {
			return true
		}
	}
	return false
}

var nets1918 = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// is1918 reports whether host is an IPv4 address of RFC 1918.
func is1918(host string) bool {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return false
	}
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	for _, p := range nets1918 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func topVia(msg sip.Message) *sip.ViaHeader {
	v, _ := sipmsg.Header(msg, "Via").(*sip.ViaHeader)
	return v
}

// firstContact returns the first Contact of msg, or nil (also for "*").
func firstContact(msg sip.Message) *sip.ContactHeader {
	ct, _ := sipmsg.Header(msg, "Contact").(*sip.ContactHeader)
	if ct == nil || ct.Address.Wildcard {
		return nil
	}
	return ct
}

// srcHost is the source IP as a URI host (IPv6 without brackets; sipgo
// adds them when it writes the URI).
func srcHost(c *sr.Ctx) string {
	return c.Rcv.Src.Addr().Unmap().WithZone("").String()
}

// fixNatedContact implements fix_nated_contact(): the host and port of the
// first Contact URI become the source address of the message.
func (m *nathelper) fixNatedContact(c *sr.Ctx, _ []any) int {
	msg := c.Msg()
	if msg == nil || !c.Rcv.Src.IsValid() {
		return -1
	}
	ct := firstContact(msg)
	if ct == nil || ct.Address.Raw() != "" || ct.Address.Host == "" {
		c.Log.Debug("fix_nated_contact: no SIP Contact URI to fix")
		return -1
	}
	ct.Address.Host = srcHost(c)
	ct.Address.Port = int(c.Rcv.Src.Port())
	return 1
}

func fixupFixNatedRegister(m *nathelper, _ *module.Fixup, _ []module.Arg) ([]any, error) {
	if m.rcvAVP == nil {
		return nil, errNoReceivedAVP
	}
	return nil, nil
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errNoReceivedAVP = constErr("fix_nated_register: set the received_avp parameter of nathelper (the same AVP as registrar's received_avp)")

// rcvURI is the source of the message as a SIP URI, as Kamailio writes it
// for received_avp and add_rcv_param: sip:ip:port, with ;transport= for
// any transport but UDP.
func rcvURI(c *sr.Ctx) (string, bool) {
	if !c.Rcv.Src.IsValid() {
		return "", false
	}
	var b strings.Builder
	b.WriteString("sip:")
	a := c.Rcv.Src.Addr().Unmap().WithZone("")
	if a.Is6() {
		b.WriteString("[" + a.String() + "]")
	} else {
		b.WriteString(a.String())
	}
	b.WriteString(":" + strconv.Itoa(int(c.Rcv.Src.Port())))
	switch p := strings.ToLower(c.Rcv.Proto); p {
	case "", sr.ProtoUDP:
	case sr.ProtoTCP, sr.ProtoTLS, sr.ProtoSCTP, sr.ProtoWS, sr.ProtoWSS:
		b.WriteString(";transport=" + strings.ToUpper(p))
	default:
		return "", false
	}
	return b.String(), true
}

// fixNatedRegister implements fix_nated_register(): the source address,
// as a SIP URI, is added to received_avp for registrar's save().
func (m *nathelper) fixNatedRegister(c *sr.Ctx, _ []any) int {
	uri, ok := rcvURI(c)
	if !ok {
		return -1
	}
	if err := m.rcvAVP.Set(c, sr.StrVal(uri)); err != nil {
		c.Log.Error("fix_nated_register: cannot set received_avp", "error", err)
		return -1
	}
	return 1
}

func fixupAddRcvParam(_ *nathelper, fx *module.Fixup, args []module.Arg) ([]any, error) {
	if len(args) == 0 {
		return []any{false}, nil
	}
	n, err := fx.Int(args[0])
	if err != nil {
		return nil, err
	}
	return []any{n != 0}, nil
}

// addRcvParam implements add_rcv_param([flag]): every Contact gets a
// received parameter holding the source address as a SIP URI, as a header
// parameter (quoted) by default, as a URI parameter when flag is not 0.
func (m *nathelper) addRcvParam(c *sr.Ctx, p []any) int {
	inURI := p[0].(bool)
	uri, ok := rcvURI(c)
	if !ok || c.Req == nil {
		return -1
	}
	for _, h := range sipmsg.Headers(c.Req, "Contact") {
		ct, ok := h.(*sip.ContactHeader)
		if !ok {
			return -1
		}
		if ct.Address.Wildcard {
			continue
		}
		if inURI {
			ct.Address.UriParams.Add("received", uri)
		} else {
			if ct.Params == nil {
				ct.Params = sip.NewParams()
			}
			ct.Params.Add("received", `"`+uri+`"`)
		}
	}
	return 1
}

// protoDigit is the transport as add_contact_alias writes it (Kamailio's
// PROTO_* numbers).
var protoDigit = map[string]byte{
	sr.ProtoUDP: '1', sr.ProtoTCP: '2', sr.ProtoTLS: '3', sr.ProtoSCTP: '4', sr.ProtoWS: '5', sr.ProtoWSS: '6',
}

var digitProto = map[byte]string{
	'1': sr.ProtoUDP, '2': sr.ProtoTCP, '3': sr.ProtoTLS, '4': sr.ProtoSCTP, '5': sr.ProtoWS, '6': sr.ProtoWSS,
}

// addContactAlias implements add_contact_alias(): when the first Contact
// URI is not the source address, it gets an alias=ip~port~proto parameter
// with the source address, for handle_ruri_alias() to route back to. 1
// when added, 2 when not needed (no Contact, or already the source), -1 on
// error.
func (m *nathelper) addContactAlias(c *sr.Ctx, _ []any) int {
	msg := c.Msg()
	if msg == nil || !c.Rcv.Src.IsValid() {
		return -1
	}
	if !sipmsg.Has(msg, "Contact") {
		return 2
	}
	ct := firstContact(msg)
	if ct == nil || ct.Address.Raw() != "" || ct.Address.Host == "" {
		return -1
	}
	if a, err := netip.ParseAddr(strings.Trim(ct.Address.Host, "[]")); err == nil && a.Unmap() == c.Rcv.Src.Addr().Unmap() {
		port := ct.Address.Port
		if port == int(c.Rcv.Src.Port()) || (port == 0 && c.Rcv.Src.Port() == sipPort) {
			return 2
		}
	}
	d, ok := protoDigit[strings.ToLower(c.Rcv.Proto)]
	if !ok {
		if c.Rcv.Proto != "" {
			return -1
		}
		d = '1'
	}
	host := srcHost(c)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	ct.Address.UriParams.Add("alias", host+"~"+strconv.Itoa(int(c.Rcv.Src.Port()))+"~"+string(d))
	return 1
}

// handleRURIAlias implements handle_ruri_alias(): an alias parameter of the
// Request-URI (set by add_contact_alias) becomes the destination URI ($du)
// and is removed from the Request-URI. 1 when done, 2 when there is no
// alias, -1 when it is malformed.
func (m *nathelper) handleRURIAlias(c *sr.Ctx, _ []any) int {
	if c.Req == nil {
		return -1
	}
	ru := &c.Req.Recipient
	val, ok := ru.UriParams.Get("alias")
	if !ok {
		return 2
	}
	du, ok := aliasURI(val)
	if !ok {
		c.Log.Info("handle_ruri_alias: malformed alias parameter", "alias", val)
		return -1
	}
	c.DstURI = du
	ru.UriParams.Remove("alias")
	return 1
}

// aliasURI turns an alias value "ip~port~proto" into sip:ip:port with a
// transport parameter for anything but UDP.
func aliasURI(val string) (string, bool) {
	parts := strings.Split(val, "~")
	if len(parts) != 3 || len(parts[2]) != 1 {
		return "", false
	}
	a, err := netip.ParseAddr(strings.Trim(parts[0], "[]"))
	if err != nil {
		return "", false
	}
	port, err := strconv.Atoi(parts[1])
	if err != nil || port <= 0 || port > 65535 {
		return "", false
	}
	proto, ok := digitProto[parts[2][0]]
	if !ok {
		return "", false
	}
	host := a.Unmap().WithZone("").String()
	if a.Unmap().Is6() {
		host = "[" + host + "]"
	}
	uri := "sip:" + host + ":" + strconv.Itoa(port)
	if proto != sr.ProtoUDP {
		uri += ";transport=" + proto
	}
	return uri, true
}

// rrCount is $rr_count: the number of Record-Route URIs of the message.
func (m *nathelper) rrCount(c *sr.Ctx, _ any) sr.Value {
	msg := c.Msg()
	if msg == nil {
		return sr.NullVal
	}
	return sr.IntVal(len(sipmsg.Headers(msg, "Record-Route")))
}
