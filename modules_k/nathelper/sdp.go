package nathelper

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// The SDP editor works on lines and changes only the tokens it rewrites
// (an address, a port, the address type), so the rest of the body goes
// out byte for byte as it came, line ends included. A last line without a
// line end is allowed.

type sdpLine struct {
	text string // without the line end
	eol  string // "\r\n", "\n", or "" for a last line without one
}

type sdp struct {
	lines []sdpLine
}

var errSDP = errors.New("malformed SDP")

// maxSDPLines bounds the work on hostile bodies.
const maxSDPLines = 4096

// parseSDP splits a body into lines and checks that it looks like SDP: it
// starts with v=, and every line is "<letter>=...".
func parseSDP(b []byte) (*sdp, error) {
	text := string(b)
	s := &sdp{}
	for len(text) > 0 {
		if len(s.lines) >= maxSDPLines {
			return nil, errSDP
		}
		i := strings.IndexByte(text, '\n')
		var l sdpLine
		if i < 0 {
			l.text, text = text, ""
		} else {
			l.text, l.eol, text = text[:i], "\n", text[i+1:]
			if strings.HasSuffix(l.text, "\r") {
				l.text, l.eol = l.text[:len(l.text)-1], "\r\n"
			}
		}
		s.lines = append(s.lines, l)
	}
	// Trailing empty lines are tolerated (and kept).
	n := len(s.lines)
	for n > 0 && s.lines[n-1].text == "" {
		n--
	}
	if n == 0 || !strings.HasPrefix(s.lines[0].text, "v=") {
		return nil, errSDP
	}
	for _, l := range s.lines[:n] {
		t := l.text
		if len(t) < 2 || t[1] != '=' || !(t[0] >= 'a' && t[0] <= 'z' || t[0] >= 'A' && t[0] <= 'Z') {
			return nil, errSDP
		}
	}
	return s, nil
}

// typ is the type letter of line i (0 for an empty line).
func (s *sdp) typ(i int) byte {
	if len(s.lines[i].text) < 2 {
		return 0
	}
	return s.lines[i].text[0]
}

func (s *sdp) bytes() []byte {
	n := 0
	for _, l := range s.lines {
		n += len(l.text) + len(l.eol)
	}
	b := make([]byte, 0, n)
	for _, l := range s.lines {
		b = append(b, l.text...)
		b = append(b, l.eol...)
	}
	return b
}

// eol is the line end the body uses.
func (s *sdp) eol() string {
	for _, l := range s.lines {
		if l.eol != "" {
			return l.eol
		}
	}
	return "\r\n"
}

// appendLine adds a line at the end of the body (in the last media
// section, as Kamailio's lumps at the body end do).
func (s *sdp) appendLine(text string) {
	eol := s.eol()
	// Drop trailing empty lines, then make sure the last line is ended.
	for len(s.lines) > 1 && s.lines[len(s.lines)-1].text == "" {
		s.lines = s.lines[:len(s.lines)-1]
	}
	if last := &s.lines[len(s.lines)-1]; last.eol == "" {
		last.eol = eol
	}
	s.lines = append(s.lines, sdpLine{text: text, eol: eol})
}

// hasLine reports whether a line equals text.
func (s *sdp) hasLine(text string) bool {
	for _, l := range s.lines {
		if l.text == text {
			return true
		}
	}
	return false
}

// field is a space-separated token of a line and where it is.
type field struct {
	s          string
	start, end int
}

func fields(text string) []field {
	var out []field
	i := 0
	for i < len(text) {
		for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
		st := i
		for i < len(text) && text[i] != ' ' && text[i] != '\t' {
			i++
		}
		if i > st {
			out = append(out, field{text[st:i], st, i})
		}
	}
	return out
}

// connAddr is the address of a c= or o= line: its type (IP4, IP6) and
// value, and their places in the line.
type connAddr struct {
	af, addr       string
	afStart, afEnd int
	start, end     int
}

// parseConn reads "c=IN IP4 192.0.2.1[/ttl[/n]]".
func parseConn(text string) (connAddr, bool) {
	f := fields(text)
	if len(f) < 3 || !strings.EqualFold(f[0].s, "c=IN") {
		return connAddr{}, false
	}
	return addrField(f[1], f[2])
}

// parseOrigin reads "o=user id version IN IP4 192.0.2.1".
func parseOrigin(text string) (connAddr, bool) {
	f := fields(text)
	if len(f) < 6 || !strings.EqualFold(f[3].s, "IN") {
		return connAddr{}, false
	}
	return addrField(f[4], f[5])
}

