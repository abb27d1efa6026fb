package nathelper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/rpc"
	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// pingTarget is a registered contact as NAT pinging needs it.
type pingTarget struct {
	URI      string // the contact as registered
	Received string // where the REGISTER came from (received_avp), or ""
	Socket   string // proto:ip:port of the socket it came in on, or ""
	CFlags   uint32 // branch flags saved with the contact
}

// contactSource lists the contacts to ping.
type contactSource interface {
	// targets returns every valid contact of every location table.
	targets() ([]pingTarget, error)
	// natFlag is the branch flag mask marking NATed contacts (usrloc's
	// nat_bflag), ok false when it cannot be known.
	natFlag() (uint32, bool)
}

// pinger sends NAT keepalives to registered contacts every
// natping_interval seconds: 4 zero bytes, or a SIP request (sipping_method,
// from sipping_from) to contacts whose branch flags hold sipping_bflag.
type pinger struct {
	m      *nathelper
	src    contactSource
	prefix string // Call-ID prefix of the SIP pings
	seq    atomic.Uint64
	// sent counts the pings sent (for tests and logs).
	sent atomic.Uint64
}

func newPinger(m *nathelper, src contactSource) *pinger {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &pinger{m: m, src: src, prefix: "nhping-" + hex.EncodeToString(b[:])}
}

func (p *pinger) run(ctx context.Context) {
	t := time.NewTicker(time.Duration(p.m.NatpingInterval) * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if p.m.pingOn.Load() {
				p.once()
			}
		}
	}
}

// once pings every contact concerned.
func (p *pinger) once() {
	m := p.m
	list, err := p.src.targets()
	if err != nil {
		m.log.Error("NAT ping: cannot list the contacts", "error", err)
		return
	}
	natMask, natKnown := p.src.natFlag()
	var sipMask uint32
	if m.SippingBflag >= 0 && m.SippingFrom != "" {
		sipMask = 1 << uint(m.SippingBflag)
	}
	for i := range list {
		t := &list[i]
		if m.PingNatedOnly {
			nated := t.Received != ""
			if natKnown && natMask != 0 {
				nated = t.CFlags&natMask != 0
			}
			if !nated {
				continue
			}
		}
		if err := p.ping(t, sipMask != 0 && t.CFlags&sipMask != 0); err != nil {
			m.log.Debug("NAT ping not sent", "contact", t.URI, "error", err)
		}
	}
}

var errNotUDP = errors.New("not a UDP contact")

// ping sends one keepalive.
func (p *pinger) ping(t *pingTarget, useSIP bool) error {
	core := p.m.core
	next := t.URI
	if t.Received != "" {
		next = t.Received
	}
	dst, err := core.Resolve(next)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", next, err)
	}
	if dst.Proto != sr.ProtoUDP {
		return errNotUDP
	}
	dst.Socket = p.socket(t, dst)
	var msg sip.Message
	if useSIP {
		req, err := p.sipPing(t, dst)
		if err != nil {
			return err
		}
		msg = req
	} else {
		msg = keepalive{sip.NewRequest(sip.OPTIONS, sip.Uri{Host: "invalid"})}
	}
	if err := core.Send(msg, dst); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	p.sent.Add(1)
	return nil
}

// socket picks the socket a ping leaves from: the one the contact
// registered through, else force_socket, else one the transport chooses.
func (p *pinger) socket(t *pingTarget, dst sr.Dest) *sr.Socket {
	socks := p.m.core.Sockets()
	for _, want := range []string{t.Socket, p.m.ForceSocket} {
		if s := matchSocket(socks, want); s != nil && s.Proto == dst.Proto {
			return s
		}
	}
	return p.m.core.SocketFor(dst, nil)
}

// matchSocket finds a socket written [proto:]host[:port].
func matchSocket(socks []*sr.Socket, spec string) *sr.Socket {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil
	}
	proto := ""
	if i := strings.IndexByte(spec, ':'); i > 0 {
		switch strings.ToLower(spec[:i]) {
		case sr.ProtoUDP, sr.ProtoTCP, sr.ProtoTLS, sr.ProtoSCTP, sr.ProtoWS, sr.ProtoWSS:
			proto, spec = strings.ToLower(spec[:i]), spec[i+1:]
		}
	}
	host, port := spec, 0
	if ap, err := netip.ParseAddrPort(spec); err == nil {
		host, port = ap.Addr().String(), int(ap.Port())
	} else if i := strings.LastIndexByte(spec, ':'); i > 0 && !strings.Contains(spec[:i], ":") {
		if n, err := strconv.Atoi(spec[i+1:]); err == nil {
			host, port = spec[:i], n
		}
	}
	host = strings.Trim(host, "[]")
	for _, s := range socks {
		if proto != "" && s.Proto != proto {
			continue
		}
		if port != 0 && int(s.Addr.Port()) != port {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Unmap() == s.Addr.Addr().Unmap() || strings.EqualFold(host, s.Name) {
			return s
		}
	}
	return nil
}

