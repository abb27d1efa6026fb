package textops_test

import (
	"strings"
	"testing"

	"sip-router.org/core/sipmsg"
)

const multi = `OPTIONS sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKhf1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:alice@example.org>;tag=h1
Call-ID: hf1@192.0.2.10
CSeq: 1 OPTIONS
Supported: path, 100rel
Supported: timer
X-P: <sip:a@b>;p1=1;p2=2, <sip:c@d>;p1=3
`

// The SER header-value functions, in a max-compat config (no header line),
// as the SER flavor's configs call them.
func TestHFValue(t *testing.T) {
	for _, tc := range []struct {
		call string
		rc   int
		// want maps header names to their values, one string per header
		// line, blanks after commas removed for the comparison.
		want map[string][]string
	}{
		{`hf_value_exists("Supported", "100rel");`, 1, nil},
		{`hf_value_exists("supported", "TIMER");`, 1, nil},
		{`hf_value_exists("Supported", "gruu");`, -1, nil},
		{`hf_value_exists("X-None", "a");`, -1, nil},
		{`include_hf_value("Supported", "gruu");`, 1, map[string][]string{"Supported": {"path,100rel,gruu", "timer"}}},
		{`include_hf_value("Supported", "timer");`, 1, map[string][]string{"Supported": {"path,100rel", "timer"}}},
		{`include_hf_value("Require", "100rel");`, 1, map[string][]string{"Require": {"100rel"}}},
		{`exclude_hf_value("Supported", "100rel");`, 1, map[string][]string{"Supported": {"path", "timer"}}},
		{`exclude_hf_value("Supported", "path");`, 1, map[string][]string{"Supported": {"100rel", "timer"}}},
		{`exclude_hf_value("Supported", "timer");`, 1, map[string][]string{"Supported": {"path,100rel"}}},
		{`exclude_hf_value("Supported", "none");`, 1, map[string][]string{"Supported": {"path,100rel", "timer"}}},
		{`append_hf_value("X-Foo", "a");`, 1, map[string][]string{"X-Foo": {"a"}}},
		{`append_hf_value("Supported[1]", "x");`, 1, map[string][]string{"Supported": {"path,x,100rel", "timer"}}},
		{`append_hf_value("Supported[-1]", "x");`, 1, map[string][]string{"Supported": {"path,100rel", "timer,x"}}},
		{`append_hf_value("Supported[9]", "x");`, 1, map[string][]string{"Supported": {"path,100rel", "timer", "x"}}},
		{`insert_hf_value("Supported", "x");`, 1, map[string][]string{"Supported": {"x", "path,100rel", "timer"}}},
		{`insert_hf_value("Supported[2]", "x");`, 1, map[string][]string{"Supported": {"path,x,100rel", "timer"}}},
		{`insert_hf_value("Supported[5]", "x");`, -1, map[string][]string{"Supported": {"path,100rel", "timer"}}},
		{`remove_hf_value("Supported");`, 1, map[string][]string{"Supported": {"100rel", "timer"}}},
		{`remove_hf_value("Supported[2]");`, 1, map[string][]string{"Supported": {"path", "timer"}}},
		{`remove_hf_value("Supported[-1]");`, 1, map[string][]string{"Supported": {"path,100rel"}}},
		{`remove_hf_value("Supported[*]");`, 1, map[string][]string{"Supported": nil}},
		{`remove_hf_value("Supported[7]");`, -1, map[string][]string{"Supported": {"path,100rel", "timer"}}},
		{`assign_hf_value("Supported[3]", "t2");`, 1, map[string][]string{"Supported": {"path,100rel", "t2"}}},
		{`remove_hf_value("X-P.p1");`, 1, map[string][]string{"X-P": {"<sip:a@b>;p2=2,<sip:c@d>;p1=3"}}},
		{`remove_hf_value("X-P[*].p1");`, 1, map[string][]string{"X-P": {"<sip:a@b>;p2=2,<sip:c@d>"}}},
		{`remove_hf_value("X-P.p9");`, -1, nil},
		{`assign_hf_value("X-P.p2", "9");`, 1, map[string][]string{"X-P": {"<sip:a@b>;p1=1;p2=9,<sip:c@d>;p1=3"}}},
		{`assign_hf_value("X-P[2].lr", "");`, 1, map[string][]string{"X-P": {"<sip:a@b>;p1=1;p2=2,<sip:c@d>;p1=3;lr"}}},
		{`assign_hf_value("X-P[*].p1", "0");`, 1, map[string][]string{"X-P": {"<sip:a@b>;p1=0;p2=2,<sip:c@d>;p1=0"}}},
		{`append_hf_value("X-Foo", "%ru");`, 1, map[string][]string{"X-Foo": {"sip:bob@example.com"}}},
		{`$v = "a\r\nX-Evil: 1"; append_hf_value("X-Foo", "%$v");`, -1, map[string][]string{"X-Evil": nil, "X-Foo": nil}},
	} {
		t.Run(tc.call, func(t *testing.T) {
			c := run(t, "", tc.call, multi)
			if c.RC != tc.rc {
				t.Fatalf("rc %d, want %d\n%s", c.RC, tc.rc, c.Req)
			}
			for name, want := range tc.want {
				var got []string
				for _, v := range values(c.Req, name) {
					got = append(got, strings.ReplaceAll(v, ", ", ","))
				}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s = %q, want %q\n%s", name, got, want, c.Req)
				}
			}
			if !sipmsg.Has(c.Req, "Via") || c.Req.CSeq() == nil {
				t.Errorf("the message lost its headers:\n%s", c.Req)
			}
		})
	}
}
