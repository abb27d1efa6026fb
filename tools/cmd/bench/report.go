package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// report renders the results as Markdown.
func (h *harness) report() string {
	var b strings.Builder
	model, ncpu := cpuModel()
	kernel := "?"
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		kernel = strings.TrimSpace(string(out))
	}
	host, _ := os.Hostname()
	o := h.opts
	fmt.Fprintf(&b, "# Benchmark report\n\n")
	fmt.Fprintf(&b, "- Date: %s (run took %s)\n", h.started.UTC().Format("2006-01-02 15:04 MST"), time.Since(h.started).Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs, Linux %s (%s); load average at the end: %s\n", model, ncpu, kernel, host, loadAvg())
	for _, im := range h.impls {
		fmt.Fprintf(&b, "- %s: `%s` (%s)\n", im.Name, im.Bin, im.Version)
	}
	fmt.Fprintf(&b, "- Load generator: %s\n", firstLineMatching(o.Sipp, "-v", "SIPp"))
	fmt.Fprintf(&b, "- Settings: children=%d for both servers; steps of %s (calls = rate × %s), rates %s; a step fails on any failed call or retransmission%s%s.\n",
		o.Children, o.Step, o.Step, joinInts(o.Rates), map[bool]string{true: " and is run once more before the rate counts as failed", false: ""}[o.Retry],
		map[bool]string{true: fmt.Sprintf("; then up to %d rates halfway between the last good and the first failed one are tried", bisectRounds), false: ""}[o.Bisect])
	if o.Quick {
		fmt.Fprintf(&b, "- Quick mode (smoke test): the figures mean nothing.\n")
	}
	for _, n := range h.notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}

	fmt.Fprintf(&b, "\n## Results\n\n")
	fmt.Fprintf(&b, "Rate: the highest call rate (REGISTERs per second for the registrar) with zero failed calls and zero retransmissions. ")
	fmt.Fprintf(&b, "CPU: the server's CPU seconds (user + system, all its processes) per 1000 calls, at the highest rate every server of the scenario passed (in brackets). ")
	fmt.Fprintf(&b, "Memory: peak RSS of our process (VmHWM); for Kamailio, the peak of the summed PSS of its processes (sampled every %s), so that its shared memory counts once. ", memEvery)
	fmt.Fprintf(&b, "Response: sipp's response time (INVITE → 200, REGISTER → 200) at the highest zero-failure rate, p50 / p99, in sipp's millisecond resolution.\n\n")
	fmt.Fprintf(&b, "| scenario | server | rate (/s) | CPU s / 1000 calls | peak memory (MB) | response p50 / p99 (ms) |\n")
	fmt.Fprintf(&b, "|---|---|--:|--:|--:|--:|\n")
	for _, r := range h.results {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | |\n", r.Sc.Key, oneLine(r.Skipped))
			continue
		}
		common := commonRate(r.Series)
		byName := map[string]*series{}
		for _, s := range r.Series {
			if s.Err != nil && len(s.Steps) == 0 {
				fmt.Fprintf(&b, "| %s | %s | error: %s | | | |\n", r.Sc.Key, s.Name, oneLine(s.Err.Error()))
				continue
			}
			cpu, resp := "–", "–"
			if st, ok := s.at(common); ok && s.srv != nil {
				cpu = fmt.Sprintf("%.3f (%d/s)", st.CPUPer1000(), common)
			}
			if st, ok := s.at(s.MaxOK); ok {
				resp = fmtMS(st.Run.P50) + " / " + fmtMS(st.Run.P99)
			}
			mem := "–"
			if s.PeakMB > 0 {
				mem = fmt.Sprintf("%.1f", s.PeakMB)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Sc.Key, s.Name, rateText(s), cpu, mem, resp)
			byName[s.Name] = s
		}
		for _, other := range []string{kamailioName, baselineName} {
			if a, k := byName[oursName], byName[other]; a != nil && k != nil {
				fmt.Fprintf(&b, "| %s | %s / %s | %s |\n", r.Sc.Key, oursName, other, ratioRow(a, k, common))
			}
		}
	}

	if m := h.memory; m != nil {
		fmt.Fprintf(&b, "\n## Memory with %d registered contacts\n\n", o.Contacts)
		fmt.Fprintf(&b, "A fresh server of each kind (register.cfg, usrloc db_mode 0) gets %d REGISTERs of new AORs at %d/s. ", o.Contacts, m.Rate)
		fmt.Fprintf(&b, "Memory as above: RSS of our process (VmRSS after, VmHWM peak), summed PSS of Kamailio's processes (its shared memory counted once; Kamailio runs with -m 512 here).\n\n")
		if m.Skipped != "" {
			fmt.Fprintf(&b, "Skipped: %s.\n", m.Skipped)
		}
		fmt.Fprintf(&b, "| server | contacts stored | failed | before (MB) | after (MB) | peak (MB) | CPU s / 1000 REGISTERs |\n|---|--:|--:|--:|--:|--:|--:|\n")
		var mo, mk *memServer
		for i := range m.Servers {
			s := &m.Servers[i]
			if s.Err != nil && s.Contacts == 0 {
				fmt.Fprintf(&b, "| %s | error: %s | | | | | |\n", s.Name, oneLine(s.Err.Error()))
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %.1f | %.1f | %.3f |\n", s.Name, s.Contacts, s.Failed, s.BaseMB, s.AfterMB, s.PeakMB, s.CPUPer1000)
			switch s.Name {
			case oursName:
				mo = s
			case kamailioName:
				mk = s
			}
		}
		if mo != nil && mk != nil && mk.AfterMB > 0 && mk.PeakMB > 0 {
			fmt.Fprintf(&b, "| ours / kamailio | | | | %.2f | %.2f | %s |\n", mo.AfterMB/mk.AfterMB, mo.PeakMB/mk.PeakMB, ratioText(mo.CPUPer1000, mk.CPUPer1000))
		}
	}

	fmt.Fprintf(&b, "\n## Steps\n\n")
	for _, r := range h.results {
		if r.Skipped != "" || len(r.Series) == 0 {
			continue
		}
		fmt.Fprintf(&b, "### %s: %s\n\n", r.Sc.Key, r.Sc.Title)
		fmt.Fprintf(&b, "| server | rate (/s) | result | CPU s / 1000 | p50 / p99 (ms) | wall (s) |\n|---|--:|---|--:|--:|--:|\n")
		for _, s := range r.Series {
			for _, st := range s.Steps {
				cpu := "–"
				if s.srv != nil {
					cpu = fmt.Sprintf("%.3f", st.CPUPer1000())
				}
				fmt.Fprintf(&b, "| %s | %d | %s | %s | %s / %s | %.1f |\n", s.Name, st.Rate, oneLine(st.Run.Why()), cpu, fmtMS(st.Run.P50), fmtMS(st.Run.P99), st.Run.Wall.Seconds())
			}
			if s.Err != nil {
				fmt.Fprintf(&b, "| %s | | error: %s | | | |\n", s.Name, oneLine(s.Err.Error()))
			}
			if s.budget {
				fmt.Fprintf(&b, "| %s | | stopped: time budget reached | | | |\n", s.Name)
			}
		}
		fmt.Fprintln(&b)
	}
	return b.String()
}