// sipPing builds the stateless SIP ping of a contact.
func (p *pinger) sipPing(t *pingTarget, dst sr.Dest) (*sip.Request, error) {
	var ruri sip.Uri
	if err := sip.ParseUri(t.URI, &ruri); err != nil {
		return nil, fmt.Errorf("contact %q: %w", t.URI, err)
	}
	var from sip.Uri
	if err := sip.ParseUri(p.m.SippingFrom, &from); err != nil {
		return nil, fmt.Errorf("sipping_from: %w", err)
	}
	if dst.Socket == nil {
		return nil, errors.New("no UDP socket to send the SIP ping from")
	}
	n := p.seq.Add(1)
	req := sip.NewRequest(sip.RequestMethod(p.m.SippingMethod), ruri)
	host, port := dst.Socket.Host(), dst.Socket.Port()
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: host, Port: port,
		Params: sip.NewParams()}
	via.Params.Add("branch", "z9hG4bK"+p.prefix+"-"+strconv.FormatUint(n, 16))
	req.AppendHeader(via)
	fromH := &sip.FromHeader{Address: from, Params: sip.NewParams()}
	fromH.Params.Add("tag", p.prefix+"-"+strconv.FormatUint(n, 16))
	req.AppendHeader(fromH)
	req.AppendHeader(&sip.ToHeader{Address: ruri, Params: sip.NewParams()})
	cid := sip.CallIDHeader(p.prefix + "-" + strconv.FormatUint(n, 10) + "@" + strings.Trim(host, "[]"))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.RequestMethod(p.m.SippingMethod)})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	if ua := p.m.core.UserAgentHeader(); ua != "" {
		if name, val, ok := strings.Cut(ua, ":"); ok {
			req.AppendHeader(sip.NewHeader(strings.TrimSpace(name), strings.TrimSpace(val)))
		}
	}
	req.SetBody(nil)
	return req, nil
}

// isPingReply reports whether a reply answers one of the SIP pings.
func (p *pinger) isPingReply(res *sip.Response) bool {
	h := sipmsg.Header(res, "Call-ID")
	if h == nil || !strings.HasPrefix(h.Value(), p.prefix+"-") {
		return false
	}
	return strings.EqualFold(sipmsg.CSeqMethod(res), p.m.SippingMethod)
}

// keepalive is the 4-byte UDP NAT ping. The core sends sip.Messages; this
// one writes four zero bytes instead of itself.
type keepalive struct{ *sip.Request }

func (keepalive) String() string { return "\x00\x00\x00\x00" }

func (keepalive) StringWrite(w io.StringWriter) { _, _ = w.WriteString("\x00\x00\x00\x00") }

// ulDumpSource lists contacts through usrloc's ul.dump command: usrloc
// offers no typed listing to other modules yet, and nathelper may not
// declare usrloc as a dependency (it needs it only for pinging).
type ulDumpSource struct {
	reg *rpc.Registry
}

func (s *ulDumpSource) natFlag() (uint32, bool) { return 0, false }

func (s *ulDumpSource) targets() ([]pingTarget, error) {
	if s.reg == nil {
		return nil, errors.New("no RPC registry")
	}
	res, err := s.reg.Call(&rpc.Request{Method: "ul.dump"})
	if err != nil {
		return nil, fmt.Errorf("ul.dump: %w", err)
	}
	return parseULDump(res)
}

// parseULDump reads the contacts out of ul.dump's result:
// {Domains: [{AoRs: [{Contacts: [{Contact, Received, Socket, Cflags}]}]}]}.
func parseULDump(res any) ([]pingTarget, error) {
	top, ok := res.(map[string]any)
	if !ok {
		return nil, errors.New("ul.dump: unexpected result")
	}
	var out []pingTarget
	doms, _ := top["Domains"].([]any)
	for _, d := range doms {
		dm, _ := d.(map[string]any)
		aors, _ := dm["AoRs"].([]any)
		for _, a := range aors {
			am, _ := a.(map[string]any)
			cs, _ := am["Contacts"].([]any)
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				uri, _ := cm["Contact"].(string)
				if uri == "" {
					continue
				}
				t := pingTarget{URI: uri}
				t.Received, _ = cm["Received"].(string)
				t.Socket, _ = cm["Socket"].(string)
				switch f := cm["Cflags"].(type) {
				case int64:
					t.CFlags = uint32(f)
				case int:
					t.CFlags = uint32(f)
				}
				out = append(out, t)
			}
		}
	}
	return out, nil
}
