package flavors_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The RFC 4475 torture messages go to the built server, running in a
// network namespace of its own that holds only loopback: their Via headers
// name outside hosts (192.0.2.x, example.com), and no reply may leave the
// machine. The test re-runs itself under "unshare -n".

const netnsChildEnv = "SIPROUTER_NETNS_CHILD"

// torture is the server config: a proxy authoritative for example.com and
// example.net with the request checks of Kamailio 5.6's default config
// plus Proxy-Require (17895 + 512: not 2048, which would refuse the
// unknown Authorization scheme that RFC 4475 says to ignore). Requests
// for its users get 404 (no registrar here); for other domains 403 Not
// relaying.
const torture = `#!KAMAILIO
children=2
listen=udp:127.0.0.1:5099
listen=tcp:127.0.0.1:5099
alias=example.com
alias=example.net
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "sanity.so"
loadmodule "siputils.so"
loadmodule "textops.so"
route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (!sanity_check("18407", "7")) {
		exit;
	}
	if (is_method("OPTIONS") && uri == myself && $rU == $null) {
		sl_send_reply("200", "Keepalive");
		exit;
	}
	if (!uri == myself) {
		sl_send_reply("403", "Not relaying");
		exit;
	}
	sl_send_reply("404", "Not Found");
}
`

// outcome says what a message must get: the allowed reply codes, or none
// (nil) for a message that must not be answered.
type outcome []int

var rfc4475 = map[string]outcome{
	// valid/: never a 400 from a parse failure.
	"valid/wsinv.dat":      {403}, // chair-dnrc.example.com is not ours
	"valid/intmeth.dat":    {404},
	"valid/esc01.dat":      {404},
	"valid/escnull.dat":    {404},
	"valid/esc02.dat":      {403}, // registrar.example.com is not ours; never REGISTER processing
	"valid/lwsdisp.dat":    {404},
	"valid/longreq.dat":    {404},
	"valid/dblreq.dat":     {404},
	"valid/semiuri.dat":    {404},
	"valid/transports.dat": {404},
	"valid/mpart01.dat":    {403}, // example.org is not ours
	"valid/unreason.dat":   nil,
	"valid/noreason.dat":   nil,
	"valid/badbranch.dat":  {404, 400},
	"valid/unkscm.dat":     {416},
	"valid/novelsc.dat":    {416},
	"valid/unksm2.dat":     {404, 400}, // a registrar refuses the isbn: AOR with 400
	"valid/bext01.dat":     {420},
	"valid/invut.dat":      {404},
	"valid/regaut01.dat":   {404},
	"valid/bcast.dat":      nil,
	"valid/zeromf.dat":     {483},
	"valid/cparam01.dat":   {404},
	"valid/cparam02.dat":   {404},
	"valid/regescrt.dat":   {404},
	"valid/sdp01.dat":      {404},
	"valid/inv2543.dat":    {404},
	// invalid/: rejected with the listed code or 400, or dropped.
	"invalid/badinv01.dat":   {400},
	"invalid/clerr.dat":      {400},
	"invalid/ncl.dat":        {400},
	"invalid/scalar02.dat":   {400},
	"invalid/scalarlg.dat":   nil,
	"invalid/quotbal.dat":    {400},
	"invalid/ltgtruri.dat":   {400},
	"invalid/lwsruri.dat":    {400},
	"invalid/lwsstart.dat":   {400},
	"invalid/trws.dat":       {400},
	"invalid/escruri.dat":    {400},
	"invalid/baddate.dat":    {404, 400},
	"invalid/regbadct.dat":   {400},
	"invalid/badaspec.dat":   {400},
	"invalid/baddn.dat":      {400},
	"invalid/badvers.dat":    {505},
	"invalid/mismatch01.dat": {400},
	"invalid/mismatch02.dat": {501, 400},
	"invalid/bigcode.dat":    nil,
	"invalid/insuf.dat":      {400},
	"invalid/multi01.dat":    {400},
	"invalid/mcl01.dat":      {400},
}

