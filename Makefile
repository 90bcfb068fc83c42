# goetcd — make targets. `make demo` and `make test` are the two set-up
# commands of the README; everything else is for development.

SHELL     := /bin/bash
GO        ?= go
# Packages of the library module (the root) and of the test module (tests/).
ROOT_PKGS := ./client/... ./api/... ./generated/... ./internal/... ./v3keys/... ./examples/...
TEST_TIMEOUT ?= 20m
# cmd/goetcdctl is a module of its own whose go.mod requires the library by
# a published version (no replace, so `go install ...@latest` works). Here it
# is built against the working tree through a throwaway go.work: CLI_GO runs
# the go command in cmd/goetcdctl with that workspace.
CLI_GO = w=$$(mktemp -d) && trap 'rm -rf $$w' EXIT && \
	GOWORK=$$w/go.work $(GO) work init ./cmd/goetcdctl && \
	GOWORK=$$w/go.work $(GO) work edit -replace=github.com/meycoin/goetcd=$(CURDIR) && \
	cd cmd/goetcdctl && GOWORK=$$w/go.work $(GO)

.PHONY: all demo test generate check-generated mod-check unit integration vet fmt-check etcd bench fuzz clean goetcdctl

all: test

# The generator is pinned in tools/go.mod, its own module, so that programs
# importing the library never get it (or its OpenAPI and YAML libraries) in
# their module graph; it runs from the root, where oapi-codegen.yaml's paths
# point.
OAPI_CODEGEN := $(GO) tool -modfile=tools/go.mod oapi-codegen

# Each spec and the oapi-codegen config that turns it into Go: the v2 API
# (openapi.yaml -> generated/) and the part of the v3 gateway the v3 backend
# uses (v3keys/openapi.yaml -> v3keys/internal/v3gen/).
CODEGEN := oapi-codegen.yaml:openapi.yaml v3keys/oapi-codegen.yaml:v3keys/openapi.yaml

