package rr_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
)

// tcpUA is a TCP listener on 127.0.0.1 that reads SIP messages from every
// connection accepted: a fake UAS reached over TCP.
type tcpUA struct {
	ln   net.Listener
	msgs chan tcpMsg
	mu   sync.Mutex
	cs   []net.Conn
}

type tcpMsg struct {
	m    sip.Message
	conn net.Conn
}

func newTCPUA(t *testing.T) *tcpUA {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &tcpUA{ln: ln, msgs: make(chan tcpMsg, 16)}
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for _, c := range u.cs {
			c.Close()
		}
		u.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.cs = append(u.cs, c)
			u.mu.Unlock()
			go u.read(c)
		}
	}()
	return u
}

func (u *tcpUA) port() int { return u.ln.Addr().(*net.TCPAddr).Port }

// read frames messages on a connection by Content-Length.
func (u *tcpUA) read(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		var head bytes.Buffer
		cl := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.TrimRight(line, "\r\n") == "" {
				if head.Len() == 0 {
					continue
				}
				head.WriteString(line)
				break
			}
			head.WriteString(line)
			name, value, _ := strings.Cut(line, ":")
			if sipmsg.Same(name, "Content-Length") {
				cl, _ = strconv.Atoi(strings.TrimSpace(value))
			}
		}
		if cl < 0 || cl > 65535 {
			return
		}
		body := make([]byte, cl)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		head.Write(body)
		m, err := sipmsg.NewParser(0).ParseSIP(head.Bytes())
		if err != nil {
			return
		}
		u.msgs <- tcpMsg{m, c}
	}
}

func (u *tcpUA) expectRequest(t *testing.T, method string) (*sip.Request, net.Conn) {
	t.Helper()
	select {
	case got := <-u.msgs:
		req, ok := got.m.(*sip.Request)
		if !ok || string(req.Method) != method {
			t.Fatalf("TCP UA: got %v, want a %s", got.m, method)
		}
		return req, got.conn
	case <-time.After(3 * time.Second):
		t.Fatalf("TCP UA: no %s", method)
	}
	return nil, nil
}

const liveCfg = `
LISTEN
# siptest.Start binds :0 as port=, so ask for ephemeral ports explicitly.
port=0
loadmodule "sl.so"
loadmodule "rr.so"
route {
	if (loose_route()) {
		forward();
		exit;
	}
	if (method == "INVITE") {
		record_route();
		forward_tcp("127.0.0.1", UAS_PORT);
		exit;
	}
	sl_send_reply("404", "Not here");
}
`

