package nathelper

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The RTPProxy control protocol, as nathelper speaks it:
//
//   - Over UDP, every command is preceded by a cookie ("<pid>_<seq> ") that
//     the proxy repeats in front of its reply; replies with another cookie
//     (late answers to earlier commands) are skipped. A command is sent up
//     to rtpproxy_retr times, waiting rtpproxy_tout seconds for the reply
//     after each.
//   - Over a unix socket (a stream), the command is written without a
//     cookie, the write side is shut and the reply read until the proxy
//     closes; no retries.
//   - V asks the protocol version (20040107), VF 20050322 whether the
//     required extension is there (1). U creates or updates a session and
//     returns the port (and optionally the address) to put into the SDP; L
//     looks an existing session up; D deletes it; R starts recording it.
//     Errors are "E<n>".
//
// A proxy that does not answer is disabled for rtpproxy_disable_tout
// seconds (-1: for good); when its time is up the next call that picks it
// tests it again with V and VF. A proxy is also tested before its first use.

const (
	// protoVersion is the base protocol version nathelper needs.
	protoVersion = "20040107"
	// protoExtension is the capability it requires (VF).
	protoExtension = "20050322"
	// defaultRTPPPort is the port of an udp: URL without one.
	defaultRTPPPort = 22222
	// maxReply bounds what is read from a proxy.
	maxReply = 4096
)

var (
	errRTPPTimeout  = errors.New("no reply from the RTP proxy")
	errRTPPNoProxy  = errors.New("no RTP proxy available")
	errRTPPVersion  = errors.New("unsupported RTP proxy version")
	errRTPPNoSet    = errors.New("no RTP proxy set selected")
	errRTPPBadReply = errors.New("bad reply from the RTP proxy")
)

type rtppSettings struct {
	tout        int // seconds to wait for a reply
	retr        int // sends of a UDP command
	disableTout int // seconds a dead proxy stays disabled; -1 for good
}

// rtppNode is one RTP proxy of a set.
type rtppNode struct {
	url     string // as configured, without the weight
	network string // unix, udp, udp6
	addr    string // socket path, or host:port
	weight  int
	setID   int

	mu        sync.Mutex
	tested    bool
	disabled  bool
	forever   bool // disabled by nh_enable_rtpp: never re-tested
	recheckAt time.Time
}

// rtppSet is a set of proxies chosen among by the hash of the Call-ID.
type rtppSet struct {
	id    int
	nodes []*rtppNode
}

// rtppClient talks to the configured RTP proxies. It is safe for
// concurrent use: each UDP command has a socket of its own.
type rtppClient struct {
	sets []*rtppSet
	byID map[int]*rtppSet
	st   rtppSettings
	log  *slog.Logger
	seq  atomic.Uint64
	pid  int
	now  func() time.Time
}

func newRTPPClient(sets []*rtppSet, st rtppSettings) *rtppClient {
	cl := &rtppClient{sets: sets, byID: map[int]*rtppSet{}, st: st, log: slog.Default(), pid: os.Getpid(), now: time.Now}
	for _, s := range sets {
		cl.byID[s.id] = s
	}
	return cl
}

// defaultSet is set 0, or nil when it is not configured.
func (cl *rtppClient) defaultSet() *rtppSet { return cl.byID[0] }

