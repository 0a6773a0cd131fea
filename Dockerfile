# syntax=docker/dockerfile:1
#
# Strata image: `strata` binary on debian:bookworm-slim, running as a non-root
# user. Build with `docker build -t strata .` or through docker-compose.yml.
#
#   docker run --rm strata --help
#   docker run --rm -p 8080:8080 strata up --brokers ... --store s3://... --http-addr 0.0.0.0:8080

# ---------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------
# Same toolchain as `rust-version` in Cargo.toml.
FROM rust:1.95-bookworm AS builder

# rdkafka builds its bundled librdkafka with the default ./configure + make
# build (no `cmake-build` feature), which needs a C toolchain, GNU make and
# zlib (default `libz` feature). SSL, SASL/GSSAPI, zstd and curl are not
# enabled, so no libssl-dev/libsasl2-dev/libzstd-dev/cmake is needed. The
# rust:*-bookworm image already ships all of these (it is built on
# buildpack-deps); listing them keeps the requirement explicit.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# Cache mounts keep the cargo registry and the target directory between
# builds; the binary is copied out of the cached target dir in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin strata \
    && install -D -m 0755 target/release/strata /out/strata

# ---------------------------------------------------------------------------
# Runtime
# ---------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# ca-certificates: TLS to real S3 endpoints (rustls with the native roots).
# curl: the docker-compose healthcheck on /health.
# librdkafka and zstd are linked statically; zlib (libz.so.1) is part of the
# base image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 strata \
    && useradd --system --uid 10001 --gid strata \
        --home-dir /var/lib/strata --create-home --shell /usr/sbin/nologin strata

COPY --from=builder /out/strata /usr/local/bin/strata

USER 10001:10001
# Writable working directory, e.g. for `--store file://./data`.
WORKDIR /var/lib/strata

EXPOSE 8080

ENTRYPOINT ["strata"]
CMD ["--help"]
