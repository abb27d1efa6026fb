package pv

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// ro is a read-only class without an inner name.
func ro(name string, get getFn) *class {
	return &class{name: name, build: func(*build) (getFn, setFn, error) { return get, nil, nil }}
}

// rw is a writable class without an inner name.
func rw(name string, get getFn, set setFn) *class {
	return &class{name: name, build: func(*build) (getFn, setFn, error) { return get, set, nil }}
}

// roR is a read-only class whose getter needs the registry.
func roR(name string, mk func(r *Registry) getFn) *class {
	return &class{name: name, build: func(b *build) (getFn, setFn, error) { return mk(b.r), nil, nil }}
}

// rwR is a writable class whose accessors need the registry.
func rwR(name string, mk func(r *Registry) (getFn, setFn)) *class {
	return &class{name: name, build: func(b *build) (getFn, setFn, error) {
		g, s := mk(b.r)
		return g, s, nil
	}}
}

// coreClasses is the core set: Kamailio 3.0's pv module names.
func coreClasses() []*class {
	return []*class{
		// Request-URI.
		rw("ru", getRURI, setRURI), rw("ruri", getRURI, setRURI),
		rw("rU", getRUser, setRUser), rw("rd", getRHost, setRHost), rw("rp", getRPort, setRPort),
		ro("rP", getRProto), ro("rz", getRScheme),
		// Original Request-URI.
		ro("ou", getOURI), ro("oU", origPart(func(u *rawURI) sr.Value { return strOrNull(u.user) })),
		ro("od", origPart(func(u *rawURI) sr.Value { return strOrNull(u.host) })),
		ro("op", origPart(rawPort)), ro("oP", origPart(rawProto)),
		// Destination URI.
		rw("du", getDU, setDU), rw("duri", getDU, setDU),
		ro("dd", dstPart(func(u *rawURI) sr.Value { return strOrNull(u.host) })),
		ro("dp", dstPart(rawPort)), ro("dP", dstPart(rawProto)),
		// From and To.
		ro("fu", fromTo(true, addrURI)), ro("from", fromTo(true, addrURI)),
		ro("fU", fromTo(true, addrUser)), ro("fd", fromTo(true, addrHost)),
		ro("fn", fromTo(true, addrName)), ro("ft", fromTo(true, addrTag)),
		ro("tu", fromTo(false, addrURI)), ro("to", fromTo(false, addrURI)),
		ro("tU", fromTo(false, addrUser)), ro("td", fromTo(false, addrHost)),
		ro("tn", fromTo(false, addrName)), ro("tt", fromTo(false, addrTag)),
		// Other headers.
		ro("ci", getCallID), ro("cs", getCSeq), ro("cl", getCLen), ro("cT", getCType), ro("ct", getContact),
		ro("rm", getMethod), ro("rs", getStatus), ro("rr", getReason),
		ro("ua", hdrGetter("User-Agent")),
		ro("re", bodyURI("Remote-Party-ID", tbURI)), ro("rt", bodyURI("Refer-To", tbURI)),
		ro("di", bodyURI("Diversion", tbURI)), ro("ai", bodyURI("P-Asserted-Identity", tbURI)),
		ro("pu", bodyURI("P-Preferred-Identity", tbURI)), ro("pU", bodyURI("P-Preferred-Identity", tbUser)),
		ro("pd", bodyURI("P-Preferred-Identity", tbHost)), ro("pn", bodyURI("P-Preferred-Identity", tbName)),
		// Transport.
		ro("si", getSrcIP), ro("sp", getSrcPort), ro("Ri", getRcvIP), ro("Rp", getRcvPort),
		ro("pr", getProto), ro("proto", getProto),
		// Whole message.
		ro("mb", getMsgBuf), ro("ml", getMsgLen), ro("rb", getBody), ro("bs", getBodySize),
		// Credentials.
		ro("au", credGetter(credUser)), ro("ad", credGetter(credDomain)), ro("aU", credGetter(credWhole)),
		ro("ar", credGetter(credRealm)), ro("adu", credGetter(credURI)), ro("Au", getAccUser),
		// Branches and flags.
		rw("br", getBranch0, setBranch0), ro("bR", getBranches),
		rw("bf", flagsGetter(bflags, false), flagsSetter("$bf", bflags, false)),
		rw("bF", flagsGetter(bflags, true), flagsSetter("$bF", bflags, true)),
		rw("mf", flagsGetter(mflags, false), flagsSetter("$mf", mflags, false)),
		rw("mF", flagsGetter(mflags, true), flagsSetter("$mF", mflags, true)),
		rw("sf", flagsGetter(sflags, false), flagsSetter("$sf", sflags, false)),
		rw("sF", flagsGetter(sflags, true), flagsSetter("$sF", sflags, true)),
		rwR("fs", func(r *Registry) (getFn, setFn) { return getForceSocket, r.setForceSocket }),
		// Script state.
		ro("rc", getRC), ro("retcode", getRC), ro("?", getRC),
		ro("null", func(*sr.Ctx) sr.Value { return sr.NullVal }),
		// Time and process.
		roR("Ts", func(r *Registry) getFn { return func(*sr.Ctx) sr.Value { return sr.IntVal(int(r.now().Unix())) } }),
		roR("TS", func(r *Registry) getFn {
			v := sr.IntVal(int(r.cfg.Start.Unix()))
			return func(*sr.Ctx) sr.Value { return v }
		}),
		roR("Tf", func(r *Registry) getFn {
			return func(*sr.Ctx) sr.Value { return sr.StrVal(r.now().Format(time.ANSIC)) }
		}),
		roR("TF", func(r *Registry) getFn {
			return func(*sr.Ctx) sr.Value { return sr.StrVal(r.now().Format(time.ANSIC)) }
		}),
		roR("pp", func(r *Registry) getFn {
			v := sr.IntVal(r.cfg.Pid)
			return func(*sr.Ctx) sr.Value { return v }
		}),
		// Classes with an inner name.
		hdrClass(), varClass(), avpClass(), shvClass(), timeClass(), tvClass(), selClass(), branchClass(),
	}
}

