package registrar_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	_ "sip-router.org/modules/sl"
	_ "sip-router.org/modules/tm"
	"sip-router.org/modules_s/usrloc"
)

// script loads a config whose main route is route, with sl, usrloc
// (db_mode 0) and registrar, and the extra global lines.
func script(t *testing.T, extra, route string) *siptest.Script {
	t.Helper()
	return siptest.NewScript(t, fmt.Sprintf(`
loadmodule "sl"
loadmodule "usrloc"
loadmodule "registrar"
%s
route {
%s
}
`, extra, route))
}

// location returns the usrloc table of a loaded script.
func location(t *testing.T, s *siptest.Script) usrloc.Domain {
	t.Helper()
	mi, ok := s.Loaded.Modules.Get("usrloc")
	if !ok {
		t.Fatal("usrloc is not loaded")
	}
	d, err := mi.Value.(usrloc.API).RegisterDomain("location")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// register builds a REGISTER for the To URI with extra header lines.
func register(to string, cseq int, headers ...string) string {
	return fmt.Sprintf(`REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-reg%d
From: <%s>;tag=ft
To: <%s>
Call-ID: reg-call-1
CSeq: %d REGISTER
%s
`, cseq, to, to, cseq, strings.Join(headers, "\n"))
}

func invite(ruri string) string {
	return fmt.Sprintf(`INVITE %s SIP/2.0
Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-inv
From: <sip:bob@example.com>;tag=bt
To: <%s>
Call-ID: inv-call-1
CSeq: 1 INVITE
`, ruri, ruri)
}

// lastReply returns the last reply the fake core sent, and fails without.
func lastReply(t *testing.T, s *siptest.Script) *sip.Response {
	t.Helper()
	rs := s.Core.Replies()
	if len(rs) == 0 {
		t.Fatal("no reply sent")
	}
	return rs[len(rs)-1]
}

// header returns the value of a reply's header, "" when absent.
func header(res *sip.Response, name string) string {
	h := sipmsg.Header(res, name)
	if h == nil {
		return ""
	}
	return h.Value()
}

// contactsOf lists the contact values of a reply (each "<uri>;params").
func contactsOf(res *sip.Response) []string {
	var out []string
	for _, h := range sipmsg.Headers(res, "Contact") {
		out = append(out, strings.Split(h.Value(), ", ")...)
	}
	return out
}

// attr reads an attribute of the message as the script would.
func attr(c *sr.Ctx, name string, flags sr.AVPFlags) (sr.Value, bool) {
	return c.AVPs.Get(sr.AVPName{S: name}, flags, 0)
}
