package server

import (
	"fmt"
	"strconv"
	"strings"

	"sip-router.org/core/cfg"
)

// Params are the core's global parameters (name = value lines).
type Params struct {
	Debug          int
	LogStderr      bool
	LogFacility    string
	LogName        string
	LogPrefix      string
	Fork           bool
	Children       int
	TCPChildren    int
	Listen         []ListenSpec
	Port           int
	Aliases        []string
	AutoAliases    bool
	DisableTCP     bool
	EnableTLS      bool
	User, Group    string
	WorkDir        string
	ServerSig      bool
	ServerHeader   string
	UserAgent      string
	SIPWarning     bool
	TCPLifetime    int // seconds
	TCPMaxConns    int
	TCPConnTimeout int // seconds
	TLSMaxConns    int
	MaxWhileLoops  int
	AdvertisedAddr string
	AdvertisedPort int
	// MaxMsgSize is the largest TCP/TLS message accepted, bytes.
	MaxMsgSize int
}

// ListenSpec is one listen= entry.
type ListenSpec struct {
	Proto string // "" means udp and tcp (and tls when enabled)
	Host  string
	Port  int
	// PortSet says the line gave a port; without one, port= applies. An
	// explicit 0 asks for an ephemeral port (tests).
	PortSet   bool
	Advertise string
}

func (l ListenSpec) String() string {
	s := l.Host
	if strings.Contains(s, ":") && !strings.HasPrefix(s, "[") {
		s = "[" + s + "]"
	}
	if l.Port > 0 {
		s += ":" + strconv.Itoa(l.Port)
	}
	if l.Proto != "" {
		s = l.Proto + ":" + s
	}
	return s
}

// DefaultParams are the parameters before the config sets any; the
// flavor's defaults fill in server_header and user_agent_header.
func DefaultParams() Params {
	return Params{
		Debug: 2, Fork: true, Children: 8, Port: 5060, AutoAliases: true,
		ServerSig: true, SIPWarning: false, TCPLifetime: 120, TCPMaxConns: 2048,
		TCPConnTimeout: 10, TLSMaxConns: 2048, MaxWhileLoops: 100,
		MaxMsgSize: 16 * 1024,
	}
}

type paramKind uint8

const (
	pInt paramKind = iota
	pBool
	pStr
	pAddr    // listen=
	pIgnored // accepted for compatibility, no effect
)

type paramDef struct {
	kind paramKind
	set  func(p *Params, v *cfg.Value) error
}

func intParam(f func(p *Params) *int) paramDef {
	return paramDef{pInt, func(p *Params, v *cfg.Value) error {
		if v.Kind != cfg.ValInt {
			return fmt.Errorf("needs a number, not %q", v.Text)
		}
		*f(p) = v.Int
		return nil
	}}
}

func boolParam(f func(p *Params) *bool) paramDef {
	return paramDef{pBool, func(p *Params, v *cfg.Value) error {
		if v.Kind != cfg.ValInt {
			return fmt.Errorf("needs yes or no, not %q", v.Text)
		}
		*f(p) = v.Int != 0
		return nil
	}}
}

func strParam(f func(p *Params) *string) paramDef {
	return paramDef{pStr, func(p *Params, v *cfg.Value) error {
		if v.Kind != cfg.ValString && v.Kind != cfg.ValIdent && v.Kind != cfg.ValAddr {
			return fmt.Errorf("needs a string, not %s", v.Kind)
		}
		*f(p) = v.Text
		return nil
	}}
}

var ignored = paramDef{pIgnored, func(*Params, *cfg.Value) error { return nil }}

// coreParams are the global parameter names the core knows. Those marked
// ignored are accepted (the two 3.0 default configs and later ones use
// them) but have no effect in this implementation: memory, process and
// DNS-cache tuning that Go and the transports handle themselves.
var coreParams = map[string]paramDef{
	"debug":                   intParam(func(p *Params) *int { return &p.Debug }),
	"log_stderror":            boolParam(func(p *Params) *bool { return &p.LogStderr }),
	"log_facility":            strParam(func(p *Params) *string { return &p.LogFacility }),
	"log_name":                strParam(func(p *Params) *string { return &p.LogName }),
	"log_prefix":              strParam(func(p *Params) *string { return &p.LogPrefix }),
	"fork":                    boolParam(func(p *Params) *bool { return &p.Fork }),
	"children":                intParam(func(p *Params) *int { return &p.Children }),
	"tcp_children":            intParam(func(p *Params) *int { return &p.TCPChildren }),
	"port":                    intParam(func(p *Params) *int { return &p.Port }),
	"auto_aliases":            boolParam(func(p *Params) *bool { return &p.AutoAliases }),
	"disable_tcp":             boolParam(func(p *Params) *bool { return &p.DisableTCP }),
	"enable_tls":              boolParam(func(p *Params) *bool { return &p.EnableTLS }),
	"user":                    strParam(func(p *Params) *string { return &p.User }),
	"uid":                     strParam(func(p *Params) *string { return &p.User }),
	"group":                   strParam(func(p *Params) *string { return &p.Group }),
	"gid":                     strParam(func(p *Params) *string { return &p.Group }),
	"workdir":                 strParam(func(p *Params) *string { return &p.WorkDir }),
	"wdir":                    strParam(func(p *Params) *string { return &p.WorkDir }),
	"server_signature":        boolParam(func(p *Params) *bool { return &p.ServerSig }),
	"server_header":           strParam(func(p *Params) *string { return &p.ServerHeader }),
	"user_agent_header":       strParam(func(p *Params) *string { return &p.UserAgent }),
	"sip_warning":             boolParam(func(p *Params) *bool { return &p.SIPWarning }),
	"tcp_connection_lifetime": intParam(func(p *Params) *int { return &p.TCPLifetime }),
	"tcp_max_connections":     intParam(func(p *Params) *int { return &p.TCPMaxConns }),
	"tcp_connect_timeout":     intParam(func(p *Params) *int { return &p.TCPConnTimeout }),
	"tls_max_connections":     intParam(func(p *Params) *int { return &p.TLSMaxConns }),
	"max_while_loops":         intParam(func(p *Params) *int { return &p.MaxWhileLoops }),
	"advertised_address":      strParam(func(p *Params) *string { return &p.AdvertisedAddr }),
	"advertised_port":         intParam(func(p *Params) *int { return &p.AdvertisedPort }),
	"tcp_rd_buf_size":         intParam(func(p *Params) *int { return &p.MaxMsgSize }),
	"listen":                  {pAddr, nil},
	"alias":                   {pAddr, nil},
}

