package transport

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// rfcWant is what this layer does with an RFC 4475 message sent as one UDP
// datagram. Outcomes decided later (by the script: 404/483/420/401,
// registrar 400 ...) show up here as "dispatch": the message reaches the
// handler, well-formed.
type rfcWant struct {
	code   int    // a reply sent by this layer
	method string // dispatched: the request method ("" for a response)
	status int    // dispatched: the response status
	drop   bool   // dropped silently
	later  string // what the script decides, for the record
}

var rfc4475Table = map[string]rfcWant{
	// valid/
	"valid/wsinv.dat":      {method: "INVITE", later: "404/480 or forward"},
	"valid/intmeth.dat":    {method: "!INTERESTING-METHOD0123456789_*+`.%INDEED'~", later: "404 or forward"},
	"valid/esc01.dat":      {method: "INVITE", later: "process normally"},
	"valid/escnull.dat":    {method: "REGISTER", later: "401 then 200"},
	"valid/esc02.dat":      {method: "RE%47IST%45R", later: "unknown method: forward/404/405"},
	"valid/lwsdisp.dat":    {method: "OPTIONS", later: "process normally"},
	"valid/longreq.dat":    {method: "INVITE", later: "process normally"},
	"valid/dblreq.dat":     {method: "REGISTER", later: "REGISTER only"},
	"valid/semiuri.dat":    {method: "OPTIONS", later: "process normally"},
	"valid/transports.dat": {method: "OPTIONS", later: "process normally"},
	"valid/mpart01.dat":    {method: "MESSAGE", later: "forward body unchanged"},
	"valid/unreason.dat":   {status: 200, later: "core drops: top Via not ours"},
	"valid/noreason.dat":   {status: 100, later: "core drops"},
	"valid/badbranch.dat":  {method: "OPTIONS", later: "2543-style transaction"},
	"valid/unkscm.dat":     {code: 416},
	"valid/novelsc.dat":    {code: 416},
	"valid/unksm2.dat":     {method: "REGISTER", later: "registrar 400 / proxy forward"},
	"valid/bext01.dat":     {method: "OPTIONS", later: "sanity: 420"},
	"valid/invut.dat":      {method: "INVITE", later: "forward"},
	"valid/regaut01.dat":   {method: "REGISTER", later: "401"},
	"valid/bcast.dat":      {status: 200, later: "core drops; Send refuses broadcast"},
	"valid/zeromf.dat":     {method: "OPTIONS", later: "483"},
	"valid/cparam01.dat":   {method: "REGISTER", later: "401 then 200"},
	"valid/cparam02.dat":   {method: "REGISTER", later: "401 then 200"},
	"valid/regescrt.dat":   {method: "REGISTER", later: "401 then 200"},
	"valid/sdp01.dat":      {method: "INVITE", later: "forward"},
	"valid/inv2543.dat":    {method: "INVITE", later: "process"},
	// invalid/
	"invalid/badinv01.dat":   {code: 400},
	"invalid/clerr.dat":      {code: 400},
	"invalid/ncl.dat":        {code: 400},
	"invalid/scalar02.dat":   {code: 400},
	"invalid/scalarlg.dat":   {drop: true},
	"invalid/quotbal.dat":    {code: 400},
	"invalid/ltgtruri.dat":   {code: 400},
	"invalid/lwsruri.dat":    {code: 400},
	"invalid/lwsstart.dat":   {code: 400},
	"invalid/trws.dat":       {code: 400},
	"invalid/escruri.dat":    {code: 400},
	"invalid/baddate.dat":    {method: "INVITE", later: "Date ignored: process (400 only if Date is used)"},
	"invalid/regbadct.dat":   {code: 400},
	"invalid/badaspec.dat":   {code: 400},
	"invalid/baddn.dat":      {code: 400},
	"invalid/badvers.dat":    {code: 505},
	"invalid/mismatch01.dat": {code: 400},
	"invalid/mismatch02.dat": {code: 501},
	"invalid/bigcode.dat":    {drop: true},
	"invalid/insuf.dat":      {code: 400},
	"invalid/multi01.dat":    {code: 400},
	"invalid/mcl01.dat":      {code: 400},
}

