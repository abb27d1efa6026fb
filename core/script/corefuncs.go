package script

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/cfg"
	"sip-router.org/core/module"
	"sip-router.org/core/sr"
	"sip-router.org/core/srlog"
)

// coreFunc is a function of the core language (forward, setflag,
// rewritehost …), resolved before module functions.
type coreFunc struct {
	args    []int
	routes  sr.RouteType
	compile func(c *compiler, n *cfg.Call) func(x *exec) int
}

const (
	rtReqFail       = sr.RouteRequest | sr.RouteFailure
	rtReqFailBranch = sr.RouteRequest | sr.RouteFailure | sr.RouteBranch
)

// Core functions, written only with names; the table is filled in init to
// let the compile functions refer to it.
var coreFuncs map[string]*coreFunc

func init() {
	coreFuncs = map[string]*coreFunc{
		"forward":      {[]int{0, 1, 2}, rtReqFailBranch, compileForward("")},
		"forward_udp":  {[]int{0, 1, 2}, rtReqFailBranch, compileForward(sr.ProtoUDP)},
		"forward_tcp":  {[]int{0, 1, 2}, rtReqFailBranch, compileForward(sr.ProtoTCP)},
		"forward_tls":  {[]int{0, 1, 2}, rtReqFailBranch, compileForward(sr.ProtoTLS)},
		"forward_sctp": {[]int{0, 1, 2}, rtReqFailBranch, compileForward(sr.ProtoSCTP)},
		"send":         {[]int{1, 2}, rtReqFailBranch, compileSend(sr.ProtoUDP)},
		"send_tcp":     {[]int{1, 2}, rtReqFailBranch, compileSend(sr.ProtoTCP)},
		"log":          {[]int{1, 2}, sr.RouteAny, compileLog},
		"setflag":      {[]int{1}, sr.RouteAny, compileFlag("set")},
		"resetflag":    {[]int{1}, sr.RouteAny, compileFlag("reset")},
		"isflagset":    {[]int{1}, sr.RouteAny, compileFlag("is")},
		"setavpflag":   {[]int{2}, sr.RouteAny, compileAVPFlag("set")},
		"resetavpflag": {[]int{2}, sr.RouteAny, compileAVPFlag("reset")},
		"isavpflagset": {[]int{2}, sr.RouteAny, compileAVPFlag("is")},
		"force_rport":  {[]int{0}, sr.RouteRequest | sr.RouteBranch, compileForceRport},
		"add_rport":    {[]int{0}, sr.RouteRequest | sr.RouteBranch, compileForceRport},
		"add_local_rport": {[]int{0}, sr.RouteRequest | sr.RouteBranch | sr.RouteFailure,
			compileLocalRport},
		"append_branch":     {[]int{0, 1, 2}, rtReqFail, compileAppendBranch},
		"revert_uri":        {[]int{0}, rtReqFailBranch, compileRevertURI},
		"strip":             {[]int{1}, rtReqFailBranch, compileStrip(false)},
		"strip_tail":        {[]int{1}, rtReqFailBranch, compileStrip(true)},
		"prefix":            {[]int{1}, rtReqFailBranch, compilePrefix},
		"force_send_socket": {[]int{1}, rtReqFailBranch, compileForceSocket},
	}
	for _, names := range [][]string{
		{"rewritehost", "sethost", "seth"},
		{"rewritehostport", "sethostport", "sethp"},
		{"rewritehostporttrans", "sethostporttrans", "sethpt"},
		{"rewriteuser", "setuser", "setu"},
		{"rewriteuserpass", "setuserpass", "setup"},
		{"rewriteport", "setport", "setp"},
		{"rewriteuri", "seturi"},
	} {
		f := &coreFunc{[]int{1}, rtReqFailBranch, compileRewrite(names[0])}
		for _, n := range names {
			coreFuncs[n] = f
		}
	}
	// Transport tweaks accepted for compatibility; sipgo's transports decide
	// connection handling, so they have no effect here.
	for _, n := range []string{"set_forward_no_connect", "set_reply_no_connect", "set_forward_close",
		"set_reply_close", "force_tcp_alias", "udp_mtu_try_proto", "set_advertised_address", "set_advertised_port"} {
		coreFuncs[n] = &coreFunc{[]int{0, 1}, sr.RouteAny, compileNoop}
	}
}

