package registrar_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sip-router.org/core/sipmsg"
	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/usrloc"
)

// expiresRE finds the expires parameter of a reply's contact value.
var expiresRE = regexp.MustCompile(`;expires=(-?\d+)`)

func TestSaveBasic(t *testing.T) {
	s := script(t, "", `
	if (method == "REGISTER") {
		save_contacts("location");
		$after = "yes";
	}
`)
	c := s.Run(t, register("sip:Alice@example.com", 1,
		"Contact: <sip:alice@192.0.2.10:5060>;q=0.5, <sip:alice@192.0.2.11:5070>;expires=120",
		"Expires: 600",
		"User-Agent: phone/1.0"))
	res := lastReply(t, s)
	if res.StatusCode != 200 {
		t.Fatalf("reply %d %s", res.StatusCode, res.Reason)
	}
	cs := contactsOf(res)
	if len(cs) != 2 {
		t.Fatalf("reply contacts %q", cs)
	}
	for _, want := range []string{"<sip:alice@192.0.2.11:5070>;expires=120", "<sip:alice@192.0.2.10:5060>;q=0.5;expires=600"} {
		if !strings.Contains(strings.Join(cs, "|"), want) {
			t.Errorf("reply contacts %q lack %q", cs, want)
		}
	}
	if v, ok := attr(c, "after", 0); !ok || v.Text() != "yes" {
		t.Error("the script did not go on after a successful save")
	}
	// The key is the To username, lower-cased, which became $tu.uid.
	if v, ok := attr(c, "uid", sr.AVPTrackTo|sr.AVPClassUser); !ok || v.Text() != "alice" {
		t.Errorf("$tu.uid = %v %v", v, ok)
	}
	rec, found, _ := location(t, s).Get("alice")
	if !found || len(rec.Contacts) != 2 {
		t.Fatalf("record %+v", rec)
	}
	for _, ct := range rec.Contacts {
		if ct.AOR != "sip:Alice@example.com" || ct.UserAgent != "phone/1.0" || ct.CallID != "reg-call-1" || ct.CSeq != 1 ||
			ct.Socket != "udp:127.0.0.1:5060" || ct.Received != "" || ct.Flags != 0 {
			t.Errorf("contact %+v", ct)
		}
	}
}

func TestSaveKeyedByToUID(t *testing.T) {
	s := script(t, "", `
	$tu.uid = "u-0042";
	save_contacts("location");
`)
	s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:a@192.0.2.10>"))
	if res := lastReply(t, s); res.StatusCode != 200 {
		t.Fatalf("reply %d", res.StatusCode)
	}
	d := location(t, s)
	if _, found, _ := d.Get("u-0042"); !found {
		t.Error("no record for the uid")
	}
	if _, found, _ := d.Get("alice"); found {
		t.Error("a record for the username")
	}
}

func TestSaveExpires(t *testing.T) {
	tests := []struct {
		name    string
		params  string
		headers []string
		want    int // expires in the reply
	}{
		{"default", "", []string{"Contact: <sip:a@h>"}, 3600},
		{"header", "", []string{"Contact: <sip:a@h>", "Expires: 300"}, 300},
		{"param wins", "", []string{"Contact: <sip:a@h>;expires=200", "Expires: 300"}, 200},
		{"bad param", "", []string{"Contact: <sip:a@h>;expires=soon"}, 3600},
		{"raised to min", "", []string{"Contact: <sip:a@h>;expires=10"}, 60},
		{"lowered to max", `modparam("registrar", "max_expires", 1800)`, []string{"Contact: <sip:a@h>"}, 1800},
		{"default_expires", `modparam("registrar", "default_expires", 900)`, []string{"Contact: <sip:a@h>"}, 900},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := script(t, tc.params, `save_contacts("location");`)
			s.Run(t, register("sip:alice@example.com", 1, tc.headers...))
			res := lastReply(t, s)
			m := expiresRE.FindStringSubmatch(strings.Join(contactsOf(res), ","))
			if res.StatusCode != 200 || m == nil {
				t.Fatalf("reply %d contacts %q", res.StatusCode, contactsOf(res))
			}
			if got := m[1]; got != strconv.Itoa(tc.want) && got != strconv.Itoa(tc.want-1) {
				t.Errorf("expires %s, want %d", got, tc.want)
			}
		})
	}
}

