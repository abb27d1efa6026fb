package pv

import (
	"testing"

	"sip-router.org/core/sr"
)

func BenchmarkGet(b *testing.B) {
	r := newTestRegistry(b)
	c := reqCtx(b, inviteText)
	c.AVPs.Add(sr.AVPName{S: "other"}, str("o"), 0)
	c.AVPs.Add(sr.AVPName{S: "x"}, str("value"), 0)
	c.AVPs.Add(sr.AVPName{S: "other2"}, num(2), 0)
	for _, pv := range []string{"$ru", "$rU", "$hdr(Via)", "$hdr(X-Multi)", "$(ru{uri.user})", "$avp(x)", "$(avp(x)[*])", "$fu", "$ci", "$var(v)", "@from.tag"} {
		s := mustParse(b, r, pv, Kamailio)
		if s.Get(c).IsNull() && pv != "$var(v)" {
			b.Fatalf("%s is null", pv)
		}
		b.Run(pv, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s.Get(c)
			}
		})
	}
}

func BenchmarkSet(b *testing.B) {
	r := newTestRegistry(b)
	c := reqCtx(b, inviteText)
	for _, tc := range []struct {
		pv string
		v  sr.Value
	}{
		{"$var(x)", str("v")},
		{"$(avp(x)[*])", str("v")},
		{"$du", str("sip:10.0.0.1:5060")},
		{"$ru", str("sip:bob@example.net")},
	} {
		s, err := r.ParseSetter(tc.pv, Kamailio)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.pv, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := s.Set(c, tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFormat(b *testing.B) {
	r := newTestRegistry(b)
	c := reqCtx(b, inviteText)
	for _, tc := range []struct {
		name string
		xl   bool
		f    string
	}{
		{"kamailio-4pv", false, "$rm from $fu to $ru ($ci)\n"},
		{"xl-4pv", true, "%rm from %fu to %ru (%ci)\n"},
		{"kamailio-ints", false, "$sp $Rp $cl $rc\n"},
	} {
		var (
			f   sr.Format
			err error
		)
		if tc.xl {
			f, err = r.ParseXLFormat(tc.f)
		} else {
			f, err = r.ParseFormat(tc.f, Kamailio)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				f.Expand(c)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	r := newTestRegistry(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := r.Parse("$(hdr(From){tobody.uri}{uri.host})", Kamailio); err != nil {
			b.Fatal(err)
		}
	}
}
