package tm_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
)

// discardCore is the test kit's fake core without the recording: sends
// cost nothing, the last request sent is kept for building replies.
type discardCore struct {
	*siptest.Core
	mu   sync.Mutex
	last *sip.Request
}

func (d *discardCore) Send(m sip.Message, _ sr.Dest) error {
	if r, ok := m.(*sip.Request); ok {
		d.mu.Lock()
		d.last = r
		d.mu.Unlock()
	}
	return nil
}

func (d *discardCore) lastSent() *sip.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

func (d *discardCore) SendReply(*sr.Ctx, *sip.Response) error { return nil }

// benchCtx is siptest.NewCtx without rendering the message for its
// length (the server takes it from the datagram).
func benchCtx(core sr.Core, m sip.Message, src string) *sr.Ctx {
	c := &sr.Ctx{
		Rcv:  sr.RecvInfo{Proto: "udp", Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort("127.0.0.1:5060"), Socket: core.Sockets()[0]},
		Log:  slog.New(slog.DiscardHandler),
		Core: core, Q: sr.QUnset, AVPs: sr.NewAVPList(), Vars: sr.Vars{}, RC: 1,
	}
	switch x := m.(type) {
	case *sip.Request:
		c.Req, c.OrigRURI, c.RouteType = x, x.Recipient.String(), sr.RouteRequest
	case *sip.Response:
		c.Resp, c.RouteType = x, sr.RouteOnReply
	}
	return c
}

const benchInvite = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-%d;rport
From: "Alice" <sip:alice@example.com>;tag=f%d
To: <sip:bob@example.com>
Call-ID: bench-%d@192.0.2.10
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:alice@192.0.2.10:5060>
Content-Type: application/sdp

v=0
o=alice 1 1 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 4000 RTP/AVP 0
`

const benchAck = `ACK sip:bob@192.0.2.20 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-ack-%d;rport
From: "Alice" <sip:alice@example.com>;tag=f%d
To: <sip:bob@example.com>;tag=b%d
Call-ID: bench-%d@192.0.2.10
CSeq: 1 ACK
Max-Forwards: 70
`

// BenchmarkRelayTransaction relays a whole INVITE transaction through the
// module with the fake core: INVITE (t_relay, 100 Trying, branch), 180
// and 200 from downstream relayed upstream, the ACK forwarded
// statelessly. Parsing the INVITE and ACK and building the replies is
// included (see BenchmarkParseOnly for that part alone).
func BenchmarkRelayTransaction(b *testing.B) {
	s := siptest.NewScript(b, `
