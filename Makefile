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
fuzz:
	@set -e; for f in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')); do \
		pkg=./$$(dirname $$f); \
		for name in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -c6-); do \
			echo "== fuzz $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
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
