GO ?= go
export GOTOOLCHAIN ?= local

.PHONY: test test-race fuzz controlplane browser build vet fmt-check

# FUZZTIME bounds each fuzz target in make test; run longer with, e.g.,
# make fuzz FUZZTIME=10m.
FUZZTIME ?= 3s

# test runs everything: builds the test control plane (once; cached per user),
# builds every package and example, runs all tests, and runs the concurrency
# tests again under the race detector.
test: controlplane browser build
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) test-race
	$(MAKE) fuzz

# test-race runs the tests that exercise concurrent use (renderers, the
# scheduler, the cross-process build lock, the Reconciler with Run, Trigger
# and Watch, the cli's run command, the status page's event stream) with the
# race detector.
test-race:
	$(GO) test -race -count=1 -timeout 20m -run 'Concurrent|Walk|Scheduler|Load|Reconciler|CLI|Events' . ./render ./dag ./internal/testenv ./internal/memo ./examples/cli ./statuspage

# fuzz runs every Fuzz target of the module (found in the test files, so
# none is forgotten) for FUZZTIME each, from its committed seeds.
# Each package's instrumented test binary is built once and run once per
# target, in the package's directory (its testdata/fuzz seeds), with the
# go command's own fuzz cache, so new inputs found are kept as go test
# -fuzz keeps them.
fuzz:
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	cache=$$($(GO) env GOCACHE)/fuzz; \
	for dir in $$(dirname $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')) | sort -u); do \
		pkg=$$($(GO) list ./$$dir); \
		echo "== build $$pkg with fuzzing instrumentation"; \
		$(GO) test -c -fuzz . -o "$$bin/fuzz.test" ./$$dir; \
		for name in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -c6-); do \
			echo "== fuzz $$pkg $$name ($(FUZZTIME))"; \
			(cd $$dir && "$$bin/fuzz.test" -test.run '^$$' -test.fuzz "^$$name$$" -test.fuzztime $(FUZZTIME) -test.fuzzcachedir "$$cache/$$pkg"); \
		done; \
	done

# controlplane builds kube-apiserver and etcd from Go modules into the user
# cache, or does nothing when they are there (or KUBEBUILDER_ASSETS is set).
controlplane:
	$(GO) run ./internal/testenv/cmd/controlplane

# browser installs Debian's chromium when it is missing: the status page is
# tested in a real headless browser (statuspage TestInABrowser), which fails,
# never skips, without it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium for the browser test"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
