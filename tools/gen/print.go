package gen

import (
	"fmt"
	"io"
	"strings"

	"sip-router.org/tools/modscan"
)

// PrintModules writes, per tree, the modules the mix includes and those of
// the source tree it leaves out (make print-modules).
func PrintModules(w io.Writer, r *Result) {
	in := map[string]bool{}
	for _, m := range r.Modules {
		in[m.ID()] = true
	}
	fmt.Fprintf(w, "flavor %s (%s)\n", r.ID, r.ManifestRel)
	for _, tree := range modscan.Trees {
		var inc, exc []string
		for _, id := range r.Available {
			t, name, _ := strings.Cut(id, "/")
			if t != tree {
				continue
			}
			if in[id] {
				inc = append(inc, name)
			} else {
				exc = append(exc, name)
			}
		}
		fmt.Fprintf(w, "%s:\n  included: %s\n  excluded: %s\n", tree, list(inc), list(exc))
	}
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, " ")
}