// --- Request-URI -----------------------------------------------------

func getRURI(c *sr.Ctx) sr.Value {
	req := request(c)
	if req == nil {
		return sr.NullVal
	}
	return sr.StrVal(uriString(&req.Recipient))
}

func getRUser(c *sr.Ctx) sr.Value {
	if req := request(c); req != nil {
		return strOrNull(req.Recipient.User)
	}
	return sr.NullVal
}

func getRHost(c *sr.Ctx) sr.Value {
	if req := request(c); req != nil {
		return strOrNull(req.Recipient.Host)
	}
	return sr.NullVal
}

// getRPort returns the port, or the default of the scheme ("5060") as
// Kamailio does.
func getRPort(c *sr.Ctx) sr.Value {
	req := request(c)
	if req == nil || req.Recipient.Raw() != "" {
		return sr.NullVal
	}
	if req.Recipient.Port > 0 {
		return sr.StrVal(strconv.Itoa(req.Recipient.Port))
	}
	return sr.StrVal(defaultPort(req.Recipient.Scheme))
}

func getRProto(c *sr.Ctx) sr.Value {
	req := request(c)
	if req == nil || req.Recipient.Raw() != "" {
		return sr.NullVal
	}
	return sr.StrVal(transportOf(req.Recipient.UriParams))
}

func getRScheme(c *sr.Ctx) sr.Value {
	req := request(c)
	if req == nil {
		return sr.NullVal
	}
	if req.Recipient.Scheme == "" {
		return sr.StrVal("sip")
	}
	return sr.StrVal(req.Recipient.Scheme)
}

func setRURI(c *sr.Ctx, v sr.Value) error {
	req := request(c)
	if req == nil {
		return fmt.Errorf("$ru: there is no request to set the R-URI of")
	}
	if v.IsNull() {
		return fmt.Errorf("$ru: cannot assign $null to the R-URI")
	}
	u, err := parseURIValue("$ru", v.Text())
	if err != nil {
		return err
	}
	req.Recipient = u
	return nil
}

// parseURIValue parses a URI assigned to $ru, $du, $br … with sipgo.
func parseURIValue(who, s string) (sip.Uri, error) {
	var u sip.Uri
	s = strings.TrimSpace(s)
	if s == "" {
		return u, fmt.Errorf("%s: cannot assign an empty URI", who)
	}
	if err := sip.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("%s: invalid URI %q: %w", who, clip(s), err)
	}
	if u.Wildcard || (u.Raw() == "" && u.Host == "") {
		return u, fmt.Errorf("%s: invalid URI %q: no host", who, clip(s))
	}
	if strings.ContainsAny(s, " \t\r\n<>\"") {
		return u, fmt.Errorf("%s: invalid URI %q: it contains blanks, quotes or angle brackets", who, clip(s))
	}
	return u, nil
}

func setRUser(c *sr.Ctx, v sr.Value) error {
	req := request(c)
	if req == nil {
		return fmt.Errorf("$rU: there is no request to set the R-URI of")
	}
	if req.Recipient.Raw() != "" {
		return fmt.Errorf("$rU: the R-URI %q is not a SIP URI", clip(uriString(&req.Recipient)))
	}
	s := v.Text()
	if i := strings.IndexAny(s, " \t\r\n@<>\":?"); i >= 0 {
		return fmt.Errorf("$rU: invalid character %q in user %q", s[i], clip(s))
	}
	req.Recipient.User = s
	if s == "" {
		req.Recipient.Password = ""
	}
	return nil
}

