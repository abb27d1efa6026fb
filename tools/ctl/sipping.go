package ctl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// PingOptions are the options of Ping.
type PingOptions struct {
	// Timeout bounds the wait for a final reply (default 5 s).
	Timeout time.Duration
	// UserAgent goes in the User-Agent header ("" for none).
	UserAgent string
}

// PingReply is the final reply to a ping.
type PingReply struct {
	// Status is the reply's code (200 … 699) and StatusLine its first
	// line ("SIP/2.0 200 OK").
	Status     int
	StatusLine string
	// From is where it came from and RTT how long it took.
	From net.Addr
	RTT  time.Duration
}

// ErrNoReply is returned by Ping when no final reply arrives in time.
var ErrNoReply = errors.New("no final reply")

// PingTarget is where a ping goes: the request URI, and the host and port
// its datagrams go to.
type PingTarget struct {
	URI  string
	Host string
	Port int
}

// ParsePingTarget reads sip:[user@]host[:port][;params] or host[:port].
// Only UDP is spoken: sips: and a transport other than udp are refused.
func ParsePingTarget(s string) (PingTarget, error) {
	in := strings.TrimSpace(s)
	rest := in
	switch l := strings.ToLower(rest); {
	case strings.HasPrefix(l, "sips:"):
		return PingTarget{}, fmt.Errorf("%q: sips needs TLS; ping speaks UDP only", in)
	case strings.HasPrefix(l, "sip:"):
		rest = rest[4:]
	case strings.Contains(l, ":") && !strings.HasPrefix(l, "[") && strings.Count(l, ":") == 1 && !isDigits(l[strings.Index(l, ":")+1:]):
		return PingTarget{}, fmt.Errorf("%q is not a SIP URI", in)
	}
	if strings.ContainsAny(rest, " \t\r\n<>\"") {
		return PingTarget{}, fmt.Errorf("%q is not a SIP URI", in)
	}
	hostport := rest
	if i := strings.IndexAny(hostport, ";?"); i >= 0 {
		params := strings.ToLower(hostport[i:])
		if strings.Contains(params, "transport=") && !strings.Contains(params, "transport=udp") {
			return PingTarget{}, fmt.Errorf("%q: ping speaks UDP only", in)
		}
		hostport = hostport[:i]
	}
	if i := strings.LastIndexByte(hostport, '@'); i >= 0 {
		hostport = hostport[i+1:]
	}
	host, port := hostport, 5060
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return PingTarget{}, fmt.Errorf("%q: unterminated IPv6 reference", in)
		}
		host = hostport[1:end]
		tail := hostport[end+1:]
		if tail != "" {
			p, ok := strings.CutPrefix(tail, ":")
			n, err := strconv.Atoi(p)
			if !ok || err != nil || n < 1 || n > 65535 {
				return PingTarget{}, fmt.Errorf("%q: bad port", in)
			}
			port = n
		}
	} else if h, p, ok := strings.Cut(hostport, ":"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return PingTarget{}, fmt.Errorf("%q: bad port", in)
		}
		host, port = h, n
	}
	if host == "" {
		return PingTarget{}, fmt.Errorf("%q has no host", in)
	}
	uri := "sip:" + rest
	return PingTarget{URI: uri, Host: host, Port: port}, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Ping sends a SIP OPTIONS request over UDP to the target's host and port
// (resolved as a host name, without SRV or NAPTR), retransmits it as RFC
// 3261 timer E does (500 ms doubling up to 4 s), and returns the first
// final reply. Provisional replies are skipped; ErrNoReply comes after the
// timeout.
func Ping(target string, o PingOptions) (*PingReply, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	pt, err := ParsePingTarget(target)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(o.Timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ips, err := net.DefaultResolver.LookupHost(ctx, pt.Host)
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: %w", pt.Host, err)
	}
	raddr := &net.UDPAddr{IP: net.ParseIP(ips[0]), Port: pt.Port}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("udp %s: %w", raddr, err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr)
	branch, tag, callID := "z9hG4bK"+token(12), token(8), token(16)
	req := buildOptions(pt, local, branch, tag, callID, o.UserAgent)

	start := time.Now()
	interval := 500 * time.Millisecond
	buf := make([]byte, 65535)
	for {
		if _, err := conn.Write(req); err != nil {
			return nil, fmt.Errorf("send to %s: %w", raddr, err)
		}
		next := time.Now().Add(interval)
		if next.After(deadline) {
			next = deadline
		}
		for {
			_ = conn.SetReadDeadline(next)
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				// An ICMP port unreachable shows as a read error: keep
				// waiting, as a UAC would, until the timeout.
				if time.Now().After(next) {
					break
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			code, line, ok := parseReply(buf[:n], callID, branch)
			if !ok || code < 200 {
				continue
			}
			return &PingReply{Status: code, StatusLine: line, From: raddr, RTT: time.Since(start)}, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w from %s within %s", ErrNoReply, raddr, o.Timeout)
		}
		interval = min(interval*2, 4*time.Second)
	}
}

func buildOptions(pt PingTarget, local *net.UDPAddr, branch, tag, callID, ua string) []byte {
	host := local.IP.String()
	if local.IP.To4() == nil {
		host = "[" + host + "]"
	}
	hp := host + ":" + strconv.Itoa(local.Port)
	var b strings.Builder
	fmt.Fprintf(&b, "OPTIONS %s SIP/2.0\r\n", pt.URI)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;rport;branch=%s\r\n", hp, branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:daemon@%s>;tag=%s\r\n", host, tag)
	fmt.Fprintf(&b, "To: <%s>\r\n", pt.URI)
	fmt.Fprintf(&b, "Call-ID: %s@%s\r\n", callID, host)
	b.WriteString("CSeq: 1 OPTIONS\r\n")
	fmt.Fprintf(&b, "Contact: <sip:daemon@%s>\r\n", hp)
	if ua != "" {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", ua)
	}
	b.WriteString("Accept: application/sdp\r\n")
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// parseReply reads a reply's status and checks that it answers our
// request: same Call-ID and Via branch, CSeq method OPTIONS. ok is false
// for anything else (requests, strays, garbage).
func parseReply(msg []byte, callID, branch string) (code int, statusLine string, ok bool) {
	text := string(msg)
	head, _, _ := strings.Cut(text, "\r\n\r\n")
	lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
	if len(lines) == 0 {
		return 0, "", false
	}
	first := strings.TrimSpace(lines[0])
	f := strings.SplitN(first, " ", 3)
	if len(f) < 2 || !strings.EqualFold(f[0], "SIP/2.0") {
		return 0, "", false
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return 0, "", false
	}
	var gotCallID, gotBranch, gotMethod bool
	for _, l := range lines[1:] {
		name, val, found := strings.Cut(l, ":")
		if !found {
			continue
		}
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		switch name {
		case "call-id", "i":
			gotCallID = strings.HasPrefix(val, callID+"@")
		case "via", "v":
			if !gotBranch {
				gotBranch = strings.Contains(val, "branch="+branch)
			}
		case "cseq":
			fs := strings.Fields(val)
			gotMethod = len(fs) == 2 && strings.EqualFold(fs[1], "OPTIONS")
		}
	}
	return code, first, gotCallID && gotBranch && gotMethod
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
