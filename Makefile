# sip-router: one source tree, two products (kamailio, ser).
#
#   make [flavor=NAME] build | run | test | package | clean | print-modules
#   make flavor=kamailio include_modules="modules_k/siptrace" exclude_modules="modules/tls" build
#   make manifest=path/to/mine.toml build
#
# Without flavor=, the flavor is the branch's default (flavors/default).
# Output goes to build/<flavor>/ (packages to dist/). The work is done by
# tools/cmd/srbuild, which prints one line per step.

SHELL := /bin/bash
GO ?= go
flavor ?= $(shell cat flavors/default 2>/dev/null)
manifest ?=
include_modules ?=
exclude_modules ?=
# make package: the package release (default: the manifest's) and the
# output folder.
release ?=
dist ?= dist

SELECT = $(if $(manifest),-manifest "$(manifest)",-flavor "$(flavor)") \
	-include "$(include_modules)" -exclude "$(exclude_modules)"
SRBUILD = $(GO) run ./tools/cmd/srbuild $(SELECT)

# Every Go module of the workspace.
GOMODS = core modules modules_k modules_s flavors tools packaging
PKGS = $(addprefix ./,$(addsuffix /...,$(GOMODS)))

.PHONY: all build run test package clean print-modules generate check-generated \
	bench lint fmt

all: build

build:
	@$(SRBUILD) build

run:
	@$(SRBUILD) run

print-modules:
	@$(SRBUILD) print-modules

# Regenerate the committed files of every standard flavor.
generate:
	@for m in flavors/*.toml; do $(GO) run ./tools/cmd/srbuild -manifest $$m generate || exit 1; done

check-generated:
	@$(GO) run ./tools/cmd/srbuild check-generated

# The whole chain: generate, build, stage, package (dist/*.deb, dist/*.rpm).
# Reproducible: the time in the packages is SOURCE_DATE_EPOCH, else the
# commit time of HEAD. See docs/PACKAGING.md.
package:
	@$(SRBUILD) $(if $(release),-release "$(release)") -dist "$(dist)" package

# Unit, integration and end-to-end tests. Tests that need MySQL/PostgreSQL,
# sipp or network namespaces skip with a message when those are missing,
# except under CI (SIPROUTER_CI=1), where a missing one is a failure.
test: check-generated
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

# Load benchmark against Debian's Kamailio 5.6 (scripts/bench/README.md):
# builds the kamailio flavor, then runs every scenario (under 10 minutes).
# make bench BENCHFLAGS=-quick for a smoke test.
BENCHFLAGS ?=
bench:
	@$(GO) run ./tools/cmd/srbuild -flavor kamailio build
	@$(GO) run ./tools/cmd/bench $(BENCHFLAGS)

lint:
	@test -z "$$(gofmt -l $(GOMODS))" || { gofmt -l $(GOMODS); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	staticcheck $(PKGS)

fmt:
	gofmt -w $(GOMODS)

clean:
	rm -rf build dist flavors/custom