func setRHost(c *sr.Ctx, v sr.Value) error {
	req := request(c)
	if req == nil {
		return fmt.Errorf("$rd: there is no request to set the R-URI of")
	}
	if req.Recipient.Raw() != "" {
		return fmt.Errorf("$rd: the R-URI %q is not a SIP URI", clip(uriString(&req.Recipient)))
	}
	h := strings.TrimSpace(v.Text())
	if h == "" {
		return fmt.Errorf("$rd: cannot set an empty host")
	}
	var u sip.Uri
	if err := sip.ParseUri("sip:"+h, &u); err != nil || u.Host != h || u.Port != 0 || u.UriParams.Length() > 0 || u.Headers.Length() > 0 {
		return fmt.Errorf("$rd: invalid host %q", clip(h))
	}
	req.Recipient.Host = h
	return nil
}

func setRPort(c *sr.Ctx, v sr.Value) error {
	req := request(c)
	if req == nil {
		return fmt.Errorf("$rp: there is no request to set the R-URI of")
	}
	if req.Recipient.Raw() != "" {
		return fmt.Errorf("$rp: the R-URI %q is not a SIP URI", clip(uriString(&req.Recipient)))
	}
	if v.IsNull() || v.Text() == "" {
		req.Recipient.Port = 0
		return nil
	}
	n, ok := v.AsInt()
	if !ok || n < 0 || n > 65535 {
		return fmt.Errorf("$rp: invalid port %q", clip(v.Text()))
	}
	req.Recipient.Port = n
	return nil
}

// --- original R-URI and destination URI ---------------------------------

// origURI is the R-URI as received; when the core did not record it, the
// current R-URI stands in.
func origURI(c *sr.Ctx) string {
	if c.OrigRURI != "" {
		return c.OrigRURI
	}
	if req := request(c); req != nil {
		return uriString(&req.Recipient)
	}
	return ""
}

func getOURI(c *sr.Ctx) sr.Value {
	if request(c) == nil {
		return sr.NullVal
	}
	return strOrNull(origURI(c))
}

func origPart(f func(u *rawURI) sr.Value) getFn {
	return func(c *sr.Ctx) sr.Value {
		if request(c) == nil {
			return sr.NullVal
		}
		u, ok := splitURI(origURI(c))
		if !ok {
			return sr.NullVal
		}
		return f(&u)
	}
}

func dstPart(f func(u *rawURI) sr.Value) getFn {
	return func(c *sr.Ctx) sr.Value {
		if c.DstURI == "" {
			return sr.NullVal
		}
		u, ok := splitURI(c.DstURI)
		if !ok {
			return sr.NullVal
		}
		return f(&u)
	}
}

func rawPort(u *rawURI) sr.Value {
	if u.port != "" {
		return sr.StrVal(u.port)
	}
	if u.host == "" {
		return sr.NullVal
	}
	return sr.StrVal(defaultPort(u.scheme))
}

func rawProto(u *rawURI) sr.Value {
	if t, ok := paramValue(u.params, "transport", ';'); ok && t != "" {
		return sr.StrVal(t)
	}
	return sr.StrVal("udp")
}

func getDU(c *sr.Ctx) sr.Value { return strOrNull(c.DstURI) }

func setDU(c *sr.Ctx, v sr.Value) error {
	s := strings.TrimSpace(v.Text())
	if s == "" {
		c.DstURI = ""
		return nil
	}
	u, err := parseURIValue("$du", s)
	if err != nil {
		return err
	}
	if sc := strings.ToLower(u.Scheme); sc != "sip" && sc != "sips" {
		return fmt.Errorf("$du: %q is not a SIP URI", clip(s))
	}
	c.DstURI = s
	return nil
}

// --- From, To and other headers ---------------------------------------------

type addrPart uint8

const (
	addrURI addrPart = iota
	addrUser
	addrHost
	addrName
	addrTag
)

func fromTo(from bool, part addrPart) getFn {
	return func(c *sr.Ctx) sr.Value {
		m := message(c)
		if m == nil {
			return sr.NullVal
		}
		var (
			name   string
			addr   *sip.Uri
			params sip.HeaderParams
		)
		if from {
			h := m.From()
			if h == nil {
				return sr.NullVal
			}
			name, addr, params = h.DisplayName, &h.Address, h.Params
		} else {
			h := m.To()
			if h == nil {
				return sr.NullVal
			}
			name, addr, params = h.DisplayName, &h.Address, h.Params
		}
		switch part {
		case addrName:
			return strOrNull(name)
		case addrTag:
			t, _ := headerParam(params, "tag")
			return strOrNull(t)
		}
		if addr.Host == "" && addr.Raw() == "" {
			return sr.NullVal
		}
		switch part {
		case addrUser:
			return strOrNull(addr.User)
		case addrHost:
			return strOrNull(addr.Host)
		}
		return sr.StrVal(uriString(addr))
	}
}

