package registrar_test

import (
	"slices"
	"strings"
	"testing"

	"sip-router.org/core/module"
	"sip-router.org/core/siptest"
)

// TestTreeMix checks that this registrar only ever works with the usrloc
// of its tree. A binary holds one module per name (Register refuses a
// second usrloc, the build's module mix check refuses
// modules_s/registrar with modules_k/usrloc), the registry checks the
// declared dependencies again at start, and a configuration that asks
// for Kamailio's usrloc is refused by the loader.
func TestTreeMix(t *testing.T) {
	reg, ok := module.Lookup("registrar")
	if !ok || reg.Tree != module.TreeSER || !slices.Equal(reg.Deps, []string{"modules_s/usrloc"}) {
		t.Fatalf("registrar %+v", reg)
	}
	if ul, ok := module.Lookup("usrloc"); !ok || ul.ID() != "modules_s/usrloc" {
		t.Fatalf("usrloc %+v", ul)
	}
	if err := module.CheckDeps(); err != nil {
		t.Errorf("CheckDeps: %v", err)
	}
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{
			"Kamailio's usrloc by path",
			"loadmodule \"/usr/lib/kamailio/modules_k/usrloc.so\"\nloadmodule \"registrar\"\n",
			`loadmodule asks for modules_k/usrloc, but this binary has modules_s/usrloc`,
		},
		{
			"a module path with Kamailio's tree only",
			"loadpath \"/usr/lib/kamailio/modules_k:/usr/lib/kamailio/modules\"\nloadmodule \"usrloc\"\n",
			`this binary has modules_s/usrloc, but the module path (mpath) only searches modules_k, modules`,
		},
		{
			"registrar without usrloc",
			"loadmodule \"registrar\"\n",
			`module registrar needs modules_s/usrloc, which is not loaded`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := siptest.LoadErr(t, tc.cfg+"route { drop; }\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
