# mediaflow — the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test lint demo bench

## test: go vet, then every test with the race detector (needs redis-server and prometheus; see README)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

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
	$(GO) run ./cmd/bench
