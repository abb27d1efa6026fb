package avpops

import (
	"path"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"a*c", "abbbc", false, true},
		{"a*c", "abbbd", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"*/x", "a/b/x", false, true},
		{"[a-c]x", "bx", false, true},
		{"[!a-c]x", "bx", false, false},
		{"[^a-c]x", "dx", false, true},
		{"\\*x", "*x", false, true},
		{"\\*x", "ax", false, false},
		{"HEL*", "hello", true, true},
		{"HEL*", "hello", false, false},
		{"[abc", "[abc", false, true},
		{"*a*b*c*", "xxaxxbxxcxx", false, true},
	} {
		if got := globMatch(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.fold, got, tc.want)
		}
	}
}

// On ASCII text without "/", "\\", "^" and "!", globMatch (byte-wise, as
// fnmatch in the C locale) agrees with path.Match.
func FuzzGlobMatch(f *testing.F) {
	f.Add("a*b?[c-e]", "axxbyd")
	f.Add("[!x]*", "y")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := globMatch(pattern, s, false)
		for _, r := range pattern + s {
			if r >= 0x80 {
				return
			}
		}
		if strings.ContainsAny(pattern+s, "/\\^!") || strings.Contains(pattern, "[]") || strings.Contains(pattern, "[!]") {
			return
		}
		want, err := path.Match(pattern, s)
		if err != nil {
			return
		}
		if got != want {
			t.Errorf("globMatch(%q, %q) = %v, path.Match says %v", pattern, s, got, want)
		}
	})
}
