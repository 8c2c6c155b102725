# cognito-bulk-reset in a small runtime image, for Kubernetes CronJobs, ECS
# tasks and AWS Batch (examples/kubernetes, examples/ecs).
#
#   docker build -t cognito-bulk-reset .
#   docker run --rm cognito-bulk-reset drill      # the built-in check
#
# Build stage: the release binary. Runtime stage: Debian slim with CA
# certificates, the binary, and a non-root user (uid 10001); the filesystem
# can be mounted read-only (the ledger lives in DynamoDB, the input in S3).
# The base images are build arguments so that a host without a registry can
# pass stand-ins built from Debian's packages (scripts/container-check.sh).
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The release profile ships no debug info (symbols kept for backtraces).
RUN cargo build --release --locked --bin cognito-bulk-reset \
 && cp target/release/cognito-bulk-reset /cognito-bulk-reset

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /cognito-bulk-reset /usr/local/bin/cognito-bulk-reset
USER 10001
# The drill writes its list and ledger under the temp directory.
ENV TMPDIR=/tmp
ENTRYPOINT ["/usr/local/bin/cognito-bulk-reset"]
CMD ["--help"]