// TestSaveSequence runs REGISTERs one after the other on one record.
func TestSaveSequence(t *testing.T) {
	s := script(t, `modparam("registrar", "max_contacts", 3)`, `
	save_contacts("location");
	$after = "yes";
`)
	d := location(t, s)
	type step struct {
		name     string
		msg      string
		code     int
		info     string // P-Registrar-Error
		contacts string // the record's URIs afterwards
	}
	steps := []step{
		{"two contacts", register("sip:alice@example.com", 1, "Contact: <sip:a@h1>, <sip:b@h2>"), 200, "", "sip:a@h1 sip:b@h2"},
		{"a third", register("sip:alice@example.com", 2, "Contact: <sip:c@h3>"), 200, "", "sip:a@h1 sip:b@h2 sip:c@h3"},
		{"a fourth is too many", register("sip:alice@example.com", 3, "Contact: <sip:d@h4>"), 503, "Too many registered contacts", "sip:a@h1 sip:b@h2 sip:c@h3"},
		{"removing one and adding one fits", register("sip:alice@example.com", 4, "Contact: <sip:a@h1>;expires=0, <sip:d@h4>"), 200, "", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"an older CSeq of the same Call-ID", register("sip:alice@example.com", 3, "Contact: <sip:d@h4>;expires=0"), 400, "Invalid CSeq number", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"the same CSeq is a retransmission", register("sip:alice@example.com", 4, "Contact: <sip:d@h4>;expires=0"), 200, "", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"no Contact lists the bindings", register("sip:alice@example.com", 5), 200, "", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"a bad q", register("sip:alice@example.com", 6, "Contact: <sip:e@h5>;q=2"), 400, "Invalid q param in contact", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"star without Expires", register("sip:alice@example.com", 7, "Contact: *"), 400, "* used in contact and expires is not zero", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"star with a contact", register("sip:alice@example.com", 8, "Contact: *", "Contact: <sip:e@h5>", "Expires: 0"), 400, "* used in contact and more than 1 contact", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"a bad Expires", register("sip:alice@example.com", 9, "Contact: <sip:e@h5>", "Expires: soon"), 400, "Expires parse error", "sip:b@h2 sip:c@h3 sip:d@h4"},
		{"star removes all", register("sip:alice@example.com", 10, "Contact: *", "Expires: 0"), 200, "", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s.Core.Reset()
			c := s.Run(t, st.msg)
			res := lastReply(t, s)
			if res.StatusCode != st.code || header(res, "P-Registrar-Error") != st.info {
				t.Errorf("reply %d %s, P-Registrar-Error %q; want %d %q", res.StatusCode, res.Reason,
					header(res, "P-Registrar-Error"), st.code, st.info)
			}
			_, after := attr(c, "after", 0)
			if after != (st.code == 200) {
				t.Errorf("script went on after the save: %v (an error reply returns 0, which ends the script)", after)
			}
			rec, _, _ := d.Get("alice")
			var got []string
			for _, ct := range rec.Contacts {
				got = append(got, ct.URI)
			}
			if strings.Join(got, " ") != st.contacts {
				t.Errorf("record %q, want %q", strings.Join(got, " "), st.contacts)
			}
			if st.code == 200 && st.contacts != "" && len(contactsOf(res)) != len(rec.Contacts) {
				t.Errorf("reply lists %q", contactsOf(res))
			}
			if st.code == 200 && st.contacts == "" && len(contactsOf(res)) != 0 {
				t.Errorf("reply lists %q after the star", contactsOf(res))
			}
		})
	}
}

func TestSaveMissingHeaders(t *testing.T) {
	for _, tc := range []struct{ header, info string }{
		{"To", "To header not found"},
		{"Call-ID", "Call-ID header not found"},
		{"CSeq", "CSeq header not found"},
	} {
		t.Run(tc.header, func(t *testing.T) {
			s := script(t, "", `save_contacts("location");`)
			req := siptest.Request(t, register("sip:alice@example.com", 1, "Contact: <sip:a@h>"))
			sipmsg.Remove(req, tc.header)
			c := s.Ctx(req, "", "")
			s.Loaded.Script.Run(c, sr.RouteRequest, "")
			res := lastReply(t, s)
			if res.StatusCode != 400 || header(res, "P-Registrar-Error") != tc.info {
				t.Errorf("reply %d %q", res.StatusCode, header(res, "P-Registrar-Error"))
			}
		})
	}
	// A To URI without user has no uid.
	s := script(t, "", `save_contacts("location");`)
	s.Run(t, register("sip:example.com", 1, "Contact: <sip:a@h>"))
	if res := lastReply(t, s); res.StatusCode != 400 || header(res, "P-Registrar-Error") != "No username in To URI" {
		t.Errorf("reply %d %q", res.StatusCode, header(res, "P-Registrar-Error"))
	}
}

