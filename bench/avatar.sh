#!/usr/bin/env bash
# Gravatar proxy cache hits, side by side in one run: visage's /avatar/{hash} vs nginx
# `proxy_cache` (bench/avatar-nginx.conf), both in front of the same stand-in Gravatar
# (bench/gravatar_standin.py), same wrk settings, same URL shape; and visage's /u/{user_id} for a
# user with an upload (a 302 to the picture, the directory lookup cached) vs nginx answering a
# static `return 302`. Each with request logs on (visage at RUST_LOG=info, nginx with an access log
# buffered as visage's is) and off. nginx is tuned as an operator would tune it (open_file_cache,
# sendfile, the same workers and cores). Contenders alternate round by round (A B C …, then … C B
# A), and each row is the median of the per-round figures, so a noisy moment on the shared machine
# hits all of them.
# Usage: bench/avatar.sh [seconds per wrk run, default 5] [rounds, default 5].
#   VISAGE_BENCH_BINARY=path measures that build of visage instead of building target/release.
# Results: bench/out/avatar.md
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-5}
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

source bench/pin.sh

work=$(mktemp -d -t visage-bench-avatar.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pidfile in "$work"/nginx-*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
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

bin=${VISAGE_BENCH_BINARY:-target/release/visage}
if [ -z "${VISAGE_BENCH_BINARY:-}" ]; then
  echo "== building (release)" >&2
  cargo build --release --quiet --bin visage
fi

# The stand-in serves a real 128 px PNG: the one visage renders for /initials/Jane%20Doe.png.
hash=$(printf 'jane.doe@example.com' | sha256sum | cut -d' ' -f1)
path="/avatar/$hash?s=128"

uport=$(free_port)
# Dev mode (loopback, no issuer): uploads need no token, so /u/ has a picture to redirect to.
start_visage() { # port, RUST_LOG
  VISAGE__SERVER__BIND="127.0.0.1:$1" VISAGE__SERVER__PUBLIC_URL="http://127.0.0.1:$1" VISAGE__SERVER__DEV=true \
    VISAGE__STORAGE__FS__ROOT="$work/data-$1" RUST_LOG="$2" \
    VISAGE__SERVER__WORKERS=$workers VISAGE__GRAVATAR__BASE_URL="http://127.0.0.1:$uport/avatar/" \
    "${pin_server[@]}" "$bin" > "$work/visage-$1.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$1/healthz"
}
start_nginx() { # port, access log (a file or off)
  mkdir -p "$work/tmp" "$work/cache-$1"
  sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$1|g" -e "s|@UPSTREAM@|127.0.0.1:$uport|g" \
    -e "s|@ACCESS_LOG@|$(nginx_log "$2")|g" -e "s|@WORKERS@|$workers|g" -e "s|@PICTURE@|$picture|g" \
    bench/avatar-nginx.conf > "$work/nginx-$1.conf"
  "${pin_server[@]}" "$NGINX" -c "$work/nginx-$1.conf" -p "$work" 2>/dev/null
}
vlog=$(free_port); start_visage "$vlog" info
vquiet=$(free_port); start_visage "$vquiet" warn
curl -sf "http://127.0.0.1:$vlog/initials/Jane%20Doe.png?size=128" -o "$work/picture.png"
python3 bench/gravatar_standin.py "$uport" "$work/picture.png" &
pids+=($!)
wait_for "http://127.0.0.1:$uport/avatar/$hash"
# A user with an upload on each visage; nginx's static 302 names the same picture's URL.
user='bench%7Cuser'
for port in "$vlog" "$vquiet"; do
  curl -sf -X POST -H 'Content-Type: image/jpeg' --data-binary @tests/fixtures/photo-astronaut.jpg \
    "http://127.0.0.1:$port/v1/users/$user/picture" -o /dev/null || { echo "upload to $port failed" >&2; exit 1; }
done
upath="/u/$user?size=128"
picture=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$vlog$upath" | sed 's/?.*//')
[ -n "$picture" ] || { echo "visage: /u/ did not redirect" >&2; exit 1; }
nlog=$(free_port); start_nginx "$nlog" "$work/nginx-access.log"
nquiet=$(free_port); start_nginx "$nquiet" off

# Warm every cache, and check each serves the upstream's bytes from its cache.
for port in "$vlog" "$vquiet" "$nlog" "$nquiet"; do
  wait_for "http://127.0.0.1:$port$path"
  for _ in 1 2 3; do curl -sf "http://127.0.0.1:$port$path" -o "$work/got.png"; done
  cmp -s "$work/got.png" "$work/picture.png" || { echo "port $port did not serve the upstream's bytes" >&2; exit 1; }
done
for port in "$vlog" "$vquiet"; do
  curl -sI "http://127.0.0.1:$port$path" | grep -qi '^x-avatar-source: gravatar' || { echo "visage: not a Gravatar hit" >&2; exit 1; }
done
for port in "$nlog" "$nquiet"; do
  curl -sI "http://127.0.0.1:$port$path" | grep -qi '^x-cache: HIT' || { echo "nginx: not a cache hit" >&2; exit 1; }
done
for port in "$vlog" "$vquiet" "$nlog" "$nquiet"; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$upath")" = 302 ] || { echo "port $port: /u/ is not a 302" >&2; exit 1; }
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== wrk -t1 -c32 -d${secs}s, $rounds rounds, contenders alternating (load average $load_before)" >&2
for round in $(seq "$rounds"); do
  for run in $(in_round_order "$round" vlog:$vlog nlog:$nlog vquiet:$vquiet nquiet:$nquiet \
      ulog:$vlog u302log:$nlog uquiet:$vquiet u302quiet:$nquiet); do
    case $run in u*) target=$upath ;; *) target=$path ;; esac
    "${pin_load[@]}" wrk -t1 -c32 -d"${secs}s" --latency "http://127.0.0.1:${run#*:}$target" > "$work/${run%%:*}-$round.txt"
  done
