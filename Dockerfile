# syntax=docker/dockerfile:1
#
# One image for every mediaflow binary (worker, enqueue, swonkie-sandbox):
# the compose file picks the binary with `command`.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so editing code does not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# CGO off: static binaries that run on the small final image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/ ./cmd/...

# Alpine rather than distroless: its busybox wget serves the compose
# healthcheck, and the image stays a few MB.
FROM alpine:3.22
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