func TestRFC4475InNetns(t *testing.T) {
	if os.Getenv(netnsChildEnv) != "" {
		rfc4475Child(t)
		return
	}
	unshare := need(t, "unshare")
	need(t, "ip")
	if os.Geteuid() != 0 {
		if os.Getenv("SIPROUTER_CI") != "" {
			t.Fatal("the RFC 4475 test needs root for a network namespace under CI")
		}
		t.Skip("needs root to create a network namespace (unshare -n)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "-n", "--", exe, "-test.run", "^TestRFC4475InNetns$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsChildEnv+"=1", binDirEnv+"="+binDir)
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the test inside the namespace failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestRFC4475InNetns") {
		t.Fatal("the test inside the namespace did not pass")
	}
}

// rfc4475Child runs inside the namespace.
func rfc4475Child(t *testing.T) {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	ifaces, _ := net.Interfaces()
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 {
			t.Fatalf("the namespace has a non-loopback interface %s: refusing to send torture messages", i.Name)
		}
	}
	srv := startServer(t, "kamailio", torture, 5099)

	// Replies go to received=127.0.0.1 and the Via's port (5060 by
	// default, 5050 and 5070 in two files) or the sender's port with
	// rport. Listen on all of them.
	var sinks []*net.UDPConn
	for _, port := range []int{0, 5060, 5050, 5070} {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sinks = append(sinks, c)
	}
	sender := sinks[0]
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5099}
	dir := "../../shared/testdata/rfc4475"
	names := make([]string, 0, len(rfc4475))
	for n := range rfc4475 {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		want := rfc4475[name]
		t.Run(strings.TrimSuffix(name, ".dat"), func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sender.WriteTo(msg, dst); err != nil {
				t.Fatal(err)
			}
			codes := collect(sinks, want != nil)
			if want == nil {
				if len(codes) > 0 {
					t.Errorf("a response was answered: %v", codes)
				}
				return
			}
			if len(codes) != 1 {
				t.Fatalf("got replies %v, want exactly one of %v", codes, []int(want))
			}
			ok := false
			for _, w := range want {
				if codes[0] == w {
					ok = true
				}
			}
			if !ok {
				t.Errorf("got %d, want one of %v", codes[0], []int(want))
			}
		})
	}
	// The server is still alive and answering.
	probe := "OPTIONS sip:127.0.0.1:5099 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-alive;rport\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: alive@test\r\nCSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	port := sender.LocalAddr().(*net.UDPAddr).Port
	if _, err := sender.WriteTo([]byte(fmt.Sprintf(probe, port)), dst); err != nil {
		t.Fatal(err)
	}
	if codes := collect(sinks, true); len(codes) != 1 || codes[0] != 200 {
		t.Fatalf("health check after the torture: %v\n%s", codes, srv.Log())
	}
	if strings.Contains(srv.Log(), "panic") {
		t.Errorf("the server log mentions a panic:\n%s", srv.Log())
	}
}

// collect reads replies from every sink: when one is expected, until it
// comes (3 s at most) plus a short grace for duplicates; otherwise for a
// short while, to see that nothing comes.
func collect(sinks []*net.UDPConn, expect bool) []int {
	var codes []int
	deadline := time.Now().Add(300 * time.Millisecond)
	if expect {
		deadline = time.Now().Add(3 * time.Second)
	}
	buf := make([]byte, 65535)
	for time.Now().Before(deadline) {
		got := false
		for _, s := range sinks {
			_ = s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, _, err := s.ReadFrom(buf)
			if err != nil {
				continue
			}
			got = true
			line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
			f := strings.Fields(string(line))
			if len(f) >= 2 && f[0] == "SIP/2.0" {
				if c, err := strconv.Atoi(f[1]); err == nil {
					codes = append(codes, c)
				}
			}
		}
		if expect && len(codes) > 0 && !got {
			// one reply came and the sinks are quiet again
			return codes
		}
	}
	return codes
}
