# syntax=docker/dockerfile:1
#
# One image for every mediaflow binary (worker, enqueue, swonkie-sandbox):
# the compose file picks the binary with `command`.

# Exact versions, so a rebuild gets the same toolchain and base; bump them
# on purpose (deploy/compose_test.go refuses floating tags).
FROM golang:1.26.0-bookworm AS build
WORKDIR /src
# Modules first, so editing code does not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Stamped into every binary's --version, as `make build` does:
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse --short=12 HEAD) .
ARG VERSION=dev
ARG COMMIT=unknown
# CGO off: static binaries that run on the small final image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/mediaflow/mediaflow/internal/version.Version=${VERSION} -X github.com/mediaflow/mediaflow/internal/version.Commit=${COMMIT}" \
      -o /out/ ./cmd/...

# Alpine rather than distroless: its busybox wget serves the compose
# healthcheck, and the image stays a few MB.
FROM alpine:3.22.1
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="mediaflow" \
      org.opencontainers.image.description="Publishes media through the Swonkie API v2 as asynq jobs on Redis: worker, enqueue, swonkie-sandbox" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.base.name="docker.io/library/alpine:3.22.1"
RUN apk add --no-cache ca-certificates tzdata \
 && adduser -D -H -u 10001 -s /sbin/nologin mediaflow
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
# The worker's own default, said out loud for the healthcheck. API_ADDR is
# left unset (the API off) as in the worker: it needs API_TOKENS, which no
# image can carry.
ENV METRICS_ADDR=:9400
EXPOSE 8080 9400
CMD ["worker"]
