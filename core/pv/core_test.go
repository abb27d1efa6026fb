package pv

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"sip-router.org/core/digest"
	"sip-router.org/core/sr"
)

func TestCorePVsRequest(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	msg := c.Req.String()
	tests := []struct {
		pv   string
		want sr.Value
	}{
		{"$ru", str("sip:alice@atlanta.example.com;transport=tcp")},
		{"$ruri", str("sip:alice@atlanta.example.com;transport=tcp")},
		{"$rU", str("alice")},
		{"$rd", str("atlanta.example.com")},
		{"$rp", str("5060")},
		{"$rP", str("tcp")},
		{"$rz", str("sip")},
		{"$ou", str("sip:alice@atlanta.example.com;transport=tcp")},
		{"$oU", str("alice")},
		{"$od", str("atlanta.example.com")},
		{"$op", str("5060")},
		{"$oP", str("tcp")},
		{"$du", null}, {"$duri", null}, {"$dd", null}, {"$dp", null}, {"$dP", null},
		{"$fu", str("sip:bob@biloxi.example.com:5070")},
		{"$from", str("sip:bob@biloxi.example.com:5070")},
		{"$fU", str("bob")},
		{"$fd", str("biloxi.example.com")},
		{"$fn", str("Bob")},
		{"$ft", str("1928301774")},
		{"$tu", str("sip:alice@atlanta.example.com")},
		{"$to", str("sip:alice@atlanta.example.com")},
		{"$tU", str("alice")},
		{"$td", str("atlanta.example.com")},
		{"$tn", str("Alice A")},
		{"$tt", null},
		{"$ci", str("a84b4c76e66710@pc33.atlanta.example.com")},
		{"$cs", str("314159")},
		{"$cl", num(4)},
		{"$cT", str("application/sdp")},
		{"$ct", str("<sip:bob@192.0.2.4>;expires=60")},
		{"$rm", str("INVITE")},
		{"$rs", null},
		{"$rr", null},
		{"$si", str("192.0.2.10")},
		{"$sp", num(5062)},
		{"$Ri", str("10.0.0.10")},
		{"$Rp", num(5060)},
		{"$pr", str("udp")},
		{"$proto", str("udp")},
		{"$ua", str("TestUA/1.0")},
		{"$re", str("sip:+15551234@biloxi.example.com")},
		{"$rt", str("sip:carol@chicago.example.com")},
		{"$di", str("sip:dave@example.org")},
		{"$ai", str("sip:eve@example.org")},
		{"$pu", str("sip:frank@example.net")},
		{"$pU", str("frank")},
		{"$pd", str("example.net")},
		{"$pn", str("Frank")},
		{"$mb", str(msg)},
		{"$ml", num(len(msg))},
		{"$rb", str("test")},
		{"$bs", num(4)},
		{"$au", str("bob")},
		{"$ad", str("biloxi.example.com")},
		{"$aU", str("bob@biloxi.example.com")},
		{"$ar", str("biloxi.example.com")},
		{"$adu", str("sip:alice@atlanta.example.com")},
		{"$Au", str("bob@biloxi.example.com")},
		{"$br", null},
		{"$bR", null},
		{"$bf", num(0)},
		{"$bF", str("00000000")},
		{"$mf", num(0)},
		{"$mF", str("00000000")},
		{"$sf", num(0)},
		{"$sF", str("00000000")},
		{"$fs", null},
		{"$rc", num(0)}, {"$retcode", num(0)}, {"$?", num(0)},
		{"$null", null},
		{"$Ts", num(int(testNow.Unix()))},
		{"$TS", num(int(testNow.Unix()) - 3600)},
		{"$Tf", str("Mon Jan 11 12:30:45 2010")},
		{"$TF", str("Mon Jan 11 12:30:45 2010")},
		{"$pp", num(4242)},
		{"$hdr(X-Multi)", str("one")},
		{"$hdr( x-multi )", str("one")},
		{"$(hdr(X-Multi)[0])", str("one")},
		{"$(hdr(X-Multi)[1])", str("two")},
		{"$(hdr(X-Multi)[2])", str("three")},
		{"$(hdr(X-Multi)[-1])", str("three")},
		{"$(hdr(X-Multi)[-3])", str("one")},
		{"$(hdr(X-Multi)[3])", null},
		{"$(hdr(X-Multi)[-4])", null},
		{"$(hdr(X-Multi)[*])", str("one,two,three")},
		{"$hdr(Via)", str("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport")},
		{"$hdr(v)", str("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport")},
		{"$(hdr(Via)[1])", str("SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKabc;received=192.0.2.99")},
		{"$hdr(f)", str(`"Bob" <sip:bob@biloxi.example.com:5070>;tag=1928301774`)},
		{"$hdr(X-Missing)", null},
		{"$(hdr(X-Missing)[*])", null},
		{"$time(year)", num(2010)},
		{"$time(mon)", num(1)},
		{"$time(mday)", num(11)},
		{"$time(hour)", num(12)},
		{"$time(min)", num(30)},
		{"$time(sec)", num(45)},
		{"$time(wday)", num(2)},
		{"$time(yday)", num(11)},
		{"$time(isdst)", num(0)},
		{"$sel(ruri.user)", str("alice")},
		{"$sel(@from.tag)", str("1928301774")},
		{"$var(never)", num(0)},
		{"$shv(never)", num(0)},
		{"$avp(s:none)", null},
		{"$branch(uri)", null},
	}
	for _, tc := range tests {
		t.Run(tc.pv, func(t *testing.T) {
			s := mustParse(t, r, tc.pv, Kamailio)
			checkValue(t, tc.pv, s.Get(c), tc.want)
		})
	}
}

