package modules_test

import (
	"testing"

	"sip-router.org/core/moduletest"
)

// Every module of the tree has a README in the fixed shape that documents
// exactly what the module registers, and its config examples load.
func TestREADMEs(t *testing.T) { moduletest.CheckTree(t, "modules", ".") }
