package transport

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
)

// addRFC4475Seeds adds the 49 RFC 4475 messages (read from the shared
// test data, not copied) to a fuzz corpus.
func addRFC4475Seeds(f *testing.F) {
	files, _ := filepath.Glob(rfc4475Dir + "*/*.dat")
	for _, p := range files {
		f.Add(readRFC(f, strings.TrimPrefix(filepath.ToSlash(p), rfc4475Dir)))
	}
}

// FuzzReceive runs the whole datagram receive path (parse, checks, local
// reply building) on arbitrary bytes, plus what the core does next with a
// message that passes (render it) or a reply (render it, find where it
// goes). It must never panic.
func FuzzReceive(f *testing.F) {
	addRFC4475Seeds(f)
	src := netip.MustParseAddrPort("127.0.0.1:5070")
	f.Fuzz(func(t *testing.T, data []byte) {
		p := sipmsg.NewParser(DefaultMaxUDPSize)
		v := examine(p, data, src, DefaultMaxUDPSize)
		switch v.out {
		case outReply:
			if v.reply == nil {
				t.Fatal("reply verdict without reply")
			}
			switch v.code {
			case 400, 416, 501, 505:
			default:
				t.Fatalf("reply code %d", v.code)
			}
			s := v.reply.String()
			if !strings.HasPrefix(s, "SIP/2.0 ") {
				t.Fatalf("status line %q", firstLine([]byte(s)))
			}
			if k, _ := sipmsg.Classify(data); k == sipmsg.KindResponse {
				t.Fatal("replied to a response")
			}
			via := v.reply.Via()
			if via == nil {
				t.Fatal("reply without Via")
			}
			if rcv, _ := via.Params.Get("received"); rcv != "" && rcv != "127.0.0.1" {
				t.Fatalf("received=%q", rcv)
			}
			sipmsg.ReplyDest(via, "udp")
			checkCRLF(t, s)
		case outDispatch:
			if v.msg == nil {
				t.Fatal("dispatch without message")
			}
			var buf bytes.Buffer
			v.msg.StringWrite(&buf)
			if req, ok := v.msg.(*sip.Request); ok {
				if code, _ := sipmsg.Check(req); code != 0 {
					t.Fatalf("dispatched a request Check refuses (%d)", code)
				}
				sipmsg.AddReceived(req, src)
				_ = sipmsg.NewReply(req, 404, "Not Found", "").String()
				sipmsg.Branch(req, "salt")
			}
		}
	})
}

// checkCRLF: a reply built here has no bare CR or LF (no header injection
// from the request's bytes).
func checkCRLF(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+1 >= len(s) || s[i+1] != '\n' {
				t.Fatalf("bare CR at %d in %q", i, s)
			}
		case '\n':
			if i == 0 || s[i-1] != '\r' {
				t.Fatalf("bare LF at %d in %q", i, s)
			}
		}
	}
}

// FuzzFramer feeds a byte stream to the framer in pieces whose sizes come
// from the data, and checks it against sipgo's stream parser: every
// message length the framer reports is the length of a message sipgo
// delivers, in order, and the framer never panics or over-counts.
func FuzzFramer(f *testing.F) {
	addRFC4475Seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 4096
		fr := newFramer(max)
		var lens []int
		var ferr error
		step := 1
		if len(data) > 0 {
			step = int(data[0]%64) + 1
		}
		for i := 0; i < len(data) && ferr == nil; i += step {
			ferr = fr.feed(data[i:min(i+step, len(data))], &lens)
		}
		total := 0
		for _, n := range lens {
			if n <= 0 || n > max {
				t.Fatalf("length %d", n)
			}
			total += n
		}
		if total > len(data) {
			t.Fatalf("framed %d bytes of %d", total, len(data))
		}
		// sipgo, on the same stream, must not deliver more messages than
		// the framer let through.
		ps := sipmsg.NewParser(max).NewSIPStream()
		var got int
		for i := 0; i < len(data); i += step {
			if err := ps.ParseSIPStream(data[i:min(i+step, len(data))], func(sip.Message) { got++ }); err != nil && err != sip.ErrParseSipPartial {
				break
			}
		}
		if ferr == nil && got > len(lens)+1 {
			t.Fatalf("sipgo delivered %d messages, framer framed %d", got, len(lens))
		}
	})
}