func TestSaveNoReply(t *testing.T) {
	s := script(t, "", `
	if (save_contacts_noreply("location")) {
		$ok = "yes";
	}
	$saverc = $?;
`)
	c := s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:a@192.0.2.10>;expires=60"))
	if len(s.Core.Replies()) != 0 {
		t.Fatal("save_contacts_noreply replied")
	}
	code, _ := attr(c, "code", 0)
	reason, _ := attr(c, "reason", 0)
	contact, _ := attr(c, "contact", 0)
	if code.K != sr.Int || code.I != 200 || reason.Text() != "OK" {
		t.Errorf("$code %v $reason %v", code, reason)
	}
	if !regexp.MustCompile(`^Contact: <sip:a@192\.0\.2\.10>;expires=(59|60)\r\n$`).MatchString(contact.Text()) {
		t.Errorf("$contact %q", contact.Text())
	}
	if _, ok := attr(c, "ok", 0); !ok {
		t.Error("save_contacts_noreply was false")
	}
	// An error returns -2, with the error's code in the attributes.
	c = s.Run(t, register("sip:alice@example.com", 2, "Contact: <sip:a@192.0.2.10>;q=7"))
	if v, _ := attr(c, "saverc", 0); v.Text() != "-2" {
		t.Errorf("$? = %v", v)
	}
	if code, _ := attr(c, "code", 0); code.I != 400 {
		t.Errorf("$code %v", code)
	}
}

func TestSaveAttrsConfigured(t *testing.T) {
	s := script(t, `
modparam("registrar", "reply_code_attr", "$t.rcode")
modparam("registrar", "reply_reason_attr", "")
modparam("registrar", "contact_attr", "")
`, `save_noreply("location");`)
	c := s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:a@h>"))
	if v, ok := attr(c, "rcode", sr.AVPTrackTo); !ok || v.I != 200 {
		t.Errorf("$t.rcode %v %v", v, ok)
	}
	if _, ok := attr(c, "reason", 0); ok {
		t.Error("$reason set although turned off")
	}
}

func TestSaveNAT(t *testing.T) {
	s := script(t, `
flags FLAG_NAT : 6;
modparam("registrar", "save_nat_flag", "FLAG_NAT")
`, `
	setflag(FLAG_NAT);
	save_contacts("location");
`)
	s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:alice@10.0.0.5:5060>"))
	res := lastReply(t, s)
	want := `;received="sip:192.0.2.10:5060;dstip=127.0.0.1;dstport=5060"`
	if res.StatusCode != 200 || !strings.Contains(strings.Join(contactsOf(res), ""), want) {
		t.Errorf("reply %d contacts %q", res.StatusCode, contactsOf(res))
	}
	rec, _, _ := location(t, s).Get("alice")
	if len(rec.Contacts) != 1 || rec.Contacts[0].Flags&usrloc.FLNAT == 0 || rec.Contacts[0].Received != "sip:192.0.2.10:5060;dstip=127.0.0.1;dstport=5060" {
		t.Errorf("contact %+v", rec.Contacts)
	}
}

func TestSaveTrustReceived(t *testing.T) {
	const contact = `Contact: <sip:alice@10.0.0.5>;received="sip:198.51.100.1:5080"`
	for _, tc := range []struct {
		name, params, route, want string
	}{
		{"trusted by default", "", `save_contacts("location");`, "sip:198.51.100.1:5080"},
		{"never", `modparam("registrar", "trust_received_flag", -1)`, `save_contacts("location");`, ""},
		{"flag not set", `modparam("registrar", "trust_received_flag", 3)`, `save_contacts("location");`, ""},
		{"flag set", `modparam("registrar", "trust_received_flag", 3)`, "setflag(3);\nsave_contacts(\"location\");", "sip:198.51.100.1:5080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := script(t, tc.params, tc.route)
			s.Run(t, register("sip:alice@example.com", 1, contact))
			rec, _, _ := location(t, s).Get("alice")
			if len(rec.Contacts) != 1 || rec.Contacts[0].Received != tc.want {
				t.Errorf("contacts %+v", rec.Contacts)
			}
		})
	}
}