// CoreFuncNames lists the core functions (for documentation and tests).
func CoreFuncNames() []string {
	names := make([]string, 0, len(coreFuncs))
	for n := range coreFuncs {
		names = append(names, n)
	}
	return names
}

func (c *compiler) coreCall(cf *coreFunc, n *cfg.Call) func(x *exec) int {
	ok := false
	for _, a := range cf.args {
		if a == len(n.Args) {
			ok = true
		}
	}
	if !ok {
		c.errorf(n.Pos, "%s: wrong number of arguments: got %d, want %s", n.Name, len(n.Args), (&module.FuncDef{Args: cf.args}).ArgsString())
		return nil
	}
	ok, guard := c.checkRoutes(n.Name, cf.routes, n.Pos)
	if !ok {
		return nil
	}
	fn := cf.compile(c, n)
	if fn == nil {
		return nil
	}
	mask := cf.routes
	return func(x *exec) int {
		if guard && !mask.Allows(x.c.RouteType) {
			x.c.RC = -1
			return -1
		}
		ret := fn(x)
		x.c.RC = ret
		return ret
	}
}

func compileNoop(*compiler, *cfg.Call) func(x *exec) int {
	return func(*exec) int { return 1 }
}

// compileForward: forward(), forward(host), forward(host, port),
// forward("proto:host:port"), forward(uri:host, uri:port).
func compileForward(proto string) func(c *compiler, n *cfg.Call) func(x *exec) int {
	return func(c *compiler, n *cfg.Call) func(x *exec) int {
		fixedURI := ""
		switch len(n.Args) {
		case 1:
			a := n.Args[0]
			switch a.Kind {
			case cfg.ValURIHost:
			case cfg.ValString, cfg.ValIdent, cfg.ValAddr:
				p, host, port, err := splitProtoHostPort(a.Text)
				if err != nil {
					c.errorf(a.Pos, "%s: %v", n.Name, err)
					return nil
				}
				if proto != "" && p != "" && p != proto {
					c.errorf(a.Pos, "%s: the address names transport %s", n.Name, p)
					return nil
				}
				if p == "" {
					p = proto
				}
				fixedURI = destURI(p, host, port)
			default:
				c.errorf(a.Pos, "%s: the destination must be a constant address", n.Name)
				return nil
			}
		case 2:
			h, p := n.Args[0], n.Args[1]
			if h.Kind == cfg.ValURIHost && p.Kind == cfg.ValURIPort {
				break
			}
			if h.Kind == cfg.ValURIHost || p.Kind == cfg.ValURIPort {
				c.errorf(n.Pos, "%s: write forward(uri:host, uri:port) or forward(host, port)", n.Name)
				return nil
			}
			port, err := intArg(p)
			if err != nil || port < 0 || port > 65535 {
				c.errorf(p.Pos, "%s: bad port %s", n.Name, p.Text)
				return nil
			}
			fixedURI = destURI(proto, strings.Trim(h.Text, "[]"), port)
		}
		pos, name := n.Pos, n.Name
		return func(x *exec) int {
			if x.c.Req == nil {
				return -1
			}
			uri := fixedURI
			if uri == "" {
				uri = nextHop(x.c)
			}
			if err := x.s.ForwardRequest(x.c, uri, proto); err != nil {
				if err != errDropped {
					x.c.Log.Error(name+" failed", "at", pos.String(), "error", err)
				}
				return -1
			}
			return 1
		}
	}
}