done
upstream_calls=0
for port in "$vlog" "$vquiet"; do
  n=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^visage_gravatar_upstream_requests_total/ { n += $2 } END { print n+0 }')
  upstream_calls=$((upstream_calls + n))
done

bytes=$(stat -c %s "$work/picture.png")
# The median over rounds of one figure (rps, or a percentile) of one contender.
over_rounds() { # contender, rps|50%|99%
  for round in $(seq "$rounds"); do
    if [ "$2" = rps ]; then rps "$work/$1-$round.txt"; else percentile "$work/$1-$round.txt" "$2"; fi
    echo
  done | median
}
row() { # label, contender
  printf '| %s | %.0f | %.3f ms | %.3f ms |\n' "$1" "$(over_rounds "$2" rps)" "$(over_rounds "$2" 50%)" "$(over_rounds "$2" 99%)"
}
# The median of the per-round throughput ratios a ÷ b.
ratio() { # a, b
  for round in $(seq "$rounds"); do
    echo "$(rps "$work/$1-$round.txt") / $(rps "$work/$2-$round.txt")" | bc -l
  done | median
}
per_round() { # a, b: each round's a ÷ b, in round order
  for round in $(seq "$rounds"); do
    printf '%.2f ' "$(echo "$(rps "$work/$1-$round.txt") / $(rps "$work/$2-$round.txt")" | bc -l)"
  done | sed 's/ $//'
}
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $setup, load average $load_before before and $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), nginx $("$NGINX" -v 2>&1 | cut -d/ -f2)"
  echo
  echo "| cache hit, 128 px PNG ($bytes bytes), wrk -t1 -c32 -d${secs}s, median of $rounds alternating rounds | requests/s | median latency | p99 latency |"
  echo "|---|---|---|---|"
  row "visage \`/avatar/{hash}\`, RUST_LOG=info (request log on)" vlog
  row "nginx \`proxy_cache\`, access log" nlog
  row "visage, RUST_LOG=warn (no request log)" vquiet
  row "nginx, access_log off" nquiet
  echo
  printf 'Throughput ratio visage ÷ nginx (median of per-round ratios): %.2f with logs, %.2f without. Upstream requests visage made in all: %s.\n' \
    "$(ratio vlog nlog)" "$(ratio vquiet nquiet)" "$upstream_calls"
  echo
  echo "Per-round ratios, with logs: $(per_round vlog nlog); without: $(per_round vquiet nquiet)."
  echo
  echo "| \`/u/{user_id}\` with an upload (302), wrk -t1 -c32 -d${secs}s, median of $rounds alternating rounds | requests/s | median latency | p99 latency |"
  echo "|---|---|---|---|"
  row "visage \`/u/{user_id}\`, request log on" ulog
  row "nginx \`return 302\`, access log" u302log
  row "visage \`/u/{user_id}\`, request log off" uquiet
  row "nginx \`return 302\`, access_log off" u302quiet
  echo
  printf 'Throughput ratio visage ÷ nginx on /u/: %.2f with logs, %.2f without. Per-round ratios, with logs: %s; without: %s.\n' \
    "$(ratio ulog u302log)" "$(ratio uquiet u302quiet)" "$(per_round ulog u302log)" "$(per_round uquiet u302quiet)"
} > "$work/report.md"
mkdir -p bench/out
cp "$work/report.md" bench/out/avatar.md
cat bench/out/avatar.md
