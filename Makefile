# goetcd — make targets. `make demo` and `make test` are the two set-up
# commands of the README; everything else is for development.

SHELL     := /bin/bash
GO        ?= go
# Packages of the library module (the root) and of the test module (tests/).
ROOT_PKGS := ./client/... ./api/... ./generated/... ./v3keys/... ./examples/...
TEST_TIMEOUT ?= 20m

.PHONY: all demo test generate check-generated unit integration vet fmt-check etcd bench fuzz clean

all: test

# Each spec and the oapi-codegen config that turns it into Go: the v2 API
# (openapi.yaml -> generated/) and the part of the v3 gateway the v3 backend
# uses (v3keys/openapi.yaml -> v3keys/internal/v3gen/).
CODEGEN := oapi-codegen.yaml:openapi.yaml v3keys/oapi-codegen.yaml:v3keys/openapi.yaml

## generate: rebuild generated/ and v3keys/internal/v3gen/ from their specs
## with the pinned oapi-codegen.
generate:
	@set -e; for pair in $(CODEGEN); do \
		$(GO) tool oapi-codegen -config $${pair%%:*} $${pair#*:}; \
	done

## check-generated: fail when the generated code is not what its spec makes now.
check-generated:
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	for pair in $(CODEGEN); do \
		cfg=$${pair%%:*}; spec=$${pair#*:}; \
		out=$$(sed -n 's#^output: ##p' $$cfg); \
		sed "s#^output: .*#output: $$tmp/gen.go#" $$cfg > $$tmp/cfg.yaml && \
		$(GO) tool oapi-codegen -config $$tmp/cfg.yaml $$spec || exit 1; \
		if ! diff -q $$tmp/gen.go $$out >/dev/null; then \
			echo "$$out is stale: run 'make generate' and commit the result" >&2; \
			diff -u $$out $$tmp/gen.go | head -40 >&2; exit 1; \
		fi; echo "$$out matches $$spec"; \
	done

## etcd: build (once, cached) the etcd 3.5.35 and 3.6.17 servers the tests run.
etcd:
	@cd tests && $(GO) run ./cmd/buildetcd >/dev/null

## vet / fmt-check: static checks of both modules.
vet:
	$(GO) vet $(ROOT_PKGS)
	cd tests && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l client api v3keys examples tests); if [ -n "$$out" ]; then echo "gofmt needed: $$out" >&2; exit 1; fi

## demo: start a throwaway single-node v2 etcd, run examples/quickstart against it, stop it.
demo:
	@cd tests && $(GO) run ./cmd/demo

## test: every check, unit tests with -race, and the real-etcd suites of tests/;
## the last line is the pass/fail summary.
test: spec-check check-generated fmt-check vet etcd
	@cd tests && $(GO) build -o .cache/testsummary ./cmd/testsummary
	@set -o pipefail; { \
		$(GO) test -race -json -count=1 -timeout $(TEST_TIMEOUT) $(ROOT_PKGS); s1=$$?; \
		(cd tests && $(GO) test -json -count=1 -timeout $(TEST_TIMEOUT) ./...); s2=$$?; \
		exit $$((s1 | s2)); \
	} 2>&1 | tests/.cache/testsummary

## bench: goetcd side by side with etcd's official v2 client and a raw net/http
## loop (tests/bench), in rounds; prints one table with the ratios and the
## issue #6 targets, writes docs/benchmarks.md and docs/benchmarks.svg.
bench: etcd
	cd tests && $(GO) run ./cmd/benchreport -md ../docs/benchmarks.md -svg ../docs/benchmarks.svg

## fuzz: run every fuzz target of client/ for FUZZTIME each (default 5m),
## one after another, each on all cores (-parallel = nproc). A failing input
## is written to client/testdata/fuzz/<target>/ and stops the run; `make
## test` replays every seed there (plain go test runs them as tests). Go 1.26
## may end a run with a bare "context deadline exceeded" as the fuzz time
## runs out (go.dev/issue/75804, fixed in Go 1.27): without a failing input
## that is reported and not counted as a failure.
FUZZTIME ?= 5m
fuzz:
	@set -o pipefail; for t in $$($(GO) test -list '^Fuzz' ./client/ | grep '^Fuzz'); do \
		echo "== $$t for $(FUZZTIME)"; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -timeout 0 -parallel $$(nproc) ./client/ 2>&1); rc=$$?; \
		echo "$$out" | grep 'fuzz: elapsed' | tail -n 1; \
		echo "$$out" | grep -v 'fuzz: elapsed'; \
		if [ $$rc -ne 0 ] && ! echo "$$out" | grep -q 'Failing input written' && echo "$$out" | grep -q '^    context deadline exceeded$$'; then \
			echo "(go.dev/issue/75804: the fuzz time ran out mid-execution; no failing input)"; rc=0; \
		fi; \
		[ $$rc -eq 0 ] || exit $$rc; \
	done

clean:
	rm -rf tests/.cache

## spec-check: openapi.yaml for other languages: Redocly lint (zero errors and
## warnings), recorded examples on every operation, TypeScript types from
## openapi-typescript type-checked by tsc (and shown to fail when the spec
## loses a field the program uses), a Node test against a real etcd, and
## docs/api up to date. Tools pinned in package.json/package-lock.json; one
## line of result. Installs node_modules from the lock file when needed.
.PHONY: spec-check docs
spec-check: node_modules/.package-lock.json
	@node spec/spec-check.mjs

## docs: render the HTML API reference docs/api/index.html from openapi.yaml.
docs: node_modules/.package-lock.json
	@mkdir -p docs/api
	@out=$$(REDOCLY_TELEMETRY=off node_modules/.bin/redocly build-docs openapi.yaml --inlineBundle -o docs/api/index.html 2>&1) || \
		{ echo "$$out" >&2; exit 1; }; echo "docs: wrote docs/api/index.html from openapi.yaml"

# npm ci from the lock file, only when node_modules is missing or older than
# package.json / package-lock.json (npm ci writes node_modules/.package-lock.json).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@
