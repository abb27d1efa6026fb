package man

import (
	"regexp"
	"strings"
)

// Usage is a program's -h output, parsed into the parts a manual page
// shows.
type Usage struct {
	// Synopsis is what follows "Usage:" ("kamailio [options]").
	Synopsis []string
	// Sections are the item lists, in order: "Options" with -f, -c …,
	// "Commands" with add, rm … .
	Sections []ItemSection
	// Text is what is neither: paragraphs of prose (lines), kept for the
	// DESCRIPTION.
	Text [][]string
}

// ItemSection is a titled list of items. A group ("-- subscribers" in a
// command list) is a subsection of COMMANDS.
type ItemSection struct {
	Title string
	Group bool
	Items []UsageItem
}

// UsageItem is one option or command and its description.
type UsageItem struct {
	Tag  string // "-f file", "add <user> <password>"
	Desc string
}

var (
	usageRe  = regexp.MustCompile(`(?i)^\s*usage:\s*(.*)$`)
	headerRe = regexp.MustCompile(`^([A-Za-z][A-Za-z /-]*):\s*$`)
	groupRe  = regexp.MustCompile(`^\s*-{2,}\s+([A-Za-z].*?)\s*-*\s*$`)
	// An item: a tag, two or more spaces, its description. The tag has
	// single spaces only.
	itemRe = regexp.MustCompile(`^(\S+(?: \S+)*?)(?:\s{2,}(\S.*))?$`)
)

// ParseUsage reads the help text of a program. It knows the common
// shape: a "Usage:" line (repeated for several forms), "Title:" lines
// opening item lists, indented items ("  -f file   Config file") whose
// descriptions may continue on more indented lines. Anything else is
// kept as text.
func ParseUsage(help string) Usage {
	var u Usage
	var cur *ItemSection
	var item *UsageItem
	itemIndent, descCol := 0, 0
	inUsage, inText := false, false
	for _, raw := range strings.Split(strings.ReplaceAll(help, "\t", "        "), "\n") {
		line := strings.TrimRight(raw, " \r")
		if strings.TrimSpace(line) == "" {
			item, inUsage, inText = nil, false, false
			continue
		}
		prevText := inText
		inText = false
		indent := len(line) - len(strings.TrimLeft(line, " "))
		trimmed := strings.TrimSpace(line)
		if m := usageRe.FindStringSubmatch(line); m != nil && indent == 0 {
			item = nil
			if m[1] != "" {
				u.Synopsis = append(u.Synopsis, strings.TrimSpace(m[1]))
			}
			inUsage = true
			continue
		}
		if inUsage && indent > 0 && !strings.HasPrefix(trimmed, "-") {
			// "Usage:" followed by indented forms
			u.Synopsis = append(u.Synopsis, trimmed)
			continue
		}
		inUsage = false
		if m := headerRe.FindStringSubmatch(line); m != nil && indent == 0 {
			u.Sections = append(u.Sections, ItemSection{Title: m[1]})
			cur, item = &u.Sections[len(u.Sections)-1], nil
			continue
		}
		if m := groupRe.FindStringSubmatch(line); m != nil {
			u.Sections = append(u.Sections, ItemSection{Title: m[1], Group: true})
			cur, item = &u.Sections[len(u.Sections)-1], nil
			continue
		}
		if item != nil && indent > itemIndent && (indent >= descCol-1 || item.Desc == "") {
			// continuation of the description
			if item.Desc != "" {
				item.Desc += " "
			}
			item.Desc += trimmed
			continue
		}
		if indent > 0 {
			m := itemRe.FindStringSubmatch(trimmed)
			if m != nil && m[2] == "" && strings.HasPrefix(m[1], "-") {
				m[1], m[2] = splitOption(m[1])
			}
			if m != nil && (m[2] != "" || strings.HasPrefix(m[1], "-") || cur != nil) {
				if cur == nil {
					title := "Commands"
					if strings.HasPrefix(m[1], "-") {
						title = "Options"
					}
					u.Sections = append(u.Sections, ItemSection{Title: title})
					cur = &u.Sections[len(u.Sections)-1]
				}
				cur.Items = append(cur.Items, UsageItem{Tag: m[1], Desc: m[2]})
				item = &cur.Items[len(cur.Items)-1]
				itemIndent = indent
				descCol = len(line) - len(m[2])
				if m[2] == "" || !strings.HasSuffix(line, m[2]) {
					descCol = 0
				}
				continue
			}
		}
		item = nil
		if !prevText {
			u.Text = append(u.Text, nil)
		}
		inText = true
		u.Text[len(u.Text)-1] = append(u.Text[len(u.Text)-1], trimmed)
	}
	// Drop empty sections (a header with nothing under it).
	out := u.Sections[:0]
	for _, s := range u.Sections {
		if len(s.Items) > 0 {
			out = append(out, s)
		}
	}
	u.Sections = out
	return u
}

var labelRe = regexp.MustCompile(`^[A-Z(][A-Za-z ()*]*: `)

// labels reports whether every line of a paragraph is "Label: value".
func labels(para []string) bool {
	for _, l := range para {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	return len(para) > 1
}

// splitOption splits "-n processes Number of workers", an option whose
// argument fills its column, at the first capitalised word after the
// argument.
func splitOption(s string) (tag, desc string) {
	words := strings.Fields(s)
	for i := 2; i < len(words); i++ {
		if c := words[i][0]; c >= 'A' && c <= 'Z' && !strings.HasPrefix(words[i-1], "-") {
			return strings.Join(words[:i], " "), strings.Join(words[i:], " ")
		}
	}
	return s, ""
}

// Write adds the usage to a page: SYNOPSIS, the text into DESCRIPTION
// (after intro, Markdown), then a section per item list.
func (u Usage) Write(p *Page, intro string) {
	if len(u.Synopsis) > 0 {
		p.SH("SYNOPSIS")
		for i, s := range u.Synopsis {
			if i > 0 {
				p.line(".br")
			}
			p.line(FormatTag(s))
		}
	}
	p.SH("DESCRIPTION")
	p.Markdown(intro)
	for _, para := range u.Text {
		if labels(para) {
			// "Settings: …" lines: one per line.
			p.line(".PP")
			for i, l := range para {
				if i > 0 {
					p.line(".br")
				}
				p.text(Escape(l))
			}
			continue
		}
		p.Para(Escape(strings.Join(para, "\n")))
	}
	inGroups := false
	for _, s := range u.Sections {
		switch {
		case s.Group && !inGroups:
			p.SH("COMMANDS")
			inGroups = true
			fallthrough
		case s.Group:
			p.SS(strings.ToUpper(s.Title[:1]) + s.Title[1:])
		default:
			p.SH(s.Title)
			inGroups = false
		}
		for _, it := range s.Items {
			p.Item(it.Tag, it.Desc)
		}
	}
}
