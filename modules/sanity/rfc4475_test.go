package sanity_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
)

// torture is the RFC 4475 folder, read at run time (shared/ lies beside
// the project).
var torture = func() string {
	for _, p := range []string{"../../../shared/testdata/rfc4475", "/work/shared/testdata/rfc4475"} {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	return ""
}()

// rfcCfg answers every request that passes the checks of the 3.0 default
// configuration plus Proxy-Require (1511 + 512) with 200 "Sanity OK".
const rfcCfg = `
LISTEN
# siptest.Start binds :0 as port=, so ask for ephemeral ports explicitly.
port=0
loadmodule "sl.so"
loadmodule "sanity.so"
route {
	if (!sanity_check("2023", "7")) {
		exit;
	}
	sl_send_reply("200", "Sanity OK");
}
`

// outcome is what a torture message gets: a reply code and reason, or
// nothing ("").
type outcome struct {
	code   int
	reason string
	// extra is a header the reply must carry ("Name: value").
	extra string
}

// passed means the message reached the script and passed every check.
var passed = outcome{200, "Sanity OK", ""}

// rfcWant is the outcome of each file. Replies with the core's reasons
// ("Bad Request", "Unsupported URI Scheme" …) were refused by the transport
// before the script; the others come from the script.
var rfcWant = map[string]outcome{
	// valid/: must parse; the checks must not refuse them, except where
	// the RFC itself expects a semantic refusal.
	"valid/badbranch.dat":  passed,
	"valid/bcast.dat":      {}, // a response: never answered
	"valid/bext01.dat":     {420, "Bad Extension", "Unsupported: noProxiesSupportThis, norDoAnyProxiesSupportThis"},
	"valid/cparam01.dat":   passed,
	"valid/cparam02.dat":   passed,
	"valid/dblreq.dat":     passed,
	"valid/esc01.dat":      passed,
	"valid/esc02.dat":      passed,
	"valid/escnull.dat":    passed,
	"valid/intmeth.dat":    passed,
	"valid/inv2543.dat":    passed,
	"valid/invut.dat":      passed,
	"valid/longreq.dat":    passed,
	"valid/lwsdisp.dat":    passed,
	"valid/mpart01.dat":    passed,
	"valid/noreason.dat":   {},
	"valid/novelsc.dat":    {416, "Unsupported URI Scheme", ""}, // the transport: sipgo cannot hold the URI
	"valid/regaut01.dat":   passed,                              // 2048 is not asked for
	"valid/regescrt.dat":   passed,
	"valid/sdp01.dat":      passed,
	"valid/semiuri.dat":    passed,
	"valid/transports.dat": passed,
	"valid/unkscm.dat":     {416, "Unsupported URI Scheme", ""}, // the transport
	"valid/unksm2.dat":     {400, "Bad From URI", ""},           // 1024: From is http:
	"valid/unreason.dat":   {},
	"valid/wsinv.dat":      passed,
	"valid/zeromf.dat":     passed, // Max-Forwards is maxfwd's business
	// invalid/: refused by the transport, except baddate (Date is not
	// used, so it may be processed).
	"invalid/badaspec.dat":   {400, "Bad Request", ""},
	"invalid/baddate.dat":    passed,
	"invalid/baddn.dat":      {400, "Bad Request", ""},
	"invalid/badinv01.dat":   {400, "Bad Request", ""},
	"invalid/badvers.dat":    {505, "Version Not Supported", ""},
	"invalid/bigcode.dat":    {},
	"invalid/clerr.dat":      {400, "Bad Request", ""},
	"invalid/escruri.dat":    {400, "Bad Request-URI", ""},
	"invalid/insuf.dat":      {400, "Missing Required Header", ""},
	"invalid/ltgtruri.dat":   {400, "Bad Request", ""},
	"invalid/lwsruri.dat":    {400, "Bad Request", ""},
	"invalid/lwsstart.dat":   {400, "Bad Request", ""},
	"invalid/mcl01.dat":      {400, "Duplicate Content-Length Header", ""},
	"invalid/mismatch01.dat": {400, "CSeq Method Mismatch", ""},
	"invalid/mismatch02.dat": {501, "Not Implemented", ""},
	"invalid/multi01.dat":    {400, "Duplicate From Header", ""},
	"invalid/ncl.dat":        {400, "Bad Request", ""},
	"invalid/quotbal.dat":    {400, "Bad Request", ""},
	"invalid/regbadct.dat":   {400, "Bad Request", ""},
	"invalid/scalar02.dat":   {400, "Bad Request", ""},
	"invalid/scalarlg.dat":   {},
	"invalid/trws.dat":       {400, "Bad Request", ""},
}

// withRport adds ;rport to the first Via value of a raw message, so that
// the reply comes back to the test's port rather than to the Via's
// (example.com:5060). Only header bytes change: ";rport" goes before the
// first comma of the first Via header, or at the end of its last
// (folded) line.
func withRport(raw []byte) []byte {
	lines := bytes.SplitAfter(raw, []byte("\n"))
	for i, l := range lines {
		t := strings.TrimRight(string(l), "\r\n")
		if t == "" {
			break
		}
		name, _, ok := strings.Cut(t, ":")
		if !ok || t[0] == ' ' || t[0] == '\t' || !sipmsg.Same(name, "Via") {
			continue
		}
		last := i
		for last+1 < len(lines) && len(lines[last+1]) > 0 && (lines[last+1][0] == ' ' || lines[last+1][0] == '\t') {
			last++
		}
		for k := i; k <= last; k++ {
			line := string(lines[k])
			from := 0
			if k == i {
				from = len(name) + 1
			}
			body := strings.TrimRight(line, "\r\n")
			at := -1
			if j := strings.IndexByte(body[from:], ','); j >= 0 {
				at = from + j
			} else if k == last {
				at = len(body)
			}
			if at >= 0 {
				lines[k] = []byte(line[:at] + ";rport" + line[at:])
				return bytes.Join(lines, nil)
			}
		}
		return raw
	}
	return raw
}

func TestRFC4475(t *testing.T) {
	if torture == "" {
		t.Skip("shared/testdata/rfc4475 not found")
	}
	files, _ := filepath.Glob(filepath.Join(torture, "*", "*.dat"))
	if len(files) != 49 {
		t.Fatalf("found %d torture files, want 49", len(files))
	}
	sort.Strings(files)
	srv := siptest.Start(t, rfcCfg)
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := rfcWant[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			peer := siptest.NewPeer(t)
			peer.SendRaw(srv.UDP, withRport(raw))
			wait := 2 * time.Second
			if want.code == 0 {
				wait = 300 * time.Millisecond
			}
			got, err := recvRaw(peer, wait)
			if want.code == 0 {
				if err == nil {
					t.Fatalf("got an answer to a response:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			// Replies built from raw bytes may copy values our parser
			// refuses, so read the status line and headers as text.
			head, _, _ := strings.Cut(string(got), "\r\n\r\n")
			lines := strings.Split(head, "\r\n")
			if line := fmt.Sprintf("SIP/2.0 %d %s", want.code, want.reason); lines[0] != line {
				t.Errorf("got %q, want %q", lines[0], line)
			}
			if want.extra != "" {
				n, v, _ := strings.Cut(want.extra, ": ")
				found := false
				for _, l := range lines[1:] {
					hn, hv, _ := strings.Cut(l, ":")
					if sipmsg.Same(hn, n) && strings.TrimSpace(hv) == v {
						found = true
					}
				}
				if !found {
					t.Errorf("reply lacks %q:\n%s", want.extra, head)
				}
			}
			// One reply per request.
			if more, err := recvRaw(peer, 50*time.Millisecond); err == nil {
				t.Errorf("a second reply:\n%s", more)
			}
		})
	}
	peer := siptest.NewPeer(t)
	// The server is still there.
	peer.Send(srv.UDP, `
OPTIONS sip:health@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-health;rport
From: <sip:t@example.com>;tag=h
To: <sip:health@example.com>
Call-ID: health@test
CSeq: 1 OPTIONS
Max-Forwards: 70
`)
	if res := peer.ExpectReply(time.Second, 200); res.Reason != "Sanity OK" {
		t.Errorf("health check: %d %s", res.StatusCode, res.Reason)
	}
	if strings.Contains(srv.Log(), "panic") {
		t.Error("the server log mentions a panic")
	}
}

// recvRaw reads one datagram, waiting at most d.
func recvRaw(p *siptest.Peer, d time.Duration) ([]byte, error) {
	buf := make([]byte, 65535)
	if err := p.Conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, err
	}
	n, _, err := p.Conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