// headerParam finds a header parameter by name, case-insensitively.
func headerParam(p sip.HeaderParams, name string) (string, bool) {
	for _, kv := range p {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

func getCallID(c *sr.Ctx) sr.Value {
	if m := message(c); m != nil {
		if h := m.CallID(); h != nil {
			return strOrNull(string(*h))
		}
	}
	return sr.NullVal
}

func getCSeq(c *sr.Ctx) sr.Value {
	if m := message(c); m != nil {
		if h := m.CSeq(); h != nil {
			return sr.StrVal(strconv.FormatUint(uint64(h.SeqNo), 10))
		}
	}
	return sr.NullVal
}

func getCLen(c *sr.Ctx) sr.Value {
	if m := message(c); m != nil {
		if h := m.ContentLength(); h != nil {
			return sr.IntVal(int(*h))
		}
	}
	return sr.NullVal
}

func getCType(c *sr.Ctx) sr.Value {
	v, ok := headerValue(c, "Content-Type")
	if !ok {
		return sr.NullVal
	}
	return strOrNull(v)
}

func getContact(c *sr.Ctx) sr.Value {
	v, ok := headerValue(c, "Contact")
	if !ok {
		return sr.NullVal
	}
	return strOrNull(v)
}

func getMethod(c *sr.Ctx) sr.Value {
	if c.Resp != nil {
		if h := c.Resp.CSeq(); h != nil {
			return strOrNull(strings.TrimSpace(string(h.MethodName)))
		}
		return sr.NullVal
	}
	if c.Req != nil {
		return strOrNull(string(c.Req.Method))
	}
	return sr.NullVal
}

func getStatus(c *sr.Ctx) sr.Value {
	if c.Resp == nil {
		return sr.NullVal
	}
	return sr.IntVal(c.Resp.StatusCode)
}

func getReason(c *sr.Ctx) sr.Value {
	if c.Resp == nil {
		return sr.NullVal
	}
	return sr.StrVal(c.Resp.Reason)
}

func hdrGetter(name string) getFn {
	return func(c *sr.Ctx) sr.Value {
		v, ok := headerValue(c, name)
		if !ok {
			return sr.NullVal
		}
		return sr.StrVal(v)
	}
}

type tbPart uint8

const (
	tbURI tbPart = iota
	tbUser
	tbHost
	tbName
)

// bodyURI reads a part of the first address in a name-addr header
// (Remote-Party-ID, Refer-To, Diversion, P-Asserted-Identity …).
func bodyURI(hdr string, part tbPart) getFn {
	return func(c *sr.Ctx) sr.Value {
		v, ok := headerValue(c, hdr)
		if !ok {
			return sr.NullVal
		}
		t, ok := parseToBody(firstAddress(v))
		if !ok {
			return sr.NullVal
		}
		switch part {
		case tbName:
			return strOrNull(t.display)
		case tbUser, tbHost:
			u, _ := splitURI(t.uri)
			if part == tbUser {
				return strOrNull(u.user)
			}
			return strOrNull(u.host)
		}
		return sr.StrVal(t.uri)
	}
}

// firstAddress cuts a header value at the first comma outside quotes and
// angle brackets.
func firstAddress(s string) string {
	inq, inb := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inq && c == '\\':
			i++
		case c == '"':
			inq = !inq
		case inq:
		case c == '<':
			inb = true
		case c == '>':
			inb = false
		case c == ',' && !inb:
			return s[:i]
		}
	}
	return s
}

// --- transport --------------------------------------------------------------

func getSrcIP(c *sr.Ctx) sr.Value {
	if !c.Rcv.Src.IsValid() {
		return sr.NullVal
	}
	return sr.StrVal(c.Rcv.Src.Addr().Unmap().String())
}

func getSrcPort(c *sr.Ctx) sr.Value {
	if !c.Rcv.Src.IsValid() {
		return sr.NullVal
	}
	return sr.IntVal(int(c.Rcv.Src.Port()))
}

func getRcvIP(c *sr.Ctx) sr.Value {
	switch {
	case c.Rcv.Dst.IsValid():
		return sr.StrVal(c.Rcv.Dst.Addr().Unmap().String())
	case c.Rcv.Socket != nil && c.Rcv.Socket.Addr.IsValid():
		return sr.StrVal(c.Rcv.Socket.Addr.Addr().Unmap().String())
	}
	return sr.NullVal
}

