#!/usr/bin/env bash
# End-to-end upload benchmark: POST a 12 MP and a 2 MP photo through HTTP (RS256 token checked
# against a JWKS), the pipeline, Garage (S3) and the Auth0 write-back (a local stand-in), next to
# sharp's pipeline alone on the same files, in one run. Then peak memory (VmHWM): four concurrent
# 12 MP uploads, and pixel-flood uploads on a fresh process.
# Usage: bench/upload.sh [RUNS]   (default 15; prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
work=$(mktemp -d -t visage-bench-upload.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/garage.sh stop "$work/garage" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }

bin=${VISAGE_BENCH_BINARY:-target/release/visage} # VISAGE_BENCH_BINARY=path measures that build
[ -n "${VISAGE_BENCH_BINARY:-}" ] || cargo build --release --quiet
mkdir -p bench/out
for spec in "4000 3000 photo-12mp.jpg" "1600 1200 photo-2mp.jpg"; do
  set -- $spec
  [ -f "bench/out/$3" ] || python3 scripts/make-fixtures.py --photo "$1" "$2" "bench/out/$3"
done

log "starting Garage and the Auth0 stand-in"
eval "$(scripts/garage.sh start "$work/garage")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tenant_port=$(free_port)
python3 bench/upload-standin.py "$tenant_port" tests/fixtures/keys/tenant.jwks.json &
pids+=($!)
issuer="http://127.0.0.1:$tenant_port/"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT","kid":"tenant-key-1"}' | b64url)
payload=$(printf '{"iss":"%s","aud":"https://visage.bench/api","sub":"bench@clients","azp":"bench","gty":"client-credentials","scope":"write:avatars","iat":%d,"exp":%d}' \
  "$issuer" "$now" "$((now + 7200))" | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign tests/fixtures/keys/tenant.pem | b64url)
token="$header.$payload.$signature"

# Starts visage on a free port with everything on; sets $visage_pid and $base.
start_visage() {
  local port; port=$(free_port)
  VISAGE__SERVER__BIND="127.0.0.1:$port" VISAGE__SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
  VISAGE__SERVER__LOG_FORMAT=text RUST_LOG=warn \
  VISAGE__STORAGE__BACKEND=s3 VISAGE__STORAGE__S3__ENDPOINT="$VISAGE_TEST_S3_ENDPOINT" \
  VISAGE__STORAGE__S3__REGION="${VISAGE_TEST_S3_REGION:-garage}" VISAGE__STORAGE__S3__BUCKET="$VISAGE_TEST_S3_BUCKET" \
  VISAGE__STORAGE__S3__ACCESS_KEY_ID="$VISAGE_TEST_S3_ACCESS_KEY_ID" \
  VISAGE__STORAGE__S3__SECRET_ACCESS_KEY="$VISAGE_TEST_S3_SECRET_ACCESS_KEY" \
  VISAGE__AUTH__ISSUER="$issuer" VISAGE__AUTH__AUDIENCE="https://visage.bench/api" \
  VISAGE__AUTH0__MANAGEMENT__BASE_URL="http://127.0.0.1:$tenant_port" \
  VISAGE__AUTH0__MANAGEMENT__CLIENT_ID=bench VISAGE__AUTH0__MANAGEMENT__CLIENT_SECRET=bench \
    "$bin" >"$work/visage.log" 2>&1 &
  visage_pid=$!
  pids+=("$visage_pid")
  base="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fs "$base/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "visage did not become ready:" >&2; cat "$work/visage.log" >&2; exit 1
}
# POST FILE as user $2; prints "status seconds".
upload() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H "authorization: Bearer $token" \
    -H 'content-type: image/jpeg' --data-binary "@$1" "$base/v1/users/bench%7C$2/picture"
}
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m*1000}'; }
hwm_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# Per upload, each upstream call's mean time, from visage's own histogram
# (visage_upstream_request_duration_seconds): the difference of two scrapes over $2 uploads.
upstream_split() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys
def sums(path):
    out = {}
    for line in open(path):
        m = re.match(r'visage_upstream_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            key = (labels["upstream"], labels["operation"], labels["outcome"])
            out.setdefault(key, {})[m.group(1)] = float(m.group(3))
    return out
before, after, uploads = sums(sys.argv[1]), sums(sys.argv[2]), int(sys.argv[3])
total = 0.0
for key in sorted(after):
    calls = after[key].get("count", 0) - before.get(key, {}).get("count", 0)
    secs = after[key].get("sum", 0) - before.get(key, {}).get("sum", 0)
    if calls:
        total += secs
        print(f"{'/'.join(key)} {calls / uploads:.2f} {secs / uploads * 1000:.2f}")
print(f"total - {total / uploads * 1000:.2f}")
PY
}