func TestCorePVsCompactHeaders(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, compactText)
	tests := []struct {
		pv   string
		want sr.Value
	}{
		{"$fu", str("sip:dave@example.org")},
		{"$ft", str("42")},
		{"$tu", str("sip:carol@chicago.example.com")},
		{"$tn", str("Carol")},
		{"$ci", str("compact-call-id")},
		{"$ct", str("<sip:dave@192.0.2.8>")},
		{"$cT", str("text/plain")},
		{"$cl", num(0)},
		{"$hdr(Via)", str("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKnashds7")},
		{"$hdr(From)", str("<sip:dave@example.org>;tag=42")},
		{"$hdr(call-id)", str("compact-call-id")},
		{"$hdr(i)", str("compact-call-id")},
		{"$hdr(Contact)", str("<sip:dave@192.0.2.8>")},
		{"$rb", str("")},
		{"$bs", num(0)},
		{"$au", null},
		{"$ua", null},
		{"$re", null},
		{"$pn", null},
		{"$Au", str("dave@example.org")},
		{"$rp", str("5060")},
		{"$rP", str("udp")},
	}
	for _, tc := range tests {
		t.Run(tc.pv, func(t *testing.T) {
			checkValue(t, tc.pv, mustParse(t, r, tc.pv, Kamailio).Get(c), tc.want)
		})
	}
}

func TestCorePVsReply(t *testing.T) {
	r := newTestRegistry(t)
	c := replyCtx(t)
	tests := []struct {
		pv   string
		want sr.Value
	}{
		{"$rm", str("INVITE")},
		{"$rs", num(180)},
		{"$rr", str("Ringing")},
		{"$ru", null},
		{"$rU", null},
		{"$rd", null},
		{"$rp", null},
		{"$ou", null},
		{"$tt", str("reply-tag")},
		{"$ct", str("<sip:alice@192.0.2.7>")},
		{"$cs", str("314159")},
		{"$au", null},
		{"$br", null},
		{"$hdr(To)", str(`"Alice A" <sip:alice@atlanta.example.com>;tag=reply-tag`)},
		{"$sel(cseq.method)", str("INVITE")},
	}
	for _, tc := range tests {
		t.Run(tc.pv, func(t *testing.T) {
			checkValue(t, tc.pv, mustParse(t, r, tc.pv, Kamailio).Get(c), tc.want)
		})
	}
}

