package sl

import (
	"strconv"
	"testing"
	"time"
)

// Remembered tags expire after the ACK window and their number is bounded.
func TestSentTags(t *testing.T) {
	now := time.Unix(1000, 0)
	st := newSentTags()
	st.now = func() time.Time { return now }
	st.add("a")
	if !st.has("a") || st.has("b") {
		t.Fatal("has() wrong right after add")
	}
	now = now.Add(ackWindow - time.Second)
	if !st.has("a") {
		t.Error("tag forgotten before the window ended")
	}
	now = now.Add(2 * time.Second)
	if st.has("a") {
		t.Error("tag still there after the window")
	}
	for i := 0; i < maxTags+10; i++ {
		st.add(strconv.Itoa(i))
	}
	if n := len(st.m); n > maxTags {
		t.Errorf("%d tags remembered, want at most %d", n, maxTags)
	}
	// Once they expire, room is made again.
	now = now.Add(2 * ackWindow)
	st.add("fresh")
	if !st.has("fresh") {
		t.Error("no room made after expiry")
	}
	if n := len(st.m); n != 1 {
		t.Errorf("%d tags after the sweep, want 1", n)
	}
}
