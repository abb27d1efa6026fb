package transport

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/sr"
)

// testCert makes a self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := testCert(t)
	h := newHarness(t, false, []string{"tls"}, func(c *Config, h *harness) {
		c.Handler = replier(h)
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		c.TLSClient = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.FirstMessageTimeout = 300 * time.Millisecond
	})

	t.Run("request and reply", func(t *testing.T) {
		h.t = t
		c, err := tls.Dial("tcp4", h.addr("tls").String(), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := strings.ReplaceAll(options("tls1", 1), "SIP/2.0/TCP", "SIP/2.0/TLS")
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		in := h.nextHandled()
		if in.Rcv.Proto != "tls" || in.Rcv.Socket.Proto != "tls" || in.Len != len(msg) {
			t.Errorf("RecvInfo %+v len %d", in.Rcv, in.Len)
		}
		if res := readResponse(t, bufio.NewReader(c), c); res.StatusCode != 200 {
			t.Errorf("got %d", res.StatusCode)
		}
	})
	t.Run("no handshake: closed", func(t *testing.T) {
		h.t = t
		c := dialTCP(t, h.addr("tls"))
		expectClosed(t, c, 5*time.Second)
	})
	t.Run("outgoing", func(t *testing.T) {
		h.t = t
		ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		peer := ln.Addr().(*net.TCPAddr).AddrPort()
		raw := strings.ReplaceAll(options("tlsout", 1), "SIP/2.0/TCP", "SIP/2.0/TLS")
		msg, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- h.m.Send(msg, sr.Dest{Proto: "tls", Addr: peer}) }()
		pc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		r := bufio.NewReader(pc)
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "OPTIONS ") {
			t.Fatalf("peer read %q, %v", line, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		res := sipmsg.NewReply(msg.(*sip.Request), 200, "OK", "")
		if _, err := pc.Write([]byte(res.String())); err != nil {
			t.Fatal(err)
		}
		in := h.nextHandled()
		if in.Response() == nil || in.Rcv.Proto != "tls" || in.Rcv.Src != peer {
			t.Errorf("handler got %v from %+v", in.Msg, in.Rcv)
		}
	})
}

// wsClient is a minimal WebSocket client (RFC 6455) for the tests.
type wsClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialWS(t *testing.T, addr string) *wsClient {
	t.Helper()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		t.Fatalf("upgrade: %q, %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	return &wsClient{c: c, r: r}
}

// send writes one masked text frame.
func (w *wsClient) send(t *testing.T, payload []byte) {
	t.Helper()
	hdr := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 65536:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		t.Fatal("frame too large for this client")
	}
	mask := [4]byte{1, 2, 3, 4}
	hdr = append(hdr, mask[:]...)
	body := make([]byte, len(payload))
	for i, b := range payload {
		body[i] = b ^ mask[i%4]
	}
	if _, err := w.c.Write(append(hdr, body...)); err != nil {
		t.Fatal(err)
	}
}

// recv reads one unmasked frame from the server.
func (w *wsClient) recv(t *testing.T) []byte {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(w.r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(w.r, b[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(b[:]))
	case 127:
		t.Fatal("huge frame")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(w.r, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWebSocket(t *testing.T) {
	h := newHarness(t, false, []string{"ws"}, func(c *Config, h *harness) {
		c.Handler = replier(h)
		c.FirstMessageTimeout = 300 * time.Millisecond
	})
	t.Run("request and reply", func(t *testing.T) {
		h.t = t
		w := dialWS(t, h.addr("ws").String())
		msg := strings.ReplaceAll(options("ws1", 1), "SIP/2.0/TCP", "SIP/2.0/WS")
		w.send(t, []byte(msg))
		in := h.nextHandled()
		if in.Rcv.Proto != "ws" || in.Len != len(msg) || in.Rcv.Src.Port() == 0 {
			t.Errorf("RecvInfo %+v len %d", in.Rcv, in.Len)
		}
		res, err := sip.ParseMessage(w.recv(t))
		if err != nil || res.(*sip.Response).StatusCode != 200 {
			t.Fatalf("reply %v, %v", res, err)
		}
	})
	t.Run("slow upgrade does not block others", func(t *testing.T) {
		h.t = t
		slow := dialTCP(t, h.addr("ws"))
		if _, err := slow.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
			t.Fatal(err)
		}
		w := dialWS(t, h.addr("ws").String())
		w.send(t, []byte(strings.ReplaceAll(options("ws2", 1), "SIP/2.0/TCP", "SIP/2.0/WS")))
		h.nextHandled()
		if _, err := sip.ParseMessage(w.recv(t)); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, slow, 5*time.Second)
	})
	t.Run("no connection: Send fails", func(t *testing.T) {
		h.t = t
		err := h.m.Send(sip.NewResponse(200, "OK"), sr.Dest{Proto: "ws", Addr: h.addr("ws")})
		if err == nil {
			t.Fatal("Send succeeded")
		}
	})
}

var _ = fmt.Sprint

func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}
