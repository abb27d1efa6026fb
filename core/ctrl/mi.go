package ctrl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Node is one node of an MI tree: a name (may be empty), a value, children.
type Node struct {
	Name  string
	Value string
	Kids  []*Node
}

// ToTree turns an RPC result (nil, scalars, []any, map[string]any, and
// the typed slices and maps of strings/ints modules return) into MI nodes.
func ToTree(v any) []*Node {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []*Node
		for _, k := range keys {
			out = append(out, node(k, x[k]))
		}
		return out
	case []any:
		var out []*Node
		for _, e := range x {
			out = append(out, node("", e))
		}
		return out
	case []string:
		var out []*Node
		for _, e := range x {
			out = append(out, &Node{Value: e})
		}
		return out
	case []map[string]any:
		var out []*Node
		for _, e := range x {
			out = append(out, node("", e))
		}
		return out
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return ToTree(m)
	case map[string]int64:
		m := make(map[string]any, len(x))
		for k, n := range x {
			m[k] = n
		}
		return ToTree(m)
	}
	return []*Node{{Value: scalar(v)}}
}

func node(name string, v any) *Node {
	switch v.(type) {
	case map[string]any, []any, []string, []map[string]any, map[string]string, map[string]int64:
		return &Node{Name: name, Kids: ToTree(v)}
	}
	return &Node{Name: name, Value: scalar(v)}
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// WriteTree renders nodes as MI text: "name:: value" per line, children
// indented by one tab. Values keep one line: line breaks become spaces.
func WriteTree(b *strings.Builder, nodes []*Node, depth int) {
	for _, n := range nodes {
		b.WriteString(strings.Repeat("\t", depth))
		b.WriteString(n.Name)
		b.WriteString("::")
		if n.Value != "" {
			b.WriteByte(' ')
			b.WriteString(oneLine(n.Value))
		}
		b.WriteByte('\n')
		WriteTree(b, n.Kids, depth+1)
	}
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// ParseTree reads MI text lines back into nodes.
func ParseTree(lines []string) ([]*Node, error) {
	var root []*Node
	stack := []*[]*Node{&root}
	var last []*Node // last node at each depth
	for i, line := range lines {
		if line == "" {
			continue
		}
		depth := 0
		for depth < len(line) && line[depth] == '\t' {
			depth++
		}
		body := line[depth:]
		name, value, ok := strings.Cut(body, "::")
		if !ok {
			return nil, fmt.Errorf("MI reply line %d: no \"::\" in %q", i+1, line)
		}
		n := &Node{Name: name, Value: strings.TrimPrefix(value, " ")}
		if depth > len(last) {
			return nil, fmt.Errorf("MI reply line %d: indented too deep", i+1)
		}
		last = last[:depth]
		stack = stack[:depth+1]
		parent := stack[depth]
		*parent = append(*parent, n)
		last = append(last, n)
		stack = append(stack, &n.Kids)
	}
	return root, nil
}

// FromTree turns MI nodes back into a generic value: children without
// names make a list, named children a map (a repeated name makes a list
// under that key), a leaf its value string.
func FromTree(nodes []*Node) any {
	if len(nodes) == 0 {
		return nil
	}
	unnamed := true
	for _, n := range nodes {
		if n.Name != "" {
			unnamed = false
		}
	}
	if unnamed {
		if len(nodes) == 1 && len(nodes[0].Kids) == 0 {
			return nodes[0].Value
		}
		out := make([]any, len(nodes))
		for i, n := range nodes {
			out[i] = nodeValue(n)
		}
		return out
	}
	m := map[string]any{}
	for _, n := range nodes {
		v := nodeValue(n)
		if old, ok := m[n.Name]; ok {
			if l, isList := old.([]any); isList {
				m[n.Name] = append(l, v)
			} else {
				m[n.Name] = []any{old, v}
			}
			continue
		}
		m[n.Name] = v
	}
	return m
}

func nodeValue(n *Node) any {
	if len(n.Kids) == 0 {
		return n.Value
	}
	return FromTree(n.Kids)
}

// miNames maps Kamailio MI command names to the RPC commands that do the
// same here.
var miNames = map[string]string{
	"uptime":           "core.uptime",
	"ps":               "core.ps",
	"version":          "core.version",
	"which":            "system.listMethods",
	"get_statistics":   "stats.get",
	"reset_statistics": "stats.reset",
	"ul_dump":          "ul.dump",
	"ul_rm":            "ul.rm",
	"ul_rm_contact":    "ul.rm_contact",
	"ul_add":           "ul.add",
	"ul_show_contact":  "ul.lookup",
	"domain_reload":    "domain.reload",
	"domain_dump":      "domain.dump",
	"t_uac_dlg":        "tm.uac",
	"tm_stats":         "tm.stats",
}

// RPCName returns the RPC command an MI command name stands for.
func RPCName(mi string) string {
	if r, ok := miNames[mi]; ok {
		return r
	}
	return mi
}
