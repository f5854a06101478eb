#!/usr/bin/env bash
# The resolution of the hot-path comparisons on this machine: an A/A run. Two identical nginx
# servers (the same file, the same configuration as bench/initials.sh's, access log off) go through
# the same procedure as visage vs nginx (pinned, wrk -t1 -c32, rounds alternating in A B, B A
# order); any ratio other than 1.00 is the machine's noise, not a difference between servers.
# Usage: bench/noise.sh [seconds per wrk run, default 4] [rounds, default 11]. Results: bench/out/noise.md
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-4}
rounds=${2:-11}
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is missing (apt-get install nginx-light)" >&2; exit 2; }
source bench/pin.sh

work=$(mktemp -d -t visage-bench-noise.XXXXXX)
chmod 755 "$work"
cleanup() {
  for pidfile in "$work"/nginx-*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; done; true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rps() { awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$1"; }
# wrk's 99th percentile in milliseconds.
p99() {
  awk '$1=="99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.3f", v }' "$1"
}
p99_median() { for round in $(seq "$rounds"); do p99 "$work/$1-$round.txt"; echo; done | median; }

mkdir -p "$work/static" "$work/tmp"
# Any 821 bytes do: the servers never look inside.
head -c 821 /dev/urandom > "$work/static/jane.png"
chmod -R a+rX "$work/static"
source bench/static-nginx.sh
aport=$(free_port); start_nginx "$aport" off
bport=$(free_port); start_nginx "$bport" off

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== A/A: nginx vs nginx, $rounds rounds of ${secs}s (load average $load_before)" >&2
for round in $(seq "$rounds"); do
  for run in $(in_round_order "$round" a:$aport b:$bport); do
    "${pin_load[@]}" wrk -t1 -c32 -d"${secs}s" --latency "http://127.0.0.1:${run#*:}/jane.png" > "$work/${run%%:*}-$round.txt"
  done
done
ratios=$(for round in $(seq "$rounds"); do
  printf '%.2f\n' "$(echo "$(rps "$work/a-$round.txt") / $(rps "$work/b-$round.txt")" | bc -l)"
done)
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $setup, load average $load_before before and $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  echo "A/A, two identical nginx, wrk -t1 -c32 -d${secs}s, $rounds rounds: median of per-round ratios" \
    "$(echo "$ratios" | median | xargs printf '%.2f'), from $(echo "$ratios" | sort -g | head -1) to $(echo "$ratios" | sort -g | tail -1)."
  echo
  echo "p99 latency, median over rounds: A $(p99_median a) ms, B $(p99_median b) ms."
  echo
  echo "Per-round ratios: $(echo "$ratios" | xargs)."
} > "$work/report.md"
mkdir -p bench/out
cp "$work/report.md" bench/out/noise.md
cat bench/out/noise.md