// compileSend: send(host[, port]) writes the message as it is, without a Via.
func compileSend(proto string) func(c *compiler, n *cfg.Call) func(x *exec) int {
	return func(c *compiler, n *cfg.Call) func(x *exec) int {
		p, host, port, err := splitProtoHostPort(n.Args[0].Text)
		if err != nil {
			c.errorf(n.Args[0].Pos, "%s: %v", n.Name, err)
			return nil
		}
		if len(n.Args) == 2 {
			if port, err = intArg(n.Args[1]); err != nil {
				c.errorf(n.Args[1].Pos, "%s: %v", n.Name, err)
				return nil
			}
		}
		if p == "" {
			p = proto
		}
		uri := destURI(p, host, port)
		pos := n.Pos
		return func(x *exec) int {
			dst, err := x.c.Core.Resolve(uri)
			if err == nil {
				dst.Socket = x.c.Core.SocketFor(dst, x.c.ForceSocket)
				err = x.c.Core.Send(x.c.Msg(), dst)
			}
			if err != nil {
				x.c.Log.Error("send failed", "at", pos.String(), "error", err)
				return -1
			}
			return 1
		}
	}
}

// splitProtoHostPort reads [proto:]host[:port], host possibly an IPv6
// address in brackets, or a sip: URI.
func splitProtoHostPort(s string) (proto, host string, port int, err error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "sip:") || strings.HasPrefix(s, "sips:") {
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
			if port, err = strconv.Atoi(strings.TrimPrefix(rest, ":")); err != nil {
				return "", "", 0, fmt.Errorf("bad port in %q", s)
			}
		}
		return proto, host, port, nil
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		if port, err = strconv.Atoi(p); err != nil {
			return "", "", 0, fmt.Errorf("bad port in %q", s)
		}
		return proto, h, port, nil
	}
	if s == "" {
		return "", "", 0, fmt.Errorf("empty address")
	}
	return proto, s, 0, nil
}

// compileLog: log([level,] "text") with no variable expansion.
func compileLog(c *compiler, n *cfg.Call) func(x *exec) int {
	level := srlog.LDbg + 1 // Kamailio logs log("...") one above L_DBG
	text := n.Args[len(n.Args)-1].Text
	if len(n.Args) == 2 {
		l, err := intArg(n.Args[0])
		if err != nil {
			if k, ok := srlog.ParseLevel(n.Args[0].Text); ok {
				l, err = k, nil
			}
		}
		if err != nil {
			c.errorf(n.Args[0].Pos, "log: bad level %s", n.Args[0].Text)
			return nil
		}
		level = l
	}
	sl := srlog.Level(level)
	return func(x *exec) int {
		x.c.Log.Log(context.Background(), sl, strings.TrimRight(text, "\n"), "source", "script")
		return 1
	}
}

// flagArg reads a flag: a number 0..31 or a SER flag name.
func (c *compiler) flagArg(v *cfg.Value, fn string) (int, bool) {
	if v.Kind == cfg.ValIdent || v.Kind == cfg.ValString {
		if n, ok := c.opts.Flags[strings.TrimSpace(v.Text)]; ok {
			return n, true
		}
	}
	n, err := intArg(v)
	if err != nil {
		c.errorf(v.Pos, "%s: %q is neither a flag number nor a declared flag name", fn, v.Text)
		return 0, false
	}
	if n < 0 || n > 31 {
		c.errorf(v.Pos, "%s: flag %d is out of range 0..31", fn, n)
		return 0, false
	}
	return n, true
}

func compileFlag(op string) func(c *compiler, n *cfg.Call) func(x *exec) int {
	return func(c *compiler, n *cfg.Call) func(x *exec) int {
		f, ok := c.flagArg(n.Args[0], n.Name)
		if !ok {
			return nil
		}
		switch op {
		case "set":
			return func(x *exec) int { x.c.SetFlag(f); return 1 }
		case "reset":
			return func(x *exec) int { x.c.ResetFlag(f); return 1 }
		}
		return func(x *exec) int {
			if x.c.IsFlagSet(f) {
				return 1
			}
			return -1
		}
	}
}

