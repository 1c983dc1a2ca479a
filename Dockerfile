# syntax=docker/dockerfile:1
#
# One image for every role of the lab: the `dojo` binary runs the sample services
# (`dojo service frontend|api|payments`), the load generator (`dojo loadgen`) and the course and
# grader (`dojo serve`). compose/ and k8s/ start this image with a different command per role.
#
#   docker build -t tracing-dojo:local .

# ---- build: compile the one binary in release mode --------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep the registry and the target directory between builds, so a rebuild after
# an edit recompiles only what changed. The binary is copied out because the cache mount is not
# part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin dojo \
    && install -m 0755 target/release/dojo /usr/local/bin/dojo

# ---- runtime: a small Debian with the binary, the labs and the course ------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates for TLS to a remote Tempo or PostgreSQL; curl for the container health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed, unprivileged user: Kubernetes' runAsNonRoot needs a numeric id to verify. Its home,
# /var/lib/dojo, is the one place the lab writes (DOJO_DATA_DIR): compose mounts a volume there
# and Kubernetes an emptyDir, so the rest of the filesystem can be read-only.
RUN groupadd --system --gid 10001 dojo \
    && useradd --system --uid 10001 --gid dojo --home-dir /var/lib/dojo --create-home dojo
ENV DOJO_DATA_DIR=/var/lib/dojo
COPY --from=builder /usr/local/bin/dojo /usr/local/bin/dojo
# The labs and lessons are read at run time, relative to the working directory, which stays
# root-owned and read-only for the lab's user.
COPY labs /opt/dojo/labs
COPY content /opt/dojo/content
WORKDIR /opt/dojo
USER 10001:10001
# dojo (course and grader), frontend, api, payments.
EXPOSE 8080 8081 8082 8083
ENTRYPOINT ["/usr/local/bin/dojo"]
CMD ["--help"]
