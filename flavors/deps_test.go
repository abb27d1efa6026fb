package flavors_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The SIP server binaries link no packaging code: nfpm and the project's
// packaging module belong to the package builder only.
func TestServerLinksNoPackaging(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./kamailio", "./ser").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed only %d packages: %q", len(deps), out)
	}
	for _, p := range deps {
		if strings.Contains(p, "goreleaser") || strings.Contains(p, "nfpm") ||
			p == "sip-router.org/packaging" || strings.HasPrefix(p, "sip-router.org/packaging/") {
			t.Errorf("the server links packaging code: %s", p)
		}
	}
}
