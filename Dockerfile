# syntax=docker/dockerfile:1

# One image for every ballotflow subcommand (worker, api, sandbox, migrate, keys):
#   docker build -t ballotflow:local .
#   docker run --rm ballotflow:local env

# Build on the build host's platform and cross-compile (pure Go, CGO off), so a
# multi-arch `docker buildx build --platform linux/amd64,linux/arm64` never emulates.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src

# Modules first: this layer is reused until go.mod/go.sum change. The cache
# mounts keep downloads and build outputs between builds without baking them
# into a layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ballotflow ./cmd/ballotflow

# debian-slim rather than distroless: compose's api healthcheck needs an HTTP
# client (curl) inside the container, and the binary has no health subcommand.
FROM debian:bookworm-slim
# ca-certificates: the worker calls SendGrid and Twilio over TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 ballotflow \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin ballotflow
COPY --from=build /out/ballotflow /ballotflow
USER 65532:65532
# The API's default listen address (API_ADDR=:8080); the sandbox uses 8026.
EXPOSE 8080
ENTRYPOINT ["/ballotflow"]
CMD ["--help"]