// TestRFC4475UDP sends each RFC 4475 message as one UDP datagram to a
// Manager on 127.0.0.1 and checks the outcome of the transport layer.
// Send is hooked: nothing leaves the process, and any destination other
// than 127.0.0.1 fails the test.
func TestRFC4475UDP(t *testing.T) {
	files, _ := filepath.Glob(rfc4475Dir + "*/*.dat")
	if len(files) != 49 {
		t.Fatalf("found %d RFC 4475 files, want 49", len(files))
	}
	sort.Strings(files)
	for _, f := range files {
		rel := strings.TrimPrefix(filepath.ToSlash(f), rfc4475Dir)
		if _, ok := rfc4475Table[rel]; !ok {
			t.Errorf("%s has no expectation", rel)
		}
	}

	h := newHarness(t, true, []string{"udp"}, nil)
	srv := h.addr("udp")
	for _, f := range files {
		rel := strings.TrimPrefix(filepath.ToSlash(f), rfc4475Dir)
		want := rfc4475Table[rel]
		t.Run(rel, func(t *testing.T) {
			h.t = t
			data := readRFC(t, rel)
			c := udpClient(t)
			before := h.m.Stats()
			if _, err := c.WriteToUDPAddrPort(data, srv); err != nil {
				t.Fatal(err)
			}
			ev := h.verdict(localAP(c))
			t.Logf("outcome %s code %d: %s", ev.v.out, ev.v.code, ev.v.why)
			if testing.Verbose() && ev.v.reply != nil {
				t.Logf("reply:\n%s", ev.v.reply.String())
			}
			after := h.m.Stats()
			switch {
			case want.code != 0:
				if ev.v.out != outReply {
					t.Fatalf("outcome %s (%s), want reply %d", ev.v.out, ev.v.why, want.code)
				}
				s := h.nextSent()
				res, ok := s.msg.(*sip.Response)
				if !ok || res.StatusCode != want.code {
					t.Fatalf("sent %q, want a %d", firstLine(s.data), want.code)
				}
				if s.dst.Proto != "udp" || s.dst.Addr.Addr() != loopback {
					t.Errorf("reply to %s", s.dst)
				}
				// received= on the top Via; a reply to a request that parsed
				// must parse (one built from raw bytes echoes their defects).
				if v := res.Via(); v == nil || !v.Params.Has("received") {
					t.Errorf("reply top Via without received: %q", s.data)
				}
				if !ev.v.unparsable {
					if _, err := sip.ParseMessage(s.data); err != nil {
						t.Errorf("reply does not parse: %v\n%s", err, s.data)
					}
				}
				if first := firstLine(s.data); !strings.HasPrefix(first, "SIP/2.0 ") {
					t.Errorf("status line %q", first)
				}
				if want.code >= 400 && res.To() != nil && !res.To().Params.Has("tag") {
					t.Errorf("reply To without tag")
				}
			case want.drop:
				if ev.v.out != outDrop {
					t.Fatalf("outcome %s (%s), want drop", ev.v.out, ev.v.why)
				}
			default:
				if ev.v.out != outDispatch {
					t.Fatalf("outcome %s (%s), want dispatch", ev.v.out, ev.v.why)
				}
				in := h.nextHandled()
				switch m := in.Msg.(type) {
				case *sip.Request:
					if want.method == "" || string(m.Method) != want.method {
						t.Errorf("handler got %s, want %q", m.Method, want.method)
					}
				case *sip.Response:
					if want.status == 0 || m.StatusCode != want.status {
						t.Errorf("handler got response %d, want %+v", m.StatusCode, want)
					}
				}
				if in.Len != len(data) {
					t.Errorf("Len %d, want %d", in.Len, len(data))
				}
				if in.Rcv.Proto != "udp" || in.Rcv.Src != localAP(c) || in.Rcv.Dst != srv || in.Rcv.Socket == nil {
					t.Errorf("RecvInfo %+v", in.Rcv)
				}
				if d := after.Dispatched - before.Dispatched; d != 1 {
					t.Errorf("%d messages dispatched, want exactly 1", d)
				}
			}
			if want.code == 0 {
				h.noneSent()
			}
			if after.Panics != 0 {
				t.Fatalf("%d panics recovered", after.Panics)
			}
		})
	}
}
