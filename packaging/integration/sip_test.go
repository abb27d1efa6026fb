package integration_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sipPeer is a UDP SIP client on 127.0.0.1 talking to one server port.
type sipPeer struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	seq    int
}

func newPeer(t *testing.T, port int) *sipPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sipPeer{conn: c, server: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}
}

// request sends a request and returns the first final reply (or "" when
// none came within the timeout).
func (p *sipPeer) request(method, ruri, from, to string, extra []string, timeout time.Duration) (string, error) {
	p.seq++
	local := p.conn.LocalAddr().(*net.UDPAddr)
	branch := fmt.Sprintf("z9hG4bK-srtest-%d-%d", time.Now().UnixNano(), p.seq)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n", local.Port, branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <%s>;tag=srtest%d\r\n", from, p.seq)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Call-ID: srtest-%d@127.0.0.1\r\n", local.Port)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", p.seq, method)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := p.conn.WriteToUDP([]byte(b.String()), p.server); err != nil {
		return "", err
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65535)
	for {
		if err := p.conn.SetReadDeadline(deadline); err != nil {
			return "", err
		}
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return "", err
		}
		msg := string(buf[:n])
		if !strings.Contains(msg, branch) {
			continue // a late reply to an earlier request
		}
		if strings.HasPrefix(msg, "SIP/2.0 1") {
			continue
		}
		return msg, nil
	}
}

// waitOptions sends OPTIONS until the server answers or the deadline.
func (p *sipPeer) waitOptions(t *testing.T, within time.Duration) string {
	t.Helper()
	uri := fmt.Sprintf("sip:127.0.0.1:%d", p.server.Port)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		r, err := p.request("OPTIONS", uri, "sip:srtest@127.0.0.1", uri, nil, 500*time.Millisecond)
		if err == nil {
			return r
		}
	}
	t.Fatalf("no answer to OPTIONS on %s within %v", uri, within)
	return ""
}

var challengeRe = regexp.MustCompile(`(?i)\b(realm|nonce|qop|opaque|algorithm)="?([^",\r\n]+)"?`)

// register registers user@domain with password, answering a digest
// challenge, and returns the final reply.
func (p *sipPeer) register(user, domain, password string) (string, error) {
	ruri := fmt.Sprintf("sip:127.0.0.1:%d", p.server.Port)
	aor := "sip:" + user + "@" + domain
	local := p.conn.LocalAddr().(*net.UDPAddr)
	contact := fmt.Sprintf("Contact: <sip:%s@127.0.0.1:%d>;expires=600", user, local.Port)
	r, err := p.request("REGISTER", ruri, aor, aor, []string{contact}, 3*time.Second)
	if err != nil || !strings.HasPrefix(r, "SIP/2.0 401") {
		return r, err
	}
	var challenge string
	for _, l := range strings.Split(r, "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "www-authenticate:") {
			challenge = l
		}
	}
	params := map[string]string{}
	for _, m := range challengeRe.FindAllStringSubmatch(challenge, -1) {
		params[strings.ToLower(m[1])] = m[2]
	}
	h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := h(user + ":" + params["realm"] + ":" + password)
	ha2 := h("REGISTER:" + ruri)
	auth := fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5`,
		user, params["realm"], params["nonce"], ruri)
	if strings.Contains(params["qop"], "auth") {
		cnonce, nc := "0a4f113b", "00000001"
		auth += fmt.Sprintf(`, qop=auth, nc=%s, cnonce="%s", response="%s"`, nc, cnonce,
			h(ha1+":"+params["nonce"]+":"+nc+":"+cnonce+":auth:"+ha2))
	} else {
		auth += fmt.Sprintf(`, response="%s"`, h(ha1+":"+params["nonce"]+":"+ha2))
	}
	if op := params["opaque"]; op != "" {
		auth += fmt.Sprintf(`, opaque="%s"`, op)
	}
	return p.request("REGISTER", ruri, aor, aor, []string{contact, auth}, 3*time.Second)
}

// statusLine is the first line of a message.
func statusLine(msg string) string {
	line, _, _ := strings.Cut(msg, "\r\n")
	return line
}
