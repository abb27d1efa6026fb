package pv

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestRenderMatchesSipgo checks that our allocation-saving writers give
// sipgo's text.
func TestRenderMatchesSipgo(t *testing.T) {
	for _, s := range []string{
		"sip:alice@atlanta.example.com;transport=tcp",
		"sips:bob:pw@[2001:db8::1]:5061;lr;x=\"a b\"?Subject=hi&p=1",
		"sip:[::ffff:192.0.2.1]:5060",
		"sip://host.example.com",
		"sip:h",
		"tel:+1-555;phone-context=x",
		"urn:service:sos",
		"sip:user@h;a=;b",
	} {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got, want := uriString(&u), u.String(); got != want {
			t.Errorf("uriString(%q) = %q, sipgo says %q", s, got, want)
		}
	}
	u := sip.Uri{Host: "2001:db8::2", Port: 5060, UriParams: sip.HeaderParams{{K: "q", V: "a\tb"}}}
	if got, want := uriString(&u), u.String(); got != want {
		t.Errorf("uriString(built) = %q, sipgo says %q", got, want)
	}
	for _, m := range []string{inviteText, compactText, replyText} {
		msg := parseSIP(t, m)
		var hs []sip.Header
		switch x := msg.(type) {
		case *sip.Request:
			hs = x.Headers()
		case *sip.Response:
			hs = x.Headers()
		}
		for _, h := range hs {
			if got, want := hdrValue(h), h.Value(); got != want {
				t.Errorf("hdrValue(%s) = %q, sipgo says %q", h.Name(), got, want)
			}
		}
	}
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "TLS", Host: "2001:db8::3", Port: 5061,
		Params: sip.HeaderParams{{K: "branch", V: "z9hG4bK1"}, {K: "rport"}, {K: "x", V: "a b"}}}
	if got, want := hdrValue(v), v.Value(); got != want {
		t.Errorf("hdrValue(built Via) = %q, sipgo says %q", got, want)
	}
}
