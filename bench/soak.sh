#!/usr/bin/env bash
# Soak: a release visage (dev mode, folder store, a stand-in Gravatar) under steady mixed traffic
# for a long time, sampling RSS, open fds and latency every 5 s. Not in CI.
# Usage: bench/soak.sh [SECONDS] [RATE]   (default 1800 s at 30 requests/s)
#   VISAGE_SOAK_PROFILE=dev soaks the dev build (dependencies optimized, visage itself not) when a
#   release build is not at hand; leaks and 5xx show the same, latencies are higher.
# Writes bench/out/soak-STAMP.csv and a chart bench/out/soak-STAMP.png (matplotlib, from PyPI).
# Pass: no RSS or fd growth after warm-up, zero 5xx.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
rate=${2:-30}
work=$(mktemp -d -t visage-soak.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet matplotlib

profile=${VISAGE_SOAK_PROFILE:-release}
cargo build --profile "$profile" --quiet
binary=target/$([ "$profile" = dev ] && echo debug || echo "$profile")/visage
mkdir -p bench/out
stamp=$(date -u +%Y%m%dT%H%M%SZ)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gravatar_port=$(free_port)
python3 bench/soak.py standin "$gravatar_port" tests/fixtures/opaque-rgba.png &
pids+=($!)
port=$(free_port)
VISAGE__SERVER__BIND="127.0.0.1:$port" VISAGE__SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
VISAGE__SERVER__DEV=true RUST_LOG=info \
VISAGE__STORAGE__FS__ROOT="$work/data" \
VISAGE__GRAVATAR__BASE_URL="http://127.0.0.1:$gravatar_port/avatar/" \
  "$binary" >"$work/visage.log" 2>&1 &
visage_pid=$!
pids+=("$visage_pid")
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
log "soaking $base (pid $visage_pid, $profile build) for ${seconds}s at ${rate} req/s"
python3 bench/soak.py load "$base" "$visage_pid" "$seconds" "$rate" "bench/out/soak-$stamp.csv" \
  tests/fixtures/orientation-1.jpg tests/fixtures/orientation-6.jpg tests/fixtures/small-100.jpg \
  tests/fixtures/grey-alpha.png tests/fixtures/quadrants.webp tests/fixtures/progressive.jpg
python3 bench/soak.py chart "bench/out/soak-$stamp.csv" "bench/out/soak-$stamp.png"
warmup=$(( seconds / 6 < 300 ? seconds / 6 : 300 ))
python3 bench/soak.py summary "bench/out/soak-$stamp.csv" "$warmup"
echo "visage log lines with \"error\" or \"panic\": $(grep -ciE 'panic|error' "$work/visage.log" || true)"
log "wrote bench/out/soak-$stamp.csv and bench/out/soak-$stamp.png"