// TestCorePVsNoMessage reads everything on an empty context: nothing
// panics and message parts are null.
func TestCorePVsNoMessage(t *testing.T) {
	r := newTestRegistry(t)
	c := &sr.Ctx{}
	for _, name := range r.Names() {
		cls := r.classes[name]
		text := "$" + name
		switch {
		case cls.inner == innerNeed && name == "time":
			text = "$time(sec)"
		case cls.inner == innerNeed && name == "TV":
			text = "$TV(s)"
		case cls.inner == innerNeed && name == "sel":
			text = "$sel(ruri)"
		case cls.inner == innerNeed && name == "branch":
			text = "$branch(uri)"
		case cls.inner == innerNeed:
			text = "$" + name + "(x)"
		}
		t.Run(text, func(t *testing.T) {
			s := mustParse(t, r, text, Kamailio)
			v := s.Get(c)
			switch name {
			case "bf", "mf", "sf", "rc", "retcode", "?", "Ts", "TS", "pp", "var", "shv", "time", "TV":
				if v.K != sr.Int {
					t.Errorf("%s = %s, want an int", text, show(v))
				}
			case "bF", "mF", "sF", "Tf", "TF":
				if v.K != sr.Str {
					t.Errorf("%s = %s, want a string", text, show(v))
				}
			default:
				checkValue(t, text, v, null)
			}
			if s.Get(nil).K != sr.Null {
				t.Errorf("%s on a nil context is not null", text)
			}
		})
	}
}

func TestRecvInfoFallbacks(t *testing.T) {
	r := newTestRegistry(t)
	sock := &sr.Socket{Proto: "tcp", Addr: netip.MustParseAddrPort("[2001:db8::1]:5080")}
	c := &sr.Ctx{Rcv: sr.RecvInfo{Socket: sock, Src: netip.MustParseAddrPort("[::ffff:192.0.2.1]:1234")}}
	checkValue(t, "$Ri", mustParse(t, r, "$Ri", Kamailio).Get(c), str("2001:db8::1"))
	checkValue(t, "$Rp", mustParse(t, r, "$Rp", Kamailio).Get(c), num(5080))
	checkValue(t, "$pr", mustParse(t, r, "$pr", Kamailio).Get(c), str("tcp"))
	checkValue(t, "$si", mustParse(t, r, "$si", Kamailio).Get(c), str("192.0.2.1"))
}

func TestFlagsAndBranches(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	c.Flags = 0x2a
	c.BranchFlags = 1 << 31
	c.ScriptFlags = 3
	c.RC = -2
	c.Branches = []sr.Branch{
		{URI: "sip:a@example.com", Q: 500, DstURI: "sip:10.0.0.9", Path: "<sip:edge>", Flags: 6,
			Socket: &sr.Socket{Proto: "udp", Addr: netip.MustParseAddrPort("10.0.0.10:5060")}},
		{URI: "sip:b@example.com", Q: sr.QUnset},
		{URI: "sip:c@example.com", Q: 1000},
	}
	tests := []struct {
		pv   string
		want sr.Value
	}{
		{"$mf", num(42)},
		{"$mF", str("0000002a")},
		{"$bf", num(1 << 31)},
		{"$bF", str("80000000")},
		{"$sf", num(3)},
		{"$sF", str("00000003")},
		{"$rc", num(-2)},
		{"$?", num(-2)},
		{"$br", str("sip:a@example.com")},
		{"$bR", str("<sip:a@example.com>;q=0.5, sip:b@example.com, <sip:c@example.com>;q=1")},
		{"$branch(uri)", str("sip:a@example.com")},
		{"$(branch(uri)[1])", str("sip:b@example.com")},
		{"$(branch(uri)[-1])", str("sip:c@example.com")},
		{"$(branch(uri)[3])", null},
		{"$(branch(uri)[*])", str("sip:a@example.com, sip:b@example.com, sip:c@example.com")},
		{"$branch(q)", num(500)},
		{"$(branch(q)[1])", null},
		{"$branch(dst_uri)", str("sip:10.0.0.9")},
		{"$branch(path)", str("<sip:edge>")},
		{"$branch(flags)", num(6)},
		{"$branch(socket)", str("udp:10.0.0.10:5060")},
		{"$(branch(socket)[1])", null},
	}
	for _, tc := range tests {
		t.Run(tc.pv, func(t *testing.T) {
			checkValue(t, tc.pv, mustParse(t, r, tc.pv, Kamailio).Get(c), tc.want)
		})
	}
}

