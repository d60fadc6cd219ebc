#!/usr/bin/env bash
# Builds the container image (deploy/Dockerfile) with docker or podman and
# smoke-tests it: the image runs as nonroot, refuses to listen beyond
# loopback without API keys, answers /readyz 200 within 30 s on a port
# published on 127.0.0.1 only, turns healthy by its own HEALTHCHECK and
# stops cleanly (exit 0) on SIGTERM. The container is removed either way.
#
# Where no container tool is present and usable (`info` fails: no daemon,
# no permission), it says so in one line and exits 0, so CI can call it
# unconditionally. IMAGE names the image (default baconator:dev).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-baconator:dev}
say() { echo "build-image: $*"; }

tool="" why=""
for t in docker podman; do
  if ! command -v "$t" >/dev/null 2>&1; then
    continue
  fi
  if timeout 20 "$t" info >/dev/null 2>&1; then
    tool=$t
    break
  fi
  why="${why:+$why; }$t is installed but '$t info' fails (no daemon or no access)"
done
if [ -z "$tool" ]; then
  say "skipped: ${why:-neither docker nor podman is installed}"
  exit 0
fi

# What the build is from, for the image's labels (the build context has no
# .git, so the binary itself cannot tell).
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)

build=("$tool" build --pull -f deploy/Dockerfile -t "$image"
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision")
if [ "$tool" = podman ]; then
  build+=(--format docker) # OCI images drop HEALTHCHECK
fi
say "$tool: building $image ($version)"
DOCKER_BUILDKIT=1 "${build[@]}" .

user=$("$tool" image inspect --format '{{.Config.User}}' "$image")
if [ "$user" != "65532:65532" ]; then
  say "FAIL: the image runs as '$user', not 65532:65532"
  exit 1
fi

name="baconator-smoke-$$"
cleanup() { "$tool" rm -f "$name" "$name-nokeys" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# No API keys: the server must refuse 0.0.0.0 and exit 2 (a usage error).
set +e
timeout 30 "$tool" run --name "$name-nokeys" "$image" >/dev/null 2>&1
code=$?
set -e
if [ "$code" != 2 ]; then
  say "FAIL: without API keys the container exited $code, want 2 (it must refuse to listen beyond loopback)"
  exit 1
fi
key="smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$tool" run -d --name "$name" -p 127.0.0.1::8080 \
  -e "BACONATOR_API_KEYS=$key:viewer" -e BACONATOR_SEED_PALLETS=20 "$image" >/dev/null
hostport=$("$tool" port "$name" 8080/tcp | grep -m1 '^127\.0\.0\.1:' || true)
if [ -z "$hostport" ]; then
  say "FAIL: port 8080 is not published on 127.0.0.1: $("$tool" port "$name" 8080/tcp 2>&1 | tr '\n' ' ')"
  exit 1
fi

fail() {
  say "FAIL: $*; the container's log:"
  "$tool" logs "$name" 2>&1 | tail -n 30
  exit 1
}
running() { [ "$("$tool" inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; }
readyz() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 2 "http://$hostport/readyz" >/dev/null 2>&1
  else
    "$tool" exec "$name" /usr/local/bin/healthprobe -timeout 2s >/dev/null 2>&1
  fi
}

deadline=$((SECONDS + 30))
until readyz; do
  running || fail "the container exited"
  [ "$SECONDS" -lt "$deadline" ] || fail "/readyz not 200 within 30 s"
  sleep 1
done
say "/readyz 200 on http://$hostport"

# The HEALTHCHECK's first probe runs one interval (15 s) after the start.
# Podman runs health checks from systemd timers, absent in CI: run it.
if [ "$tool" = podman ]; then
  "$tool" healthcheck run "$name" || fail "podman healthcheck run failed"
  say "HEALTHCHECK passes"
else
  deadline=$((SECONDS + 30))
  while :; do
    health=$("$tool" inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$name")
    case "$health" in
      healthy) break ;;
      none | unhealthy) fail "health status $health" ;;
    esac
    running || fail "the container exited"
    [ "$SECONDS" -lt "$deadline" ] || fail "not healthy within 30 s (status $health)"
    sleep 1
  done
  say "HEALTHCHECK status healthy"
fi

# SIGTERM drains and exits 0; the bound is the Dockerfile's advice.
"$tool" stop -t 75 "$name" >/dev/null
code=$("$tool" inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "stopped with exit code $code, want 0"
say "OK: $image built, ready, healthy, stopped cleanly"
