GO ?= go
export GOTOOLCHAIN ?= local

.PHONY: test test-race controlplane build vet fmt-check

# test runs everything: builds the test control plane (once; cached per user),
# builds every package and example, runs all tests, and runs the concurrency
# tests again under the race detector.
test: controlplane build
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) test-race

# test-race runs the tests that exercise concurrent use (renderers, the
# scheduler, the cross-process build lock, the Reconciler with Run, Trigger
# and Watch, the cli's run command) with the race detector.
test-race:
	$(GO) test -race -count=1 -timeout 20m -run 'Concurrent|Walk|Scheduler|Load|Reconciler|CLI' . ./render ./dag ./internal/testenv ./examples/cli

# controlplane builds kube-apiserver and etcd from Go modules into the user
# cache, or does nothing when they are there (or KUBEBUILDER_ASSETS is set).
controlplane:
	$(GO) run ./internal/testenv/cmd/controlplane

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
