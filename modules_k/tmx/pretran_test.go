package tmx

import (
	"fmt"
	"testing"
	"time"

	"sip-router.org/core/sr"
)

func TestPretran(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPretran(250*time.Millisecond, 4)
	p.now = func() time.Time { return now }
	a, b := &sr.Ctx{}, &sr.Ctx{}
	if p.check("k1", a) {
		t.Fatal("first copy reported as in progress")
	}
	if p.check("k1", a) {
		t.Error("the same message reported against itself")
	}
	if !p.check("k1", b) {
		t.Error("second copy within the lifetime not reported")
	}
	now = now.Add(300 * time.Millisecond)
	if p.check("k1", b) {
		t.Error("copy after the lifetime reported")
	}
	for i := 0; i < 10; i++ {
		p.check(fmt.Sprint("x", i), a)
	}
	if len(p.m) > 5 || len(p.order) > 5 {
		t.Errorf("set holds %d marks (%d in order), cap 4", len(p.m), len(p.order))
	}
	now = now.Add(time.Second)
	p.check("last", a)
	if len(p.m) != 1 {
		t.Errorf("%d marks after they all expired, want 1", len(p.m))
	}
}