// parseRTPProxySocks reads the rtpproxy_sock values: each is
// "[<set> ==] <url>[=<weight>] ...", a URL being unix:/path, udp:host:port,
// udp6:host:port, or a bare socket path. Values naming the same set add to
// it.
func parseRTPProxySocks(values []string) ([]*rtppSet, error) {
	var sets []*rtppSet
	byID := map[int]*rtppSet{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" || strings.EqualFold(v, "none") {
			continue
		}
		id := 0
		if head, rest, ok := strings.Cut(v, "=="); ok {
			n, err := strconv.Atoi(strings.TrimSpace(head))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("rtpproxy_sock %q: the set id %q is not a number", v, strings.TrimSpace(head))
			}
			id, v = n, rest
		}
		urls := strings.Fields(v)
		if len(urls) == 0 {
			return nil, fmt.Errorf("rtpproxy_sock %q: no RTP proxy in set %d", v, id)
		}
		set := byID[id]
		if set == nil {
			set = &rtppSet{id: id}
			byID[id] = set
			sets = append(sets, set)
		}
		for _, u := range urls {
			n, err := parseRTPPURL(u)
			if err != nil {
				return nil, fmt.Errorf("rtpproxy_sock: %w", err)
			}
			n.setID = id
			set.nodes = append(set.nodes, n)
		}
	}
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].id < sets[j].id })
	return sets, nil
}

func parseRTPPURL(u string) (*rtppNode, error) {
	n := &rtppNode{weight: 1}
	s := u
	if i := strings.LastIndexByte(s, '='); i >= 0 {
		w, err := strconv.Atoi(s[i+1:])
		if err != nil || w < 0 {
			return nil, fmt.Errorf("%q: bad weight %q", u, s[i+1:])
		}
		n.weight, s = w, s[:i]
	}
	n.url = s
	switch {
	case strings.HasPrefix(s, "unix:"):
		n.network, n.addr = "unix", s[len("unix:"):]
	case strings.HasPrefix(s, "udp6:"):
		n.network, n.addr = "udp6", s[len("udp6:"):]
	case strings.HasPrefix(s, "udp:"):
		n.network, n.addr = "udp", s[len("udp:"):]
	default:
		n.network, n.addr = "unix", s
		n.url = "unix:" + s
	}
	if n.addr == "" {
		return nil, fmt.Errorf("%q: no address", u)
	}
	if n.network == "unix" {
		return n, nil
	}
	host, port := n.addr, strconv.Itoa(defaultRTPPPort)
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return nil, fmt.Errorf("%q: unclosed [", u)
		}
		if rest := host[end+1:]; rest != "" {
			if rest[0] != ':' {
				return nil, fmt.Errorf("%q: bad address", u)
			}
			port = rest[1:]
		}
		host = host[1:end]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && (n.network == "udp" || strings.Count(host, ":") > 1) {
		host, port = host[:i], host[i+1:]
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 || host == "" {
		return nil, fmt.Errorf("%q: bad host or port", u)
	}
	n.addr = net.JoinHostPort(host, strconv.Itoa(p))
	return n, nil
}

// selectNode picks the proxy of a set for a call: the only one, or one
// chosen by the Call-ID hash among the enabled ones, by weight. Proxies
// not tested yet, or disabled and due for a recheck, are tested first. Nil
// when none is available.
func (cl *rtppClient) selectNode(set *rtppSet, callid string) *rtppNode {
	if set == nil || len(set.nodes) == 0 {
		return nil
	}
	if len(set.nodes) == 1 {
		if cl.usable(set.nodes[0]) {
			return set.nodes[0]
		}
		return nil
	}
	sum := 0
	for i := 0; i < len(callid); i++ {
		sum += int(callid[i])
	}
	sum &= 0xff
	var live []*rtppNode
	total := 0
	for _, n := range set.nodes {
		if cl.usable(n) {
			live = append(live, n)
			total += n.weight
		}
	}
	if total == 0 {
		return nil
	}
	cut := sum % total
	for _, n := range live {
		if cut < n.weight {
			return n
		}
		cut -= n.weight
	}
	return nil
}

