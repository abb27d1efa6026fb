package integration_test

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
)

// unitStart is how systemd would start an installed service: the user
// and group, and the ExecStartPre and ExecStart command lines with the
// unit's Environment= and EnvironmentFile= settings expanded.
type unitStart struct {
	user, group string
	pre, start  []string
}

// readUnit reads the installed unit file and its environment file in the
// system r and expands its commands. extra maps a variable to words
// appended to its value (the test adds "-l udp:…" to OPTIONS, as an
// administrator would in /etc/default/<flavor>).
func readUnit(t *testing.T, r runner, unitPath string, extra map[string]string) unitStart {
	t.Helper()
	env := map[string]string{}
	var envFiles []string
	var u unitStart
	var pre, start string
	lineNo := 0
	sc := bufio.NewScanner(strings.NewReader(sh(t, r, "cat "+unitPath)))
	section := ""
	for sc.Scan() {
		lineNo++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
			continue
		}
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		key, val, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s:%d: not a key=value line: %q", unitPath, lineNo, l)
		}
		if section != "[Service]" {
			continue
		}
		switch key {
		case "User":
			u.user = val
		case "Group":
			u.group = val
		case "Environment":
			k, v, ok := strings.Cut(val, "=")
			if !ok {
				t.Fatalf("%s:%d: Environment=%s has no '='", unitPath, lineNo, val)
			}
			env[k] = unquote(v)
		case "EnvironmentFile":
			envFiles = append(envFiles, val)
		case "ExecStartPre":
			pre = val
		case "ExecStart":
			start = val
		}
	}
	for _, f := range envFiles {
		optional := strings.HasPrefix(f, "-")
		f = strings.TrimPrefix(f, "-")
		out, err := shErr(r, "cat "+f)
		if err != nil {
			if optional {
				continue
			}
			t.Fatalf("%s: EnvironmentFile=%s: %v", unitPath, f, err)
		}
		for i, l := range strings.Split(out, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
				continue
			}
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s:%d: not a KEY=value line: %q", f, i+1, l)
			}
			env[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
		}
	}
	for k, v := range extra {
		env[k] = strings.TrimSpace(env[k] + " " + v)
	}
	if u.user == "" || start == "" {
		t.Fatalf("%s has no User= or no ExecStart=", unitPath)
	}
	if u.group == "" {
		u.group = u.user
	}
	u.start = expandCommand(start, env)
	if pre != "" {
		u.pre = expandCommand(pre, env)
	}
	return u
}

// expandCommand splits a unit's command line into words the way systemd
// does for these units: "$NAME" alone becomes the words of the value,
// "${NAME}" is replaced inside its word.
func expandCommand(line string, env map[string]string) []string {
	var words []string
	for _, w := range strings.Fields(line) {
		if strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "${") {
			words = append(words, strings.Fields(env[w[1:]])...)
			continue
		}
		for k, v := range env {
			w = strings.ReplaceAll(w, "${"+k+"}", v)
		}
		words = append(words, w)
	}
	return words
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// asUser is the setpriv prefix that runs a command as the unit's user and
// group with the user's groups, as systemd's User= and Group= do.
func (u unitStart) asUser() []string {
	return []string{"setpriv", "--reuid=" + u.user, "--regid=" + u.group, "--init-groups"}
}

func (u unitStart) String() string {
	return fmt.Sprintf("as %s:%s: ExecStartPre %q, ExecStart %q", u.user, u.group, u.pre, u.start)
}
