package script

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/cfg"
	"sip-router.org/core/sr"
)

// elem compiles an old SER-style expression element (method==INVITE,
// uri==myself, src_ip==10.0.0.0/8, msg:len>=4096 …).
func (c *compiler) elem(n *cfg.Elem) condFn {
	neg := n.Op == "!=" || n.Op == "!~" || n.Op == "ne"
	switch n.Name {
	case "method", "uri", "status", "from_uri", "to_uri":
		return c.strElem(n, neg)
	case "src_ip", "dst_ip", "snd_ip", "to_ip":
		if strings.HasPrefix(n.Name, "snd_") || strings.HasPrefix(n.Name, "to_") {
			if !c.onsendOnly(n) {
				return func(*exec) bool { return false }
			}
		}
		return c.ipElem(n, neg)
	case "src_port", "dst_port", "snd_port", "to_port", "msg:len":
		if (n.Name == "snd_port" || n.Name == "to_port") && !c.onsendOnly(n) {
			return func(*exec) bool { return false }
		}
		return c.intElem(n)
	case "proto", "snd_proto", "to_proto", "af", "snd_af", "to_af":
		if n.Name != "proto" && n.Name != "af" && !c.onsendOnly(n) {
			return func(*exec) bool { return false }
		}
		return c.protoElem(n, neg)
	}
	c.errorf(n.Pos, "unknown expression element %q", n.Name)
	return func(*exec) bool { return false }
}

func (c *compiler) onsendOnly(n *cfg.Elem) bool {
	if c.routeTypes()&^sr.RouteOnSend != 0 {
		c.errorf(n.Pos, "%s: only available in onsend_route", n.Name)
		return false
	}
	return true
}

// strElem handles method, uri, status, from_uri and to_uri.
func (c *compiler) strElem(n *cfg.Elem, neg bool) condFn {
	get := elemString(n.Name)
	if _, ok := n.Value.(*cfg.Myself); ok {
		if n.Name == "method" || n.Name == "status" {
			c.errorf(n.Pos, "%s cannot be compared with myself", n.Name)
			return func(*exec) bool { return false }
		}
		if n.Op != "==" && n.Op != "!=" {
			c.errorf(n.Pos, "myself can only be compared with == or !=")
			return func(*exec) bool { return false }
		}
		uri := elemURI(n.Name)
		return func(x *exec) bool {
			u := uri(x.c)
			if u == nil {
				return neg
			}
			return x.c.Core.Myself(u.Host, u.Port) != neg
		}
	}
	switch n.Op {
	case "=~", "!~":
		if lit, ok := n.Value.(*cfg.StrLit); ok {
			re, err := compileRegex(lit.Value)
			if err != nil {
				c.errorf(n.Value.Position(), "bad regular expression %q: %v", lit.Value, err)
				return func(*exec) bool { return false }
			}
			return func(x *exec) bool {
				s, ok := get(x.c)
				return (ok && re.MatchString(s)) != neg
			}
		}
		val := c.expr(n.Value)
		return func(x *exec) bool {
			s, ok := get(x.c)
			re, err := x.s.regexes.get(val(x).Text())
			if err != nil {
				return neg
			}
			return (ok && re.MatchString(s)) != neg
		}
	case "==", "!=", "eq", "ne":
		var val exprFn
		if id, ok := n.Value.(*cfg.Ident); ok {
			v := sr.StrVal(id.Name)
			val = func(*exec) sr.Value { return v }
		} else {
			val = c.expr(n.Value)
		}
		if n.Name == "status" {
			return func(x *exec) bool {
				s, ok := get(x.c)
				return (ok && s == strings.TrimSpace(val(x).Text())) != neg
			}
		}
		return func(x *exec) bool {
			s, ok := get(x.c)
			return (ok && strings.EqualFold(s, val(x).Text())) != neg
		}
	case "<", ">", "<=", ">=":
		if n.Name == "status" {
			return c.cmpInt(n, func(cx *sr.Ctx) (int, bool) {
				if cx.Resp == nil {
					return 0, false
				}
				return cx.Resp.StatusCode, true
			})
		}
	}
	c.errorf(n.Pos, "operator %s cannot be used with %s", n.Op, n.Name)
	return func(*exec) bool { return false }
}

