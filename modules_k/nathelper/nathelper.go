// Package nathelper is Kamailio 3.0's nathelper module: it detects user
// agents behind NAT (nat_uac_test), repairs what they advertise (the
// Contact, the SDP, the address a REGISTER is bound to), keeps their NAT
// bindings open by pinging registered contacts, and drives RTPProxy (the
// rtpproxy control protocol over UDP or a unix socket) so that media of
// NATed calls flows through it.
package nathelper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/module"
	"sip-router.org/core/pv"
	"sip-router.org/core/rpc"
	"sip-router.org/core/sr"
)

type nathelper struct {
	NatpingInterval     int      `modparam:"natping_interval" min:"0" max:"86400"`
	PingNatedOnly       bool     `modparam:"ping_nated_only"`
	NatpingProcesses    int      `modparam:"natping_processes" min:"1" max:"64"`
	NatpingSocket       string   `modparam:"natping_socket"`
	ReceivedAVP         string   `modparam:"received_avp"`
	ForceSocket         string   `modparam:"force_socket"`
	SippingBflag        int      `modparam:"sipping_bflag" min:"-1" max:"31"`
	SippingFrom         string   `modparam:"sipping_from"`
	SippingMethod       string   `modparam:"sipping_method"`
	NortpproxyStr       string   `modparam:"nortpproxy_str"`
	RtpproxySock        []string `modparam:"rtpproxy_sock"`
	RtpproxyDisableTout int      `modparam:"rtpproxy_disable_tout" min:"-1"`
	RtpproxyTout        int      `modparam:"rtpproxy_tout" min:"1" max:"60"`
	RtpproxyRetr        int      `modparam:"rtpproxy_retr" min:"1" max:"100"`

	// rcvAVP is received_avp compiled (nil when unset).
	rcvAVP sr.Setter
	// marker is the nortpproxy line without its line end ("" disables it).
	marker string
	// rtpp holds the rtpproxy sets of rtpproxy_sock.
	rtpp *rtppClient

	log  *slog.Logger
	core sr.Core
	rpc  *rpc.Registry

	// pinging: state 1 enabled (nh_enable_ping), the timer goroutine.
	pingOn   atomic.Bool
	ping     *pinger
	stopPing context.CancelFunc
	pingWG   sync.WaitGroup
}

// Route masks of Kamailio 3.0's export table.
const (
	rtAll        = sr.RouteRequest | sr.RouteOnReply | sr.RouteFailure | sr.RouteBranch | sr.RouteLocal
	rtNoFailure  = sr.RouteRequest | sr.RouteOnReply | sr.RouteBranch | sr.RouteLocal
	rtReqBranch  = sr.RouteRequest | sr.RouteBranch | sr.RouteLocal
	rtReqOnReply = sr.RouteRequest | sr.RouteOnReply
)

func init() {
	module.Register(module.Spec[*nathelper]{
		Name:    "nathelper",
		Tree:    "modules_k",
		Summary: "NAT traversal helpers: NAT detection, Contact/SDP fixing, NAT pinging and the RTPProxy client",
		New: func() *nathelper {
			return &nathelper{
				NatpingProcesses: 1, SippingBflag: -1, SippingMethod: "OPTIONS",
				NortpproxyStr:       "a=nortpproxy:yes\r\n",
				RtpproxyDisableTout: 60, RtpproxyTout: 1, RtpproxyRetr: 5,
			}
		},
		Funcs: []module.Func[*nathelper]{
			{Name: "nat_uac_test", Args: []int{1}, Routes: rtAll, Fixup: fixupUACTest, Call: (*nathelper).natUACTest},
			{Name: "fix_nated_contact", Routes: rtNoFailure, Call: (*nathelper).fixNatedContact},
			{Name: "fix_nated_register", Routes: sr.RouteRequest, Fixup: fixupFixNatedRegister, Call: (*nathelper).fixNatedRegister},
			{Name: "add_rcv_param", Args: []int{0, 1}, Routes: sr.RouteRequest, Fixup: fixupAddRcvParam, Call: (*nathelper).addRcvParam},
			{Name: "add_contact_alias", Routes: rtNoFailure, Call: (*nathelper).addContactAlias},
			{Name: "handle_ruri_alias", Routes: rtReqBranch, Call: (*nathelper).handleRURIAlias},
			{Name: "fix_nated_sdp", Args: []int{1, 2}, Routes: rtAll, Fixup: fixupFixSDP, Call: (*nathelper).fixNatedSDP},
			{Name: "force_rtp_proxy", Args: []int{0, 1, 2}, Routes: rtAll, Fixup: fixupRTPP, Call: (*nathelper).forceRTPProxy},
			{Name: "rtpproxy_offer", Args: []int{0, 1, 2}, Routes: rtAll, Fixup: fixupRTPP, Call: (*nathelper).rtpproxyOffer},
			{Name: "rtpproxy_answer", Args: []int{0, 1, 2}, Routes: rtAll, Fixup: fixupRTPP, Call: (*nathelper).rtpproxyAnswer},
			{Name: "unforce_rtp_proxy", Routes: rtAll, Call: (*nathelper).unforceRTPProxy},
			{Name: "start_recording", Routes: rtReqOnReply, Call: (*nathelper).startRecording},
			{Name: "set_rtp_proxy_set", Args: []int{1}, Routes: rtAll, Fixup: fixupSetID, Call: (*nathelper).setRTPProxySet},
		},
		PVs: []module.PV[*nathelper]{
			{Name: "rr_count", Get: (*nathelper).rrCount},
		},
		RPCs: []module.RPC[*nathelper]{
			{Name: "nh_enable_ping", Doc: "Show NAT pinging (no parameter) or switch it off (0) or on (1).", Call: (*nathelper).rpcEnablePing},
			{Name: "nh_enable_rtpp", Doc: "Disable (0) or enable (1) an RTPProxy: url, 0|1.", Call: (*nathelper).rpcEnableRTPP},
			{Name: "nh_show_rtpp", Doc: "List the RTPProxies with their set, weight and state.", Call: (*nathelper).rpcShowRTPP},
		},
	})
}

