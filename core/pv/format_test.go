package pv

import (
	"errors"
	"strings"
	"testing"

	"sip-router.org/core/sr"
)

func TestFormat(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	c.AVPs.Add(sr.AVPName{S: "account"}, str("yes"), 0)
	c.Vars = sr.Vars{"n": num(7)}
	tests := []struct {
		format string
		mode   Compat
		want   string
	}{
		{"From $fu to $(ru{uri.user})\n", Kamailio, "From sip:bob@biloxi.example.com:5070 to alice\n"},
		{"$rm $rs $tt.", Kamailio, "INVITE <null> <null>."},
		{"$ru... $account.", MaxCompat, "sip:alice@atlanta.example.com;transport=tcp... yes."},
		{"cost: $$5, $var(n) items", Kamailio, "cost: $5, 7 items"},
		{"$$$ru$$", Kamailio, "$sip:alice@atlanta.example.com;transport=tcp$"},
		{"mail bob@example.com", Kamailio, "mail bob@example.com"},
		{"$ci;$cs;$sp", Kamailio, "a84b4c76e66710@pc33.atlanta.example.com;314159;5062"},
		{"<$hdr(X-Multi)>{x}", Kamailio, "<one>{x}"},
		{"$rU{x}", Kamailio, "alice{x}"},
		{"$account is $account[1]", MaxCompat, "yes is yes"},
		{"$f.account/$t.account", MaxCompat, "yes/<null>"},
		{"$ru", SER, "<null>"},
		{"@from.tag and @to.tag", Kamailio, "@from.tag and @to.tag"},
		{"$sel(from.tag) $sel(to.tag)", Kamailio, "1928301774 <null>"},
		{"héllo $rU ✓", Kamailio, "héllo alice ✓"},
		{`back\slash \n $rU`, Kamailio, `back\slash \n alice`},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String()+"/"+tc.format, func(t *testing.T) {
			f, err := r.ParseFormat(tc.format, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Expand(c); got != tc.want {
				t.Errorf("Expand = %q, want %q", got, tc.want)
			}
			if _, static := f.Static(); static != !strings.ContainsAny(tc.format, "$") {
				t.Errorf("Static() = %v", static)
			}
		})
	}
	t.Run("nil context", func(t *testing.T) {
		f, err := r.ParseFormat("a $ru b", Kamailio)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Expand(nil); got != "a <null> b" {
			t.Errorf("Expand(nil) = %q", got)
		}
	})
}

func TestFormatStatic(t *testing.T) {
	r := newTestRegistry(t)
	for in, want := range map[string]string{
		"":                 "",
		"plain text\n":     "plain text\n",
		"price $$10":       "price $10",
		"P-hint: outbound": "P-hint: outbound",
	} {
		f, err := r.ParseFormat(in, Kamailio)
		if err != nil {
			t.Fatal(err)
		}
		sf, ok := f.(sr.StaticFormat)
		if !ok {
			t.Fatalf("ParseFormat(%q) is a %T, want sr.StaticFormat", in, f)
		}
		if text, static := sf.Static(); !static || text != want {
			t.Errorf("ParseFormat(%q) = %q %v", in, text, static)
		}
	}
}

