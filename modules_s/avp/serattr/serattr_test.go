package serattr_test

import (
	"strings"
	"testing"

	"sip-router.org/core/sr"
	"sip-router.org/modules_s/avp/serattr"
)

func list(l *sr.AVPList, name string, flags sr.AVPFlags) string {
	var out []string
	for _, a := range serattr.Values(l, serattr.Name(name), flags) {
		out = append(out, a.Val.Text())
	}
	return strings.Join(out, ",")
}

// The search order is class by class (URI, user, domain, global), newest
// first within a class; names compare case-insensitively; without a track
// the from track is searched, and global values belong to both.
func TestSearchOrder(t *testing.T) {
	c := &sr.Ctx{AVPs: sr.NewAVPList()}
	add := func(v string, flags sr.AVPFlags) { serattr.Add(c, serattr.Name("x"), sr.StrVal(v), flags) }
	add("global", serattr.GroupGlobal)
	add("user1", serattr.GroupFromUser)
	add("user2", serattr.GroupFromUser)
	add("uri", 0)
	add("domain", serattr.GroupFromDomain)
	add("touser", serattr.GroupToUser)
	c.AVPs.Add(serattr.Name("X"), sr.StrVal("bare"), 0)
	for _, tc := range []struct {
		flags sr.AVPFlags
		want  string
	}{
		{0, "bare,uri,user2,user1,domain,global"},
		{sr.AVPTrackTo, "touser,global"},
		{serattr.GroupFromUser, "user2,user1"},
		{serattr.GroupToUser, "touser"},
		{sr.AVPClassGlobal, "global"},
		{serattr.GroupToDomain, ""},
	} {
		if got := list(c.AVPs, "x", tc.flags); got != tc.want {
			t.Errorf("flags %#x: %s, want %s", tc.flags, got, tc.want)
		}
	}
	if a, ok := serattr.First(c.AVPs, serattr.Name("x"), serattr.GroupFromUser); !ok || a.Val.S != "user2" {
		t.Errorf("First: %v %v", a, ok)
	}

	if n := serattr.Delete(c.AVPs, serattr.Name("x"), serattr.GroupFromUser, false); n != 1 || list(c.AVPs, "x", serattr.GroupFromUser) != "user1" {
		t.Errorf("Delete one: %d, left %s", n, list(c.AVPs, "x", serattr.GroupFromUser))
	}
	if n := serattr.ClearGroup(c.AVPs, serattr.GroupGlobal); n != 1 || list(c.AVPs, "x", sr.AVPTrackTo) != "touser" {
		t.Errorf("ClearGroup global: %d", n)
	}
	if !serattr.Replace(c.AVPs, serattr.Name("x"), serattr.GroupFromDomain, sr.StrVal("dom2")) ||
		list(c.AVPs, "x", 0) != "bare,uri,user1,dom2" {
		t.Errorf("Replace: %s", list(c.AVPs, "x", 0))
	}
	if n := serattr.Delete(c.AVPs, serattr.Name("x"), 0, true); n != 4 || c.AVPs.Len() != 1 {
		t.Errorf("Delete all from track: %d, %d left", n, c.AVPs.Len())
	}
}

func TestNorm(t *testing.T) {
	for _, tc := range []struct{ in, want sr.AVPFlags }{
		{0, sr.AVPClassURI | sr.AVPTrackFrom},
		{sr.AVPTrackTo, sr.AVPClassURI | sr.AVPTrackTo},
		{sr.AVPClassUser, sr.AVPClassUser | sr.AVPTrackFrom},
		{sr.AVPClassGlobal, serattr.GroupGlobal},
		{serattr.GroupToDomain | sr.AVPCustom0, serattr.GroupToDomain | sr.AVPCustom0},
	} {
		if got := serattr.Norm(tc.in); got != tc.want {
			t.Errorf("Norm(%#x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

func TestParseIdent(t *testing.T) {
	for _, tc := range []struct {
		in    string
		name  string
		id    int
		flags sr.AVPFlags
		err   bool
	}{
		{in: "called", name: "called"},
		{in: "$tu.fwd_target", name: "fwd_target", flags: serattr.GroupToUser},
		{in: "f.uid", name: "uid", flags: sr.AVPTrackFrom},
		{in: "G.x", name: "x", flags: serattr.GroupGlobal},
		{in: "s:name", name: "name"},
		{in: "i:10", id: 10},
		{in: "$x[2]", name: "x"},
		{in: "xy.z", err: true},
		{in: "", err: true},
		{in: "a b", err: true},
		{in: "i:x", err: true},
	} {
		id, err := serattr.ParseIdent(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v", tc.in, err)
			continue
		}
		if err == nil && (id.Name.S != tc.name || id.Name.ID != tc.id || id.Flags != tc.flags) {
			t.Errorf("%q: %+v", tc.in, id)
		}
	}
}

func TestParseGroup(t *testing.T) {
	if g, err := serattr.ParseGroup("$TD", "fd", "td"); err != nil || g != serattr.GroupToDomain {
		t.Errorf("$TD: %#x %v", g, err)
	}
	for _, bad := range []string{"td", "$fu", "$", "$tdx"} {
		if _, err := serattr.ParseGroup(bad, "fd", "td"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want serattr.URI
		err  bool
	}{
		{in: "sip:Alice@Example.COM;transport=tcp", want: serattr.URI{Scheme: "sip", User: "Alice", Host: "example.com"}},
		{in: `"A" <sips:bob@example.org>;tag=1`, want: serattr.URI{Scheme: "sips", User: "bob", Host: "example.org"}},
		{in: "tel:+4930123;phone-context=x", want: serattr.URI{Scheme: "tel", User: "+4930123"}},
		{in: "sip:example.com", want: serattr.URI{Scheme: "sip", Host: "example.com"}},
		{in: "mailto:a@b", err: true},
		{in: "", err: true},
		{in: "sip:", err: true},
	} {
		got, err := serattr.ParseURI(tc.in)
		if (err != nil) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("%q: %+v, %v", tc.in, got, err)
		}
	}
}