func getRcvPort(c *sr.Ctx) sr.Value {
	switch {
	case c.Rcv.Dst.IsValid():
		return sr.IntVal(int(c.Rcv.Dst.Port()))
	case c.Rcv.Socket != nil && c.Rcv.Socket.Addr.IsValid():
		return sr.IntVal(int(c.Rcv.Socket.Addr.Port()))
	}
	return sr.NullVal
}

func getProto(c *sr.Ctx) sr.Value {
	p := c.Rcv.Proto
	if p == "" && c.Rcv.Socket != nil {
		p = c.Rcv.Socket.Proto
	}
	if p == "" {
		return sr.NullVal
	}
	return sr.StrVal(lowerASCII(p))
}

// --- whole message ----------------------------------------------------------

func getMsgBuf(c *sr.Ctx) sr.Value {
	if m := message(c); m != nil {
		return sr.StrVal(m.String())
	}
	return sr.NullVal
}

func getMsgLen(c *sr.Ctx) sr.Value {
	if m := message(c); m != nil {
		return sr.IntVal(len(m.String()))
	}
	return sr.NullVal
}

func getBody(c *sr.Ctx) sr.Value {
	if m := message(c); m != nil {
		return sr.StrVal(string(m.Body()))
	}
	return sr.NullVal
}

func getBodySize(c *sr.Ctx) sr.Value {
	if m := message(c); m != nil {
		return sr.IntVal(len(m.Body()))
	}
	return sr.NullVal
}

// --- branches and flags -------------------------------------------------

func getBranch0(c *sr.Ctx) sr.Value {
	if request(c) == nil || len(c.Branches) == 0 {
		return sr.NullVal
	}
	return strOrNull(c.Branches[0].URI)
}

// setBranch0 rewrites the URI of the first branch, adding it when there
// is none (Kamailio's $br).
func setBranch0(c *sr.Ctx, v sr.Value) error {
	if v.IsNull() {
		return fmt.Errorf("$br: cannot assign $null to a branch")
	}
	s := strings.TrimSpace(v.Text())
	if _, err := parseURIValue("$br", s); err != nil {
		return err
	}
	if len(c.Branches) == 0 {
		c.Branches = append(c.Branches, sr.Branch{URI: s, Q: sr.QUnset})
		return nil
	}
	c.Branches[0].URI = s
	return nil
}

// getBranches lists the branches as Kamailio's $bR does:
// "<uri>;q=0.5, uri2".
func getBranches(c *sr.Ctx) sr.Value {
	if request(c) == nil || len(c.Branches) == 0 {
		return sr.NullVal
	}
	var b []byte
	for i := range c.Branches {
		br := &c.Branches[i]
		if i > 0 {
			b = append(b, ", "...)
		}
		if br.Q == sr.QUnset {
			b = append(b, br.URI...)
			continue
		}
		b = append(b, '<')
		b = append(b, br.URI...)
		b = append(b, ">;q="...)
		b = append(b, qString(br.Q)...)
	}
	return sr.StrVal(string(b))
}

// qString formats a q value in thousandths as Kamailio's q2str: 1000 is
// "1", 500 "0.5", 50 "0.05".
func qString(q int) string {
	switch {
	case q <= 0:
		return "0"
	case q >= 1000:
		return "1"
	}
	s := strconv.Itoa(q + 1000)[1:] // three digits
	return "0." + strings.TrimRight(s, "0")
}

type flagsOf func(c *sr.Ctx) *uint32

func bflags(c *sr.Ctx) *uint32 { return &c.BranchFlags }
func mflags(c *sr.Ctx) *uint32 { return &c.Flags }
func sflags(c *sr.Ctx) *uint32 { return &c.ScriptFlags }

func flagsGetter(f flagsOf, hex bool) getFn {
	return func(c *sr.Ctx) sr.Value {
		v := *f(c)
		if hex {
			return sr.StrVal(hex8(v))
		}
		return sr.IntVal(int(v))
	}
}

// hex8 formats flags as Kamailio's int_to_8hex: eight lower-case digits.
func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// flagsSetter assigns flags from an integer. The hex forms ($bF, $mF,
// $sF) read a string as hexadecimal ("2a", "0x2a", "0000002a"), so that
// $mF = $mF changes nothing; the decimal forms read it as decimal.
func flagsSetter(who string, f flagsOf, hex bool) setFn {
	return func(c *sr.Ctx, v sr.Value) error {
		var (
			n  int
			ok bool
		)
		if hex && v.K == sr.Str {
			s := strings.TrimSpace(v.S)
			if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
				s = s[2:]
			}
			u, err := strconv.ParseUint(s, 16, 32)
			n, ok = int(u), err == nil
		} else {
			n, ok = v.AsInt()
		}
		if !ok || n < -1<<31 || n > 1<<32-1 {
			return fmt.Errorf("%s: %q is not a number", who, clip(v.String()))
		}
		*f(c) = uint32(n)
		return nil
	}
}

