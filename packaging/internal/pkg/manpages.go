package pkg

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sip-router.org/packaging/internal/man"
)

type manPage struct {
	dest string
	data []byte
}

// manPages writes <binary>.8 from the server's -h, <binary>.cfg.5 from our
// overview and the READMEs of the modules built in, and <tool>.8 from each
// tool's -h.
func (s *Spec) manPages(d tmplData) ([]manPage, error) {
	in := s.Info
	date := s.MTime.Format("2006-01-02")
	source := in.Name + " " + s.Version
	var pages []manPage

	// The server.
	help := help(filepath.Join(s.BuildDir, "sbin", in.Binary))
	if strings.TrimSpace(help) == "" {
		return nil, fmt.Errorf("%s -h prints nothing: cannot write its manual page", in.Binary)
	}
	intro, err := render("server.md", d)
	if err != nil {
		return nil, err
	}
	p := man.NewPage(in.Binary, 8, date, source, "System Administration", s.Summary())
	man.ParseUsage(help).Write(p, string(intro))
	p.SH("FILES")
	p.Item(s.ConfigPath(), "The configuration file.")
	p.Item(s.DefaultFile(), "Settings of the systemd unit "+s.UnitName()+".")
	p.Item(s.DataDir(), "Data: the SQLite database "+s.DBPath+".")
	p.Item(s.RunDir(), "The FIFO, the control socket and the pid file.")
	p.Item(s.ShareDir(), "The SQL schema of the modules, per database.")
	p.SH("SEE ALSO")
	p.Para(man.Escape(strings.Join(s.seeAlso(in.Binary+"(8)"), ", ")))
	pages = append(pages, manPage{"/usr/share/man/man8/" + in.Binary + ".8.gz", p.Bytes()})

	// The config file.
	cfg, err := render("cfg.md", d)
	if err != nil {
		return nil, err
	}
	p = man.NewPage(in.Config, 5, date, source, "File Formats", "configuration file of "+in.Binary+"(8)")
	p.Markdown(string(cfg))
	p.SH("MODULES OF THIS BUILD")
	p.Para(man.Escape(fmt.Sprintf("%s %s has %d modules compiled in. For each: what it does, its parameters (name, type, default) and its functions; the full documentation is in %s/modules.",
		in.Binary, s.Version, len(in.Modules), s.DocDir())))
	for _, mod := range in.Modules {
		r, err := readReadme(filepath.Join(s.Root, filepath.FromSlash(mod), "README.md"))
		if err != nil {
			return nil, err
		}
		p.SS(path.Base(mod) + " (" + mod + ")")
		if r.description != "" {
			p.Para(man.Inline(r.description))
		}
		for _, sec := range []struct {
			title string
			items []string
		}{{"Parameters:", r.params}, {"Functions:", r.funcs}, {"Pseudo-variables:", r.pvs}} {
			if len(sec.items) > 0 {
				p.Lines(sec.title, sec.items)
			}
		}
	}
	p.SH("FILES")
	p.Item(s.ConfigPath(), "The configuration file the server reads by default.")
	p.SH("SEE ALSO")
	p.Para(man.Escape(strings.Join(s.seeAlso(in.Binary+".cfg(5)"), ", ")))
	pages = append(pages, manPage{"/usr/share/man/man5/" + in.Config + ".5.gz", p.Bytes()})

	// The tools.
	for _, t := range s.Tools {
		what := "the control tool of " + in.Binary
		intro := t.Name + " manages a " + in.Binary + " installation: users, locations and the running server."
		if t.Kind == "db" {
			what = "the database tool of " + in.Binary
			intro = t.Name + " creates, drops, backs up and migrates the database of " + in.Binary + "."
		}
		if in.CtlRC != "" {
			intro += "\n\nIt reads its settings (DBENGINE, DB_PATH, the database users) from " +
				path.Join(in.ConfigDir, in.CtlRC) + ", /usr/local/etc/" + in.Name + "/" + in.CtlRC + " and ~/." + in.CtlRC + ", in that order."
		}
		p := man.NewPage(t.Name, 8, date, source, "System Administration", what)
		man.ParseUsage(t.Help).Write(p, intro)
		if in.CtlRC != "" {
			p.SH("FILES")
			p.Item(path.Join(in.ConfigDir, in.CtlRC), "Settings of "+d.ToolList+".")
			p.Item(s.ShareDir(), "The SQL schema and the flavor record the tools read.")
		}
		p.SH("SEE ALSO")
		p.Para(man.Escape(strings.Join(s.seeAlso(t.Name+"(8)"), ", ")))
		pages = append(pages, manPage{"/usr/share/man/man8/" + t.Name + ".8.gz", p.Bytes()})
	}
	return pages, nil
}

// seeAlso lists the package's pages but self.
func (s *Spec) seeAlso(self string) []string {
	all := []string{s.Info.Binary + "(8)", s.Info.Config + "(5)"}
	for _, t := range s.Tools {
		all = append(all, t.Name+"(8)")
	}
	var out []string
	for _, a := range all {
		if a != self {
			out = append(out, a)
		}
	}
	return out
}

// readme is what the cfg page shows of a module README.
type readme struct {
	description        string
	params, funcs, pvs []string
}

// readReadme reads a module README: the first paragraph of Description
// (continued by the next blocks while it does not end a sentence, so that
// "URLs of the form" keeps its example) and the ### headings of
// Parameters, Functions and Pseudo-Variables. A module without a README
// gets an empty entry.
func readReadme(file string) (readme, error) {
	var r readme
	b, err := os.ReadFile(file)
	if err != nil {
		if os.IsNotExist(err) {
			return r, nil
		}
		return r, fmt.Errorf("module README: %w", err)
	}
	type block struct {
		text       string
		code, stop bool
	}
	var blocks []block // of the Description
	var para, code []string
	section, inFence := "", false
	endPara := func() {
		if len(para) > 0 {
			blocks = append(blocks, block{text: strings.Join(para, " ")})
			para = nil
		}
	}
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(l)
		desc := section == "Description"
		switch {
		case strings.HasPrefix(t, "```"):
			if inFence && desc {
				blocks = append(blocks, block{text: strings.Join(code, " "), code: true})
			}
			endPara()
			inFence, code = !inFence, nil
		case inFence:
			if t != "" {
				code = append(code, t)
			}
		case strings.HasPrefix(t, "## "):
			endPara()
			section = strings.TrimSpace(t[3:])
		case strings.HasPrefix(t, "### "):
			endPara()
			h := strings.ReplaceAll(strings.TrimSpace(t[4:]), "`", "")
			switch section {
			case "Parameters":
				r.params = append(r.params, h)
			case "Functions":
				r.funcs = append(r.funcs, h)
			case "Pseudo-Variables":
				r.pvs = append(r.pvs, h)
			case "Description":
				blocks = append(blocks, block{stop: true})
			}
		case !desc:
		case t == "":
			endPara()
		case strings.HasPrefix(t, "|") || strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* "):
			// a table or a list: the description is what came before
			endPara()
			blocks = append(blocks, block{stop: true})
		default:
			para = append(para, t)
		}
	}
	endPara()
	var desc []string
	for i, bl := range blocks {
		if bl.stop || i > 2 || (i == 0 && bl.code) {
			break
		}
		if bl.code {
			desc = append(desc, "`"+bl.text+"`")
		} else {
			desc = append(desc, bl.text)
		}
		if strings.HasSuffix(bl.text, ".") || strings.HasSuffix(bl.text, ".)") {
			break
		}
	}
	r.description = strings.Join(desc, " ")
	return r, nil
}