func TestSaveAOR(t *testing.T) {
	s := script(t, "", `
	if ($rU == "second") {
		$t.aor = "sip:second@example.com";
	}
	save_contacts("location", "@to.uri");
`)
	s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:a@h1>"))
	req := strings.Replace(register("sip:alice@example.com", 2, "Contact: <sip:b@h2>"), "REGISTER sip:example.com", "REGISTER sip:second@example.com", 1)
	s.Run(t, req)
	rec, _, _ := location(t, s).Get("alice")
	aors := map[string]string{}
	for _, c := range rec.Contacts {
		aors[c.URI] = c.AOR
	}
	if aors["sip:a@h1"] != "sip:alice@example.com" || aors["sip:b@h2"] != "sip:second@example.com" {
		t.Errorf("AORs %v", aors)
	}
	// The reply lists only the contacts of the AOR given (the To URI).
	if cs := contactsOf(lastReply(t, s)); len(cs) != 1 || !strings.HasPrefix(cs[0], "<sip:a@h1>") {
		t.Errorf("reply contacts %q", cs)
	}
}

func TestSaveInstance(t *testing.T) {
	s := script(t, "", `save_contacts("location");`)
	const inst = `;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"`
	s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:alice@10.0.0.5:5060>"+inst))
	// The user agent moved: same instance, new address.
	s.Run(t, register("sip:alice@example.com", 2, "Contact: <sip:alice@10.0.0.9:5062>"+inst))
	rec, _, _ := location(t, s).Get("alice")
	if len(rec.Contacts) != 1 || rec.Contacts[0].URI != "sip:alice@10.0.0.9:5062" ||
		rec.Contacts[0].Instance != "<urn:uuid:00000000-0000-0000-0000-000000000001>" {
		t.Errorf("contacts %+v", rec.Contacts)
	}
}

func TestSaveFailureRoute(t *testing.T) {
	// save_contacts is allowed in failure_route; save_noreply in
	// onreply_route; lookup is not allowed in onreply_route.
	for _, tc := range []struct {
		cfg string
		ok  bool
	}{
		{`failure_route[F] { save_contacts("location"); }`, true},
		{`onreply_route[R] { save_noreply("location"); }`, true},
		{`onreply_route[R] { save_contacts("location"); }`, false},
		{`onreply_route[R] { lookup_contacts("location"); }`, false},
		{`route { save_contacts("location", "$t.aor"); lookup("location", "sip:a@h"); registered("location"); save_mem_nr("location"); save_memory("location"); save_contacts_noreply("location"); save("location"); }`, true},
	} {
		_, err := siptest.LoadErr(t, "loadmodule \"sl\"\nloadmodule \"tm\"\nloadmodule \"usrloc\"\nloadmodule \"registrar\"\n"+tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v", tc.cfg, err)
		}
	}
}

func TestSaveMemoryFlag(t *testing.T) {
	s := script(t, "", `save_memory("location");`)
	s.Run(t, register("sip:alice@example.com", 1, "Contact: <sip:a@h>"))
	rec, _, _ := location(t, s).Get("alice")
	if len(rec.Contacts) != 1 || rec.Contacts[0].Flags&usrloc.FLMem == 0 {
		t.Errorf("contacts %+v", rec.Contacts)
	}
	if res := lastReply(t, s); res.StatusCode != 200 {
		t.Errorf("reply %d", res.StatusCode)
	}
}

// TestSaveNoReplyOnReply saves the contacts of a 200 OK an upstream
// registrar sent for a REGISTER (save_noreply in onreply_route).
func TestSaveNoReplyOnReply(t *testing.T) {
	s := script(t, `onreply_route[R] { save_noreply("location"); $src = $?; }`, `drop;`)
	res := siptest.Response(t, `SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-up
From: <sip:alice@example.com>;tag=ft
To: <sip:alice@example.com>;tag=upstream
Call-ID: up-call
CSeq: 7 REGISTER
Contact: <sip:alice@192.0.2.50>;expires=1200
`)
	c := s.Ctx(res, "", "")
	s.Loaded.Script.Run(c, sr.RouteOnReply, "R")
	if v, _ := attr(c, "src", 0); v.Text() != "1" {
		t.Fatalf("save_noreply returned %v", v)
	}
	if len(s.Core.Sent()) != 0 {
		t.Error("something was sent")
	}
	rec, _, _ := location(t, s).Get("alice")
	if len(rec.Contacts) != 1 || rec.Contacts[0].URI != "sip:alice@192.0.2.50" || rec.Contacts[0].CSeq != 7 {
		t.Errorf("contacts %+v", rec.Contacts)
	}
}
