# mediaflow — the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test test-deps test-tools build lint demo bench

# Version and commit stamped into every binary, as the Dockerfile does.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS = -X github.com/mediaflow/mediaflow/internal/version.Version=$(VERSION) \
           -X github.com/mediaflow/mediaflow/internal/version.Commit=$(COMMIT)

## test: check (and install, as root or with sudo) the programs the tests run, go vet, then every test with the race detector
test: test-deps test-tools
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

## test-deps: only check that redis-server, redis-cli, prometheus, promtool and chromium are there (installing them with apt-get when it can)
test-deps:
	@sh scripts/test-deps

## test-tools: build the Go programs the tests start (Jaeger, a tool of its own module) into the build cache, so their first build is not counted in a test's time
test-tools:
	@cd internal/jaegertest/jaegertool && $(GO) tool -n jaeger >/dev/null

## build: every binary under ./cmd into bin/, stamped with VERSION and COMMIT
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

## lint: gofmt check, go vet, staticcheck
lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## demo: the whole lifecycle with nothing installed (embedded Redis unless REDIS_URL is set, in-process sandbox)
demo:
	$(GO) run ./cmd/worker -demo

## bench: pipeline throughput against asynq's own ceiling; prints a table and a JSON line
bench:
	$(GO) run ./internal/cmd/bench