// elemString returns the text an element compares.
func elemString(name string) func(c *sr.Ctx) (string, bool) {
	switch name {
	case "method":
		return func(c *sr.Ctx) (string, bool) {
			if c.Req != nil && c.Resp == nil {
				return string(c.Req.Method), true
			}
			if m := c.Msg(); m != nil && m.CSeq() != nil {
				return strings.TrimSpace(string(m.CSeq().MethodName)), true
			}
			return "", false
		}
	case "status":
		return func(c *sr.Ctx) (string, bool) {
			if c.Resp == nil {
				return "", false
			}
			return strconv.Itoa(c.Resp.StatusCode), true
		}
	}
	uri := elemURI(name)
	return func(c *sr.Ctx) (string, bool) {
		u := uri(c)
		if u == nil {
			return "", false
		}
		return u.String(), true
	}
}

// elemURI returns the URI an element refers to: the Request-URI, or the
// From or To URI.
func elemURI(name string) func(c *sr.Ctx) *sip.Uri {
	switch name {
	case "from_uri":
		return func(c *sr.Ctx) *sip.Uri {
			if m := c.Msg(); m != nil && m.From() != nil {
				return &m.From().Address
			}
			return nil
		}
	case "to_uri":
		return func(c *sr.Ctx) *sip.Uri {
			if m := c.Msg(); m != nil && m.To() != nil {
				return &m.To().Address
			}
			return nil
		}
	}
	return func(c *sr.Ctx) *sip.Uri {
		if c.Req == nil {
			return nil
		}
		return &c.Req.Recipient
	}
}

