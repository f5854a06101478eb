#!/usr/bin/env bash
# `visage import` throughput, in users per minute: an Auth0 export (JSON Lines) whose pictures
# sit on a local legacy host (real photos, 250-500 px), stored in a one-node Garage (S3) and
# written back to a local Management API stand-in (bench/import-standin.py), three ways:
#   - no rate limit: what the pipeline (fetch, decode, resize, encode, PUT, PATCH) allows;
#   - Auth0's free tier, about 2 Management API requests a second (burst 10);
#   - a higher paid-tier limit, modelled as 15 requests a second (burst 30).
# Usage: bench/import.sh [USERS] [CONCURRENCY]   (defaults 1000 and 4, the command's default;
# the rate-limited runs take USERS/5 and USERS/2 users, so they end in minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-1000}
concurrency=${2:-4}
work=$(mktemp -d -t visage-bench-import.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/garage.sh stop "$work/garage" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bin=${VISAGE_BENCH_BINARY:-target/release/visage} # VISAGE_BENCH_BINARY=path measures that build
[ -n "${VISAGE_BENCH_BINARY:-}" ] || cargo build --release --quiet
log "starting Garage and the legacy picture host"
eval "$(scripts/garage.sh start "$work/garage")"
mkdir -p "$work/legacy"
pictures=(photo-coffee.jpg photo-chelsea.jpg photo-astronaut.jpg small-100.jpg progressive.jpg greyscale.jpg)
for p in "${pictures[@]}"; do cp "tests/fixtures/$p" "$work/legacy/"; done
legacy_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$work/legacy" "$legacy_port" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$legacy_port/small-100.jpg" >/dev/null && break; sleep 0.1; done

# run NAME USERS [RATE BURST]: prints "NAME|users|seconds|users per minute|PATCHes|429s".
run() {
  local name=$1 count=$2 rate=${3:-0} burst=${4:-1} port standin export out
  port=$(free_port)
  python3 bench/import-standin.py "$port" "$rate" "$burst" 2>"$work/standin-$name.txt" &
  standin=$!
  for _ in $(seq 50); do curl -s -o /dev/null -X POST "http://127.0.0.1:$port/oauth/token" && break; sleep 0.1; done
  export="$work/$name.json"
  for i in $(seq "$count"); do
    p=${pictures[$((i % ${#pictures[@]}))]}
    printf '{"user_id":"auth0|%s-%d","email":"u%d@example.com","picture":"https://s.gravatar.com/avatar/%032x?d=https%%3A%%2F%%2Fcdn.auth0.com%%2Favatars%%2Fu.png","user_metadata":{"picture":"http://127.0.0.1:%d/%s?u=%d"}}\n' \
      "$name" "$i" "$i" "$i" "$legacy_port" "$p" "$i"
  done >"$export"
  log "$name: $count users, concurrency $concurrency"
  out=$(VISAGE__SERVER__PUBLIC_URL="https://avatars.bench.example" VISAGE__SERVER__LOG_FORMAT=text RUST_LOG=warn \
    VISAGE__STORAGE__BACKEND=s3 VISAGE__STORAGE__S3__ENDPOINT="$VISAGE_TEST_S3_ENDPOINT" \
    VISAGE__STORAGE__S3__REGION="${VISAGE_TEST_S3_REGION:-garage}" VISAGE__STORAGE__S3__BUCKET="$VISAGE_TEST_S3_BUCKET" \
    VISAGE__STORAGE__S3__ACCESS_KEY_ID="$VISAGE_TEST_S3_ACCESS_KEY_ID" \
    VISAGE__STORAGE__S3__SECRET_ACCESS_KEY="$VISAGE_TEST_S3_SECRET_ACCESS_KEY" \
    VISAGE__AUTH0__MANAGEMENT__BASE_URL="http://127.0.0.1:$port" \
    VISAGE__AUTH0__MANAGEMENT__CLIENT_ID=bench VISAGE__AUTH0__MANAGEMENT__CLIENT_SECRET=bench \
    "$bin" import --allow-host 127.0.0.1 --concurrency "$concurrency" "$export" \
    2>&1 >"$work/$name.lines" | grep '^visage import' || true)
  kill "$standin"; wait "$standin" 2>/dev/null || true
  local imported; imported=$(grep -c '"status":"imported"' "$work/$name.lines" || true)
  [ "$imported" = "$count" ] || { echo "$name: $imported of $count imported: $out" >&2; exit 1; }
  # "visage import: N users in S s (R users/min): …"
  local secs rate_min
  secs=$(sed -E 's/.* users in ([0-9.]+) s .*/\1/' <<<"$out")
  rate_min=$(sed -E 's/.*\(([0-9]+) users\/min\).*/\1/' <<<"$out")
  local counts; counts=$(cat "$work/standin-$name.txt")
  echo "$name|$count|$secs|$rate_min|$(sed -E 's/patches=([0-9]+) limited=([0-9]+)/\1|\2/' <<<"$counts")"
}

rows=()
rows+=("$(run unlimited "$users")")
rows+=("$(run free-2rps "$((users / 5))" 2 10)")
rows+=("$(run paid-15rps "$((users / 2))" 15 30)")
echo "| Management API limit | users | seconds | users per minute | PATCHes landed | 429s answered |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "${rows[@]}"; do
  IFS='|' read -r name count secs per_min patches limited <<<"$row"
  echo "| $name | $count | $secs | $per_min | $patches | $limited |"
done
