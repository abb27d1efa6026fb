package sipmsg

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzNewReply400 builds a 400 from arbitrary raw bytes. It must not
// panic; a reply, when built, is a well-formed status line followed by
// CRLF-terminated lines, with received= set from the source, and parses
// back where the request's own values parse.
func FuzzNewReply400(f *testing.F) {
	files, _ := filepath.Glob(rfc4475Dir + "*/*.dat")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	src := netip.MustParseAddrPort("192.0.2.7:5070")
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := NewReplyFromRaw(data, src, 400, "Bad Request")
		if err != nil {
			if res != nil {
				t.Fatal("reply with an error")
			}
			return
		}
		s := res.String()
		if !strings.HasPrefix(s, "SIP/2.0 400 Bad Request\r\n") || !strings.HasSuffix(s, "\r\n\r\n") {
			t.Fatalf("reply %q", s)
		}
		for i := 0; i < len(s); i++ {
			if (s[i] == '\r' && (i+1 >= len(s) || s[i+1] != '\n')) || (s[i] == '\n' && (i == 0 || s[i-1] != '\r')) {
				t.Fatalf("bare CR/LF at %d: %q", i, s)
			}
		}
		via := res.Via()
		if via == nil {
			t.Fatal("no Via")
		}
		if k, m := Classify(data); k != KindRequest || strings.EqualFold(m, "ACK") {
			t.Fatalf("replied to %v %q", k, m)
		}
		host, port := ReplyDest(via, "udp")
		if host == "" || port <= 0 || port > 65535 {
			t.Fatalf("ReplyDest %q %d", host, port)
		}
		if len(s) > 2*len(data)+512 {
			t.Fatalf("reply of %d bytes for %d bytes in", len(s), len(data))
		}
	})
}
