package registrar_test

import (
	"strings"
	"testing"
	"time"
)

// lookup: -1 for an unknown or expired AOR; with method_filtering, -2
// when the contacts accept other methods only (Allow, or the methods
// contact parameter).
func TestLookupCodes(t *testing.T) {
	h := newHarness(t, `
modparam("registrar", "method_filtering", 1)
modparam("registrar", "min_expires", 0)
`)
	if _, rc, _ := h.run(invite("sip:nobody@example.com")); rc != -1 {
		t.Errorf("unknown AOR: %d", rc)
	}
	h.run(register("mf", "Allow: INVITE, ACK, BYE, CANCEL", "Contact: <sip:phone@192.0.2.1>"))
	h.run(register("mf", "Contact: <sip:im@192.0.2.2>;methods=\"MESSAGE\""))
	c, rc, _ := h.run(invite("sip:mf@example.com"))
	if rc != 1 || c.Req.Recipient.String() != "sip:phone@192.0.2.1" || len(c.Branches) != 0 {
		t.Errorf("INVITE: %d %s %v", rc, c.Req.Recipient.String(), c.Branches)
	}
	msg := strings.Replace(strings.Replace(invite("sip:mf@example.com"), "INVITE sip", "MESSAGE sip", 1), "1 INVITE", "1 MESSAGE", 1)
	if c, rc, _ := h.run(msg); rc != 1 || c.Req.Recipient.String() != "sip:im@192.0.2.2" {
		t.Errorf("MESSAGE: %d %s", rc, c.Req.Recipient.String())
	}
	sub := strings.Replace(strings.Replace(invite("sip:mf@example.com"), "INVITE sip", "SUBSCRIBE sip", 1), "1 INVITE", "1 SUBSCRIBE", 1)
	if _, rc, _ := h.run(sub); rc != -2 {
		t.Errorf("SUBSCRIBE to contacts that do not take it: %d, want -2", rc)
	}
	// An expired contact is not found.
	h.run(register("short", "Contact: <sip:s@192.0.2.3>;expires=1"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, rc, _ := h.run(invite("sip:short@example.com"))
		if rc == -1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired contact is still found: %d", rc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A contact registered behind a NAT: the received address (from
// received_avp, set by nathelper's fix_nated_register or by the script)
// is stored, listed in the 200 OK, and becomes $du; the branch flags of
// the REGISTER are restored.
func TestReceivedAndFlags(t *testing.T) {
	h := newHarnessRoute(t, `
modparam("registrar", "received_avp", "$avp(i:80)")
modparam("registrar", "received_param", "rcv")
`, `
route {
	if (method == "REGISTER") {
		$avp(i:80) = "sip:" + $si + ":" + $sp;
		setbflag("6");
		save("location");
		exit;
	}
	lookup("location");
	$var(rc) = $rc;
	$var(bf) = $bf;
}
`)
	_, _, res := h.run(register("nat", "Contact: <sip:nat@10.0.0.1:5060>",
		"Contact: <sip:nat@10.0.0.1:5070>;received=\"sip:203.0.113.9:7000\""))
	expectReply(t, res, 200, "")
	bs := bindings(t, res)
	if !strings.Contains(bs["sip:nat@10.0.0.1:5060"], `;rcv="sip:192.0.2.10:5060"`) ||
		!strings.Contains(bs["sip:nat@10.0.0.1:5070"], `;rcv="sip:203.0.113.9:7000"`) {
		t.Errorf("received in the 200 OK: %v", bs)
	}
	c, rc, _ := h.run(invite("sip:nat@example.com"))
	if rc != 1 || c.DstURI != "sip:192.0.2.10:5060" || c.BranchFlags != 1<<6 {
		t.Errorf("lookup: %d, $du %q, branch flags %b", rc, c.DstURI, c.BranchFlags)
	}
	if len(c.Branches) != 1 || c.Branches[0].DstURI != "sip:203.0.113.9:7000" || c.Branches[0].Flags != 1<<6 {
		t.Errorf("branch: %+v", c.Branches)
	}
	if bf, _ := c.Vars["bf"].AsInt(); bf != 1<<6 {
		t.Errorf("$bf %d", bf)
	}
}

// Path (RFC 3327): stored with use_path; the first hop becomes $du and
// the vector goes with the branch (Route headers when relayed). path_mode
// decides the Path of the 200 OK and refuses clients without path
// support in strict mode.
func TestPath(t *testing.T) {
	const path = "Path: <sip:edge.example.net;lr;received=sip:198.51.100.7:5090>"
	for _, tc := range []struct {
		name, params string
		supported    bool
		code         int
		pathInOK     bool
	}{
		{"strict supported", `modparam("registrar", "path_mode", 2)`, true, 200, true},
		{"strict unsupported", `modparam("registrar", "path_mode", 2)`, false, 420, false},
		{"lazy supported", `modparam("registrar", "path_mode", 1)`, true, 200, true},
		{"lazy unsupported", `modparam("registrar", "path_mode", 1)`, false, 200, false},
		{"off", `modparam("registrar", "path_mode", 0)`, true, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "modparam(\"registrar\", \"use_path\", 1)\n"+tc.params)
			lines := []string{path, "Path: <sip:core.example.net;lr>", "Contact: <sip:p@10.0.0.1>"}
			if tc.supported {
				lines = append(lines, "Supported: replaces, path")
			}
			_, _, res := h.run(register("path", lines...))
			expectReply(t, res, tc.code, "")
			if tc.code == 420 {
				if header(res, "Unsupported") != "path" {
					t.Errorf("420 without Unsupported: path:\n%s", res)
				}
				if _, rc, _ := h.run(invite("sip:path@example.com")); rc != -1 {
					t.Errorf("the refused binding was saved: %d", rc)
				}
				return
			}
			if got := header(res, "Path") != ""; got != tc.pathInOK {
				t.Errorf("Path in the 200 OK: %v, want %v\n%s", got, tc.pathInOK, res)
			}
			c, rc, _ := h.run(invite("sip:path@example.com"))
			if rc != 1 || c.DstURI != "sip:edge.example.net;lr;received=sip:198.51.100.7:5090" ||
				!strings.Contains(c.Path, "core.example.net") || !strings.HasPrefix(c.Path, "<sip:edge") {
				t.Errorf("lookup: %d $du %q path %q", rc, c.DstURI, c.Path)
			}
		})
	}
	// path_use_received: the first hop's received parameter is the
	// received address, and the next hop of lookups.
	h := newHarness(t, `
modparam("registrar", "use_path", 1)
modparam("registrar", "path_use_received", 1)
modparam("usrloc", "nat_bflag", 3)
`)
	_, _, res := h.run(register("pr", path, "Supported: path", "Contact: <sip:p@10.0.0.1>"))
	if !strings.Contains(bindings(t, res)["sip:p@10.0.0.1"], `received="sip:198.51.100.7:5090"`) {
		t.Errorf("received from Path: %v", bindings(t, res))
	}
	c, _, _ := h.run(invite("sip:pr@example.com"))
	if c.DstURI != "sip:198.51.100.7:5090" || c.BranchFlags != 1<<3 {
		t.Errorf("$du %q, branch flags %b (nat_bflag 3)", c.DstURI, c.BranchFlags)
	}
	// A first hop that is not a loose router is refused.
	_, _, res = h.run(register("pr", "Path: <sip:strict.example.net>", "Supported: path", "Contact: <sip:p@10.0.0.1>"))
	expectReply(t, res, 400, "Path parse error")
}

// use_domain makes AORs user@domain; AORs are compared without case
// (the domain only, with case_sensitive); realm_prefix is taken off the
// domain.
func TestAOR(t *testing.T) {
	h := newHarness(t, `
modparam("usrloc", "use_domain", 1)
modparam("registrar", "realm_prefix", "sip.")
`)
	msg := strings.Replace(register("Alice", "Contact: <sip:a@192.0.2.1>"), "To: <sip:Alice@example.com>", "To: <sip:Alice@SIP.Example.COM>", 1)
	h.run(msg)
	if c, rc, _ := h.run(invite("sip:alice@example.com")); rc != 1 || c.Req.Recipient.String() != "sip:a@192.0.2.1" {
		t.Errorf("case-insensitive AOR with the realm prefix: %d", rc)
	}
	if _, rc, _ := h.run(invite("sip:alice@other.com")); rc != -1 {
		t.Errorf("another domain found: %d", rc)
	}

	h = newHarness(t, `
modparam("usrloc", "use_domain", 1)
modparam("registrar", "case_sensitive", 1)
`)
	h.run(register("Bob", "Contact: <sip:b@192.0.2.1>"))
	if _, rc, _ := h.run(invite("sip:Bob@EXAMPLE.com")); rc != 1 {
		t.Errorf("same user, other domain case: %d", rc)
	}
	if _, rc, _ := h.run(invite("sip:bob@example.com")); rc != -1 {
		t.Errorf("case_sensitive user matched another case: %d", rc)
	}
}

// registered(), unregister(), lookup with a URI argument.
func TestRegisteredUnregister(t *testing.T) {
	h := newHarnessRoute(t, "", `
route {
	if (method == "REGISTER") { save("location"); exit; }
	if (method == "INVITE") { registered("location"); $var(rc) = $rc; exit; }
	if (method == "BYE") { unregister("location", "$tu"); $var(rc) = $rc; exit; }
	lookup("location", "sip:$tU@example.com");
	$var(rc) = $rc;
}
`)
	h.run(register("reg", "Contact: <sip:r@192.0.2.1>"))
	if _, rc, _ := h.run(invite("sip:reg@example.com")); rc != 1 {
		t.Errorf("registered: %d", rc)
	}
	if _, rc, _ := h.run(invite("sip:other@example.com")); rc != -1 {
		t.Errorf("registered for nobody: %d", rc)
	}
	opt := strings.Replace(strings.Replace(invite("sip:whatever@example.net"), "INVITE sip", "OPTIONS sip", 1), "1 INVITE", "1 OPTIONS", 1)
	opt = strings.Replace(opt, "To: <sip:whatever@example.net>", "To: <sip:reg@example.com>", 1)
	if c, rc, _ := h.run(opt); rc != 1 || c.Req.Recipient.String() != "sip:r@192.0.2.1" {
		t.Errorf("lookup with a URI: %d %s", rc, c.Req.Recipient.String())
	}
	bye := strings.Replace(strings.Replace(invite("sip:x@example.com"), "INVITE sip", "BYE sip", 1), "1 INVITE", "1 BYE", 1)
	bye = strings.Replace(bye, "To: <sip:x@example.com>", "To: <sip:reg@example.com>", 1)
	if _, rc, _ := h.run(bye); rc != 1 {
		t.Errorf("unregister: %d", rc)
	}
	if _, rc, _ := h.run(invite("sip:reg@example.com")); rc != -1 {
		t.Errorf("registered after unregister: %d", rc)
	}
}

// add_sock_hdr names the socket a REGISTER came in on; behind it, a
// registrar with sock_flag set stores that socket, and lookup forces it.
func TestSocketHeader(t *testing.T) {
	h := newHarnessRoute(t, `
modparam("registrar", "sock_flag", 7)
modparam("registrar", "sock_hdr_name", "X-Sock")
`, `
route {
	if (method == "OPTIONS") { add_sock_hdr("X-Sock"); $var(h) = $hdr(X-Sock); exit; }
	if (method == "REGISTER") { setflag(7); save("location"); exit; }
	lookup("location");
}
`)
	opt := strings.Replace(strings.Replace(invite("sip:x@example.com"), "INVITE sip", "OPTIONS sip", 1), "1 INVITE", "1 OPTIONS", 1)
	c, _, _ := h.run(opt)
	if c.Vars["h"].Text() != "udp:127.0.0.1:5060" {
		t.Errorf("add_sock_hdr added %q", c.Vars["h"].Text())
	}
	h.run(register("sock", "X-Sock: tcp:127.0.0.1:5060", "Contact: <sip:s@192.0.2.1>"))
	c, _, _ = h.run(invite("sip:sock@example.com"))
	if c.ForceSocket == nil || c.ForceSocket.String() != "tcp:127.0.0.1:5060" {
		t.Errorf("forced socket %v", c.ForceSocket)
	}
	// A header naming no local socket: the receiving socket.
	h.run(register("sock2", "X-Sock: tcp:203.0.113.1:5060", "Contact: <sip:s@192.0.2.1>"))
	c, _, _ = h.run(invite("sip:sock2@example.com"))
	if c.ForceSocket == nil || c.ForceSocket.String() != "udp:127.0.0.1:5060" {
		t.Errorf("forced socket %v", c.ForceSocket)
	}
}

// reg_fetch_contacts and $ulc(profile=>attr).
func TestFetchContacts(t *testing.T) {
	h := newHarnessRoute(t, "", `
route {
	if (method == "REGISTER") { save("location"); exit; }
	if (reg_fetch_contacts("location", "$ru", "callee")) {
		$var(count) = $ulc(callee=>count);
		$var(addr) = $ulc(callee=>addr);
		$var(aor) = $ulc(callee=>aor);
		$var(q) = $ulc(callee=>q);
		$var(ua) = $ulc(callee=>user_agent);
		reg_free_contacts("callee");
		if ($ulc(callee=>count) == $null) { $var(after) = "freed"; }
	} else {
		$var(count) = -1;
	}
}
`)
	h.run(register("fc", "User-Agent: Phone/1.0", "Contact: <sip:a@192.0.2.1>;q=0.8", "Contact: <sip:b@192.0.2.2>;q=0.2"))
	c, _, _ := h.run(invite("sip:fc@example.com"))
	for k, want := range map[string]string{"count": "2", "addr": "sip:a@192.0.2.1", "aor": "fc", "q": "800", "ua": "Phone/1.0", "after": "freed"} {
		if got := c.Vars[k].String(); got != want {
			t.Errorf("$var(%s) = %q, want %q", k, got, want)
		}
	}
	if c, _, _ := h.run(invite("sip:none@example.com")); c.Vars["count"].String() != "-1" {
		t.Errorf("fetch of nobody: %v", c.Vars["count"])
	}
	if _, err := loadErr(t, `route { $var(x) = $ulc(p=>nosuch); }`); err == nil || !strings.Contains(err.Error(), "profile=>attribute") {
		t.Errorf("bad $ulc attribute: %v", err)
	}
}