// --- forced socket --------------------------------------------------------

func getForceSocket(c *sr.Ctx) sr.Value {
	if c.ForceSocket == nil {
		return sr.NullVal
	}
	return sr.StrVal(c.ForceSocket.String())
}

func (r *Registry) setForceSocket(c *sr.Ctx, v sr.Value) error {
	s := strings.TrimSpace(v.Text())
	if s == "" {
		c.ForceSocket = nil
		return nil
	}
	sock, err := r.findSocket("$fs", s)
	if err != nil {
		return err
	}
	c.ForceSocket = sock
	return nil
}

func (r *Registry) findSocket(who, s string) (*sr.Socket, error) {
	proto, host, port, err := splitSocket(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", who, err)
	}
	if r.cfg.Socket == nil {
		return nil, fmt.Errorf("%s: no socket lookup is configured, so %q cannot be resolved", who, clip(s))
	}
	sock, ok := r.cfg.Socket(proto, host, port)
	if !ok || sock == nil {
		return nil, fmt.Errorf("%s: no listening socket matches %q", who, clip(s))
	}
	return sock, nil
}

// splitSocket splits "[proto:]host[:port]" (IPv6 in brackets).
func splitSocket(s string) (proto, host string, port int, err error) {
	rest := s
	if i := strings.IndexByte(rest, ':'); i > 0 {
		switch p := strings.ToLower(rest[:i]); p {
		case sr.ProtoUDP, sr.ProtoTCP, sr.ProtoTLS, sr.ProtoSCTP, sr.ProtoWS, sr.ProtoWSS:
			proto, rest = p, rest[i+1:]
		}
	}
	var portStr string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", "", 0, fmt.Errorf("invalid socket %q: missing ']'", clip(s))
		}
		host, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", 0, fmt.Errorf("invalid socket %q", clip(s))
			}
			portStr = rest[1:]
		}
	} else {
		var hasPort bool
		host, portStr, hasPort = strings.Cut(rest, ":")
		if hasPort && portStr == "" {
			return "", "", 0, fmt.Errorf("invalid socket %q: empty port", clip(s))
		}
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n") {
		return "", "", 0, fmt.Errorf("invalid socket %q: no host", clip(s))
	}
	if portStr != "" {
		n, e := strconv.Atoi(portStr)
		if e != nil || n <= 0 || n > 65535 {
			return "", "", 0, fmt.Errorf("invalid socket %q: bad port %q", clip(s), portStr)
		}
		port = n
	}
	return proto, host, port, nil
}

// --- script state -------------------------------------------------------

func getRC(c *sr.Ctx) sr.Value { return sr.IntVal(c.RC) }

// --- classes with an inner name -------------------------------------------

// hdrClass is $hdr(name): the value of the first header of that name;
// [n] is the n-th (from 0), [-n] counts from the last, [*] joins all
// with ",". The name may be a pseudo-variable: $hdr($var(h)).
func hdrClass() *class {
	return &class{name: "hdr", inner: innerNeed, index: true, build: func(b *build) (getFn, setFn, error) {
		name := strings.TrimSpace(b.inner)
		var dyn *Spec
		if strings.HasPrefix(name, "$") {
			sp, err := b.r.Parse(name, b.mode)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: name: %w", b.text, err)
			}
			dyn = sp
		} else if i := strings.IndexAny(name, " \t:\r\n"); i >= 0 {
			return nil, nil, synErrf("%s: invalid character %q in header name %q", b.text, name[i], name)
		} else {
			name = sipmsg.Canonical(name)
		}
		ix := b.idx
		get := func(c *sr.Ctx) sr.Value {
			m := message(c)
			if m == nil {
				return sr.NullVal
			}
			hn := name
			if dyn != nil {
				v := dyn.Get(c)
				if v.K != sr.Str || v.S == "" {
					return sr.NullVal
				}
				hn = v.S
			}
			n, all, ok := ix.at(c)
			switch {
			case !ok:
				return sr.NullVal
			case !all && n == 0:
				h := sipmsg.Header(m, hn)
				if h == nil {
					return sr.NullVal
				}
				return sr.StrVal(hdrValue(h))
			}
			hs := sipmsg.Headers(m, hn)
			if len(hs) == 0 {
				return sr.NullVal
			}
			if all {
				var out []byte
				for i, h := range hs {
					if i > 0 {
						out = append(out, ',')
					}
					out = append(out, hdrValue(h)...)
				}
				return sr.StrVal(string(out))
			}
			if n < 0 {
				n += len(hs)
			}
			if n < 0 || n >= len(hs) {
				return sr.NullVal
			}
			return sr.StrVal(hdrValue(hs[n]))
		}
		return get, nil, nil
	}}
}

