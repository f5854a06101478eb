#!/usr/bin/env bash
# Initials placeholders, side by side in one run:
#   1. DiceBear `initials` + @dicebear/converter toPng, in process (bench/initials.mjs);
#   2. visage's cold render in process (criterion, benches/initials.rs);
#   3. visage's cold render through HTTP (wrk, one connection, a new picture on every request);
#   4. cached pictures under wrk load: visage vs nginx serving a static file of the same bytes,
#      with each one's request log on (the defaults: visage's JSON line, nginx's access_log) and
#      with both off (RUST_LOG=warn, access_log off).
# Usage: bench/initials.sh [seconds per wrk run, default 10] [rounds of the cached runs, default 5].
#   VISAGE_BENCH_BINARY=path measures that build of visage instead of building target/release.
# Results: bench/out/initials.md
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-5}
export PATH="$HOME/.cargo/bin:$PATH"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v node >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -d bench/node_modules/@dicebear/converter ] || (cd bench && npm install --no-audit --no-fund)

source bench/pin.sh

work=$(mktemp -d -t visage-bench-initials.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pidfile in "$work"/nginx-*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; done; true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wrk's latency percentiles in milliseconds.
percentile() { # file, percentile label (50%)
  awk -v p="$2" '$1==p { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.3f", v }' "$1"
}
rps() { awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$1"; }

bin=${VISAGE_BENCH_BINARY:-target/release/visage}
if [ -z "${VISAGE_BENCH_BINARY:-}" ]; then
  echo "== building (release)" >&2
  cargo build --release --quiet
fi

echo "== DiceBear in process" >&2
node bench/initials.mjs 64,128,512 200 > "$work/dicebear.jsonl"
dicebear() { node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse); const r=l.find(x=>x.size==process.argv[2]); console.log(r[process.argv[3]])' "$work/dicebear.jsonl" "$1" "$2"; }

echo "== visage in process (criterion)" >&2
cargo bench --quiet --bench initials -- --warm-up-time 1 --measurement-time 4 'initials_cold_render/png/' > "$work/criterion.txt" 2>&1
criterion() { node -e 'const e=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log((e.median.point_estimate/1e6).toFixed(3))' "target/criterion/initials_cold_render/png/$1/new/estimates.json"; }

echo "== visage through HTTP" >&2
start_visage() { # port, RUST_LOG
  VISAGE__SERVER__BIND="127.0.0.1:$1" VISAGE__STORAGE__FS__ROOT="$work/data-$1" RUST_LOG="$2" \
    VISAGE__SERVER__WORKERS=$workers "${pin_server[@]}" "$bin" > "$work/visage-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && break; sleep 0.1; done
}
port=$(free_port)
start_visage "$port" info
offset=0
for size in 64 128 512; do
  SIZE=$size OFFSET=$offset "${pin_load[@]}" wrk -t1 -c1 -d"${secs}s" --latency -s bench/initials-cold.lua \
    "http://127.0.0.1:$port" > "$work/cold-$size.txt"
  offset=$((offset + 4000000))
done

echo "== cached: visage vs nginx" >&2
mkdir -p "$work/static"
curl -sf "http://127.0.0.1:$port/initials/Jane%20Doe.png?size=128" -o "$work/static/jane.png"
chmod -R a+rX "$work/static"
bytes=$(stat -c %s "$work/static/jane.png")
source bench/static-nginx.sh
mkdir -p "$work/tmp"
nport=$(free_port); start_nginx "$nport" "$work/nginx-access.log"
qport=$(free_port); start_visage "$qport" warn
nqport=$(free_port); start_nginx "$nqport" off
curl -sf "http://127.0.0.1:$qport/initials/Jane%20Doe.png?size=128" -o /dev/null
for round in $(seq "$rounds"); do
  for run in $(in_round_order "$round" visage:$port nginx:$nport visage-quiet:$qport nginx-quiet:$nqport); do
    case $run in visage*) path='/initials/Jane%20Doe.png?size=128' ;; *) path=/jane.png ;; esac
    "${pin_load[@]}" wrk -t1 -c32 -d"${secs}s" --latency "http://127.0.0.1:${run#*:}$path" > "$work/hot-${run%%:*}-$round.txt"
  done
done

{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $setup, node $(node --version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), nginx $("$NGINX" -v 2>&1 | cut -d/ -f2)"
  echo
  # Where a cold request's time goes: the render itself (criterion, in process) and everything
  # else (HTTP, parsing, the ETag's hash, the cache insertion, the request log): HTTP − render.
  echo "| cold render, PNG | DiceBear in process (median) | visage in process (criterion median) | visage via HTTP, 1 connection (median latency) | of which not the render | HTTP renders/s | visage HTTP ÷ DiceBear | PNG bytes DiceBear / visage |"
  echo "|---|---|---|---|---|---|---|---|"
  for size in 64 128 512; do
    d=$(dicebear "$size" median_ms); c=$(criterion "$size"); h=$(percentile "$work/cold-$size.txt" 50%)
    vb=$(curl -sf "http://127.0.0.1:$port/initials/Jane%20Doe.png?size=$size" | wc -c)
    printf '| %s px | %.2f ms | %s ms | %s ms | %.3f ms | %s | %.3f | %s / %s |\n' "$size" "$d" "$c" "$h" \
      "$(echo "$h - $c" | bc -l)" "$(rps "$work/cold-$size.txt")" "$(echo "$h / $d" | bc -l)" "$(dicebear "$size" bytes)" "$vb"
  done
  echo
  echo "| cached 128 px PNG ($bytes bytes), wrk -t1 -c32, ${secs}s × $rounds alternating rounds | requests/s (median round) | median latency | p99 latency |"
  echo "|---|---|---|---|"
  # The median over rounds of one figure (rps, or a percentile) of one contender.
  over_rounds() { # contender, rps|50%|99%
    for round in $(seq "$rounds"); do
      if [ "$2" = rps ]; then rps "$work/hot-$1-$round.txt"; else percentile "$work/hot-$1-$round.txt" "$2"; fi
      echo
    done | median
  }
  for who in visage nginx visage-quiet nginx-quiet; do
    label=${who/-quiet/, request log off}; [ "$label" = "$who" ] && label="$who, request log on"
    printf '| %s | %.0f | %.3f ms | %.3f ms |\n' "$label" "$(over_rounds "$who" rps)" "$(over_rounds "$who" 50%)" "$(over_rounds "$who" 99%)"
  done
  ratio() { # a, b: the median of the per-round throughput ratios
    for round in $(seq "$rounds"); do echo "$(rps "$work/hot-$1-$round.txt") / $(rps "$work/hot-$2-$round.txt")" | bc -l; done | median
  }
  echo
  printf 'Throughput ratio visage ÷ nginx (median of per-round ratios): %.2f with request logs, %.2f without.\n' \
    "$(ratio visage nginx)" "$(ratio visage-quiet nginx-quiet)"
  per_round() { # a, b: each round's a ÷ b, in round order
    for round in $(seq "$rounds"); do
      printf '%.2f ' "$(echo "$(rps "$work/hot-$1-$round.txt") / $(rps "$work/hot-$2-$round.txt")" | bc -l)"
    done | sed 's/ $//'
  }
  echo
  echo "Per-round ratios, with logs: $(per_round visage nginx); without: $(per_round visage-quiet nginx-quiet)."
} > "$work/report.md"
mkdir -p bench/out
cp "$work/report.md" bench/out/initials.md
cat bench/out/initials.md
