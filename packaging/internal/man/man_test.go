package man

import (
	"bytes"
	"compress/gzip"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// serverHelp is the shape of the server's -h (core/server/flags.go).
const serverHelp = `Usage: kamailio [options]
Options:
    -f file      Configuration file (default: /etc/kamailio/kamailio.cfg)
    -c           Check the configuration file for errors and exit
    -l address   Listen on the specified address (proto:addr:port; several -l
                 listen on several addresses); overrides listen= in the config
    -n processes Number of worker goroutines per listening socket
    -D           Do not daemonize: -D and -DD keep the server in the
                 foreground (what systemd wants); without -D it detaches
    -h           This help message
    --dump-schema DIR
                 Write the SQL schema of the compiled-in modules (create and
                 drop scripts per database, schema.json) under DIR and exit
`

// toolHelp is the shape of kamctl's -h: status lines and grouped commands.
const toolHelp = `kamctl 3.0.0 - control tool of the kamailio SIP server

Usage: kamctl <command> [<arguments>]

Settings: /etc/kamailio/kamctlrc, ~/.kamctlrc
Database engine: SQLITE, sqlite:///var/lib/kamailio/kamailio.db

 -- subscribers
  add <user> <password>                     add a new subscriber (*)
  rm <user>                                 remove a subscriber
  avp list [-T <table>] [-u <user|uuid>] [-a <attribute>] [-v <value>] [-t <type>]
                                            list attributes

 -- server
  ps                                        list the server's tasks

(*) changes the database.
`

// dbHelp is the shape of kamdbctl's -h: "Commands:" and "Options:".
const dbHelp = `usage: kamdbctl [-y] [-v] COMMAND [ARGS]

Creates the database of kamailio.

Commands:
  create [DB]       create the database
  migrate [--dry-run]
                    upgrade the tables in place; --dry-run prints the SQL only

Options:
  -y                answer yes to every question
  -h, --help        this text
`

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name     string
		help     string
		synopsis []string
		sections map[string][]UsageItem
		text     int // paragraphs of prose
	}{
		{"server", serverHelp, []string{"kamailio [options]"}, map[string][]UsageItem{
			"Options": {
				{"-f file", "Configuration file (default: /etc/kamailio/kamailio.cfg)"},
				{"-c", "Check the configuration file for errors and exit"},
				{"-l address", "Listen on the specified address (proto:addr:port; several -l listen on several addresses); overrides listen= in the config"},
				{"-n processes", "Number of worker goroutines per listening socket"},
				{"-D", "Do not daemonize: -D and -DD keep the server in the foreground (what systemd wants); without -D it detaches"},
				{"-h", "This help message"},
				{"--dump-schema DIR", "Write the SQL schema of the compiled-in modules (create and drop scripts per database, schema.json) under DIR and exit"},
			},
		}, 0},
		{"grouped commands", toolHelp, []string{"kamctl <command> [<arguments>]"}, map[string][]UsageItem{
			"subscribers": {
				{"add <user> <password>", "add a new subscriber (*)"},
				{"rm <user>", "remove a subscriber"},
				{"avp list [-T <table>] [-u <user|uuid>] [-a <attribute>] [-v <value>] [-t <type>]", "list attributes"},
			},
			"server": {{"ps", "list the server's tasks"}},
		}, 3},
		{"commands and options", dbHelp, []string{"kamdbctl [-y] [-v] COMMAND [ARGS]"}, map[string][]UsageItem{
			"Commands": {
				{"create [DB]", "create the database"},
				{"migrate [--dry-run]", "upgrade the tables in place; --dry-run prints the SQL only"},
			},
			"Options": {{"-y", "answer yes to every question"}, {"-h, --help", "this text"}},
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := ParseUsage(tc.help)
			if strings.Join(u.Synopsis, "|") != strings.Join(tc.synopsis, "|") {
				t.Errorf("synopsis %q, want %q", u.Synopsis, tc.synopsis)
			}
			if len(u.Sections) != len(tc.sections) {
				t.Errorf("sections %+v, want %d", u.Sections, len(tc.sections))
			}
			for _, s := range u.Sections {
				want, ok := tc.sections[s.Title]
				if !ok {
					t.Errorf("unexpected section %q", s.Title)
					continue
				}
				if len(s.Items) != len(want) {
					t.Errorf("section %s: items %+v, want %+v", s.Title, s.Items, want)
					continue
				}
				for i := range want {
					if s.Items[i] != want[i] {
						t.Errorf("section %s item %d: %+v, want %+v", s.Title, i, s.Items[i], want[i])
					}
				}
			}
			if len(u.Text) != tc.text {
				t.Errorf("text paragraphs %q, want %d", u.Text, tc.text)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a\b`, `a\eb`},
		{"-c and --dump-schema", `\-c and \-\-dump-schema`},
		{"(-DD) x-y", `(\-DD) x-y`},
		{"RFC 3261 §17 — ok", `RFC 3261 \[u00A7]17 \[u2014] ok`},
		{"tab\there", "tab here"},
	}
	for _, tc := range tests {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPageSanity(t *testing.T) {
	p := NewPage("kamailio", 8, "2026-01-02", "kamailio 3.0.0", "System Administration", "SIP server")
	ParseUsage(serverHelp).Write(p, "kamailio is a SIP server.\n\n.starts with a dot\n\n'and a quote")
	p.SH("files")
	p.Item("/etc/kamailio/kamailio.cfg", "The configuration.")
	p.Markdown("## more\n\n- a `code` bullet\n  continued\n\n```\n.raw line\n```\n")
	out := string(p.Bytes())
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[1], `.TH "KAMAILIO" 8 "2026-01-02" "kamailio 3.0.0" "System Administration"`) {
		t.Errorf(".TH line: %q", lines[1])
	}
	for _, want := range []string{
		".SH \"NAME\"\nkamailio \\- SIP server\n",
		".SH \"SYNOPSIS\"\n\\fBkamailio\\fR \\fI[options]\\fR\n",
		".SH \"DESCRIPTION\"", ".SH \"OPTIONS\"", ".SH \"FILES\"", ".SH \"MORE\"",
		".TP\n\\fB\\-f\\fR \\fIfile\\fR\nConfiguration file",
		".TP\n\\fB\\-\\-dump-schema\\fR \\fIDIR\\fR\n",
		"\\&.starts with a dot", "\\&'and a quote", "\\&.raw line",
		".IP \\(bu 2\na \\fBcode\\fR bullet continued\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q:\n%s", want, out)
		}
	}
	// Every line that is not a request must not start with . or '.
	for i, l := range lines {
		if strings.HasPrefix(l, "'") {
			t.Errorf("line %d starts with a quote: %q", i+1, l)
		}
	}
	groffCheck(t, p.Bytes())
}

// groffCheck formats a page with groff's warnings on, when groff is
// there, and fails on any warning.
func groffCheck(t *testing.T, page []byte) {
	t.Helper()
	if _, err := exec.LookPath("groff"); err != nil {
		t.Log("groff not installed: page not formatted")
		return
	}
	cmd := exec.Command("groff", "-man", "-ww", "-z", "-Tutf8")
	cmd.Stdin = bytes.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}

func TestGzipDeterministic(t *testing.T) {
	page := []byte(strings.Repeat(".TH X 8\nsome text\n", 50))
	a, err := Gzip(page)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Gzip(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two compressions differ")
	}
	// RFC 1952 header: ID1 ID2 CM FLG MTIME(4) XFL OS.
	if a[0] != 0x1f || a[1] != 0x8b || a[2] != 8 {
		t.Fatalf("not gzip: % x", a[:3])
	}
	if a[3] != 0 {
		t.Errorf("FLG = %#x: a name, comment or extra field is set", a[3])
	}
	if !bytes.Equal(a[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("MTIME = % x, want 0", a[4:8])
	}
	if a[8] != 2 {
		t.Errorf("XFL = %d, want 2 (best compression)", a[8])
	}
	r, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, page) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestFormatTag(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-f file", `\fB\-f\fR \fIfile\fR`},
		{"-h, --help", `\fB\-h,\fR \fB\-\-help\fR`},
		{"rpid add <user>", `\fBrpid\fR \fBadd\fR \fI<user>\fR`},
		{"backup FILE", `\fBbackup\fR \fIFILE\fR`},
	}
	for _, tc := range tests {
		if got := FormatTag(tc.in); got != tc.want {
			t.Errorf("FormatTag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
