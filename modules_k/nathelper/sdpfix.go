package nathelper

import (
	"net/netip"
	"strings"

	"sip-router.org/core/module"
	"sip-router.org/core/sr"
)

// fix_nated_sdp flags.
const (
	sdpAddDirection = 0x01 // add a=direction:active
	sdpFixMediaIP   = 0x02 // c= addresses become the source (or given) IP
	sdpAddMarker    = 0x04 // add the nortpproxy_str line
	sdpFixOriginIP  = 0x08 // the o= address becomes the source (or given) IP
	sdpFlagsAll     = sdpAddDirection | sdpFixMediaIP | sdpAddMarker | sdpFixOriginIP
)

func fixupFixSDP(_ *nathelper, fx *module.Fixup, args []module.Arg) ([]any, error) {
	n, err := fx.Int(args[0])
	if err != nil {
		return nil, err
	}
	if n < 0 || n&^sdpFlagsAll != 0 {
		return nil, fx.Errorf(args[0], "%s: flags %d: only 1, 2, 4 and 8 may be combined", fx.Func, n)
	}
	var ip sr.Format
	if len(args) == 2 {
		if ip, err = fx.Format(args[1]); err != nil {
			return nil, err
		}
		if s, ok := ip.Static(); ok {
			if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err != nil {
				return nil, fx.Errorf(args[1], "%s: %q is not an IP address", fx.Func, s)
			}
		}
	}
	return []any{n, ip}, nil
}

// fixNatedSDP implements fix_nated_sdp(flags[, ip]). 1 when done, -1 when
// the message has no (readable) SDP or the IP is not one.
func (m *nathelper) fixNatedSDP(c *sr.Ctx, p []any) int {
	flags := p[0].(int)
	msg := c.Msg()
	if msg == nil {
		return -1
	}
	body, ok := sdpBody(msg)
	if !ok {
		c.Log.Debug("fix_nated_sdp: no SDP body")
		return -1
	}
	s, err := parseSDP(body)
	if err != nil {
		c.Log.Info("fix_nated_sdp: cannot read the SDP", "error", err)
		return -1
	}
	ip := srcHost(c)
	if f, _ := p[1].(sr.Format); f != nil {
		a, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(f.Expand(c)), "[]"))
		if err != nil {
			c.Log.Info("fix_nated_sdp: the IP argument is not an IP address")
			return -1
		}
		ip = a.Unmap().WithZone("").String()
	}
	var added []string
	if flags&sdpAddDirection != 0 {
		added = append(added, "a=direction:active")
	}
	if flags&sdpAddMarker != 0 && m.marker != "" {
		added = append(added, m.marker)
	}
	if flags&sdpFixMediaIP != 0 {
		n := 0
		for i := range s.lines {
			if s.typ(i) != 'c' {
				continue
			}
			ca, ok := parseConn(s.lines[i].text)
			if !ok {
				c.Log.Info("fix_nated_sdp: malformed c= line")
				return -1
			}
			n++
			if ca.isNull() || ca.addr == ip {
				continue
			}
			s.setAddr(i, ca, ip)
			if ca.af == "IP6" {
				added = append(added, "a=oldmediaip6:"+ca.addr)
			} else {
				added = append(added, "a=oldmediaip:"+ca.addr)
			}
		}
		if n == 0 {
			c.Log.Info("fix_nated_sdp: the SDP has no c= line")
			return -1
		}
	}
	if flags&sdpFixOriginIP != 0 {
		n := 0
		for i := range s.lines {
			if s.typ(i) != 'o' {
				continue
			}
			oa, ok := parseOrigin(s.lines[i].text)
			if !ok {
				c.Log.Info("fix_nated_sdp: malformed o= line")
				return -1
			}
			n++
			if !oa.isNull() && oa.addr != ip {
				s.setAddr(i, oa, ip)
			}
		}
		if n == 0 {
			c.Log.Info("fix_nated_sdp: the SDP has no o= line")
			return -1
		}
	}
	for _, l := range added {
		s.appendLine(l)
	}
	msg.SetBody(s.bytes())
	return 1
}
