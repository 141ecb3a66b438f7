#!/usr/bin/env bash
# Docker for the docker-marked tests, on a fresh Debian/Ubuntu machine, as root (idempotent):
#  1. install docker.io, docker-compose and debootstrap when missing;
#  2. start dockerd detached when no engine answers (CI machines have no systemd) and wait;
#  3. build the images offline: `pgstampede images build --offline` makes the base images
#     debian:bookworm-slim and debian:trixie-slim (for pgstampede/pgbouncer-trixie, PgBouncer
#     1.24) with debootstrap (no registry needed), then every image in compose/.
# The engine it starts keeps running for the tests; its pid is in $DOCKERD_PIDFILE
# (stop it with: kill "$(cat /tmp/pgstampede-dockerd.pid)"). About 3 minutes from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
PY="${PYTHON:-.venv/bin/python}"
DOCKERD_PIDFILE="${DOCKERD_PIDFILE:-/tmp/pgstampede-dockerd.pid}"
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/pgstampede-dockerd.log}"
began=$(date +%s)
step() { echo "== docker-setup: $* ($(( $(date +%s) - began )) s)"; }

need=""
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v docker-compose >/dev/null 2>&1 || need="$need docker-compose"
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
if [ -n "$need" ]; then
  step "installing$need"
  apt-get update -q
  apt-get install -y -q --no-install-recommends $need
fi

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if engine_up; then
  step "engine already running"
else
  step "starting dockerd (log: $DOCKERD_LOG)"
  (setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null & echo $! >"$DOCKERD_PIDFILE")
  for _ in $(seq 1 60); do engine_up && break; sleep 1; done
  if ! engine_up; then
    echo "dockerd did not start; the end of its log:" >&2
    tail -n 20 "$DOCKERD_LOG" >&2
    exit 1
  fi
  step "engine $(docker version --format '{{.Server.Version}}') ready"
fi

[ -x "$PY" ] || make setup
"$PY" -m harness images build --offline
step "images built"