// varClass is $var(name): a script variable of the worker. One never
// assigned reads as its varset value, or as the integer 0 (Kamailio
// creates it with 0); assigning $null stores 0.
func varClass() *class {
	return &class{name: "var", inner: innerNeed, build: func(b *build) (getFn, setFn, error) {
		name := strings.TrimSpace(b.inner)
		if strings.ContainsAny(name, " \t$()") {
			return nil, nil, synErrf("%s: invalid variable name %q", b.text, name)
		}
		init, ok := b.r.varInit[name]
		if !ok {
			init = sr.IntVal(0)
		}
		get := func(c *sr.Ctx) sr.Value {
			if v, ok := c.Vars[name]; ok {
				return v
			}
			return init
		}
		set := func(c *sr.Ctx, v sr.Value) error {
			if c.Vars == nil {
				c.Vars = sr.Vars{}
			}
			if v.IsNull() {
				v = sr.IntVal(0)
			}
			c.Vars[name] = v
			return nil
		}
		return get, set, nil
	}}
}

// shvClass is $shv(name): a variable shared by all workers.
func shvClass() *class {
	return &class{name: "shv", inner: innerNeed, build: func(b *build) (getFn, setFn, error) {
		name := strings.TrimSpace(b.inner)
		if strings.ContainsAny(name, " \t$()") {
			return nil, nil, synErrf("%s: invalid variable name %q", b.text, name)
		}
		cell := b.r.shv.cell(name)
		get := func(*sr.Ctx) sr.Value { return cell.get() }
		set := func(_ *sr.Ctx, v sr.Value) error { cell.set(v); return nil }
		return get, set, nil
	}}
}

// timeClass is $time(name): a part of the current local time as
// Kamailio gives it (mon 1-12, wday 1-7 from Sunday, yday 1-366).
func timeClass() *class {
	return &class{name: "time", inner: innerNeed, build: func(b *build) (getFn, setFn, error) {
		var part func(t time.Time) int
		switch strings.TrimSpace(b.inner) {
		case "sec":
			part = func(t time.Time) int { return t.Second() }
		case "min":
			part = func(t time.Time) int { return t.Minute() }
		case "hour":
			part = func(t time.Time) int { return t.Hour() }
		case "mday":
			part = func(t time.Time) int { return t.Day() }
		case "mon":
			part = func(t time.Time) int { return int(t.Month()) }
		case "year":
			part = func(t time.Time) int { return t.Year() }
		case "wday":
			part = func(t time.Time) int { return int(t.Weekday()) + 1 }
		case "yday":
			part = func(t time.Time) int { return t.YearDay() }
		case "isdst":
			part = func(t time.Time) int {
				if t.IsDST() {
					return 1
				}
				return 0
			}
		default:
			return nil, nil, synErrf("%s: unknown time part %q (use sec, min, hour, mday, mon, year, wday, yday or isdst)", b.text, b.inner)
		}
		r := b.r
		return func(*sr.Ctx) sr.Value { return sr.IntVal(part(r.now())) }, nil, nil
	}}
}

// tvKey is the Ctx value under which $TV(s) and $TV(u) keep the time they
// read first for a message.
type tvKey struct{}

// tvClass is $TV(name), the time of day to the microsecond, as Kamailio
// names its parts: s and u are the seconds and microseconds of one
// reading taken at the first use for a message (so they belong
// together), sn and un read the clock at each use, and Sn is a fresh
// reading as "seconds.microseconds".
func tvClass() *class {
	return &class{name: "TV", inner: innerNeed, build: func(b *build) (getFn, setFn, error) {
		r := b.r
		once := func(c *sr.Ctx) time.Time {
			if t, ok := c.Value(tvKey{}).(time.Time); ok {
				return t
			}
			t := r.now()
			c.SetValue(tvKey{}, t)
			return t
		}
		usec := func(t time.Time) int { return t.Nanosecond() / 1000 }
		switch strings.TrimSpace(b.inner) {
		case "s":
			return func(c *sr.Ctx) sr.Value { return sr.IntVal(int(once(c).Unix())) }, nil, nil
		case "u":
			return func(c *sr.Ctx) sr.Value { return sr.IntVal(usec(once(c))) }, nil, nil
		case "sn":
			return func(*sr.Ctx) sr.Value { return sr.IntVal(int(r.now().Unix())) }, nil, nil
		case "un":
			return func(*sr.Ctx) sr.Value { return sr.IntVal(usec(r.now())) }, nil, nil
		case "Sn":
			return func(*sr.Ctx) sr.Value {
				t := r.now()
				return sr.StrVal(fmt.Sprintf("%d.%06d", t.Unix(), usec(t)))
			}, nil, nil
		}
		return nil, nil, synErrf("%s: unknown time value %q (use s, u, sn, un or Sn)", b.text, b.inner)
	}}
}

