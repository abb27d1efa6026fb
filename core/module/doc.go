// Package module is the module contract and registry.
//
// A module is a Go package that calls Register from its init function with
// a Spec: its name, its tree (modules, modules_k or modules_s), the modules
// it depends on (written tree/name), its script functions, its typed
// parameters (fields of its instance type tagged `modparam:"name"`), the
// pseudo-variables and RPC commands it exports, and a side-effect-free
// constructor. Optional lifecycle methods on the instance (Init, ChildInit,
// Destroy) run in dependency order.
//
// Being compiled into a binary does not make a module active: a
// configuration activates it with loadmodule, which creates a fresh
// instance for that configuration load (see Set).
package module
