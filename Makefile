# sip-router: one source tree, two products (kamailio, ser).
#
#   make [flavor=NAME] build | run | test | package | clean | print-modules
#   make fuzz [FUZZTIME=10s] | bench | lint
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
	bench lint fmt fuzz

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

# A short run of the fuzz targets of the SIP message path, the URI and
# header helpers and the config parser (each from its committed seed
# corpus under testdata/fuzz/). CI runs it after make test; a longer run:
# make fuzz FUZZTIME=5m. A crashing input is written to testdata/fuzz/.
# Minimizing is bounded: with Go's default (60 s per new input) the config
# parser's target spent its whole run minimizing, at 8 execs/s.
FUZZTIME ?= 10s
FUZZ_TARGETS = core/transport:FuzzReceive core/transport:FuzzFramer \
	core/sipmsg:FuzzNewReply400 core/pv:FuzzHelpers core/pv:FuzzParse \
	core/pv:FuzzFormat core/digest:FuzzParse core/cfg:FuzzParse
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} $${t##*:} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./$${t%%:*} || exit 1; \
	done

lint:
	@test -z "$$(gofmt -l $(GOMODS))" || { gofmt -l $(GOMODS); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	staticcheck $(PKGS)

fmt:
	gofmt -w $(GOMODS)

clean:
	rm -rf build dist flavors/custom
