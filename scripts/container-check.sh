#!/usr/bin/env bash
# Builds the Dockerfile's image and runs the drill in it: the built-in
# simulated pool, as the image's non-root user, on a read-only root filesystem,
# with no network but loopback. Not part of CI (a clean build of the image
# takes about as long as the whole of CI).
#
#   scripts/container-check.sh            # build, then run the drill
#   ENGINE=docker scripts/container-check.sh
#
# The engine is $ENGINE, else docker when a Docker engine answers, else podman
# (Debian: apt-get install podman; debootstrap too where no registry can be
# reached, see below).
#
# Base images: the Dockerfile's defaults (rust:1.95-slim-bookworm and
# debian:bookworm-slim) are pulled when a registry answers. Where none does
# (a closed network that reaches only package mirrors), the script builds
# stand-ins from Debian's packages and passes them as the RUST_IMAGE and
# RUNTIME_IMAGE build arguments:
# - runtime: debootstrap --variant=minbase bookworm;
# - build: the same with gcc and libc6-dev, this machine's Rust toolchain
#   (rustup's active one) under /usr/local/rustup as the official image lays
#   it out, and this machine's CA certificates (a closed network's proxy may
#   re-sign TLS to the crate registry).
# Everything else (crates, the runtime's ca-certificates) comes from the
# build's own network, as it would on any build host.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
image=${IMAGE:-cognito-bulk-reset:check}
work=${WORK:-$here/target/container-check}

log() { printf 'container-check: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

engine=${ENGINE:-}
if [[ -z $engine ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=docker
  elif command -v podman >/dev/null; then
    engine=podman
  else
    die "no container engine: install podman (apt-get install podman) or start a Docker engine"
  fi
fi
command -v "$engine" >/dev/null || die "ENGINE=$engine is not installed"

# podman as root on a host with hybrid cgroups (v1 controllers plus a v2
# mount holding a controller) fails in crun with "cgroups in hybrid mode not
# supported". In a private mount namespace without the v2 mount, crun uses
# v1 alone; the host's mounts are untouched.
if [[ $engine == podman && $(id -u) == 0 && -z ${CONTAINER_CHECK_NS:-} ]] &&
  mountpoint -q /sys/fs/cgroup/unified 2>/dev/null &&
  [[ -n $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null) ]]; then
  log "hybrid cgroups: re-running in a mount namespace without /sys/fs/cgroup/unified"
  exec unshare -m env CONTAINER_CHECK_NS=1 bash -c \
    'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi

# The engine's default limits may exceed this host's hard limits (a sandbox
# without CAP_SYS_RESOURCE cannot raise them), so containers get limits
# under the host's: its open files, and at most 8192 processes (a sandbox
# seen here refused the process limit unless it was lowered).
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)")
nproc=$(ulimit -Hu)
if [[ $nproc == unlimited || $nproc -gt 8192 ]]; then nproc=8192; else nproc=$((nproc - 1)); fi
limits+=(--ulimit "nproc=$nproc:$nproc")

mkdir -p "$work"
build_args=()
if timeout 60 "$engine" pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
  log "registry reachable: using the Dockerfile's base images"
else
  log "no registry: building base images from Debian's packages"
  command -v debootstrap >/dev/null || die "no registry and no debootstrap: apt-get install debootstrap"
  command -v rustup >/dev/null || die "no registry and no rustup: the build stand-in copies rustup's toolchain"
  mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    if [[ ! -e $work/runtime.done ]]; then
    rm -rf "$work/runtime"
    log "debootstrap runtime base from $mirror"
    debootstrap --variant=minbase bookworm "$work/runtime" "$mirror" >"$work/runtime.log" 2>&1 ||
      die "debootstrap failed: see $work/runtime.log"
    touch "$work/runtime.done"
  fi
  tar -C "$work/runtime" -c . | "$engine" import -q - localhost/cbr-base-runtime:bookworm >/dev/null
  if [[ ! -e $work/build.done ]]; then
    rm -rf "$work/build"
    log "debootstrap build base (gcc, libc6-dev) from $mirror"
    debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm \
      "$work/build" "$mirror" >"$work/build.log" 2>&1 || die "debootstrap failed: see $work/build.log"
    touch "$work/build.done"
  fi
  # The host's trust store: a closed network's proxy may re-sign TLS for the
  # crate registry, and the host trusts it.
  cp /etc/ssl/certs/ca-certificates.crt "$work/build/etc/ssl/certs/ca-certificates.crt"
  toolchain=$(rustup toolchain list | awk '/(default|active)/ {print $1; exit}')
  toolchain_dir=$(rustup run "$toolchain" rustc --print sysroot)
  log "build base gets the Rust toolchain $toolchain ($(rustup run "$toolchain" rustc --version))"
  rm -rf "$work/build/usr/local/rustup" "$work/build/usr/local/cargo"
  mkdir -p "$work/build/usr/local/rustup/toolchains" "$work/build/usr/local/cargo/bin"
  cp -a "$toolchain_dir" "$work/build/usr/local/rustup/toolchains/local"
  for tool in cargo rustc rustdoc; do
    ln -s "/usr/local/rustup/toolchains/local/bin/$tool" "$work/build/usr/local/cargo/bin/$tool"
  done
  tar -C "$work/build" -c . |
    "$engine" import -q \
      --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV CARGO_HOME=/usr/local/cargo' \
      - localhost/cbr-base-rust:bookworm >/dev/null
  build_args=(--build-arg RUST_IMAGE=localhost/cbr-base-rust:bookworm
    --build-arg RUNTIME_IMAGE=localhost/cbr-base-runtime:bookworm)
  if [[ $engine == podman ]]; then build_args+=(--pull=never); fi
fi

# The committed tree, not the working one: what is checked is what a
# clone would build.
commit=$(git rev-parse --short HEAD)
rm -rf "$work/context" && mkdir -p "$work/context"
git archive --format=tar HEAD | tar -x -C "$work/context"
log "building $image with $engine from commit $commit"
start=$(date +%s)
"$engine" build --network=host "${limits[@]}" "${build_args[@]}" -t "$image" "$work/context" >"$work.build.log" 2>&1 ||
  { tail -30 "$work.build.log" >&2; die "build failed: see $work.build.log"; }
log "built in $(($(date +%s) - start)) s"
"$engine" image ls "$image"

log "the image's user and binary"
"$engine" run --rm "${limits[@]}" --network=none --entrypoint /bin/sh "$image" \
  -c 'id; ls -l /usr/local/bin/cognito-bulk-reset'
"$engine" run --rm "${limits[@]}" --network=none "$image" --version

log "drill: no network but loopback, read-only root, a tmpfs for the temp directory"
"$engine" run --rm "${limits[@]}" --network=none --read-only --tmpfs /tmp "$image" drill
log "drill passed in the container"
