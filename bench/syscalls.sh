#!/usr/bin/env bash
# System calls per request, and where each server's CPU time goes, for a cached 128 px picture:
# visage's /initials/Jane%20Doe.png?size=128 vs nginx serving the same bytes from a file
# (bench/static-nginx.sh: buffered access log, open_file_cache, sendfile), each with its request
# log on and off, pinned as bench/initials.sh pins them (bench/pin.sh).
#   1. `strace -c -f` attached to the server while wrk sends hits: calls of each kind ÷ answers.
#   2. Without strace (it slows every call): user and kernel CPU time (/proc/PID/stat, all
#      threads) and context switches (voluntary + involuntary, every thread's /proc status)
#      over a wrk run, per request and per second.
# Usage: bench/syscalls.sh [seconds per run, default 4]. Needs strace and wrk (apt-get install
# strace wrk) and nginx. Results: bench/out/syscalls.md
#   VISAGE_BENCH_BINARY=path measures that build of visage instead of building target/release.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-4}
export PATH="$HOME/.cargo/bin:$PATH"
for tool in strace wrk; do
  command -v "$tool" >/dev/null || { echo "syscalls.sh: $tool is missing (apt-get install strace wrk)" >&2; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "syscalls.sh: nginx is missing (apt-get install nginx-light)" >&2; exit 2; }
bin=${VISAGE_BENCH_BINARY:-target/release/visage}
[ -n "${VISAGE_BENCH_BINARY:-}" ] || cargo build --release --quiet --bin visage
source bench/pin.sh

work=$(mktemp -d -t visage-syscalls.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pidfile in "$work"/nginx-*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; done; true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -sf "$1" -o /dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
start_visage() { # port, RUST_LOG
  VISAGE__SERVER__BIND="127.0.0.1:$1" VISAGE__STORAGE__FS__ROOT="$work/data-$1" RUST_LOG="$2" \
    VISAGE__SERVER__WORKERS=$workers "${pin_server[@]}" "$bin" > "$work/visage-$1.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$1/healthz"
}
vlog=$(free_port); start_visage "$vlog" info
vquiet=$(free_port); start_visage "$vquiet" warn
mkdir -p "$work/static" "$work/tmp"
curl -sf "http://127.0.0.1:$vlog/initials/Jane%20Doe.png?size=128" -o "$work/static/jane.png"
chmod -R a+rX "$work/static"
source bench/static-nginx.sh
nlog=$(free_port); start_nginx "$nlog" "$work/nginx-access.log"
nquiet=$(free_port); start_nginx "$nquiet" off

# The processes that serve a port: visage's one process, or nginx's workers (not its master).
server_pids() { # port
  local owner
  owner=$(ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  for pid in $owner; do
    if [ "$(cat "/proc/$pid/comm")" = nginx ] && grep -q 'master process' "/proc/$pid/cmdline" 2>/dev/null; then
      continue
    fi
    echo "$pid"
  done
}
path_of() { case $1 in v*) echo '/initials/Jane%20Doe.png?size=128' ;; *) echo /jane.png ;; esac; }
port_of() { case $1 in vlog) echo "$vlog" ;; vquiet) echo "$vquiet" ;; nlog) echo "$nlog" ;; nquiet) echo "$nquiet" ;; esac; }
answers() { awk '/requests in/ { print $1 }' "$1"; }
label() { case $1 in vlog) echo "visage, request log on" ;; vquiet) echo "visage, request log off" ;; nlog) echo "nginx, access log on" ;; nquiet) echo "nginx, access log off" ;; esac; }

# user+system clock ticks and context switches of every thread of the given processes.
ticks() { for pid in "$@"; do awk '{ print $14, $15 }' "/proc/$pid/stat"; done | awk '{ u += $1; s += $2 } END { print u, s }'; }
switches() { for pid in "$@"; do cat /proc/"$pid"/task/*/status; done | awk '/ctxt_switches/ { n += $2 } END { print n }'; }
hz=$(getconf CLK_TCK)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for who in vlog nlog vquiet nquiet; do
  port=$(port_of "$who"); path=$(path_of "$who")
  for _ in 1 2 3; do curl -sf -o /dev/null "http://127.0.0.1:$port$path"; done
  # 1. system calls, strace attached to every thread of the serving processes.
  mapfile -t spids < <(server_pids "$port")
  attach=(); for pid in "${spids[@]}"; do attach+=(-p "$pid"); done
  strace -c -f -o "$work/strace-$who.txt" "${attach[@]}" &
  tracer=$!
  sleep 1
  "${pin_load[@]}" wrk -t1 -c32 -d"${secs}s" "http://127.0.0.1:$port$path" > "$work/wrk-strace-$who.txt"
  kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
  # 2. CPU split and context switches, no tracer.
  read -r u0 s0 < <(ticks "${spids[@]}"); c0=$(switches "${spids[@]}")
  "${pin_load[@]}" wrk -t1 -c32 -d"${secs}s" "http://127.0.0.1:$port$path" > "$work/wrk-$who.txt"
  read -r u1 s1 < <(ticks "${spids[@]}"); c1=$(switches "${spids[@]}")
  echo "$((u1 - u0)) $((s1 - s0)) $((c1 - c0))" > "$work/cpu-$who.txt"
done

{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $setup, load average $load_before before and $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(strace -V | head -1), nginx $("$NGINX" -v 2>&1 | cut -d/ -f2); cached 128 px PNG, wrk -t1 -c32 -d${secs}s"
  echo
  echo "System calls per answer (strace -c -f attached; answers counted by wrk; calls under 0.01 per answer left out):"
  echo
  echo "| server | answers while traced | calls per answer | by kind |"
  echo "|---|---|---|---|"
  for who in vlog vquiet nlog nquiet; do
    n=$(answers "$work/wrk-strace-$who.txt")
    # strace -c: "% time seconds usecs/call calls [errors] syscall"; the last line is the total.
    kinds=$(awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { printf "%s %.2f\n", $NF, $4 / n }' \
      "$work/strace-$who.txt" | sort -k2 -gr | awk '$2 >= 0.01 { printf "%s %s, ", $1, $2 }' | sed 's/, $//')
    total=$(awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { t += $4 } END { printf "%.2f", t / n }' "$work/strace-$who.txt")
    echo "| $(label "$who") | $n | $total | $kinds |"
  done
  echo
  echo "CPU time and context switches, no tracer attached (/proc: every thread of visage, nginx's workers):"
  echo
  echo "| server | requests/s | user | kernel | CPU µs per request (user + kernel) | context switches per 1,000 requests | per second |"
  echo "|---|---|---|---|---|---|---|"
  for who in vlog vquiet nlog nquiet; do
    read -r du ds dc < "$work/cpu-$who.txt"
    n=$(answers "$work/wrk-$who.txt")
    rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$work/wrk-$who.txt")
    awk -v u="$du" -v s="$ds" -v c="$dc" -v n="$n" -v hz="$hz" -v secs="$secs" -v rps="$rps" -v label="$(label "$who")" 'BEGIN {
      t = u + s; if (t == 0) t = 1
      printf "| %s | %s | %.0f %% | %.0f %% | %.1f | %.1f | %.0f |\n", label, rps, 100 * u / t, 100 * s / t,
        (u + s) / hz * 1e6 / n, c * 1000 / n, c / secs }'
  done
} > "$work/report.md"
mkdir -p bench/out
cp "$work/report.md" bench/out/syscalls.md
cat bench/out/syscalls.md