// compileAVPFlag: setavpflag($avp, "name"), resetavpflag, isavpflagset.
func compileAVPFlag(op string) func(c *compiler, n *cfg.Call) func(x *exec) int {
	return func(c *compiler, n *cfg.Call) func(x *exec) int {
		pv := n.Args[0]
		if pv.Kind != cfg.ValPV || pv.PV == nil {
			c.errorf(pv.Pos, "%s: the first argument must be an attribute ($name)", n.Name)
			return nil
		}
		g, err := c.opts.PVs.Getter(pv.PV.Text, pv.PV.Kind, pv.PV.Mode)
		if err != nil {
			c.addErr(pv.Pos, err)
			return nil
		}
		avp, ok := g.(interface {
			AVP() (sr.AVPName, sr.AVPFlags, bool)
		})
		if !ok {
			c.errorf(pv.Pos, "%s: %s is not an attribute", n.Name, pv.Text)
			return nil
		}
		name, want, isAVP := avp.AVP()
		if !isAVP {
			c.errorf(pv.Pos, "%s: %s is not an attribute", n.Name, pv.Text)
			return nil
		}
		flag, ok := c.opts.AVPFlags[n.Args[1].Text]
		if !ok {
			c.errorf(n.Args[1].Pos, "%s: avpflag %q is not declared (avpflags %s;)", n.Name, n.Args[1].Text, n.Args[1].Text)
			return nil
		}
		return func(x *exec) int {
			a, found := x.c.AVPs.GetAVP(name, want, 0)
			if !found {
				return -1
			}
			switch op {
			case "set":
				a.Flags |= flag
			case "reset":
				a.Flags &^= flag
			default:
				if a.Flags&flag == 0 {
					return -1
				}
			}
			return 1
		}
	}
}

func compileForceRport(*compiler, *cfg.Call) func(x *exec) int {
	return func(x *exec) int { x.c.ForceRport = true; return 1 }
}

func compileLocalRport(*compiler, *cfg.Call) func(x *exec) int {
	return func(x *exec) int { x.c.LocalRport = true; return 1 }
}

// compileAppendBranch: append_branch([uri[, q]]) adds a branch: the given
// URI, or the current Request-URI with $du, path, q and branch flags.
func compileAppendBranch(c *compiler, n *cfg.Call) func(x *exec) int {
	var uri sr.Format
	q := sr.QUnset
	if len(n.Args) >= 1 {
		f, err := (&fixupEnv{c}).Format(n.Args[0].Text, n.Args[0].Pos)
		if err != nil {
			c.addErr(n.Args[0].Pos, err)
			return nil
		}
		uri = f
	}
	if len(n.Args) == 2 {
		v, err := strconv.ParseFloat(strings.TrimSpace(n.Args[1].Text), 64)
		if err != nil || v < 0 || v > 1 {
			c.errorf(n.Args[1].Pos, "append_branch: q must be between 0 and 1, not %s", n.Args[1].Text)
			return nil
		}
		q = int(v*1000 + 0.5)
	}
	return func(x *exec) int {
		if x.c.Req == nil {
			return -1
		}
		b := sr.Branch{Q: q, Socket: x.c.ForceSocket}
		if uri != nil {
			b.URI = uri.Expand(x.c)
			var u sip.Uri
			if err := sip.ParseUri(b.URI, &u); err != nil {
				x.c.Log.Error("append_branch: bad URI", "uri", b.URI, "error", err)
				return -1
			}
		} else {
			b.URI = x.c.Req.Recipient.String()
			b.DstURI, b.Path, b.Flags = x.c.DstURI, x.c.Path, x.c.BranchFlags
			if q == sr.QUnset {
				b.Q = x.c.Q
			}
		}
		x.c.Branches = append(x.c.Branches, b)
		return 1
	}
}

func compileRevertURI(*compiler, *cfg.Call) func(x *exec) int {
	return func(x *exec) int {
		if x.c.Req == nil || x.c.OrigRURI == "" {
			return -1
		}
		var u sip.Uri
		if err := sip.ParseUri(x.c.OrigRURI, &u); err != nil {
			return -1
		}
		x.c.Req.Recipient = u
		return 1
	}
}

func compileStrip(tail bool) func(c *compiler, n *cfg.Call) func(x *exec) int {
	return func(c *compiler, n *cfg.Call) func(x *exec) int {
		k, err := intArg(n.Args[0])
		if err != nil || k < 0 {
			c.errorf(n.Args[0].Pos, "%s: bad count %s", n.Name, n.Args[0].Text)
			return nil
		}
		return func(x *exec) int {
			if x.c.Req == nil {
				return -1
			}
			u := &x.c.Req.Recipient
			if k > len(u.User) {
				u.User = ""
				return 1
			}
			if tail {
				u.User = u.User[:len(u.User)-k]
			} else {
				u.User = u.User[k:]
			}
			return 1
		}
	}
}