// ratioRow is the rate, CPU, memory and p99 columns of the ratio a / k
// (CPU and p99 at the common rate).
func ratioRow(a, k *series, common int) string {
	rr, cr, mr, pr := "–", "–", "–", "–"
	if a.MaxOK > 0 && k.MaxOK > 0 {
		rr = fmt.Sprintf("**%.2f**", float64(a.MaxOK)/float64(k.MaxOK))
	}
	sa, oka := a.at(common)
	sk, okk := k.at(common)
	if oka && okk && sk.CPUPer1000() > 0 {
		cr = fmt.Sprintf("**%.2f** (%d/s)", sa.CPUPer1000()/sk.CPUPer1000(), common)
	}
	if a.PeakMB > 0 && k.PeakMB > 0 {
		mr = fmt.Sprintf("%.2f", a.PeakMB/k.PeakMB)
	}
	if oka && okk {
		// sipp's resolution is a millisecond: a 0 has no ratio.
		pr = fmt.Sprintf("p99 %s / %s ms (%d/s)", fmtMS(sa.Run.P99), fmtMS(sk.Run.P99), common)
		if sa.Run.P99 > 0 && sk.Run.P99 > 0 {
			pr = fmt.Sprintf("%.2f (%s)", sa.Run.P99/sk.Run.P99, pr)
		}
	}
	return strings.Join([]string{rr, cr, mr, pr}, " | ")
}

// commonRate is the highest rate that every series of a scenario passed
// (0 when there is none).
func commonRate(all []*series) int {
	best := 0
	if len(all) == 0 {
		return 0
	}
	for _, st := range all[0].Steps {
		if !st.Run.Clean() || st.Rate <= best {
			continue
		}
		ok := true
		for _, s := range all[1:] {
			if _, found := s.at(st.Rate); !found {
				ok = false
				break
			}
		}
		if ok {
			best = st.Rate
		}
	}
	return best
}

func rateText(s *series) string {
	switch {
	case s.MaxOK == 0 && s.FailedAt > 0:
		return fmt.Sprintf("< %d", s.FailedAt)
	case s.FailedAt == 0 && s.budget:
		return fmt.Sprintf("≥ %d (time budget)", s.MaxOK)
	case s.FailedAt == 0:
		return fmt.Sprintf("≥ %d (highest step)", s.MaxOK)
	}
	return fmt.Sprintf("**%d**", s.MaxOK)
}

func ratioText(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "\\|")
}

// firstLineMatching runs bin opt and returns the first output line that
// contains want.
func firstLineMatching(bin, opt, want string) string {
	out, _ := exec.Command(bin, opt).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, want) {
			return strings.TrimSpace(l)
		}
	}
	return bin
}