// ipElem handles src_ip, dst_ip, snd_ip and to_ip against an address or
// network, myself, a host name (resolved at load) or an expression.
func (c *compiler) ipElem(n *cfg.Elem, neg bool) condFn {
	get := func(cx *sr.Ctx) (netip.Addr, bool) {
		var ap netip.AddrPort
		switch n.Name {
		case "src_ip":
			ap = cx.Rcv.Src
		case "dst_ip":
			ap = cx.Rcv.Dst
		default:
			if cx.Snd == nil {
				return netip.Addr{}, false
			}
			ap = cx.Snd.Addr
		}
		return ap.Addr().Unmap(), ap.IsValid()
	}
	if n.Op != "==" && n.Op != "!=" && n.Op != "eq" && n.Op != "ne" {
		c.errorf(n.Pos, "operator %s cannot be used with %s", n.Op, n.Name)
		return func(*exec) bool { return false }
	}
	switch v := n.Value.(type) {
	case *cfg.Myself:
		return func(x *exec) bool {
			ip, ok := get(x.c)
			if !ok {
				return neg
			}
			for _, s := range x.c.Core.Sockets() {
				if s.Addr.Addr().Unmap() == ip {
					return !neg
				}
			}
			return neg
		}
	case *cfg.IP:
		prefix := netip.PrefixFrom(v.Addr.Unmap(), v.Addr.Unmap().BitLen())
		if v.Bits >= 0 {
			p, err := v.Addr.Unmap().Prefix(v.Bits)
			if err != nil {
				c.errorf(v.Pos, "bad network %s: %v", v.Text, err)
				return func(*exec) bool { return false }
			}
			prefix = p
		}
		return func(x *exec) bool {
			ip, ok := get(x.c)
			return (ok && prefix.Contains(ip)) != neg
		}
	case *cfg.StrLit:
		addrs, err := c.hostAddrs(v.Value)
		if err != nil {
			c.errorf(v.Pos, "%s: %v", n.Name, err)
			return func(*exec) bool { return false }
		}
		return func(x *exec) bool {
			ip, ok := get(x.c)
			if !ok {
				return neg
			}
			for _, a := range addrs {
				if a.Contains(ip) {
					return !neg
				}
			}
			return neg
		}
	}
	val := c.expr(n.Value)
	return func(x *exec) bool {
		ip, ok := get(x.c)
		if !ok {
			return neg
		}
		p, err := parsePrefix(val(x).Text())
		return (err == nil && p.Contains(ip)) != neg
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// hostAddrs turns a string (an address, a network, or a host name) into
// networks, resolving names once at load.
func (c *compiler) hostAddrs(s string) ([]netip.Prefix, error) {
	if p, err := parsePrefix(s); err == nil {
		return []netip.Prefix{p}, nil
	}
	resolve := c.opts.Resolve
	if resolve == nil {
		resolve = net.LookupHost
	}
	names, err := resolve(s)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, n := range names {
		if p, err := parsePrefix(n); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// intElem handles ports and msg:len.
func (c *compiler) intElem(n *cfg.Elem) condFn {
	return c.cmpInt(n, func(cx *sr.Ctx) (int, bool) {
		switch n.Name {
		case "src_port":
			return int(cx.Rcv.Src.Port()), cx.Rcv.Src.IsValid()
		case "dst_port":
			return int(cx.Rcv.Dst.Port()), cx.Rcv.Dst.IsValid()
		case "msg:len":
			return cx.Rcv.Len, true
		default:
			if cx.Snd == nil {
				return 0, false
			}
			return int(cx.Snd.Addr.Port()), true
		}
	})
}

func (c *compiler) cmpInt(n *cfg.Elem, get func(*sr.Ctx) (int, bool)) condFn {
	val := c.expr(n.Value)
	op := n.Op
	switch op {
	case "==", "!=", "<", ">", "<=", ">=", "eq", "ne":
	default:
		c.errorf(n.Pos, "operator %s cannot be used with %s", n.Op, n.Name)
		return func(*exec) bool { return false }
	}
	return func(x *exec) bool {
		a, ok := get(x.c)
		if !ok {
			return op == "!=" || op == "ne"
		}
		b, ok := val(x).AsInt()
		if !ok {
			return false
		}
		switch op {
		case "==", "eq":
			return a == b
		case "!=", "ne":
			return a != b
		case "<":
			return a < b
		case ">":
			return a > b
		case "<=":
			return a <= b
		}
		return a >= b
	}
}

// protoElem handles proto and af (and their onsend forms).
func (c *compiler) protoElem(n *cfg.Elem, neg bool) condFn {
	if n.Op != "==" && n.Op != "!=" && n.Op != "eq" && n.Op != "ne" {
		c.errorf(n.Pos, "operator %s cannot be used with %s", n.Op, n.Name)
		return func(*exec) bool { return false }
	}
	var want string
	switch v := n.Value.(type) {
	case *cfg.Ident:
		want = strings.ToLower(v.Name)
	case *cfg.StrLit:
		want = strings.ToLower(v.Value)
	case *cfg.IntLit:
		want = strconv.Itoa(v.Value)
	default:
		c.errorf(n.Pos, "%s must be compared with a name (udp, tcp, tls, inet, inet6 …)", n.Name)
		return func(*exec) bool { return false }
	}
	isAF := strings.HasSuffix(n.Name, "af")
	if isAF {
		switch want {
		case "inet", "4", "ipv4":
			want = "4"
		case "inet6", "6", "ipv6":
			want = "6"
		default:
			c.errorf(n.Value.Position(), "%s: unknown address family %q (inet or inet6)", n.Name, want)
		}
	}
	onsend := n.Name != "proto" && n.Name != "af"
	return func(x *exec) bool {
		var proto string
		var addr netip.Addr
		if onsend {
			if x.c.Snd == nil {
				return neg
			}
			proto, addr = x.c.Snd.Proto, x.c.Snd.Addr.Addr()
		} else {
			proto, addr = x.c.Rcv.Proto, x.c.Rcv.Src.Addr()
		}
		got := strings.ToLower(proto)
		if isAF {
			got = "4"
			if addr.Is6() && !addr.Is4In6() {
				got = "6"
			}
		}
		return (got == want) != neg
	}
}

// myselfCmp compiles <expr> == myself: the value is a host, host:port or a
// SIP URI.
func (c *compiler) myselfCmp(op string, val exprFn, pos sr.Pos) condFn {
	if op != "==" && op != "!=" {
		c.errorf(pos, "myself can only be compared with == or !=")
		return func(*exec) bool { return false }
	}
	neg := op == "!="
	return func(x *exec) bool {
		s := val(x).Text()
		host, port := s, 0
		if strings.HasPrefix(s, "sip:") || strings.HasPrefix(s, "sips:") {
			var u sip.Uri
			if err := sip.ParseUri(s, &u); err != nil {
				return neg
			}
			host, port = u.Host, u.Port
		} else if h, p, err := net.SplitHostPort(s); err == nil {
			host = h
			port, _ = strconv.Atoi(p)
		}
		return x.c.Core.Myself(host, port) != neg
	}
}