func addrField(af, a field) (connAddr, bool) {
	t := strings.ToUpper(af.s)
	if t != "IP4" && t != "IP6" {
		return connAddr{}, false
	}
	end := a.end
	if i := strings.IndexByte(a.s, '/'); i >= 0 {
		end = a.start + i
	}
	addr := a.s[:end-a.start]
	if addr == "" {
		return connAddr{}, false
	}
	return connAddr{af: t, addr: addr, afStart: af.start, afEnd: af.end, start: a.start, end: end}, true
}

// isNull reports whether the address is the "no media" address (0.0.0.0,
// ::), used to put a stream on hold.
func (a connAddr) isNull() bool {
	ip, err := netip.ParseAddr(a.addr)
	return err == nil && ip.IsUnspecified()
}

// setAddr rewrites the address of line i (a c= or o= line) to ip, and its
// type to match ip's family.
func (s *sdp) setAddr(i int, a connAddr, ip string) {
	af := "IP4"
	if strings.Contains(ip, ":") {
		af = "IP6"
	}
	t := s.lines[i].text
	if strings.EqualFold(a.af, af) {
		af = t[a.afStart:a.afEnd] // keep its spelling
	}
	s.lines[i].text = t[:a.afStart] + af + t[a.afEnd:a.start] + ip + t[a.end:]
}

// media is an m= line: its port and transport, and its place.
type media struct {
	line      int // index of the m= line
	end       int // index after the last line of its section
	port      int
	proto     string
	portStart int
	portEnd   int
	connLine  int // index of the section's c= line, or -1
}

// medias returns the media sections in order; sessionEnd is the index of
// the first m= line.
func (s *sdp) medias() (ms []media, sessionEnd int, err error) {
	sessionEnd = len(s.lines)
	for i := range s.lines {
		if s.typ(i) != 'm' {
			continue
		}
		if len(ms) == 0 {
			sessionEnd = i
		} else {
			ms[len(ms)-1].end = i
		}
		f := fields(s.lines[i].text)
		if len(f) < 3 {
			return nil, 0, errSDP
		}
		pf := f[1]
		ps := pf.s
		if j := strings.IndexByte(ps, '/'); j >= 0 {
			ps = ps[:j]
		}
		port, perr := strconv.Atoi(ps)
		if perr != nil || port < 0 || port > 65535 || ps == "" || ps[0] == '+' || ps[0] == '-' {
			return nil, 0, errSDP
		}
		ms = append(ms, media{line: i, end: len(s.lines), port: port, proto: strings.ToLower(f[2].s),
			portStart: pf.start, portEnd: pf.start + len(ps), connLine: -1})
	}
	for k := range ms {
		for i := ms[k].line + 1; i < ms[k].end; i++ {
			if s.typ(i) == 'c' {
				ms[k].connLine = i
				break
			}
		}
	}
	return ms, sessionEnd, nil
}

// setPort rewrites the port of an m= line.
func (s *sdp) setPort(m media, port int) {
	t := s.lines[m.line].text
	s.lines[m.line].text = t[:m.portStart] + strconv.Itoa(port) + t[m.portEnd:]
}

// sessionConn is the index of the session-level c= line, or -1.
func (s *sdp) sessionConn(sessionEnd int) int {
	for i := 0; i < sessionEnd; i++ {
		if s.typ(i) == 'c' {
			return i
		}
	}
	return -1
}

// origin is the index of the o= line, or -1.
func (s *sdp) origin(sessionEnd int) int {
	for i := 0; i < sessionEnd; i++ {
		if s.typ(i) == 'o' {
			return i
		}
	}
	return -1
}

// sdpBody returns the body of msg when it is SDP: a Content-Type of
// application/sdp, or none at all (Kamailio assumes SDP then).
func sdpBody(msg sip.Message) ([]byte, bool) {
	body := msg.Body()
	if len(body) == 0 {
		return nil, false
	}
	if h := sipmsg.Header(msg, "Content-Type"); h != nil {
		mt, _, _ := strings.Cut(h.Value(), ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "application/sdp") {
			return nil, false
		}
	}
	return body, true
}

// rtpProtos are the m= transports that go through an RTP proxy or whose
// address is fixed (Kamailio's sup_ptypes).
var rtpProtos = map[string]bool{
	"udp": true, "udptl": true, "rtp/avp": true, "rtp/avpf": true, "rtp/savp": true, "rtp/savpf": true,
}
