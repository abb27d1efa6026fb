package transport

import (
	"net"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// The part of sr.Core the Manager implements.
var _ interface {
	Send(sip.Message, sr.Dest) error
	Resolve(string) (sr.Dest, error)
	Myself(string, int) bool
	Sockets() []*sr.Socket
	SocketFor(sr.Dest, *sr.Socket) *sr.Socket
} = (*Manager)(nil)

func TestConnection(t *testing.T) {
	h := newHarness(t, true, []string{"udp"}, nil)
	c := udpClient(t)
	if _, err := c.WriteToUDPAddrPort([]byte(udpOptions("conn", 1)), h.addr("udp")); err != nil {
		t.Fatal(err)
	}
	in := h.nextHandled()
	conn := h.m.Connection(sr.Dest{Proto: "udp", Addr: in.Rcv.Src, Socket: in.Rcv.Socket})
	if la, ok := conn.LocalAddr().(*net.UDPAddr); !ok || la.AddrPort() != h.addr("udp") {
		t.Errorf("LocalAddr %v", conn.LocalAddr())
	}
	if err := conn.WriteMsg(sipmsg.NewReply(in.Request(), 200, "OK", "")); err != nil {
		t.Fatal(err)
	}
	if s := h.nextSent(); s.dst.Addr != in.Rcv.Src {
		t.Errorf("sent to %s", s.dst)
	}
	if n, err := conn.TryClose(); n != 1 || err != nil || conn.Close() != nil {
		t.Error("close")
	}
}