func compilePrefix(c *compiler, n *cfg.Call) func(x *exec) int {
	p := n.Args[0].Text
	return func(x *exec) int {
		if x.c.Req == nil {
			return -1
		}
		x.c.Req.Recipient.User = p + x.c.Req.Recipient.User
		return 1
	}
}

// compileRewrite: rewritehost, rewritehostport, rewritehostporttrans,
// rewriteuser, rewriteuserpass, rewriteport, rewriteuri.
func compileRewrite(kind string) func(c *compiler, n *cfg.Call) func(x *exec) int {
	return func(c *compiler, n *cfg.Call) func(x *exec) int {
		arg := n.Args[0].Text
		pos := n.Args[0].Pos
		var apply func(u *sip.Uri) error
		switch kind {
		case "rewritehost":
			apply = func(u *sip.Uri) error { u.Host = arg; return nil }
		case "rewritehostport", "rewritehostporttrans":
			_, host, port, err := splitProtoHostPort(strings.SplitN(arg, ";", 2)[0])
			if err != nil {
				c.errorf(pos, "%s: %v", n.Name, err)
				return nil
			}
			trans := ""
			if kind == "rewritehostporttrans" {
				if i := strings.Index(arg, ";transport="); i >= 0 {
					trans = arg[i+len(";transport="):]
				}
			}
			apply = func(u *sip.Uri) error {
				u.Host, u.Port = host, port
				if trans != "" {
					if u.UriParams == nil {
						u.UriParams = sip.NewParams()
					}
					u.UriParams.Add("transport", trans)
				}
				return nil
			}
		case "rewriteuser":
			apply = func(u *sip.Uri) error { u.User = arg; return nil }
		case "rewriteuserpass":
			apply = func(u *sip.Uri) error { u.Password = arg; return nil }
		case "rewriteport":
			port, err := strconv.Atoi(strings.TrimSpace(arg))
			if err != nil || port < 0 || port > 65535 {
				c.errorf(pos, "%s: bad port %q", n.Name, arg)
				return nil
			}
			apply = func(u *sip.Uri) error { u.Port = port; return nil }
		case "rewriteuri":
			var parsed sip.Uri
			if err := sip.ParseUri(arg, &parsed); err != nil {
				c.errorf(pos, "%s: bad URI %q: %v", n.Name, arg, err)
				return nil
			}
			apply = func(u *sip.Uri) error {
				var nu sip.Uri
				if err := sip.ParseUri(arg, &nu); err != nil {
					return err
				}
				*u = nu
				return nil
			}
		}
		return func(x *exec) int {
			if x.c.Req == nil {
				return -1
			}
			if err := apply(&x.c.Req.Recipient); err != nil {
				return -1
			}
			return 1
		}
	}
}

// compileForceSocket: force_send_socket(proto:ip:port). The socket is
// looked up among the listening sockets when the function runs.
func compileForceSocket(c *compiler, n *cfg.Call) func(x *exec) int {
	proto, host, port, err := splitProtoHostPort(n.Args[0].Text)
	if err != nil {
		c.errorf(n.Args[0].Pos, "force_send_socket: %v", err)
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		c.errorf(n.Args[0].Pos, "force_send_socket: %q is not an IP address", host)
		return nil
	}
	ip = ip.Unmap()
	pos := n.Pos
	return func(x *exec) int {
		for _, s := range x.c.Core.Sockets() {
			if s.Addr.Addr().Unmap() == ip && (port == 0 || int(s.Addr.Port()) == port) && (proto == "" || s.Proto == proto) {
				x.c.ForceSocket = s
				return 1
			}
		}
		x.c.Log.Error("force_send_socket: no such listening socket", "at", pos.String(), "socket", n.Args[0].Text)
		return -1
	}
}
