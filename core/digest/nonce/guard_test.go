package nonce

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sip-router.org/core/digest"
	"sip-router.org/core/digest/digesttest"
)

func TestGuard(t *testing.T) {
	var logged bytes.Buffer
	clk := digesttest.NewClock()
	cfg := Config{Secret: []byte("short"), Label: "test", Expire: 300 * time.Second, TableSize: 16, OneTime: true, Now: clk.Now}
	g := NewGuard(slog.New(slog.NewTextHandler(&logged, nil)), cfg)
	if !strings.Contains(logged.String(), "shorter than 16 characters") {
		t.Errorf("no warning about the short secret: %q", logged.String())
	}
	if NewGuard(nil, cfg).DummyHA1("bob", "example.com") == g.DummyHA1("bob", "example.com") {
		t.Error("two guards share their dummy password")
	}
	if h := g.DummyHA1("bob", "example.com"); len(h) != 32 || h == digest.HA1("bob", "example.com", "") {
		t.Errorf("DummyHA1 %q", h)
	}

	n := g.Nonces.Issue(digesttest.Request(t, "REGISTER", ""), 0)
	c := digesttest.AnswerRequest(t, n, "", "")
	cr, _ := digest.Find(c, digest.WWW, digesttest.Realm, false)
	if cr == nil {
		t.Fatal("no credentials found")
	}
	if r := g.CheckNonce(c, cr, false); r != OK || digest.GetAuthorized(c) != nil {
		t.Fatalf("CheckNonce: %v, authorized %v", r, digest.GetAuthorized(c))
	}
	if r := g.Commit(c, cr); r != OK || digest.GetAuthorized(c) == nil {
		t.Fatalf("Commit: %v, authorized %v", r, digest.GetAuthorized(c))
	}
	// One-time nonce: a second use is stale and authorizes nothing.
	c2 := digesttest.AnswerRequest(t, n, "", "")
	cr2, _ := digest.Find(c2, digest.WWW, digesttest.Realm, false)
	if r := g.Commit(c2, cr2); r != Stale || digest.GetAuthorized(c2) != nil {
		t.Errorf("second Commit: %v, authorized %v", r, digest.GetAuthorized(c2))
	}
}
