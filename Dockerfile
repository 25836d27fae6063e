# syntax=docker/dockerfile:1.7
#
# One image per workspace binary: `--build-arg SERVICE=<binary>` (gateway, identity,
# account, inventory, order, payment, seeder, loadtest, ...). Multi-arch with buildx:
#
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg SERVICE=inventory \
#     -t ghcr.io/ironvessel/inventory:dev .
#
# The build stages run on the builder's own platform and cross-compile for the target
# (no QEMU emulation of rustc); cargo-chef caches the compiled dependencies in a layer
# that only Cargo.toml/Cargo.lock changes invalidate. The runtime is distroless/cc
# (glibc, libgcc, CA certificates, no shell, no package manager) as user 65532.

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.78

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-slim-bookworm AS chef
ARG CARGO_CHEF_VERSION
ARG BUILDARCH
ARG TARGETARCH
# A cross C toolchain only when the target differs (ring compiles C); versions follow
# the Debian release the image pins; $cross is a word list on purpose.
# hadolint ignore=DL3008,SC2086
RUN set -eux; \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu; cross="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;; \
      arm64) triple=aarch64-unknown-linux-gnu; cross="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac; \
    if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends $cross; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    rustup target add "$triple"; \
    echo "$triple" > /rust-target; \
    cargo install cargo-chef --locked --version "$CARGO_CHEF_VERSION"
ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    # Small, fast release binaries without touching the workspace's profiles.
    CARGO_PROFILE_RELEASE_LTO=thin \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=symbols
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG SERVICE
RUN test -n "$SERVICE" || { echo "--build-arg SERVICE=<binary> is required" >&2; exit 1; }
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --target "$(cat /rust-target)" --bin "$SERVICE" --recipe-path recipe.json
COPY . .
# The binary, plus the files a binary reads at run time from its crate (identity's realm).
RUN set -eux; \
    target="$(cat /rust-target)"; \
    cargo build --release --locked --target "$target" --bin "$SERVICE"; \
    mkdir -p /out/app; \
    cp "target/$target/release/$SERVICE" /out/app/service; \
    if [ -d "services/$SERVICE/realms" ]; then \
      mkdir -p "/out/app/services/$SERVICE"; \
      cp -r "services/$SERVICE/realms" "/out/app/services/$SERVICE/"; \
    fi

FROM gcr.io/distroless/cc-debian12:nonroot
ARG SERVICE
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="ironvessel-${SERVICE}" \
      org.opencontainers.image.description="Ironvessel ${SERVICE}" \
      org.opencontainers.image.source="https://github.com/ironvessel/ironvessel" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="Ironvessel"
# Relative paths (identity's default realm file) resolve against /app.
WORKDIR /app
COPY --from=builder /out/app /app
USER 65532:65532
ENTRYPOINT ["/app/service"]
