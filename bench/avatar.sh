#!/usr/bin/env bash
# Gravatar proxy cache hits, side by side in one run: visage's /avatar/{hash} vs nginx
# `proxy_cache` (bench/avatar-nginx.conf), both in front of the same stand-in Gravatar
# (bench/gravatar_standin.py), same wrk settings, same URL shape.
# Usage: bench/avatar.sh [seconds per wrk run, default 10]. Results: bench/out/avatar.md
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
export PATH="$HOME/.cargo/bin:$PATH"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d -t visage-bench-avatar.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wrk's latency percentile in milliseconds.
percentile() { # file, label (50%)
  awk -v p="$2" '$1==p { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.3f", v }' "$1"
}
rps() { awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$1"; }
wait_for() { for _ in $(seq 100); do curl -sf "$1" -o /dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

echo "== building (release)" >&2
cargo build --release --quiet --bin visage

# The upstream's picture: a real 128 px PNG (the initials renderer's, via the binary below).
hash=$(printf 'jane.doe@example.com' | sha256sum | cut -d' ' -f1)
path="/avatar/$hash?s=128"

uport=$(free_port); vport=$(free_port); nport=$(free_port)
VISAGE__SERVER__BIND="127.0.0.1:$vport" VISAGE__STORAGE__FS__ROOT="$work/data" \
  VISAGE__SERVER__WORKERS=2 VISAGE__GRAVATAR__BASE_URL="http://127.0.0.1:$uport/avatar/" \
  target/release/visage > "$work/visage.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$vport/healthz"
curl -sf "http://127.0.0.1:$vport/initials/Jane%20Doe.png?size=128" -o "$work/picture.png"
python3 bench/gravatar_standin.py "$uport" "$work/picture.png" &
pids+=($!)
wait_for "http://127.0.0.1:$uport/avatar/$hash"

mkdir -p "$work/tmp" "$work/cache"
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$nport|g" -e "s|@UPSTREAM@|127.0.0.1:$uport|g" \
  bench/avatar-nginx.conf > "$work/nginx.conf"
"$NGINX" -c "$work/nginx.conf" -p "$work" 2>/dev/null
wait_for "http://127.0.0.1:$nport$path"

# Warm both caches, and check each serves the upstream's bytes from its cache.
for _ in 1 2 3; do
  curl -sf "http://127.0.0.1:$vport$path" -o "$work/visage.png"
  curl -sf "http://127.0.0.1:$nport$path" -o "$work/nginx.png"
done
cmp -s "$work/visage.png" "$work/picture.png" || { echo "visage did not serve the upstream's bytes" >&2; exit 1; }
cmp -s "$work/nginx.png" "$work/picture.png" || { echo "nginx did not serve the upstream's bytes" >&2; exit 1; }
curl -sI "http://127.0.0.1:$vport$path" | grep -qi '^x-avatar-source: gravatar' || { echo "visage: not a Gravatar hit" >&2; exit 1; }
curl -sI "http://127.0.0.1:$nport$path" | grep -qi '^x-cache: HIT' || { echo "nginx: not a cache hit" >&2; exit 1; }

echo "== wrk -t1 -c32 -d${secs}s: visage, then nginx" >&2
wrk -t1 -c32 -d"${secs}s" --latency "http://127.0.0.1:$vport$path" > "$work/visage.txt"
wrk -t1 -c32 -d"${secs}s" --latency "http://127.0.0.1:$nport$path" > "$work/nginx.txt"
upstream_calls=$(curl -sf "http://127.0.0.1:$vport/metrics" | awk '/^visage_gravatar_upstream_requests_total/ { n += $2 } END { print n+0 }')

bytes=$(stat -c %s "$work/picture.png")
v=$(rps "$work/visage.txt"); n=$(rps "$work/nginx.txt")
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), nginx $("$NGINX" -v 2>&1 | cut -d/ -f2)"
  echo
  echo "| cache hit, 128 px PNG ($bytes bytes), wrk -t1 -c32 -d${secs}s | requests/s | median latency | p99 latency |"
  echo "|---|---|---|---|"
  echo "| visage \`/avatar/{hash}\` (2 workers, info logs) | $v | $(percentile "$work/visage.txt" 50%) ms | $(percentile "$work/visage.txt" 99%) ms |"
  echo "| nginx \`proxy_cache\` (2 workers, access log) | $n | $(percentile "$work/nginx.txt" 50%) ms | $(percentile "$work/nginx.txt" 99%) ms |"
  echo
  printf 'Throughput ratio visage ÷ nginx: %.2f. Upstream requests made by visage during the run: %s.\n' "$(echo "$v / $n" | bc -l)" "$upstream_calls"
} > "$work/report.md"
mkdir -p bench/out
cp "$work/report.md" bench/out/avatar.md
cat bench/out/avatar.md