func init() {
	for _, n := range []string{
		"memdbg", "mem_dbg", "memlog", "mem_log", "shm_mem_size", "open_files_limit", "open_fd_limit",
		"check_via", "dns", "rev_dns", "mhomed", "chroot", "disable_core", "disable_sctp", "enable_sctp",
		"disable_tls", "tls_disable", "tcp_accept_aliases", "tcp_accept_no_cl", "tcp_send_timeout",
		"tcp_source_ipv4", "tcp_source_ipv6", "tcp_async", "tcp_keepalive", "tcp_defer_accept",
		"dns_try_ipv6", "dns_try_naptr", "dns_retr_time", "dns_retr_no", "dns_servers_no", "dns_use_search_list",
		"dns_search_full_match", "use_dns_cache", "use_dns_failover", "dns_cache_flags", "dns_cache_negative_ttl",
		"dns_cache_min_ttl", "dns_cache_max_ttl", "dns_cache_mem", "dns_cache_gc_interval", "dns_srv_lb",
		"use_dst_blacklist", "dst_blacklist_mem", "dst_blacklist_expire", "dst_blacklist_gc_interval",
		"tos", "pmtu_discovery", "maxbuffer", "syn_branch", "reply_to_via", "mlock_pages", "real_time",
		"rt_prio", "rt_policy", "shm_force_alloc", "phone2tel", "corelog", "log_color", "async_workers",
		"stat", "statistics", "latency_log", "latency_limit_action", "latency_limit_db", "sql_buffer_size",
		"mem_join", "mem_safety", "mem_summary", "xavp_via_params", "dns_naptr_ignore_rfc",
		"udp_mtu", "udp_mtu_try_proto", "force_rport", "sock_mode", "sock_user", "sock_group",
	} {
		coreParams[n] = ignored
	}
}

// parseListen reads a listen= or alias= value: [proto:]host[:port].
func parseListen(v *cfg.Value, defPort int) (ListenSpec, error) {
	var ls ListenSpec
	switch v.Kind {
	case cfg.ValAddr:
		if v.Addr == nil {
			return ls, fmt.Errorf("bad address %q", v.Text)
		}
		ls.Proto, ls.Host, ls.Port = v.Addr.Proto, v.Addr.Host, v.Addr.Port
	case cfg.ValString, cfg.ValIdent:
		proto, rest := "", v.Text
		for _, p := range []string{"udp", "tcp", "tls", "ws", "wss", "sctp"} {
			if r, ok := strings.CutPrefix(strings.ToLower(rest), p+":"); ok {
				proto, rest = p, rest[len(rest)-len(r):]
				break
			}
		}
		ls.Proto = proto
		host, port := rest, 0
		if strings.HasPrefix(rest, "[") {
			end := strings.Index(rest, "]")
			if end < 0 {
				return ls, fmt.Errorf("bad address %q", v.Text)
			}
			host = rest[:end+1]
			if r := rest[end+1:]; r != "" {
				p, err := strconv.Atoi(strings.TrimPrefix(r, ":"))
				if err != nil {
					return ls, fmt.Errorf("bad port in %q", v.Text)
				}
				port = p
			}
		} else if strings.Count(rest, ":") == 1 {
			h, p, _ := strings.Cut(rest, ":")
			n, err := strconv.Atoi(p)
			if err != nil {
				return ls, fmt.Errorf("bad port in %q", v.Text)
			}
			host, port = h, n
		}
		ls.Host, ls.Port = host, port
	default:
		return ls, fmt.Errorf("needs an address ([proto:]host[:port]), not %s", v.Kind)
	}
	ls.Host = strings.Trim(ls.Host, "[]")
	ls.PortSet = ls.Port != 0 || explicitPort(v.Text)
	switch ls.Proto {
	case "", "udp", "tcp", "tls", "ws", "wss":
	case "sctp":
		return ls, fmt.Errorf("sctp is not supported")
	default:
		return ls, fmt.Errorf("unknown transport %q", ls.Proto)
	}
	if ls.Port < 0 || ls.Port > 65535 {
		return ls, fmt.Errorf("port %d out of range", ls.Port)
	}
	return ls, nil
}

// explicitPort reports whether [proto:]host[:port] text names a port.
func explicitPort(text string) bool {
	for _, p := range []string{"udp:", "tcp:", "tls:", "ws:", "wss:", "sctp:"} {
		if strings.HasPrefix(strings.ToLower(text), p) {
			text = text[len(p):]
			break
		}
	}
	if strings.HasPrefix(text, "[") {
		return strings.Contains(text, "]:")
	}
	return strings.Count(text, ":") == 1
}
