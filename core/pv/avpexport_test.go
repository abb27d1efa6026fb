package pv_test

import (
	"strings"
	"testing"

	"sip-router.org/core/pv"
	"sip-router.org/core/sr"
)

// The exported AVP rules are those $avp(...) follows: a value added with
// AVPAddFlags is found by AVPWalk in the scope it was written with, in
// search order, and AVPDelete removes what AVPWalk finds.
func TestAVPExports(t *testing.T) {
	l := sr.NewAVPList()
	add := func(v string, flags sr.AVPFlags) {
		l.Add(sr.AVPName{S: "x"}, sr.StrVal(v), pv.AVPAddFlags(flags))
	}
	add("uri-old", 0)
	add("uri-new", sr.AVPClassURI)
	add("user", sr.AVPClassUser)
	add("global", sr.AVPClassGlobal|sr.AVPTrackTo)
	add("to-user", sr.AVPClassUser|sr.AVPTrackTo)
	walk := func(name string, flags sr.AVPFlags) string {
		var got []string
		pv.AVPWalk(l, sr.AVPName{S: name}, flags, func(a *sr.AVP) bool {
			got = append(got, a.Val.Text())
			return true
		})
		return strings.Join(got, ",")
	}
	for _, tc := range []struct {
		flags sr.AVPFlags
		want  string
	}{
		{0, "uri-new,uri-old,user,global"},
		{sr.AVPTrackTo, "to-user,global"},
		{sr.AVPClassUser, "user"},
		{sr.AVPClassGlobal, "global"},
	} {
		if got := walk("X", tc.flags); got != tc.want {
			t.Errorf("AVPWalk(X, %#x) = %q, want %q", tc.flags, got, tc.want)
		}
	}

	track, classes := pv.AVPScope(sr.AVPClassDomain | sr.AVPTrackTo)
	if track != sr.AVPTrackTo || len(classes) != 1 || classes[0] != sr.AVPClassDomain {
		t.Errorf("AVPScope(domain, to) = %#x, %v", track, classes)
	}
	if track, classes = pv.AVPScope(0); track != sr.AVPTrackFrom || len(classes) != 4 {
		t.Errorf("AVPScope(0) = %#x, %v", track, classes)
	}

	var user, global *sr.AVP
	l.Each(func(a *sr.AVP) bool {
		switch a.Val.Text() {
		case "user":
			user = a
		case "global":
			global = a
		}
		return true
	})
	if !pv.AVPInGroup(user, sr.AVPTrackFrom, sr.AVPClassUser) || pv.AVPInGroup(user, sr.AVPTrackTo, sr.AVPClassUser) {
		t.Error("AVPInGroup: a from-track user AVP")
	}
	if !pv.AVPInGroup(global, sr.AVPTrackFrom, sr.AVPClassGlobal) || pv.AVPInGroup(global, sr.AVPTrackFrom, sr.AVPClassURI) {
		t.Error("AVPInGroup: a global AVP")
	}

	if n := pv.AVPDelete(l, sr.AVPName{S: "x"}, 0, false); n != 1 || walk("x", 0) != "uri-old,user,global" {
		t.Errorf("AVPDelete one: %d, left %q", n, walk("x", 0))
	}
	if n := pv.AVPDelete(l, sr.AVPName{S: "x"}, sr.AVPTrackTo, true); n != 2 || walk("x", sr.AVPTrackTo) != "" || walk("x", 0) != "uri-old,user" {
		t.Errorf("AVPDelete all of the to track: %d, left %q", n, walk("x", 0))
	}
}
