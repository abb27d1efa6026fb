package cfg

import (
	"fmt"
	"strings"
	"testing"
)

// scanAll returns the tokens of src as "kind:text@line:col" strings, with
// " bad" for tokens in error, and the errors.
func scanAll(src string, mode Mode) ([]string, string) {
	errs := &errorCollector{}
	pp := newPreproc("t.cfg", []byte(src), Options{Mode: mode}, errs)
	var out []string
	for {
		t := pp.next()
		if t.kind == tEOF {
			break
		}
		s := fmt.Sprintf("%s:%s@%d:%d", kindName[t.kind], t.text, t.pos.Line, t.pos.Col)
		if t.kind == tPV {
			s += "/" + t.pvKind.String()
		}
		if t.bad {
			s += " bad"
		}
		out = append(out, s)
	}
	msg := ""
	if err := errs.result(); err != nil {
		msg = err.Error()
	}
	return out, msg
}

var kindName = map[tokKind]string{tIdent: "id", tNum: "num", tString: "str", tIPv4: "ip4",
	tIPv6: "ip6", tPV: "pv", tSelect: "sel", tOp: "op"}

func TestScan(t *testing.T) {
	tests := []struct {
		name string
		src  string
		mode Mode
		want string // tokens joined by spaces
		err  string
	}{
		{name: "ident and ops", src: "a==b != c =~ d !~ e <= >= && || = < > ! & | + - * / ( ) { } [ ] , ; : .",
			want: "id:a@1:1 op:==@1:2 id:b@1:4 op:!=@1:6 id:c@1:9 op:=~@1:11 id:d@1:14 op:!~@1:16 id:e@1:19 " +
				"op:<=@1:21 op:>=@1:24 op:&&@1:27 op:||@1:30 op:=@1:33 op:<@1:35 op:>@1:37 op:!@1:39 op:&@1:41 " +
				"op:|@1:43 op:+@1:45 op:-@1:47 op:*@1:49 op:/@1:51 op:(@1:53 op:)@1:55 op:{@1:57 op:}@1:59 " +
				"op:[@1:61 op:]@1:63 op:,@1:65 op:;@1:67 op::@1:69 op:.@1:71"},
		{name: "numbers", src: "10 0x1F 017 101b 08 1x",
			want: "num:10@1:1 num:0x1F@1:4 num:017@1:9 num:101b@1:13 num:08@1:18 num:1x@1:21"},
		{name: "ipv4", src: "10.0.0.1 10.0.0.0/8 1.2.3 1234.1.1.1 1.2.3.4a",
			want: "ip4:10.0.0.1@1:1 ip4:10.0.0.0@1:10 op:/@1:18 num:8@1:19 num:1@1:21 op:.@1:22 num:2@1:23 " +
				"op:.@1:24 num:3@1:25 num:1234@1:27 op:.@1:31 num:1@1:32 op:.@1:33 num:1@1:34 op:.@1:35 " +
				"num:1@1:36 num:1@1:38 op:.@1:39 num:2@1:40 op:.@1:41 num:3@1:42 op:.@1:43 num:4a@1:44"},
		{name: "ipv6", src: "::1 fe80::1 [2001:db8::1] 1:2:3:4:5:6:7:8 ::ffff:10.0.0.1",
			want: "ip6:::1@1:1 ip6:fe80::1@1:5 op:[@1:13 ip6:2001:db8::1@1:14 op:]@1:25 " +
				"ip6:1:2:3:4:5:6:7:8@1:27 ip6:::ffff:10.0.0.1@1:43"},
		{name: "not ipv6", src: "udp:host:5060 case 1: abc:def msg:len fe80::1x",
			want: "id:udp@1:1 op::@1:4 id:host@1:5 op::@1:9 num:5060@1:10 id:case@1:15 num:1@1:20 op::@1:21 " +
				"id:abc@1:23 op::@1:26 id:def@1:27 id:msg@1:31 op::@1:34 id:len@1:35 id:fe80@1:39 op::@1:43 " +
				"op::@1:44 num:1x@1:45"},
		{name: "strings", src: "\"a\\tb\" 'c\\td' \"x\"\n  \"y\"",
			want: "str:a\tb@1:1 str:c\\td@1:8 str:xy@1:15"},
		{name: "string positions after newlines", src: "\"a\nb\" c",
			want: "str:a\nb@1:1 id:c@2:4"},
		{name: "comments", src: "a # c\nb /* x /* y */ z */ c // d\ne",
			want: "id:a@1:1 id:b@2:1 id:c@2:21 id:e@3:1"},
		{name: "continuation", src: "a \\\nb",
			want: "id:a@1:1 id:b@2:1"},
		{name: "select", src: `@from.uri.host @msg.header["X-A"].x @via[-1] @a.`,
			want: `sel:@from.uri.host@1:1 sel:@msg.header["X-A"].x@1:16 sel:@via[-1]@1:37 sel:@a@1:46 op:.@1:48`},
		{name: "pv kamailio", src: "$ru $avp(i:1) $(ru{s.len}) $? $rc $hdr(X)[0] $x[1] $f.y", mode: ModeKamailio,
			want: "pv:$ru@1:1/pv pv:$avp(i:1)@1:5/pv pv:$(ru{s.len})@1:15/pv pv:$?@1:28/pv pv:$rc@1:31/pv " +
				"pv:$hdr(X)[0]@1:35/pv pv:$x[1]@1:46/pv pv:$f@1:52/pv op:.@1:54 id:y@1:55"},
		{name: "pv max", src: "$ru $avp(i:1) $f.y $fu.y $g.y $x[1] $x[] $x[*] $x.y $rcx",
			want: "pv:$ru@1:1/pv-or-attr pv:$avp(i:1)@1:5/pv pv:$f.y@1:15/attr pv:$fu.y@1:20/attr " +
				"pv:$g.y@1:26/attr pv:$x[1]@1:31/attr pv:$x[]@1:37/attr pv:$x[*]@1:42/attr " +
				"pv:$x@1:48/pv-or-attr op:.@1:50 id:y@1:51 pv:$rcx@1:53/pv-or-attr"},
		{name: "pv ser", src: "$ru $t.x[2] $avp $?", mode: ModeSER,
			want: "pv:$ru@1:1/attr pv:$t.x[2]@1:5/attr pv:$avp@1:13/attr pv:$?@1:18/pv"},
		{name: "pv ends at the line", src: "$avp(x\n)", want: "pv:$avp(x@1:1/pv bad op:)@2:1 bad",
			err: "t.cfg:1:1: unclosed '(' in pseudo-variable"},
		{name: "bad char marks the next token", src: "a ^ b c",
			want: "id:a@1:1 id:b@1:5 bad id:c@1:7", err: "t.cfg:1:3: unexpected character '^'"},
		{name: "bang bang", src: "!!$x !!define_x", want: "op:!@1:1 op:!@1:2 pv:$x@1:3/pv-or-attr op:!@1:6 op:!@1:7 id:define_x@1:8"},
		{name: "define", src: "#!define A 1 + B\n#!define B \"s\"\nA x", want: "num:1@3:1 op:+@3:1 str:s@3:1 id:x@3:3"},
		{name: "define body comment", src: "#!define A 1 # one\nA", want: "num:1@2:1"},
		{name: "define continuation", src: "#!define A f(1,\\\n 2)\nA", want: "id:f@3:1 op:(@3:1 num:1@3:1 op:,@3:1 num:2@3:1 op:)@3:1"},
		{name: "define recursion stops", src: "#!define A B\n#!define B A\nA", want: "id:A@3:1"},
		{name: "bare define vanishes", src: "#!define A\nx A y", want: "id:x@2:1 id:y@2:5"},
		{name: "directive needs a word end", src: "#!defined X\n#!ifdefX\nx", want: "id:x@3:1"},
		{name: "crlf", src: "#!KAMAILIO\r\n#!define A 1 \r\n#!ifdef A\r\nA $x\r\n#!endif\r\n", want: "num:1@4:1 pv:$x@4:3/pv"},
		{name: "byte order mark", src: "\xef\xbb\xbfa b", want: "id:a@1:1 id:b@1:3"},
		{name: "mode lines", src: "$a\n#!SER\n$a\n#!KAMAILIO\n$a", want: "pv:$a@1:1/pv-or-attr pv:$a@3:1/attr pv:$a@5:1/pv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks, err := scanAll(tc.src, tc.mode)
			if got := strings.Join(toks, " "); got != tc.want {
				t.Errorf("tokens:\n got %s\nwant %s", got, tc.want)
			}
			if err != tc.err {
				t.Errorf("errors:\n got %q\nwant %q", err, tc.err)
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		text string
		want int
		err  bool
	}{
		{"0", 0, false}, {"10", 10, false}, {"0x1f", 31, false}, {"0XFF", 255, false},
		{"017", 15, false}, {"00", 0, false}, {"101b", 5, false}, {"0b", 0, false}, {"01b", 1, false},
		{"0x1b", 27, false}, {"08", 0, true}, {"12b", 0, true}, {"0x", 0, true}, {"1e3", 0, true},
		{"0x_1", 0, true}, {"9223372036854775807", 9223372036854775807, false},
		{"9223372036854775808", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			got, why := parseInt(tc.text)
			if (why != "") != tc.err || got != tc.want {
				t.Errorf("parseInt(%q) = %d, %q; want %d, error %v", tc.text, got, why, tc.want, tc.err)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want byte
	}{
		{`n`, 1, '\n'}, {`r`, 1, '\r'}, {`t`, 1, '\t'}, {`a`, 1, '\a'}, {`\`, 1, '\\'}, {`"`, 1, '"'},
		{`x41`, 3, 'A'}, {`x4`, 2, 4}, {`x4g`, 2, 4}, {`xg`, 0, 0}, {`101`, 3, 'A'}, {`60`, 2, '0'},
		{`1`, 0, 0}, {`1a`, 0, 0}, {`1018`, 3, 'A'}, {`d`, 0, 0}, {``, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, b := escape([]byte(tc.in))
			if n != tc.n || b != tc.want {
				t.Errorf("escape(%q) = %d, %q; want %d, %q", tc.in, n, b, tc.n, tc.want)
			}
		})
	}
}

func TestSubstHelpers(t *testing.T) {
	tests := []struct {
		expr, re, repl, flags string
		ok                    bool
	}{
		{"/a/b/", "a", "b", "", true},
		{"/a/b/gi", "a", "b", "gi", true},
		{`/a\/c/b/`, "a/c", "b", "", true},
		{`|a/b|c|`, "a/b", "c", "", true},
		{`/a\d/\1/`, `a\d`, `\1`, "", true},
		{"/a/b", "", "", "", false},
		{"ab", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			re, repl, flags, ok := splitSubst(tc.expr)
			if re != tc.re || repl != tc.repl || flags != tc.flags || ok != tc.ok {
				t.Errorf("splitSubst(%q) = %q, %q, %q, %v", tc.expr, re, repl, flags, ok)
			}
		})
	}
	if got := expandSyntax(`\2-\1 $ \\`); got != `${2}-${1} $$ \` {
		t.Errorf("expandSyntax = %q", got)
	}
}
