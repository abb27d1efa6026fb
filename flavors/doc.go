// Package flavors holds the flavor manifests, the main packages of the
// kamailio and ser binaries (with their generated module imports), their
// default configs, and the tests that run the built binaries.
package flavors
