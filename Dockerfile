# syntax=docker/dockerfile:1
# The `reconciler` binary in a small image: built with the official Rust image, run on Debian
# slim with only the shared libraries it links (OpenSSL and zlib, for libgit2) and the CA
# certificates its HTTPS fetches check against, as a non-root user.
#
#   docker build -t vimana-reconciler:0.1.0 .
#
# RUST_VERSION is the toolchain the project is built and tested with (let chains need at least
# 1.88). Builder and runtime are the same Debian release, so the libraries match.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds; the binary is
# copied out of the target cache, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p reconciler \
 && install -D -m 0755 target/release/reconciler /out/reconciler

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/reconciler /usr/local/bin/reconciler
# Numeric, so that Kubernetes can check runAsNonRoot without a passwd entry.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/reconciler"]
CMD ["run", "--config", "/etc/vimana-reconciler/config.yaml"]
