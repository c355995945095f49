# connops: a static binary on distroless, running as the image's nonroot user.
#
#   docker build -t connops:dev .
#   docker run --rm -e DATABASE_URL=... -e AUTH_HS256_SECRET=... -p 8080:8080 connops:dev
#
# The build stage runs on the builder's own platform and cross-compiles, so
# `docker buildx build --platform linux/amd64,linux/arm64` needs no emulation.

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src

# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# -buildvcs=false: .git is not in the build context (see .dockerignore).
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -buildvcs=false -trimpath -ldflags="-s -w" -o /out/connops ./cmd/connops

# static-debian12 has CA certificates and tzdata but no shell or curl:
# orchestrators probe GET /healthz and GET /readyz, and container healthchecks
# run `/connops healthcheck` (docker-compose.yml does).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/connops /connops
# 65532 is distroless's nonroot user; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/connops"]
CMD ["serve"]
