# taskkit — build, test and package the binaries.
#   make build   build every binary into bin/ for this machine (one go build), and
#                bin/hello-world.tar.gz, the example service's artifact
#   make test    the README's test command
#   make dist    static, stripped linux/amd64 and linux/arm64 zips + SHA256SUMS in dist/
#   make lint    gofmt and go vet

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test dist lint clean
build:
	VERSION=$(VERSION) scripts/dist.sh --local

test:
	go test ./...

dist:
	VERSION=$(VERSION) scripts/dist.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

clean:
	rm -rf bin dist
