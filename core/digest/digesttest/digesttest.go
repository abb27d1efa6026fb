// Package digesttest helps the tests of digest authentication (core/digest
// and both auth modules): requests as the auth functions receive them,
// answers to a challenge, and a clock the tests move.
package digesttest

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/digest"
	"sip-router.org/core/sr"
)

// The user the answers are for.
const (
	User     = "alice"
	Realm    = "example.com"
	Password = "pw"
)

// Request returns the context of a request of method from
// alice@example.com to alice@example.com (Call-ID cid-1, a Contact),
// received over UDP from 192.0.2.10:5060, with extra header lines (each
// ending in CRLF) before Content-Length.
func Request(t testing.TB, method, extra string) *sr.Ctx {
	t.Helper()
	text := method + " sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n" +
		"From: <sip:alice@example.com>;tag=ft\r\n" +
		"To: <sip:alice@example.com>\r\n" +
		"Call-ID: cid-1\r\n" +
		"Contact: <sip:alice@192.0.2.10>\r\n" +
		"CSeq: 1 " + method + "\r\n" + extra + "Content-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse the %s: %v", method, err)
	}
	req := m.(*sip.Request)
	return &sr.Ctx{
		Req: req, OrigRURI: req.Recipient.String(),
		Rcv: sr.RecvInfo{Proto: "udp", Src: netip.MustParseAddrPort("192.0.2.10:5060")},
		Log: slog.New(slog.DiscardHandler), AVPs: sr.NewAVPList(), RC: 1, Q: sr.QUnset,
	}
}

// Answer is the value of an Authorization header answering nonce for
// User in Realm with Password, for a REGISTER to sip:example.com: with
// qop and nonce count nc, or without ("", "").
func Answer(nonce, qop, nc string) string {
	cr := &digest.Credentials{Username: User, Realm: Realm, Nonce: nonce, URI: "sip:example.com", QOP: qop}
	if qop != "" {
		cr.NC, cr.CNonce = nc, "cn"
	}
	v := `Digest username="` + User + `", realm="` + Realm + `", nonce="` + nonce + `", uri="sip:example.com", response="` +
		cr.ExpectedResponse("REGISTER", nil, HA1()) + `"`
	if qop != "" {
		v += ", qop=" + qop + ", nc=" + nc + `, cnonce="cn"`
	}
	return v
}

// AnswerRequest is a REGISTER (Request) carrying Answer in its
// Authorization header.
func AnswerRequest(t testing.TB, nonce, qop, nc string) *sr.Ctx {
	t.Helper()
	return Request(t, "REGISTER", "Authorization: "+Answer(nonce, qop, nc)+"\r\n")
}

// HA1 is the HA1 of User in Realm with Password.
func HA1() string { return digest.HA1(User, Realm, Password) }

// Clock is a clock the tests set (nonce.Config.Now: Clock.Now).
type Clock struct{ T time.Time }

// NewClock returns a clock at a fixed time.
func NewClock() *Clock { return &Clock{T: time.Unix(1_800_000_000, 0)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return c.T }