// A call whose INVITE arrives over UDP and leaves over TCP gets a double
// Record-Route; both ends then use the route set for in-dialog requests,
// which loose_route sends to the right next hop over the right transport.
func TestLiveDoubleRecordRoute(t *testing.T) {
	uas := newTCPUA(t)
	uac := siptest.NewPeer(t)
	srv := siptest.Start(t, strings.ReplaceAll(liveCfg, "UAS_PORT", strconv.Itoa(uas.port())))
	uasContact := fmt.Sprintf("sip:bob@127.0.0.1:%d;transport=tcp", uas.port())
	uacContact := "sip:alice@" + uac.Addr().String()

	// Core workaround: the transport starts its workers before it sets up
	// the stream layer they read when they send over TCP, with no
	// synchronisation the race detector can see for messages that came
	// over UDP. A first request of the same call over TCP (same Call-ID,
	// so the same worker) orders the worker after that set-up.
	warm := siptest.DialTCP(t, srv.TCP)
	warm.Send(`
OPTIONS sip:nobody@example.com SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-rr0
From: <sip:alice@example.org>;tag=fa0
To: <sip:nobody@example.com>
Call-ID: rr-live-1@test
CSeq: 1 OPTIONS
Max-Forwards: 70
`)
	if m, err := warm.Recv(3 * time.Second); err != nil {
		t.Fatalf("warm-up: %v", err)
	} else if r, ok := m.(*sip.Response); !ok || r.StatusCode != 404 {
		t.Fatalf("warm-up: got %v", m)
	}

	uac.Send(srv.UDP, `
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-rr1;rport
From: <sip:alice@example.org>;tag=fa1
To: <sip:bob@example.com>
Call-ID: rr-live-1@test
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <`+uacContact+`>
`)
	inv, conn := uas.expectRequest(t, "INVITE")
	wantRR := []string{
		fmt.Sprintf("<sip:127.0.0.1:%d;transport=tcp;r2=on;lr;ftag=fa1>", srv.TCP.Port()),
		fmt.Sprintf("<sip:127.0.0.1:%d;r2=on;lr;ftag=fa1>", srv.UDP.Port()),
	}
	if got := rrValues(inv); strings.Join(got, " | ") != strings.Join(wantRR, " | ") {
		t.Fatalf("INVITE Record-Route:\n got %v\nwant %v", got, wantRR)
	}

	// The UAS answers on the connection; the 200 reaches the UAC with the
	// Record-Route set.
	ok := sip.NewResponseFromRequest(inv, 200, "OK", nil)
	ok.To().Params.Add("tag", "tb1")
	ok.AppendHeader(sip.NewHeader("Contact", "<"+uasContact+">"))
	if _, err := conn.Write([]byte(ok.String())); err != nil {
		t.Fatal(err)
	}
	res := uac.ExpectReply(3*time.Second, 200)
	got := rrValues(res)
	if strings.Join(got, " | ") != strings.Join(wantRR, " | ") {
		t.Fatalf("200 Record-Route %v", got)
	}

	// Caller to callee: the route set is the Record-Route reversed.
	uac.Send(srv.UDP, `
BYE `+uasContact+` SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-rr2;rport
From: <sip:alice@example.org>;tag=fa1
To: <sip:bob@example.com>;tag=tb1
Call-ID: rr-live-1@test
CSeq: 2 BYE
Max-Forwards: 70
Route: `+got[1]+`
Route: `+got[0]+`
`)
	bye, _ := uas.expectRequest(t, "BYE")
	if r := sipmsg.Headers(bye, "Route"); len(r) != 0 {
		t.Errorf("BYE reached the UAS with Route %v", r)
	}
	if bye.Recipient.String() != uasContact {
		t.Errorf("BYE R-URI %s, want %s", bye.Recipient.String(), uasContact)
	}

	// Callee to caller over TCP: the route set in Record-Route order.
	tc := siptest.DialTCP(t, srv.TCP)
	tc.Send(`
BYE ` + uacContact + ` SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-rr3
From: <sip:bob@example.com>;tag=tb1
To: <sip:alice@example.org>;tag=fa1
Call-ID: rr-live-1@test
CSeq: 1 BYE
Max-Forwards: 70
Route: ` + got[0] + `
Route: ` + got[1] + `
`)
	bye2 := uac.ExpectRequest(3*time.Second, "BYE")
	if r := sipmsg.Headers(bye2, "Route"); len(r) != 0 {
		t.Errorf("BYE reached the UAC with Route %v", r)
	}
	if v := bye2.Via(); v == nil || !strings.EqualFold(v.Transport, "UDP") || v.Port != int(srv.UDP.Port()) {
		t.Errorf("BYE to the UAC left from %v, want the UDP socket", v)
	}
}

// An in-dialog request routed through us to a loose router: the next hop
// is the next Route value, and the Request-URI is left alone.
func TestLiveLooseRouteNextHop(t *testing.T) {
	next := siptest.NewPeer(t)
	uac := siptest.NewPeer(t)
	srv := siptest.Start(t, strings.ReplaceAll(liveCfg, "UAS_PORT", "9"))
	uac.Send(srv.UDP, fmt.Sprintf(`
BYE sip:bob@192.0.2.99 SIP/2.0
Via: SIP/2.0/UDP PEER;branch=z9hG4bK-rr4;rport
From: <sip:alice@example.org>;tag=fa1
To: <sip:bob@example.com>;tag=tb1
Call-ID: rr-live-2@test
CSeq: 2 BYE
Max-Forwards: 70
Route: <sip:127.0.0.1:%d;lr;ftag=fa1>
Route: <sip:%s;lr>
`, srv.UDP.Port(), next.Addr()))
	req := next.ExpectRequest(3*time.Second, "BYE")
	if req.Recipient.String() != "sip:bob@192.0.2.99" {
		t.Errorf("R-URI %s", req.Recipient.String())
	}
	rs := sipmsg.Headers(req, "Route")
	if len(rs) != 1 || rs[0].Value() != "<sip:"+next.Addr().String()+";lr>" {
		t.Errorf("Route %v, want only the next hop's", rs)
	}
}
