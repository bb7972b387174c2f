# syntax=docker/dockerfile:1
# orchestrd container image: build with the project's own install script, run on a slim base.
#
#   docker build -t orchestrd .         # or: podman build --format docker -t orchestrd .
#   docker run --rm -p 127.0.0.1:50051:50051 -p 127.0.0.1:9464:9464 orchestrd
#
# (podman needs --format docker to keep the HEALTHCHECK; deploy/container-smoke builds, starts
# and checks the image.)
#
# The run stage is debian:bookworm-slim with only the runtime libraries, flattened into one
# layer: the two binaries (orchestrd, orchctl), the health probe, a non-root user `orchestrd`
# (uid 10001) and /etc/orchestrd/orchestrd.yaml (deploy/container/orchestrd.yaml: listens on
# 0.0.0.0).
# Mount your own configuration over that file to add tenants, tokens and limits.

# ---- build stage -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS build

# The same package list as `make run` (scripts/install-deps; it runs apt-get when root).
COPY scripts/install-deps /src/scripts/install-deps
RUN /src/scripts/install-deps && rm -rf /var/lib/apt/lists/*

COPY . /src
WORKDIR /src
# Only the two programs: no tests, no benchmarks. The ccache cache mount keeps rebuilds fast.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
          -DORCH_BUILD_TESTS=OFF -DORCH_BUILD_BENCH=OFF >/dev/null \
 && cmake --build /build -j"$(nproc)" --target orchestrd orchctl \
 && strip /build/daemon/orchestrd /build/client/orchctl \
 && (ccache --show-stats 2>/dev/null | grep -E 'Hits|Misses' || true)

# ---- runtime root file system ------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# Runtime libraries only: what `ldd orchestrd orchctl` names, by Debian package. bash (in the
# base image) is the health probe's HTTP client, so the image carries no curl.
# Package lists, caches, documentation and translations are deleted; the next stage copies the
# result as ONE layer, so what is deleted here really leaves the image (whatever the base
# image carried).
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libprometheus-cpp-core1.0 libyaml-cpp0.7 \
      libspdlog1.10 libfmt9 libssl3 ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/* \
           /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
           /usr/share/lintian /usr/share/linda \
 && groupadd --system --gid 10001 orchestrd \
 && useradd --system --uid 10001 --gid orchestrd --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin orchestrd

COPY --from=build /build/daemon/orchestrd /build/client/orchctl /usr/local/bin/
COPY deploy/container/orchestrd.yaml /etc/orchestrd/orchestrd.yaml
COPY deploy/container/healthcheck /usr/local/bin/orchestrd-healthcheck
# The programs start at all: every shared library they need is here.
RUN orchestrd --version && orchctl --version

# ---- run stage ---------------------------------------------------------------------------------
FROM scratch
COPY --from=runtime / /

ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER orchestrd:orchestrd
WORKDIR /
# gRPC API, admin HTTP (/metrics, /healthz, /readyz)
EXPOSE 50051 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/orchestrd-healthcheck"]
ENTRYPOINT ["orchestrd"]
CMD ["--config", "/etc/orchestrd/orchestrd.yaml"]
