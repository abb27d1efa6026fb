package registrar_test

import (
	"testing"
	"time"

	"sip-router.org/core/siptest"
	"sip-router.org/core/sr"
	"sip-router.org/modules_s/usrloc"
)

// seed puts contacts into the record of a uid.
func seed(t *testing.T, s *siptest.Script, uid string, cs ...usrloc.Contact) {
	t.Helper()
	_, err := location(t, s).Update(uid, false, func(cur []usrloc.Contact) ([]usrloc.Contact, error) {
		return append(cur, cs...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ct(uri string, q int, expires time.Duration) usrloc.Contact {
	now := time.Now()
	return usrloc.Contact{URI: uri, AOR: "sip:alice@example.com", Q: q, Expires: now.Add(expires), CallID: "c", CSeq: 1,
		Socket: "udp:127.0.0.1:5060", LastModified: now}
}

const lookupRoute = `
	$lrc = "none";
	lookup_contacts("location");
	$lrc = $?;
`

func lrc(t *testing.T, c *sr.Ctx) string {
	t.Helper()
	v, _ := attr(c, "lrc", 0)
	return v.Text()
}

func TestLookup(t *testing.T) {
	s := script(t, "", lookupRoute)
	low := ct("sip:alice@192.0.2.30", 100, time.Hour)
	nat := ct("sip:alice@10.0.0.5:5060", 1000, time.Hour)
	nat.Received = "sip:198.51.100.7:4711;dstip=127.0.0.1;dstport=5060"
	nat.Flags = usrloc.FLNAT
	mid := ct("sip:alice@192.0.2.20", 500, time.Hour)
	mid.Socket = "tcp:127.0.0.1:5060"
	old := ct("sip:alice@192.0.2.99", 900, -time.Minute)
	seed(t, s, "alice", low, nat, mid, old)

	c := s.Run(t, invite("sip:alice@example.com"))
	if got := lrc(t, c); got != "1" {
		t.Fatalf("lookup returned %s", got)
	}
	if got := c.Req.Recipient.String(); got != nat.URI {
		t.Errorf("R-URI %s, want the highest q %s", got, nat.URI)
	}
	if c.DstURI != nat.Received || c.Q != 1000 {
		t.Errorf("$du %q q %d", c.DstURI, c.Q)
	}
	if c.ForceSocket == nil || c.ForceSocket.String() != "udp:127.0.0.1:5060" {
		t.Errorf("socket %v", c.ForceSocket)
	}
	if !c.IsFlagSet(4) {
		t.Error("load_nat_flag (4) not set for a contact behind a NAT")
	}
	if len(c.Branches) != 2 || c.Branches[0].URI != mid.URI || c.Branches[1].URI != low.URI {
		t.Fatalf("branches %+v", c.Branches)
	}
	if b := c.Branches[0]; b.Q != 500 || b.Socket == nil || b.Socket.String() != "tcp:127.0.0.1:5060" || b.DstURI != "" {
		t.Errorf("branch %+v", b)
	}
}

func TestLookupCodes(t *testing.T) {
	s := script(t, "", lookupRoute)
	seed(t, s, "expired", ct("sip:x@192.0.2.1", -1, -time.Second))
	seed(t, s, "badcontact", ct("not a uri", -1, time.Hour))
	for _, tc := range []struct{ ruri, want string }{
		{"sip:nobody@example.com", "-3"},
		{"sip:expired@example.com", "-5"},
		{"sip:example.com", "-1"},
		{"sip:badcontact@example.com", "-4"},
	} {
		c := s.Run(t, invite(tc.ruri))
		if got := lrc(t, c); got != tc.want {
			t.Errorf("%s: lookup returned %s, want %s", tc.ruri, got, tc.want)
		}
	}
}

func TestLookupOptions(t *testing.T) {
	setup := func(t *testing.T, params string) *siptest.Script {
		s := script(t, params, lookupRoute)
		a := ct("sip:alice@10.0.0.5", 1000, time.Hour)
		a.Received = "sip:198.51.100.7:4711"
		b := ct("sip:alice@192.0.2.2", 500, time.Hour)
		b.AOR = "sip:other@example.com"
		seed(t, s, "alice", a, b)
		return s
	}
	t.Run("append_branches 0", func(t *testing.T) {
		c := setup(t, `modparam("registrar", "append_branches", 0)`).Run(t, invite("sip:alice@example.com"))
		if lrc(t, c) != "1" || len(c.Branches) != 0 {
			t.Errorf("rc %s branches %+v", lrc(t, c), c.Branches)
		}
	})
	t.Run("received_to_uri", func(t *testing.T) {
		c := setup(t, `modparam("registrar", "received_to_uri", 1)`).Run(t, invite("sip:alice@example.com"))
		want := `sip:alice@10.0.0.5;received=sip:198.51.100.7:4711`
		if lrc(t, c) != "1" || c.DstURI != "" || c.Req.Recipient.String() != want {
			t.Errorf("rc %s R-URI %s $du %q", lrc(t, c), c.Req.Recipient.String(), c.DstURI)
		}
	})
	t.Run("AOR filter", func(t *testing.T) {
		s := script(t, "", `lookup_contacts("location", "sip:other@example.com"); $lrc = $?;`)
		b := ct("sip:alice@192.0.2.2", 500, time.Hour)
		b.AOR = "sip:other@example.com"
		seed(t, s, "alice", ct("sip:alice@10.0.0.5", 1000, time.Hour), b)
		c := s.Run(t, invite("sip:alice@example.com"))
		if lrc(t, c) != "1" || c.Req.Recipient.String() != "sip:alice@192.0.2.2" || len(c.Branches) != 0 {
			t.Errorf("rc %s R-URI %s branches %+v", lrc(t, c), c.Req.Recipient.String(), c.Branches)
		}
		seed(t, s, "bob", ct("sip:bob@10.0.0.6", 1000, time.Hour))
		if c := s.Run(t, invite("sip:bob@example.com")); lrc(t, c) != "-5" {
			t.Errorf("rc %s for a uid without contact of that AOR", lrc(t, c))
		}
	})
	t.Run("unset AOR attribute", func(t *testing.T) {
		s := script(t, "", `lookup_contacts("location", "$t.none"); $lrc = $?;`)
		seed(t, s, "alice", ct("sip:alice@10.0.0.5", 1000, time.Hour))
		if c := s.Run(t, invite("sip:alice@example.com")); lrc(t, c) != "-1" {
			t.Errorf("rc %s", lrc(t, c))
		}
	})
}

func TestLookupByToUID(t *testing.T) {
	s := script(t, "", `
	$tu.uid = "u-0042";
	lookup_contacts("location");
	$lrc = $?;
`)
	seed(t, s, "u-0042", ct("sip:desk@192.0.2.5", -1, time.Hour))
	c := s.Run(t, invite("sip:someone-else@example.com"))
	if lrc(t, c) != "1" || c.Req.Recipient.String() != "sip:desk@192.0.2.5" {
		t.Errorf("rc %s R-URI %s", lrc(t, c), c.Req.Recipient.String())
	}
}

func TestRegistered(t *testing.T) {
	s := script(t, "", `
	$reg = "no";
	if (registered("location")) {
		$reg = "yes";
	}
`)
	seed(t, s, "alice", ct("sip:alice@192.0.2.5", -1, time.Hour))
	seed(t, s, "gone", ct("sip:gone@192.0.2.5", -1, -time.Hour))
	for ruri, want := range map[string]string{
		"sip:alice@example.com": "yes", "sip:gone@example.com": "no", "sip:nobody@example.com": "no",
	} {
		c := s.Run(t, invite(ruri))
		if v, _ := attr(c, "reg", 0); v.Text() != want {
			t.Errorf("%s: registered %s", ruri, v.Text())
		}
		if c.Req.Recipient.String() != ruri {
			t.Errorf("registered changed the R-URI to %s", c.Req.Recipient.String())
		}
	}
}

// TestSaveThenLookup runs the two together, as the SER configs do.
func TestSaveThenLookup(t *testing.T) {
	s := script(t, "", `
	if (method == "REGISTER") {
		save_contacts("location");
		break;
	}
	if (!lookup_contacts("location")) {
		sl_reply("480", "Temporarily Unavailable");
		break;
	}
	$found = "yes";
`)
	s.Run(t, register("sip:carol@example.com", 1, "Contact: <sip:carol@192.0.2.40:5062>;q=0.1, <sip:carol@192.0.2.41>;q=0.9"))
	c := s.Run(t, invite("sip:carol@example.com"))
	if v, _ := attr(c, "found", 0); v.Text() != "yes" {
		t.Fatalf("lookup failed: replies %v", s.Core.Replies())
	}
	if c.Req.Recipient.String() != "sip:carol@192.0.2.41" || len(c.Branches) != 1 || c.Branches[0].URI != "sip:carol@192.0.2.40:5062" {
		t.Errorf("R-URI %s branches %+v", c.Req.Recipient.String(), c.Branches)
	}
	s.Core.Reset()
	s.Run(t, invite("sip:dave@example.com"))
	if res := lastReply(t, s); res.StatusCode != 480 {
		t.Errorf("reply %d", res.StatusCode)
	}
}
