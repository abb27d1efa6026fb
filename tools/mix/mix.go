// Package mix resolves a flavor's module list (manifest entries, groups,
// globs, command-line includes and excludes) against the modules in the
// source tree, and checks the result before anything is compiled: one
// module per name, and every dependency present from the tree it names.
package mix

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"sip-router.org/tools/internal/fuzzy"
	"sip-router.org/tools/manifest"
	"sip-router.org/tools/modscan"
)

// Origin says where an entry of the module list came from.
type Origin struct {
	File string
	Line int
	// Flag is set for entries from the command line (include_modules=…).
	Flag string
}

func (o Origin) String() string {
	if o.Flag != "" {
		return o.Flag
	}
	if o.Line > 0 {
		return fmt.Sprintf("%s:%d", o.File, o.Line)
	}
	return o.File
}

// Module is a selected module and the entry that selected it.
type Module struct {
	*modscan.Info
	From Origin
}

// Problem is one error found while resolving, with where it comes from.
type Problem struct {
	At  Origin
	Msg string
}

func (p *Problem) Error() string { return p.At.String() + ": " + p.Msg }

// Problems is every error found.
type Problems []*Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

type entry struct {
	value string
	from  Origin
}

// Resolve returns the modules a manifest selects, plus include minus
// exclude (tree/name or globs, as the Makefile's include_modules and
// exclude_modules give them). The result is sorted by tree order and name.
func Resolve(m *manifest.Manifest, avail map[string]*modscan.Info, include, exclude []string) ([]*Module, error) {
	var probs Problems
	at := func(key, value string) Origin {
		return Origin{File: m.File, Line: m.ValueLine(key, value)}
	}

	var list []entry
	for _, v := range m.Modules.List {
		list = append(list, entry{v, at("modules.list", v)})
	}
	for _, v := range include {
		list = append(list, entry{v, Origin{Flag: "include_modules=" + v}})
	}
	var excl []entry
	for _, v := range m.Modules.Exclude {
		excl = append(excl, entry{v, at("modules.exclude", v)})
	}
	for _, v := range exclude {
		excl = append(excl, entry{v, Origin{Flag: "exclude_modules=" + v}})
	}

	// Expand groups (one level of nesting is plenty; cycles are refused).
	expand := func(e entry, seen map[string]bool) []entry {
		var out []entry
		var rec func(e entry)
		rec = func(e entry) {
			g, ok := strings.CutPrefix(e.value, "group:")
			if !ok {
				out = append(out, e)
				return
			}
			members, ok := m.Modules.Groups[g]
			if !ok {
				probs = append(probs, &Problem{e.from, fmt.Sprintf("unknown module group %q", g)})
				return
			}
			if seen[g] {
				probs = append(probs, &Problem{e.from, fmt.Sprintf("module group %q includes itself", g)})
				return
			}
			seen[g] = true
			for _, v := range members {
				rec(entry{v, at("modules.groups."+g, v)})
			}
		}
		rec(e)
		return out
	}

	ids := sortedIDs(avail)
	matchEntry := func(e entry) []string {
		if !strings.Contains(e.value, "/") {
			probs = append(probs, &Problem{e.from, fmt.Sprintf("module %q must be written tree/name (modules/%s, modules_k/%s or modules_s/%s)", e.value, e.value, e.value, e.value)})
			return nil
		}
		tree, _, _ := strings.Cut(e.value, "/")
		if !isTree(tree) {
			probs = append(probs, &Problem{e.from, fmt.Sprintf("%q: %q is not a module tree (modules, modules_k, modules_s)", e.value, tree)})
			return nil
		}
		var hits []string
		for _, id := range ids {
			if ok, _ := path.Match(e.value, id); ok {
				hits = append(hits, id)
			}
		}
		if len(hits) == 0 {
			if strings.HasSuffix(e.value, "/*") {
				// A whole tree may be empty (a flavor built while a tree has no modules yet).
			} else if strings.ContainsAny(e.value, "*?[") {
				probs = append(probs, &Problem{e.from, fmt.Sprintf("%q matches no module", e.value)})
			} else {
				probs = append(probs, &Problem{e.from, fmt.Sprintf("unknown module %q%s", e.value, suggest(e.value, ids))})
			}
		}
		return hits
	}

	chosen := map[string]Origin{}
	for _, e := range list {
		for _, x := range expand(e, map[string]bool{}) {
			for _, id := range matchEntry(x) {
				if _, ok := chosen[id]; !ok {
					chosen[id] = x.from
				}
			}
		}
	}
	for _, e := range excl {
		for _, x := range expand(e, map[string]bool{}) {
			for _, id := range matchEntry(x) {
				delete(chosen, id)
			}
		}
	}

	// One module per name.
	byName := map[string][]string{}
	for id := range chosen {
		byName[avail[id].Name] = append(byName[avail[id].Name], id)
	}
	for name, idsForName := range byName {
		if len(idsForName) < 2 {
			continue
		}
		sort.Slice(idsForName, func(i, j int) bool { return treeRank(idsForName[i]) < treeRank(idsForName[j]) })
		var froms []string
		for _, id := range idsForName {
			froms = append(froms, fmt.Sprintf("%s from %s", id, chosen[id]))
		}
		probs = append(probs, &Problem{chosen[idsForName[len(idsForName)-1]],
			fmt.Sprintf("%s: %s cannot be built together: one binary holds one module per name (%s)",
				name, strings.Join(idsForName, " and "), strings.Join(froms, "; "))})
	}

	// Dependencies present, from the right tree.
	for id, from := range chosen {
		info := avail[id]
		for _, d := range info.Deps {
			if _, ok := chosen[d]; ok {
				continue
			}
			_, dname, _ := strings.Cut(d, "/")
			other := ""
			for _, cand := range byName[dname] {
				other = cand
			}
			if other != "" {
				probs = append(probs, &Problem{from, fmt.Sprintf("%s needs %s, but %s is selected instead: the partner must come from the same tree", id, d, other)})
			} else {
				probs = append(probs, &Problem{from, fmt.Sprintf("%s needs %s, which is not in the module list (add %q)", id, d, d)})
			}
		}
	}

	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool {
			if probs[i].At.Flag != probs[j].At.Flag {
				return probs[i].At.Flag < probs[j].At.Flag
			}
			if probs[i].At.Line != probs[j].At.Line {
				return probs[i].At.Line < probs[j].At.Line
			}
			return probs[i].Msg < probs[j].Msg
		})
		return nil, probs
	}
	out := make([]*Module, 0, len(chosen))
	for id, from := range chosen {
		out = append(out, &Module{Info: avail[id], From: from})
	}
	sort.Slice(out, func(i, j int) bool {
		if ti, tj := treeRank(out[i].ID()), treeRank(out[j].ID()); ti != tj {
			return ti < tj
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func isTree(t string) bool {
	for _, x := range modscan.Trees {
		if x == t {
			return true
		}
	}
	return false
}

func treeRank(id string) int {
	tree, _, _ := strings.Cut(id, "/")
	for i, t := range modscan.Trees {
		if t == tree {
			return i
		}
	}
	return len(modscan.Trees)
}

func sortedIDs(avail map[string]*modscan.Info) []string {
	ids := make([]string, 0, len(avail))
	for id := range avail {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ti, tj := treeRank(ids[i]), treeRank(ids[j]); ti != tj {
			return ti < tj
		}
		return ids[i] < ids[j]
	})
	return ids
}

func suggest(v string, ids []string) string {
	_, name, _ := strings.Cut(v, "/")
	var same []string
	for _, id := range ids {
		if strings.HasSuffix(id, "/"+name) {
			same = append(same, id)
		}
	}
	if len(same) > 0 {
		return " (the tree has " + strings.Join(same, ", ") + ")"
	}
	if best := fuzzy.Closest(v, ids, 2); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}