func TestFormatErrors(t *testing.T) {
	r := newTestRegistry(t)
	tests := []struct {
		format string
		mode   Compat
		want   string
		is     error
	}{
		{"hello $foo", Kamailio, `format "hello $foo", offset 6: unknown pseudo-variable $foo`, ErrUnknown},
		{"x $ru{uri.user} y", Kamailio, "$ru{uri.user} y: transformations need the $(...) form", ErrSyntax},
		{"x $rU{s.len}", MaxCompat, "transformations need the $(...) form", ErrSyntax},
		{"cost 5 $", Kamailio, `"$" must be followed by a name (write $$ for a literal $)`, ErrSyntax},
		{"cost $ 5", Kamailio, `"$" must be followed by a name`, ErrSyntax},
		{"$(ru{uri.user}", Kamailio, "missing ')'", ErrSyntax},
		{"$(ru{s.nope})", Kamailio, "unknown transformation {s.nope}", ErrUnknownTransformation},
		{"$hdr(", Kamailio, "missing ')'", ErrSyntax},
		{"$(ru)x$(nope)", Kamailio, "offset 6: unknown pseudo-variable $nope", ErrUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			_, err := r.ParseFormat(tc.format, tc.mode)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

func TestXLFormat(t *testing.T) {
	r := newTestRegistry(t)
	c := reqCtx(t, inviteText)
	c.AVPs.Add(sr.AVPName{S: "digest_challenge"}, str(`WWW-Authenticate: Digest realm="x"`), 0)
	c.AVPs.Add(sr.AVPName{S: "asserted_id"}, str("+15550100"), sr.AVPClassUser|sr.AVPTrackFrom)
	c.AVPs.Add(sr.AVPName{S: "fr_timer"}, num(10), sr.AVPClassUser|sr.AVPTrackTo)
	c.AVPs.Add(sr.AVPName{S: "fr_timer"}, num(20), sr.AVPClassUser|sr.AVPTrackTo)
	c.DstURI = "sip:10.0.0.5"
	tests := []struct{ format, want string }{
		{"%ru %fu %tu %rm %ci", "sip:alice@atlanta.example.com;transport=tcp sip:bob@biloxi.example.com:5070 sip:alice@atlanta.example.com INVITE a84b4c76e66710@pc33.atlanta.example.com"},
		{"%is:%sp %si %Ri:%Rp", "192.0.2.10:5062 192.0.2.10 10.0.0.10:5060"},
		{"%$digest_challenge", `WWW-Authenticate: Digest realm="x"`},
		{"<sip:%$asserted_id@%@ruri.host>;screen=yes", "<sip:+15550100@atlanta.example.com>;screen=yes"},
		{"%$t.fr_timer %$t.fr_timer[1] %$t.fr_timer[-1] %$t.fr_timer[*]", "20 10 20 20, 10"},
		{"%$nothing|%@to.tag|", "<null>|<null>|"},
		{"%$nothing%|%@to.tag% x", "<null><null>x"},
		{"100%% sure%| done", "100% sure done"},
		{"%$asserted_id% text", "+15550100text"},
		{"%$asserted_id. %$f.asserted_id.", "+15550100. +15550100."},
		{"%{User-Agent} %{X-Multi[1]} %{X-Multi[-1]} %{X-Multi[*]}", "TestUA/1.0 two three one,two,three"},
		{"%<fr_timer>", "<null>"},
		{"%<asserted_id>", "+15550100"},
		{"%ft %tt %cs %ct", "1928301774 <null> 314159 <sip:bob@192.0.2.4>;expires=60"},
		{"%ua|%rs|%rr|%br|%nh|%mf|%mi", "TestUA/1.0|<null>|<null>|<null>|sip:10.0.0.5|0|<null>"},
		{"%pp %px %Ts %Tx", "4242 1092 1263213045 4b4b19f5"},
		{"%Tf", "Mon Jan 11 12:30:45 2010"},
		{"%Hn %Hd %Hf %Hi", "proxy example.com proxy.example.com <null>"},
		{`tab\there\n\\ \q\`, "tab\there\n\\ q\\"},
		{"%Crx!%Cxx", "\x1b[31m!\x1b[0m"},
		{"%CRb!%Cxg", "\x1b[1;31;44m!\x1b[0;42m"},
		{"%ds", "<null>"},
		{"%rt", "sip:carol@chicago.example.com"},
	}
	tests = append(tests,
		struct{ format, want string }{"%ml", itoa(len(c.Req.String()))},
		struct{ format, want string }{"%mb", c.Req.String()})
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			f, err := r.ParseXLFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Expand(c); got != tc.want {
				t.Errorf("Expand = %q, want %q", got, tc.want)
			}
		})
	}
	for in, want := range map[string]string{"plain": "plain", `a\nb`: "a\nb", "%%": "%", "%Cgx": "\x1b[32m"} {
		f, err := r.ParseXLFormat(in)
		if err != nil {
			t.Fatal(err)
		}
		if text, ok := f.Static(); !ok || text != want {
			t.Errorf("ParseXLFormat(%q).Static() = %q %v", in, text, ok)
		}
	}
}

func TestXLFormatErrors(t *testing.T) {
	r := newTestRegistry(t)
	for in, want := range map[string]string{
		"50%":           "a lone % ends the format",
		"%zz":           "unknown specifier %zz",
		"%r":            `unknown specifier "%r"`,
		"%$":            `"$" must be followed by a name`,
		"%$x[0]":        "invalid attribute index [0]",
		"%$x[1]y":       `invalid attribute "$x[1]y"`,
		"%@nope":        "unknown select @nope",
		"%{User-Agent":  `missing '}'`,
		"%{X[1}":        "missing ']'",
		"%{}":           "invalid name",
		"%<a[0]>":       "invalid attribute index [0]",
		"%C":            "%C needs two colour letters",
		"%Cq":           "%C needs two colour letters",
		"%Cqx":          `invalid colour "%Cqx"`,
		"%Crq":          `invalid colour "%Crq"`,
		"%{X-A[$x]}":    "",
		"%<a.b.c>":      "unknown AVP class prefix",
		"%{Bad Name}":   "invalid character",
		"%$x[a]":        "invalid attribute index [a]",
		"%$dangling-x]": "",
	} {
		_, err := r.ParseXLFormat(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseXLFormat(%q) = %v, want %q", in, err, want)
		}
	}
}

func itoa(n int) string { return sr.IntVal(n).String() }
