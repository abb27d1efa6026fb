package pv

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"sip-router.org/core/sr"
)

func TestSelects(t *testing.T) {
	r := newTestRegistry(t)
	r.SetCfgVar("pstn", "gw_ip", str("10.9.9.9"))
	r.SetCfgVar("core", "debug", num(3))
	c := reqCtx(t, inviteText)
	tests := []struct {
		sel  string
		want sr.Value
	}{
		{"@ruri", str("sip:alice@atlanta.example.com;transport=tcp")},
		{"@ruri.user", str("alice")},
		{"@ruri.host", str("atlanta.example.com")},
		{"@ruri.port", null},
		{"@ruri.hostport", str("atlanta.example.com")},
		{"@ruri.params", str("transport=tcp")},
		{"@ruri.transport", str("tcp")},
		{"@ruri.type", str("sip")},
		{"@ruri.pwd", null},
		{"@from", str(`"Bob" <sip:bob@biloxi.example.com:5070>;tag=1928301774`)},
		{"@from.uri", str("sip:bob@biloxi.example.com:5070")},
		{"@from.uri.user", str("bob")},
		{"@from.uri.host", str("biloxi.example.com")},
		{"@from.uri.port", str("5070")},
		{"@from.uri.hostport", str("biloxi.example.com:5070")},
		{"@from.tag", str("1928301774")},
		{"@from.name", str("Bob")},
		{"@to", str(`"Alice A" <sip:alice@atlanta.example.com>`)},
		{"@to.uri", str("sip:alice@atlanta.example.com")},
		{"@to.uri.user", str("alice")},
		{"@to.uri.host", str("atlanta.example.com")},
		{"@to.tag", null},
		{"@to.name", str("Alice A")},
		{`@msg.header["User-Agent"]`, str("TestUA/1.0")},
		{`@msg.header["user-agent"]`, str("TestUA/1.0")},
		{`@msg.header['X-Multi']`, str("one")},
		{`@msg.header["v"]`, str("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport")},
		{`@msg.header["X-None"]`, null},
		{"@msg.body", str("test")},
		{"@via", str("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport")},
		{"@via[0].host", str("10.0.0.1")},
		{"@via[0].port", str("5060")},
		{"@via.branch", str("z9hG4bK776asdhds")},
		{"@via[1].host", str("10.0.0.2")},
		{"@via[1].port", null},
		{"@via[1].transport", str("TCP")},
		{"@via[1].received", str("192.0.2.99")},
		{"@via[0].rport", null},
		{"@via[2]", null},
		{"@via[2].host", null},
		{"@contact", str("<sip:bob@192.0.2.4>;expires=60")},
		{"@contact.uri", str("sip:bob@192.0.2.4")},
		{"@contact.uri.host", str("192.0.2.4")},
		{"@contact.expires", str("60")},
		{"@contact.q", null},
		{"@contact.name", null},
		{"@cseq", str("314159 INVITE")},
		{"@cseq.num", str("314159")},
		{"@cseq.method", str("INVITE")},
		{"@call_id", str("a84b4c76e66710@pc33.atlanta.example.com")},
		{"@callid", str("a84b4c76e66710@pc33.atlanta.example.com")},
		{"@method", str("INVITE")},
		{"@src.ip", str("192.0.2.10")},
		{"@src.port", str("5062")},
		{"@dst.ip", str("10.0.0.10")},
		{"@dst.port", str("5060")},
		{"@cfg_get.pstn.gw_ip", str("10.9.9.9")},
		{"@cfg_get.core.debug", num(3)},
	}
	for _, tc := range tests {
		t.Run(tc.sel, func(t *testing.T) {
			s, err := r.ParseSelect(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if s.Kind() != KindSelect {
				t.Errorf("kind %v", s.Kind())
			}
			checkValue(t, tc.sel, s.Get(c), tc.want)
			// The same select through $sel and as a plain item.
			checkValue(t, "$sel("+tc.sel[1:]+")", get(t, r, c, "$sel("+tc.sel[1:]+")"), tc.want)
			checkValue(t, "Parse("+tc.sel+")", get(t, r, c, tc.sel), tc.want)
		})
	}
	t.Run("reply", func(t *testing.T) {
		rc := replyCtx(t)
		for sel, want := range map[string]sr.Value{
			"@ruri": null, "@to.tag": str("reply-tag"), "@method": str("INVITE"), "@contact.uri.user": str("alice"),
		} {
			checkValue(t, sel, get(t, r, rc, sel), want)
		}
	})
	t.Run("empty context", func(t *testing.T) {
		for _, tc := range tests {
			if strings.HasPrefix(tc.sel, "@cfg_get") {
				continue
			}
			checkValue(t, tc.sel, get(t, r, &sr.Ctx{}, tc.sel), null)
		}
	})
}

func TestSelectErrors(t *testing.T) {
	r := newTestRegistry(t)
	for text, want := range map[string]string{
		"@":                      `"@" must be followed by a select name`,
		"@1x":                    `"@" must be followed by a select name`,
		"@nope":                  "unknown select @nope",
		"@ruri.color":            "unknown select @ruri.color",
		"@from.uri.nope":         "unknown select @from.uri.nope",
		"@from.nope":             "unknown select @from.nope",
		"@via[-1]":               "unknown select @via[-1]",
		`@via["x"]`:              `unknown select @via["x"]`,
		"@via.nope":              "unknown select @via.nope",
		"@contact.nope":          "unknown select @contact.nope",
		"@cseq.nope":             "unknown select @cseq.nope",
		"@cseq[1]":               "unknown select @cseq[1]",
		"@msg.header":            "unknown select @msg.header",
		`@msg.header[""]`:        `unknown select @msg.header[""]`,
		"@msg.header[1]":         "unknown select @msg.header[1]",
		`@msg.header["X`:         "unterminated string parameter",
		"@via[1":                 "missing ']'",
		"@via[x]":                "must be a number or a quoted string",
		"@src.nope":              "unknown select @src.nope",
		"@cfg_get.only":          "unknown select @cfg_get.only",
		"@cfg_get.a.b.c":         "unknown select @cfg_get.a.b.c",
		"@ruri.user junk":        `unexpected " junk" after @ruri.user`,
		"@call_id.x":             "unknown select @call_id.x",
		`@msg.header["X"].extra`: `unknown select @msg.header["X"].extra`,
	} {
		_, err := r.ParseSelect(text)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseSelect(%q) = %v, want %q", text, err, want)
		}
	}
}