## generate: rebuild generated/ and v3keys/internal/v3gen/ from their specs
## with the pinned oapi-codegen.
generate:
	@set -e; sh internal/genruntime/templates.sh .gen/templates; for pair in $(CODEGEN); do \
		$(OAPI_CODEGEN) -config $${pair%%:*} $${pair#*:}; \
	done

## check-generated: fail when the generated code is not what its spec makes now.
check-generated:
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	sh internal/genruntime/templates.sh .gen/templates && \
	for pair in $(CODEGEN); do \
		cfg=$${pair%%:*}; spec=$${pair#*:}; \
		out=$$(sed -n 's#^output: ##p' $$cfg); \
		sed "s#^output: .*#output: $$tmp/gen.go#" $$cfg > $$tmp/cfg.yaml && \
		$(OAPI_CODEGEN) -config $$tmp/cfg.yaml $$spec || exit 1; \
		if ! diff -q $$tmp/gen.go $$out >/dev/null; then \
			echo "$$out is stale: run 'make generate' and commit the result" >&2; \
			diff -u $$out $$tmp/gen.go | head -40 >&2; exit 1; \
		fi; echo "$$out matches $$spec"; \
	done

## mod-check: fail when the root go.mod requires a module that no package of
## the library (or its tests) imports, or when a program importing only
## client/ (or only v3keys/) has a module of the code generator (its run-time
## library included), testify or a YAML module in its module graph.
mod-check:
	@cd tests && $(GO) run ./cmd/modcheck -root ..

## etcd: build (once, cached) the etcd 3.5.35 and 3.6.17 servers the tests run.
etcd:
	@cd tests && $(GO) run ./cmd/buildetcd >/dev/null

## vet / fmt-check: static checks of the three modules.
vet:
	$(GO) vet $(ROOT_PKGS)
	@$(CLI_GO) vet ./...
	cd tests && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l client api v3keys examples tests cmd); if [ -n "$$out" ]; then echo "gofmt needed: $$out" >&2; exit 1; fi

## goetcdctl: build the command line into bin/goetcdctl.
goetcdctl:
	@$(CLI_GO) build -o $(CURDIR)/bin/goetcdctl .

## demo: start a throwaway single-node v2 etcd, run examples/quickstart against it, stop it.
demo:
	@cd tests && $(GO) run ./cmd/demo

## unit: the library's own tests with -race (client/ and its neighbours; no
## etcd needed; seconds): the loop to run while changing client/.
UNIT_ARGS := -race -count=1 -timeout $(TEST_TIMEOUT) $(ROOT_PKGS)
unit:
	$(GO) test $(UNIT_ARGS)

## integration: the suites of tests/ against real etcd: 3.5.35 (built once and
## cached) and Debian's 3.4 at /usr/bin/etcd when it is installed (minutes).
INTEGRATION_ARGS := -count=1 -timeout $(TEST_TIMEOUT) ./...
integration: etcd
	cd tests && $(GO) test $(INTEGRATION_ARGS)

# What make test runs besides unit and integration: the measurements that
# skip under -race (what a node kept from a large listing keeps alive, the
# stack of a waiting watcher), and a
# short run of each decoder's fuzz target (package:target; the v3 backend's
# answer scanner and key layout included). The fuzz runs are bounded by a
# count of executions, not a time: a -fuzztime duration can end a clean run
# with a bare "context deadline exceeded" in Go 1.26 (go.dev/issue/75804).
NORACE_ARGS   := -count=1 -run '^(TestRetainedNodeKeepsLittleAlive|TestWaitingWatcherStack)$$' ./client/
FUZZ_DECODERS := client:FuzzKeysDecoder client:FuzzWatchStream client:FuzzKeysResult client:FuzzKeysError \
	client:FuzzHTTPError client:FuzzClusterAnswers client:FuzzAuthAnswers client:FuzzStatusAnswers \
	v3keys:FuzzDecodeTxn v3keys:FuzzLayout
FUZZSHORT     ?= 10000x

## test: every check; unit tests with -race; the measurements -race would
## spoil; a short run of each decoder fuzz target; and the real-etcd suites
## of tests/. The last line is the pass/fail summary, with the etcd versions
## that ran and, for any that did not, why.
test: spec-check check-generated mod-check fmt-check vet etcd
	@cd tests && $(GO) build -o .cache/testsummary ./cmd/testsummary
	@targets=$$($(GO) test -list '^Fuzz' ./client/ ./v3keys/ | sed 's/^/x/') || exit 1; \
	for pt in $(FUZZ_DECODERS); do t=$${pt#*:}; \
		grep -qx "x$$t" <<<"$$targets" || { echo "make test: no fuzz target $$t in $${pt%%:*}/ (FUZZ_DECODERS)" >&2; exit 1; }; \
	done
	@set -o pipefail; { \
		$(GO) test -json $(UNIT_ARGS); s1=$$?; \
		$(GO) test -json $(NORACE_ARGS); s2=$$?; \
		s3=0; for pt in $(FUZZ_DECODERS); do \
			$(GO) test -json -run '^$$' -fuzz "^$${pt#*:}\$$" -fuzztime $(FUZZSHORT) ./$${pt%%:*}/ || s3=1; \
		done; \
		($(CLI_GO) test -race -json -count=1 -timeout $(TEST_TIMEOUT) ./...); s5=$$?; \
		(cd tests && $(GO) test -json $(INTEGRATION_ARGS)); s4=$$?; \
		exit $$((s1 | s2 | s3 | s4 | s5)); \
	} 2>&1 | tests/.cache/testsummary

## bench: goetcd side by side with etcd's official v2 client and a raw net/http
## loop (tests/bench), in rounds; prints one table with the ratios and the
## issue #6 targets, writes docs/benchmarks.md and docs/benchmarks.svg.
bench: etcd
	cd tests && $(GO) run ./cmd/benchreport -md ../docs/benchmarks.md -svg ../docs/benchmarks.svg

## fuzz: run every fuzz target of client/ and v3keys/ for FUZZTIME each
## (default 5m), one after another, each on all cores (-parallel = nproc). A
## failing input is written to <package>/testdata/fuzz/<target>/ and stops
## the run; `make
## test` replays every seed there (plain go test runs them as tests). Go 1.26
## may end a run with a bare "context deadline exceeded" as the fuzz time
## runs out (go.dev/issue/75804, fixed in Go 1.27): without a failing input
## that is reported and not counted as a failure.
FUZZTIME ?= 5m
fuzz:
	@set -o pipefail; for p in client v3keys; do for t in $$($(GO) test -list '^Fuzz' ./$$p/ | grep '^Fuzz'); do \
		echo "== $$p $$t for $(FUZZTIME)"; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -timeout 0 -parallel $$(nproc) ./$$p/ 2>&1); rc=$$?; \
		echo "$$out" | grep 'fuzz: elapsed' | tail -n 1; \
		echo "$$out" | grep -v 'fuzz: elapsed'; \
		if [ $$rc -ne 0 ] && ! echo "$$out" | grep -q 'Failing input written' && echo "$$out" | grep -q '^    context deadline exceeded$$'; then \
			echo "(go.dev/issue/75804: the fuzz time ran out mid-execution; no failing input)"; rc=0; \
		fi; \
		[ $$rc -eq 0 ] || exit $$rc; \
	done; done

clean:
	rm -rf tests/.cache bin

## spec-check: openapi.yaml for other languages: Redocly lint (zero errors and
## warnings), recorded examples on every operation, two generators with zero
## warnings (openapi-typescript types, shown to fail when the spec loses a
## field the program uses; a @hey-api/openapi-ts fetch SDK) type-checked by
## tsc --strict, Node tests against real etcd servers (the SDK program over
## every operation behind a validating proxy, its traffic checked again by a
## second validator: zero violations), and docs/api up to date. Tools pinned in package.json/package-lock.json; one
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
