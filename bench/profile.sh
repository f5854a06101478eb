#!/usr/bin/env bash
# Where a cache hit's time goes: `perf record` on the release build while wrk hits a cached
# `/avatar/{hash}` (stand-in Gravatar) and a cached `/initials/…`, with the request log on
# (RUST_LOG=info) and off (warn). Prints each profile's top entries by self time, and the same
# time summed by crate (bench/perf-by-crate.py: the kernel, libc, actix-http, tokio, visage, …).
# Usage: bench/profile.sh [seconds per profile, default 5] [binary, default target/release/visage]
# Results: bench/out/profile.md. Needs perf (linux-perf) and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
bin=${2:-target/release/visage}
top=${TOP:-15}
export PATH="$HOME/.cargo/bin:$PATH"
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 2; }
[ "$bin" != target/release/visage ] || cargo build --release --quiet --bin visage

work=$(mktemp -d -t visage-profile.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -sf "$1" -o /dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

hash=$(printf 'jane.doe@example.com' | sha256sum | cut -d' ' -f1)
uport=$(free_port)
start_visage() { # port, RUST_LOG
  VISAGE__SERVER__BIND="127.0.0.1:$1" VISAGE__STORAGE__FS__ROOT="$work/data-$1" RUST_LOG="$2" \
    VISAGE__SERVER__WORKERS=2 VISAGE__GRAVATAR__BASE_URL="http://127.0.0.1:$uport/avatar/" \
    "$bin" > "$work/visage-$1.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$1/healthz"
}
vlog=$(free_port); start_visage "$vlog" info
vquiet=$(free_port); start_visage "$vquiet" warn
curl -sf "http://127.0.0.1:$vlog/initials/Jane%20Doe.png?size=128" -o "$work/picture.png"
python3 bench/gravatar_standin.py "$uport" "$work/picture.png" &
pids+=($!)
wait_for "http://127.0.0.1:$uport/avatar/$hash"

profile() { # label, port, path
  local pid
  pid=$(ss -ltnpH "sport = :$2" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  for _ in 1 2 3; do curl -sf "http://127.0.0.1:$2$3" -o /dev/null; done
  wrk -t1 -c32 -d"$((secs + 2))s" "http://127.0.0.1:$2$3" > "$work/wrk.txt" &
  local load=$!
  sleep 1
  perf record -q -F 999 -p "$pid" -o "$work/perf.data" -- sleep "$secs" 2>/dev/null
  wait "$load"
  echo "### $1"
  echo
  echo "\`$3\`, wrk -t1 -c32: $(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$work/wrk.txt") requests/s while profiled. Top $top by self time:"
  echo
  echo '```'
  perf report -i "$work/perf.data" --no-children --sort symbol --stdio > "$work/perf.txt" 2>/dev/null
  grep -E "^ +[0-9]" "$work/perf.txt" | sed -E "s/ {2,}/  /g; s/ +\$//" | sed -E "s/  -  -\$//" | cut -c1-150 | head -"$top" || true
  echo '```'
  echo
  echo "By crate (self time): $(python3 bench/perf-by-crate.py 10 < "$work/perf.txt" | paste -sd, | sed 's/,/, /g')."
  echo
}
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average $(cut -d' ' -f1-3 /proc/loadavg) before, binary $bin"
  echo
  profile "/avatar hit, request log on" "$vlog" "/avatar/$hash?s=128"
  profile "/avatar hit, request log off" "$vquiet" "/avatar/$hash?s=128"
  profile "/initials cached, request log on" "$vlog" "/initials/Jane%20Doe.png?size=128"
  profile "/initials cached, request log off" "$vquiet" "/initials/Jane%20Doe.png?size=128"
} > "$work/report.md"
mkdir -p bench/out
cp "$work/report.md" bench/out/profile.md
cat bench/out/profile.md