func TestCfgVars(t *testing.T) {
	r := newTestRegistry(t)
	// A select may name a variable declared later in the file.
	s, err := r.ParseSelect("@cfg_get.late.var")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.CfgVar("late", "var"); ok {
		t.Error("an undeclared variable is reported as declared")
	}
	err = r.Check()
	if err == nil || !strings.Contains(err.Error(), "unknown configuration variable late.var") {
		t.Errorf("Check before the declaration: %v", err)
	}
	checkValue(t, "undeclared", s.Get(&sr.Ctx{}), null)
	r.SetCfgVar("late", "var", str("v1"))
	if err := r.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	checkValue(t, "@cfg_get.late.var", s.Get(&sr.Ctx{}), str("v1"))
	if v, ok := r.CfgVar("late", "var"); !ok || !sameValue(v, str("v1")) {
		t.Errorf("CfgVar = %v %v", v, ok)
	}
	// Changing it at run time (cfg_rpc) while messages read it.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				r.SetCfgVar("late", "var", num(j))
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if v := s.Get(&sr.Ctx{}); v.IsNull() {
					t.Error("null while changing")
				}
			}
		}()
	}
	wg.Wait()
}

func TestModuleSelects(t *testing.T) {
	r := newTestRegistry(t)
	if err := r.AddSelect("tls.peer.subject.cn", func(*sr.Ctx) sr.Value { return str("peer.example.com") }); err != nil {
		t.Fatal(err)
	}
	checkValue(t, "@tls.peer.subject.cn", get(t, r, &sr.Ctx{}, "@tls.peer.subject.cn"), str("peer.example.com"))
	if err := r.AddSelect("tls.peer.subject.cn", func(*sr.Ctx) sr.Value { return null }); err == nil {
		t.Error("duplicate select accepted")
	}
	if err := r.AddSelect("", nil); err == nil {
		t.Error("empty select accepted")
	}
	if _, err := r.ParseSelect("@tls.peer"); err == nil {
		t.Error("a prefix of a module select resolved")
	}
}
