package location

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func register(t *testing.T, extra string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte("REGISTER sip:example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n" +
		"From: <sip:alice@example.com>;tag=ft\r\nTo: <sip:alice@example.com>\r\n" +
		"Call-ID: c\r\nCSeq: 1 REGISTER\r\n" + extra + "Content-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

func TestExpiresHeader(t *testing.T) {
	for _, tc := range []struct {
		hdr         string
		n           int
		present, ok bool
	}{
		{"", 0, false, true},
		{"Expires: 600\r\n", 600, true, true},
		{"Expires:  0 \r\n", 0, true, true},
		{"Expires: 99999999999\r\n", 0, false, false},
		{"Expires: 4294967295\r\n", 1<<31 - 1, true, true},
		{"Expires: soon\r\n", 0, false, false},
	} {
		n, present, ok := ExpiresHeader(register(t, tc.hdr))
		if n != tc.n || present != tc.present || ok != tc.ok {
			t.Errorf("%q: %d %v %v", tc.hdr, n, present, ok)
		}
	}
}

func TestContacts(t *testing.T) {
	for _, tc := range []struct {
		hdrs string
		n    int
		star bool
		err  error
	}{
		{"", 0, false, nil},
		{"Contact: <sip:a@h>, <sip:b@h>;q=0.5\r\n", 2, false, nil},
		{"Contact: *\r\n", 1, true, nil},
		{"Contact: *\r\nContact: <sip:a@h>\r\n", 0, false, ErrStar},
		{"Contact: <sip:a@h>\r\nContact: *\r\n", 0, false, ErrStar},
	} {
		cs, star, err := Contacts(register(t, tc.hdrs))
		if len(cs) != tc.n || star != tc.star || !errors.Is(err, tc.err) {
			t.Errorf("%q: %d %v %v", tc.hdrs, len(cs), star, err)
		}
	}
	req := register(t, "")
	req.AppendHeader(sip.NewHeader("Contact", "not parsed"))
	if _, _, err := Contacts(req); !errors.Is(err, ErrContact) {
		t.Errorf("a Contact header not parsed: %v", err)
	}
}

func TestParamUnquote(t *testing.T) {
	p := sip.NewParams()
	p.Add("Received", `"sip:1.2.3.4"`)
	if v, ok := Param(p, "received"); !ok || Unquote(v) != "sip:1.2.3.4" {
		t.Errorf("Param: %q %v", v, ok)
	}
	if _, ok := Param(p, "q"); ok {
		t.Error("Param found q")
	}
	for in, want := range map[string]string{`"a"`: "a", `"`: `"`, `a"`: `a"`, `""`: ""} {
		if got := Unquote(in); got != want {
			t.Errorf("Unquote(%q) = %q", in, got)
		}
	}
}

func TestAppendBinding(t *testing.T) {
	var b strings.Builder
	AppendBinding(&b, Binding{URI: "sip:a@h", Q: 500, Expires: 60, Received: "sip:1.2.3.4:5060", ReceivedParam: "received"})
	AppendBinding(&b, Binding{URI: "sip:b@h", Q: -1, Permanent: true})
	want := `Contact: <sip:a@h>;q=0.5;expires=60;received="sip:1.2.3.4:5060", <sip:b@h>`
	if b.String() != want {
		t.Errorf("%s\nwant %s", b.String(), want)
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string]string{
		"<sip:a@h;lr>, <sip:b@h;lr>":    "<sip:a@h;lr>|<sip:b@h;lr>",
		`"x, y" <sip:a@h>,,<sip:b,c@h>`: `"x, y" <sip:a@h>|<sip:b,c@h>`,
		" , ":                           "",
		"":                              "",
	} {
		if got := strings.Join(SplitList(in), "|"); got != want {
			t.Errorf("SplitList(%q) = %q, want %q", in, got, want)
		}
	}
}