func TestQString(t *testing.T) {
	for q, want := range map[int]string{0: "0", 1000: "1", 500: "0.5", 50: "0.05", 123: "0.123", 5: "0.005", 1200: "1", -3: "0"} {
		if got := qString(q); got != want {
			t.Errorf("qString(%d) = %q, want %q", q, got, want)
		}
	}
}

func TestDigestParsing(t *testing.T) {
	long := make([]byte, 100000)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name   string
		header string
		ok     bool
		want   credentials
	}{
		{"plain", `Digest username="alice", realm="example.com", uri="sip:x"`, true,
			credentials{whole: "alice", user: "alice", realm: "example.com", uri: "sip:x"}},
		{"user@domain", `Digest username="alice@dom.org",realm=example.com`, true,
			credentials{whole: "alice@dom.org", user: "alice", domain: "dom.org", realm: "example.com"}},
		{"case and blanks", "digest   USERNAME = \"a\" ,\tRealm=\"r\"", true,
			credentials{whole: "a", user: "a", realm: "r"}},
		{"escaped quote", `Digest username="a\"b", realm="r"`, true,
			credentials{whole: `a"b`, user: `a"b`, realm: "r"}},
		{"missing params", `Digest nonce="x"`, true, credentials{}},
		{"huge param", `Digest opaque="` + string(long) + `", username="u"`, true,
			credentials{whole: "u", user: "u"}},
		{"duplicate username", `Digest username="a", username="b"`, false, credentials{}},
		{"duplicate realm", `Digest realm="a", realm="b"`, false, credentials{}},
		{"unterminated quote", `Digest username="alice, realm="r`, false, credentials{}},
		{"unterminated escape", `Digest username="alice\`, false, credentials{}},
		{"no equals", `Digest username`, false, credentials{}},
		{"basic scheme", `Basic YWxpY2U6c2VjcmV0`, false, credentials{}},
		{"empty", ``, false, credentials{}},
		{"scheme only", `Digest`, false, credentials{}},
		{"empty name", `Digest ="x"`, false, credentials{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseDigest(tc.header)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCredentialsHeaderChoice(t *testing.T) {
	r := newTestRegistry(t)
	au := mustParse(t, r, "$au", Kamailio)
	base := `REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1
From: <sip:a@example.com>;tag=1
To: <sip:a@example.com>
Call-ID: c1
CSeq: 1 REGISTER
`
	tests := []struct {
		name, headers string
		want          sr.Value
	}{
		{"authorization only", "Authorization: Digest username=\"www\", realm=\"r\"\n", str("www")},
		{"proxy wins", "Authorization: Digest username=\"www\"\nProxy-Authorization: Digest username=\"prx\"\n", str("prx")},
		{"malformed", "Authorization: Digest username=\"x\n", null},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := reqCtx(t, base+tc.headers+"Content-Length: 0\n\n")
			checkValue(t, "$au", au.Get(c), tc.want)
		})
	}
	t.Run("ACK has none", func(t *testing.T) {
		c := reqCtx(t, `ACK sip:example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1
From: <sip:a@example.com>;tag=1
To: <sip:a@example.com>
Call-ID: c1
CSeq: 1 ACK
Authorization: Digest username="www"
Content-Length: 0

`)
		checkValue(t, "$au", au.Get(c), null)
	})
	t.Run("authorized credentials win", func(t *testing.T) {
		c := reqCtx(t, base+"Authorization: Digest username=\"www\", realm=\"r\"\n"+
			"Proxy-Authorization: Digest username=\"prx\", realm=\"p\"\nContent-Length: 0\n\n")
		digest.SetAuthorized(c, &digest.Authorized{Header: "Authorization", Username: "www@d", User: "www", Domain: "d", Realm: "r", URI: "sip:r"})
		checkValue(t, "$au", au.Get(c), str("www"))
		checkValue(t, "$ad", mustParse(t, r, "$ad", Kamailio).Get(c), str("d"))
		checkValue(t, "$ar", mustParse(t, r, "$ar", Kamailio).Get(c), str("r"))
		checkValue(t, "$adu", mustParse(t, r, "$adu", Kamailio).Get(c), str("sip:r"))
	})
}

func TestHeaderNamedByPV(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	c.Vars = sr.Vars{"h": str("X-Multi"), "i": num(2)}
	checkValue(t, "$hdr($var(h))", mustParse(t, r, "$hdr($var(h))", Kamailio).Get(c), str("one"))
	checkValue(t, "$(hdr($var(h))[$var(i)])", mustParse(t, r, "$(hdr($var(h))[$var(i)])", Kamailio).Get(c), str("three"))
	c.Vars["h"] = num(3)
	checkValue(t, "$hdr($var(h)) with an int name", mustParse(t, r, "$hdr($var(h))", Kamailio).Get(c), null)
}

// TestHeaderValueAfterChange shows $hdr reads the message as it is now.
func TestHeaderValueAfterChange(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	c.Req.AppendHeader(sip.NewHeader("X-New", "fresh"))
	checkValue(t, "$hdr(x-new)", mustParse(t, r, "$hdr(x-new)", Kamailio).Get(c), str("fresh"))
	n := strconv.Itoa(len(c.Req.String()))
	checkValue(t, "$ml", mustParse(t, r, "$(ml{s.int})", Kamailio).Get(c), num(atoi(n)))
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// $TV: s and u come from one reading per message, the n forms read the
// clock each time.
func TestTimeValue(t *testing.T) {
	clock := time.Date(2010, 1, 11, 12, 30, 45, 123456789, time.UTC)
	r := NewRegistry(Config{Start: clock, Now: func() time.Time {
		clock = clock.Add(1500 * time.Millisecond)
		return clock
	}})
	get := func(c *sr.Ctx, text string) sr.Value { return mustParse(t, r, text, Kamailio).Get(c) }
	c := &sr.Ctx{}
	s, u := get(c, "$TV(s)"), get(c, "$TV(u)")
	checkValue(t, "$TV(s)", s, num(int(time.Date(2010, 1, 11, 12, 30, 46, 0, time.UTC).Unix())))
	checkValue(t, "$TV(u)", u, num(623456))
	checkValue(t, "$TV(s) again", get(c, "$TV(s)"), s)
	checkValue(t, "$TV(u) again", get(c, "$TV(u)"), u)
	// Each fresh reading advances the clock by 1.5 s.
	checkValue(t, "$TV(sn)", get(c, "$TV(sn)"), num(s.I+2))
	checkValue(t, "$TV(un)", get(c, "$TV(un)"), num(623456))
	checkValue(t, "$TV(Sn)", get(c, "$TV(Sn)"), str(fmt.Sprintf("%d.123456", s.I+5)))
	// Another message takes its own reading.
	checkValue(t, "$TV(s), next message", get(&sr.Ctx{}, "$TV(s)"), num(s.I+6))
	if _, err := r.Parse("$TV(x)", Kamailio); err == nil || !strings.Contains(err.Error(), "unknown time value") {
		t.Errorf("$TV(x): %v", err)
	}
}