start_visage
declare -A e2e split
for photo in photo-12mp.jpg photo-2mp.jpg; do
  upload "bench/out/$photo" "warm-$photo" >/dev/null
  curl -fs "$base/metrics" >"$work/metrics-before"
  times=()
  for i in $(seq "$runs"); do
    # A new user each time, so every run stores a new object (a repeat would skip the PUT).
    read -r status secs < <(upload "bench/out/$photo" "$RANDOM$i")
    [ "$status" = 201 ] || { echo "upload answered $status" >&2; cat "$work/visage.log" >&2; exit 1; }
    times+=("$secs")
  done
  e2e[$photo]=$(printf '%s\n' "${times[@]}" | median)
  curl -fs "$base/metrics" >"$work/metrics-after"
  split[$photo]=$(upstream_split "$work/metrics-before" "$work/metrics-after" "$runs")
done
kill "$visage_pid"; wait "$visage_pid" 2>/dev/null || true

declare -A sharp_ms
if [ -f bench/pipeline-sharp.mjs ] && [ -f bench/package.json ]; then
  [ -d bench/node_modules/sharp ] || (cd bench && npm install --silent)
  for photo in photo-12mp.jpg photo-2mp.jpg; do
    sharp_ms[$photo]=$(node bench/pipeline-sharp.mjs "bench/out/$photo" "$runs" | awk '{print $3}')
  done
fi

log "memory: four concurrent 12 MP uploads"
start_visage
curl -fs "$base/healthz" >/dev/null
idle=$(rss_mb "$visage_pid")
for i in 1 2 3 4; do upload bench/out/photo-12mp.jpg "mem$i-$RANDOM" >"$work/c$i" & done
wait $(jobs -p | grep -v -e "${pids[0]}" -e "$visage_pid") 2>/dev/null || true
for i in 1 2 3 4; do read -r s _ <"$work/c$i"; [ "$s" = 201 ] || { echo "concurrent upload $i: $s" >&2; exit 1; }; done
four=$(hwm_mb "$visage_pid")
kill "$visage_pid"; wait "$visage_pid" 2>/dev/null || true

log "memory: pixel floods"
start_visage
curl -fs "$base/healthz" >/dev/null
before=$(hwm_mb "$visage_pid")
for flood in pixel-flood-100000.png sof-65500.jpg; do
  read -r s _ < <(upload "tests/fixtures/$flood" "flood-$RANDOM")
  [ "$s" = 422 ] || { echo "$flood answered $s, expected 422" >&2; exit 1; }
done
after=$(hwm_mb "$visage_pid")
kill "$visage_pid"; wait "$visage_pid" 2>/dev/null || true

ratio() { [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}' || printf 'n/a'; }
echo "| photo | upload end to end (HTTP + RS256 + pipeline + Garage + write-back), median ms | sharp pipeline alone, median ms | ratio |"
echo "|---|---:|---:|---:|"
for photo in photo-12mp.jpg photo-2mp.jpg; do
  echo "| $photo | ${e2e[$photo]} | ${sharp_ms[$photo]:-n/a} | $(ratio "${e2e[$photo]}" "${sharp_ms[$photo]:-}") |"
done
echo
echo "Where the time outside the pipeline goes: each upstream call an upload makes, in order of"
echo "label, with calls per upload and mean milliseconds per upload (visage's own histogram):"
echo
echo "| photo | upstream / operation / outcome | calls per upload | ms per upload |"
echo "|---|---|---:|---:|"
for photo in photo-12mp.jpg photo-2mp.jpg; do
  while read -r what calls ms; do
    echo "| $photo | $what | $calls | $ms |"
  done <<<"${split[$photo]}"
done
echo
echo "| memory (visage process, VmHWM) | MB |"
echo "|---|---:|"
echo "| idle after start | $idle |"
echo "| peak, four concurrent 12 MP uploads | $four |"
echo "| peak before pixel floods | $before |"
echo "| peak after a 100000×100000 PNG and a 65500×65500 JPEG (both 422) | $after (+$((after - before))) |"
