GO ?= go
export GOTOOLCHAIN ?= local

.PHONY: test controlplane build vet fmt-check bench

# test runs everything: builds the test control plane (once; cached per user),
# builds every package and example, and runs all tests.
test: controlplane build
	$(GO) test -count=1 -timeout 30m ./...

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