loadmodule "tm.so"
modparam("tm", "wt_timer", 50)
route { t_relay("udp:192.0.2.20:5060"); }
`)
	m := tmOf(b, s)
	core := &discardCore{Core: s.Core}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv := siptest.Request(b, fmt.Sprintf(benchInvite, i, i, i))
		c := benchCtx(core, inv, "192.0.2.10:5060")
		s.Loaded.Script.Run(c, sr.RouteRequest, "")
		out := core.lastSent()
		for _, code := range []int{180, 200} {
			res := sip.NewResponseFromRequest(out, code, "x", nil)
			if !m.HandleReply(benchCtx(core, res, "192.0.2.20:5060")) {
				b.Fatal("reply not matched")
			}
		}
		ack := siptest.Request(b, fmt.Sprintf(benchAck, i, i, i, i))
		s.Loaded.Script.Run(benchCtx(core, ack, "192.0.2.10:5060"), sr.RouteRequest, "")
	}
}

// BenchmarkParseOnly is the part of BenchmarkRelayTransaction that is not
// tm: parsing the two requests and building the two replies.
func BenchmarkParseOnly(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		inv := siptest.Request(b, fmt.Sprintf(benchInvite, i, i, i))
		for _, code := range []int{180, 200} {
			_ = sip.NewResponseFromRequest(inv, code, "x", nil)
		}
		_ = siptest.Request(b, fmt.Sprintf(benchAck, i, i, i, i))
	}
}

// nopConn is a sipgo connection that writes nothing.
type nopConn struct{}

func (nopConn) LocalAddr() net.Addr        { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }
func (nopConn) WriteMsg(sip.Message) error { return nil }
func (nopConn) Ref(int) int                { return 1 }
func (nopConn) TryClose() (int, error)     { return 1, nil }
func (nopConn) Close() error               { return nil }

// sipgoRelay starts the same transaction on sipgo's FSMs the way its
// proxysip example does: a server transaction, a client transaction and a
// goroutine per transaction that moves replies from one to the other.
func sipgoRelay(b *testing.B, i int, log *slog.Logger) (*sip.ServerTx, *sip.ClientTx, *sip.Request, chan struct{}) {
	inv := siptest.Request(b, fmt.Sprintf(benchInvite, i, i, i))
	key, err := sip.ServerTxKeyMake(inv)
	if err != nil {
		b.Fatal(err)
	}
	stx := sip.NewServerTx(key, inv, nopConn{}, log)
	if err := stx.Init(); err != nil {
		b.Fatal(err)
	}
	_ = stx.Respond(sip.NewResponseFromRequest(inv, 100, "Trying", nil))
	out := inv.Clone()
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060, Params: sip.NewParams()}
	via.Params.Add("branch", fmt.Sprintf("z9hG4bK-out-%d", i))
	out.PrependHeader(via)
	ckey, err := sip.ClientTxKeyMake(out)
	if err != nil {
		b.Fatal(err)
	}
	ctx := sip.NewClientTx(ckey, out, nopConn{}, log)
	if err := ctx.Init(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case res, ok := <-ctx.Responses():
				if !ok {
					return
				}
				res.RemoveHeader("Via")
				_ = stx.Respond(res)
				if res.StatusCode >= 200 {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return stx, ctx, out, done
}

// BenchmarkSipgoFSM is BenchmarkRelayTransaction on sipgo's transaction
// FSMs (no script, no matching table: the FSM costs alone).
func BenchmarkSipgoFSM(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		stx, ctx, out, done := sipgoRelay(b, i, log)
		for _, code := range []int{180, 200} {
			ctx.Receive(sip.NewResponseFromRequest(out, code, "x", nil))
		}
		<-done
		ack := siptest.Request(b, fmt.Sprintf(benchAck, i, i, i, i))
		ack.PrependHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060, Params: sip.NewParams()})
		_ = nopConn{}.WriteMsg(ack)
		ctx.Terminate()
		stx.Terminate()
	}
}

const footprintN = 2000

// heapNow returns the live heap plus goroutine stacks after a collection.
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// BenchmarkFootprint measures what footprintN INVITE transactions cost
// while they wait for a final reply (UDP, timers running): live heap
// bytes (heap and goroutine stacks) and goroutines per transaction, for this module and for sipgo's
// FSMs used as its proxy example does.
func BenchmarkFootprint(b *testing.B) {
	b.Run("tm", func(b *testing.B) {
		var bytes, gor float64
		for i := 0; i < b.N; i++ {
			s := siptest.NewScript(b, `
loadmodule "tm.so"
route { t_relay("udp:192.0.2.20:5060"); }
`)
			core := &discardCore{Core: s.Core}
			g0, h0 := runtime.NumGoroutine(), heapNow()
			for j := 0; j < footprintN; j++ {
				inv := siptest.Request(b, fmt.Sprintf(benchInvite, j, j, j))
				s.Loaded.Script.Run(benchCtx(core, inv, "192.0.2.10:5060"), sr.RouteRequest, "")
			}
			h1 := heapNow()
			if st := tmOf(b, s).Stats(); st.Current != footprintN {
				b.Fatalf("%d live transactions, want %d", st.Current, footprintN)
			}
			bytes += float64(h1-h0) / footprintN
			gor += float64(runtime.NumGoroutine()-g0) / footprintN
			s.Loaded.Modules.Destroy()
		}
		b.ReportMetric(bytes/float64(b.N), "B/tx")
		b.ReportMetric(gor/float64(b.N), "goroutines/tx")
	})
	b.Run("sipgo", func(b *testing.B) {
		log := slog.New(slog.DiscardHandler)
		var bytes, gor float64
		for i := 0; i < b.N; i++ {
			g0, h0 := runtime.NumGoroutine(), heapNow()
			type pair struct {
				s    *sip.ServerTx
				c    *sip.ClientTx
				done chan struct{}
			}
			live := make([]pair, 0, footprintN)
			for j := 0; j < footprintN; j++ {
				stx, ctx, _, done := sipgoRelay(b, j, log)
				live = append(live, pair{stx, ctx, done})
			}
			h1 := heapNow()
			bytes += float64(h1-h0) / footprintN
			gor += float64(runtime.NumGoroutine()-g0) / footprintN
			for _, p := range live {
				p.c.Terminate()
				<-p.done
				p.s.Terminate()
			}
		}
		b.ReportMetric(bytes/float64(b.N), "B/tx")
		b.ReportMetric(gor/float64(b.N), "goroutines/tx")
	})
}