// usable reports whether a proxy may take a command, testing it when it
// was never tested or when its disabled time is over.
func (cl *rtppClient) usable(n *rtppNode) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.forever:
		return false
	case !n.tested:
	case !n.disabled:
		return true
	case cl.st.disableTout < 0 || cl.now().Before(n.recheckAt):
		return false
	}
	first := !n.tested
	n.tested = true
	if err := cl.test(n); err != nil {
		cl.log.Warn("RTP proxy disabled", "rtpproxy", n.url, "error", err, "for_seconds", cl.st.disableTout)
		n.disabled = true
		n.recheckAt = cl.now().Add(time.Duration(cl.st.disableTout) * time.Second)
		return false
	}
	if first {
		cl.log.Info("RTP proxy found", "rtpproxy", n.url)
	} else if n.disabled {
		cl.log.Info("RTP proxy enabled again", "rtpproxy", n.url)
	}
	n.disabled = false
	return true
}

// test checks the protocol version and the required extension.
func (cl *rtppClient) test(n *rtppNode) error {
	r, err := cl.send(n, "V")
	if err != nil {
		return err
	}
	if strings.TrimSpace(r) != protoVersion {
		return fmt.Errorf("%w: %q, want %s", errRTPPVersion, r, protoVersion)
	}
	r, err = cl.send(n, "VF "+protoExtension)
	if err != nil {
		return err
	}
	if strings.TrimSpace(r) != "1" {
		return fmt.Errorf("%w: no support for %s (%q)", errRTPPVersion, protoExtension, r)
	}
	return nil
}

// command sends a command to a proxy and returns its reply; a proxy that
// does not answer is disabled.
func (cl *rtppClient) command(n *rtppNode, cmd string) (string, error) {
	r, err := cl.send(n, cmd)
	if err != nil {
		n.mu.Lock()
		n.disabled = true
		n.recheckAt = cl.now().Add(time.Duration(cl.st.disableTout) * time.Second)
		n.mu.Unlock()
		cl.log.Error("RTP proxy does not respond, disabled", "rtpproxy", n.url, "error", err, "for_seconds", cl.st.disableTout)
		return "", err
	}
	return r, nil
}

// send runs one command on a proxy.
func (cl *rtppClient) send(n *rtppNode, cmd string) (string, error) {
	tout := time.Duration(max(cl.st.tout, 1)) * time.Second
	if n.network == "unix" {
		return cl.sendUnix(n, cmd, tout)
	}
	conn, err := net.DialTimeout(n.network, n.addr, tout)
	if err != nil {
		return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
	}
	defer conn.Close()
	cookie := strconv.Itoa(cl.pid) + "_" + strconv.FormatUint(cl.seq.Add(1), 10)
	out := []byte(cookie + " " + cmd)
	buf := make([]byte, maxReply)
	for i := 0; i < max(cl.st.retr, 1); i++ {
		if _, err := conn.Write(out); err != nil {
			return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(tout)); err != nil {
			return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
		}
		for {
			k, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
			}
			r := string(buf[:k])
			if r == cookie {
				return "", nil
			}
			if rest, ok := strings.CutPrefix(r, cookie+" "); ok {
				return strings.TrimRight(rest, "\r\n\x00 "), nil
			}
		}
	}
	return "", fmt.Errorf("rtpproxy %s: %w after %d tries", n.url, errRTPPTimeout, max(cl.st.retr, 1))
}

func (cl *rtppClient) sendUnix(n *rtppNode, cmd string, tout time.Duration) (string, error) {
	conn, err := net.DialTimeout("unix", n.addr, tout)
	if err != nil {
		return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(tout)); err != nil {
		return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
	}
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	b, err := io.ReadAll(io.LimitReader(conn, maxReply))
	if err != nil && len(b) == 0 {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", fmt.Errorf("rtpproxy %s: %w", n.url, errRTPPTimeout)
		}
		return "", fmt.Errorf("rtpproxy %s: %w", n.url, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("rtpproxy %s: %w", n.url, errRTPPBadReply)
	}
	return strings.TrimRight(string(b), "\r\n\x00 "), nil
}

// find returns the proxy with that URL.
func (cl *rtppClient) find(url string) *rtppNode {
	for _, s := range cl.sets {
		for _, n := range s.nodes {
			if n.url == url {
				return n
			}
		}
	}
	return nil
}