// selClass is $sel(select): a SER select as a pseudo-variable.
func selClass() *class {
	return &class{name: "sel", inner: innerNeed, build: func(b *build) (getFn, setFn, error) {
		in := strings.TrimSpace(b.inner)
		if !strings.HasPrefix(in, "@") {
			in = "@" + in
		}
		s, err := b.r.ParseSelect(in)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", b.text, err)
		}
		return s.Get, nil, nil
	}}
}

// branchClass is $branch(field): a field of an extra branch (added by
// append_branch or lookup). Branch 0 is the first extra branch, as
// Kamailio's $branch(uri) reads get_branch(0); the R-URI itself is $ru.
// $(branch(uri)[1]) reads the second. Fields: uri, dst_uri, path, q (in
// thousandths, null when unset), flags, socket. Assigning changes an
// existing branch.
func branchClass() *class {
	return &class{name: "branch", inner: innerNeed, index: true, build: func(b *build) (getFn, setFn, error) {
		field := strings.TrimSpace(b.inner)
		switch field {
		case "uri", "dst_uri", "path", "q", "flags", "socket":
		default:
			return nil, nil, synErrf("%s: unknown branch field %q (use uri, dst_uri, path, q, flags or socket)", b.text, field)
		}
		ix, r, text := b.idx, b.r, b.text
		one := func(br *sr.Branch) sr.Value {
			switch field {
			case "uri":
				return strOrNull(br.URI)
			case "dst_uri":
				return strOrNull(br.DstURI)
			case "path":
				return strOrNull(br.Path)
			case "q":
				if br.Q == sr.QUnset {
					return sr.NullVal
				}
				return sr.IntVal(br.Q)
			case "flags":
				return sr.IntVal(int(br.Flags))
			}
			if br.Socket == nil {
				return sr.NullVal
			}
			return sr.StrVal(br.Socket.String())
		}
		get := func(c *sr.Ctx) sr.Value {
			n, all, ok := ix.at(c)
			if !ok || request(c) == nil {
				return sr.NullVal
			}
			if all {
				var out []byte
				k := 0
				for i := range c.Branches {
					v := one(&c.Branches[i])
					if v.IsNull() {
						continue
					}
					if k > 0 {
						out = append(out, ", "...)
					}
					k++
					out = appendValue(out, v)
				}
				if k == 0 {
					return sr.NullVal
				}
				return sr.StrVal(string(out))
			}
			if n < 0 {
				n += len(c.Branches)
			}
			if n < 0 || n >= len(c.Branches) {
				return sr.NullVal
			}
			return one(&c.Branches[n])
		}
		set := func(c *sr.Ctx, v sr.Value) error {
			n, all, ok := ix.at(c)
			if !ok || all {
				return fmt.Errorf("%s: assign to one branch, not [*]", text)
			}
			if n < 0 {
				n += len(c.Branches)
			}
			if n < 0 || n >= len(c.Branches) {
				return fmt.Errorf("%s: there is no branch %d", text, n)
			}
			br := &c.Branches[n]
			s := strings.TrimSpace(v.Text())
			switch field {
			case "uri":
				if _, err := parseURIValue(text, s); err != nil {
					return err
				}
				br.URI = s
			case "dst_uri":
				if s != "" {
					if _, err := parseURIValue(text, s); err != nil {
						return err
					}
				}
				br.DstURI = s
			case "path":
				br.Path = s
			case "q":
				if v.IsNull() || s == "" {
					br.Q = sr.QUnset
					return nil
				}
				q, ok := v.AsInt()
				if !ok || q < 0 || q > 1000 {
					return fmt.Errorf("%s: q must be 0..1000 (thousandths), not %q", text, clip(s))
				}
				br.Q = q
			case "flags":
				f, ok := v.AsInt()
				if !ok {
					return fmt.Errorf("%s: %q is not a number", text, clip(s))
				}
				br.Flags = uint32(f)
			case "socket":
				if s == "" {
					br.Socket = nil
					return nil
				}
				sock, err := r.findSocket(text, s)
				if err != nil {
					return err
				}
				br.Socket = sock
			}
			return nil
		}
		return get, set, nil
	}}
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
