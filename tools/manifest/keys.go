package manifest

import (
	"reflect"
	"sort"
	"strings"

	"sip-router.org/tools/internal/fuzzy"
)

// keySet is the set of keys a manifest may hold, taken from the struct
// tags: exact dotted keys, and prefixes under which any key is allowed
// (maps such as [defaults] and [modules.groups]).
type keySet struct {
	exact    map[string]bool
	anyUnder map[string]bool
}

func knownKeys() keySet {
	ks := keySet{exact: map[string]bool{}, anyUnder: map[string]bool{}}
	walkKeys(reflect.TypeOf(Manifest{}), "", ks)
	return ks
}

func walkKeys(t reflect.Type, prefix string, ks keySet) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		ks.exact[key] = true
		switch f.Type.Kind() {
		case reflect.Struct:
			walkKeys(f.Type, key, ks)
		case reflect.Map:
			ks.anyUnder[key] = true
		}
	}
}

// match reports whether a decoded key is spelled exactly as a known one.
func (ks keySet) match(key string) bool {
	if ks.exact[key] {
		return true
	}
	for p := range ks.anyUnder {
		if strings.HasPrefix(key, p+".") {
			return true
		}
	}
	return false
}

// suggest returns ` (did you mean "x"?)` for a near miss.
func (ks keySet) suggest(key string) string {
	names := make([]string, 0, len(ks.exact))
	for k := range ks.exact {
		names = append(names, k)
	}
	sort.Strings(names)
	best := fuzzy.Closest(strings.ToLower(key), names, 2)
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}