var (
	_ module.Configurer   = (*nathelper)(nil)
	_ module.Initer       = (*nathelper)(nil)
	_ module.Destroyer    = (*nathelper)(nil)
	_ module.ReplyHandler = (*nathelper)(nil)
)

// Configure checks the parameters and compiles received_avp and the
// rtpproxy sets. It opens nothing.
func (m *nathelper) Configure(env *module.ConfigEnv) error {
	if text := strings.TrimSpace(m.ReceivedAVP); text != "" {
		reg, _ := env.PVs.(*pv.Registry)
		if reg == nil {
			return errors.New("received_avp: no pseudo-variable registry")
		}
		if text[0] != '$' {
			text = "$avp(" + text + ")"
		}
		spec, err := reg.ParseSetter(text, pv.MaxCompat)
		if err != nil {
			return fmt.Errorf("received_avp %q: %w", m.ReceivedAVP, err)
		}
		m.rcvAVP = spec
	}
	m.marker = strings.TrimRight(m.NortpproxyStr, "\r\n")
	if strings.ContainsAny(m.marker, "\r\n") {
		return fmt.Errorf("nortpproxy_str %q must be one SDP line", m.NortpproxyStr)
	}
	if !isToken(m.SippingMethod) {
		return fmt.Errorf("sipping_method %q is not a SIP method", m.SippingMethod)
	}
	if m.SippingFrom != "" {
		var u sip.Uri
		if err := sip.ParseUri(m.SippingFrom, &u); err != nil || u.Raw() != "" {
			return fmt.Errorf("sipping_from %q is not a SIP URI", m.SippingFrom)
		}
	}
	sets, err := parseRTPProxySocks(m.RtpproxySock)
	if err != nil {
		return err
	}
	m.rtpp = newRTPPClient(sets, m.rtppSettings())
	if m.NatpingInterval > 0 && env.Loaded != nil && !env.Loaded("usrloc") {
		return errors.New("natping_interval needs the usrloc module: add loadmodule \"usrloc.so\" before nathelper, or set natping_interval to 0")
	}
	return nil
}

func (m *nathelper) rtppSettings() rtppSettings {
	return rtppSettings{tout: m.RtpproxyTout, retr: m.RtpproxyRetr, disableTout: m.RtpproxyDisableTout}
}

// Init starts NAT pinging when natping_interval is set.
func (m *nathelper) Init(env *module.InitEnv) error {
	m.log = env.Log
	if m.log == nil {
		m.log = slog.Default()
	}
	m.core = env.Core
	m.rpc = env.RPC
	if m.rtpp == nil { // Configure was not run (a set built by hand)
		sets, err := parseRTPProxySocks(m.RtpproxySock)
		if err != nil {
			return err
		}
		m.rtpp = newRTPPClient(sets, m.rtppSettings())
	}
	m.rtpp.log = m.log
	m.pingOn.Store(true)
	if m.NatpingSocket != "" {
		m.log.Warn("natping_socket (spoofed source address for pings) is not supported; pings leave from the SIP sockets")
	}
	if m.NatpingInterval == 0 {
		return nil
	}
	if m.core == nil {
		m.log.Warn("NAT pinging needs the running server; it is off")
		return nil
	}
	if !env.Loaded("usrloc") {
		return errors.New("natping_interval needs the usrloc module: add loadmodule \"usrloc.so\"")
	}
	m.ping = newPinger(m, &ulDumpSource{reg: m.rpc})
	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, m.stopPing = context.WithCancel(ctx)
	m.pingWG.Add(1)
	go func() {
		defer m.pingWG.Done()
		m.ping.run(ctx)
	}()
	return nil
}

// Destroy stops the pinger.
func (m *nathelper) Destroy() {
	if m.stopPing != nil {
		m.stopPing()
		m.pingWG.Wait()
		m.stopPing = nil
	}
}

// HandleReply absorbs the replies to the module's SIP pings.
func (m *nathelper) HandleReply(c *sr.Ctx) bool {
	if m.ping == nil || c.Resp == nil {
		return false
	}
	return m.ping.isPingReply(c.Resp)
}

// isToken reports whether s is a SIP token (a method name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
