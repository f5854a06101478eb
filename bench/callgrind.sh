#!/usr/bin/env bash
# User-space instructions per cached hit, counted by valgrind's callgrind (instruction counts do
# not depend on the machine's load, so two builds or two settings compare to the instruction).
# The release visage (one worker) runs under callgrind with instrumentation off; after a warm-up
# it is switched on (callgrind_control -i on), wrk sends hits for a few seconds, it is switched
# off, and the total is divided by the answers wrk counted: start-up, warm-up and shutdown are
# not counted. Hits: a cached /initials picture, a Gravatar hit through /avatar (with and without
# gravatar.prefer_uploads, whose upload lookup runs before every Gravatar hit), and /u/{user_id}
# for a user with an upload (the 302); request log off (RUST_LOG=warn), and on for /initials.
# Usage: bench/callgrind.sh [seconds per run, default 5] [binary, default target/release/visage]
# Needs valgrind (apt-get install valgrind) and wrk. Results: bench/out/callgrind.md
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
bin=${2:-target/release/visage}
top=${TOP:-8}
export PATH="$HOME/.cargo/bin:$PATH"
for tool in valgrind callgrind_control wrk; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool is missing (apt-get install valgrind wrk)" >&2; exit 2; }
done
[ "$bin" != target/release/visage ] || cargo build --release --quiet --bin visage

work=$(mktemp -d -t visage-callgrind.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 600); do curl -sf "$1" -o /dev/null && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

hash=$(printf 'jane.doe@example.com' | sha256sum | cut -d' ' -f1)
user='bench%7Cuser'
# The stand-in Gravatar serves the picture visage draws for Jane Doe at 128 px; a plain visage
# (not under valgrind) draws it once.
uport=$(free_port)
helper=$(free_port)
VISAGE__SERVER__BIND="127.0.0.1:$helper" VISAGE__STORAGE__FS__ROOT="$work/helper" RUST_LOG=warn "$bin" > "$work/helper.log" 2>&1 &
helper_pid=$!; pids+=("$helper_pid")
wait_for "http://127.0.0.1:$helper/healthz"
curl -sf "http://127.0.0.1:$helper/initials/Jane%20Doe.png?size=128" -o "$work/picture.png"
kill "$helper_pid"
python3 bench/gravatar_standin.py "$uport" "$work/picture.png" &
pids+=($!)
wait_for "http://127.0.0.1:$uport/avatar/$hash"

# One case: a fresh visage under callgrind, warmed, then counted over `secs` of wrk -c4.
count() { # label, RUST_LOG, path, extra VAR=value settings…
  local label=$1 log=$2 path=$3; shift 3
  local port pid
  port=$(free_port)
  env VISAGE__SERVER__BIND="127.0.0.1:$port" VISAGE__SERVER__PUBLIC_URL="http://127.0.0.1:$port" \
    VISAGE__SERVER__DEV=true VISAGE__SERVER__WORKERS=1 VISAGE__STORAGE__FS__ROOT="$work/data-$port" \
    VISAGE__GRAVATAR__BASE_URL="http://127.0.0.1:$uport/avatar/" RUST_LOG="$log" "$@" \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.$port" "$bin" \
    > "$work/visage-$port.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_for "http://127.0.0.1:$port/healthz"
  if [ "${path#/u/}" != "$path" ]; then # dev mode: an upload without a token
    curl -sf -X POST -H 'Content-Type: image/jpeg' --data-binary @tests/fixtures/photo-astronaut.jpg \
      "http://127.0.0.1:$port/v1/users/$user/picture" -o /dev/null
  fi
  for _ in 1 2 3 4 5; do curl -s -o /dev/null "http://127.0.0.1:$port$path"; done
  callgrind_control -i on "$pid" > /dev/null
  wrk -t1 -c4 -d"${secs}s" "http://127.0.0.1:$port$path" > "$work/wrk.txt"
  callgrind_control -i off "$pid" > /dev/null
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  local answers instructions
  answers=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
  # `totals:` (the counts collected while instrumentation was on); `summary:` is 0 once it is off.
  instructions=$(awk '/^totals:/ { print $2 }' "$work/cg.$port"*)
  printf '| %s | `%s` | %s | %s | %.0f |\n' "$label" "$path" "$answers" "$instructions" \
    "$(echo "$instructions / $answers" | bc -l)"
  callgrind_annotate --threshold=100 "$work/cg.$port"* 2>/dev/null |
    awk '/^-+$/ { n++ } n >= 3 && /[0-9] / { print }' | head -"$top" | sed 's/^/    /' > "$work/top-$label.txt" || true
}
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(valgrind --version), binary $bin (one worker), wrk -t1 -c4 -d${secs}s under callgrind"
  echo
  echo "| case | path | answers | instructions | instructions per hit |"
  echo "|---|---|---|---|---|"
  count "initials cached, log off" warn '/initials/Jane%20Doe.png?size=128'
  count "initials cached, log on" info '/initials/Jane%20Doe.png?size=128'
  count "avatar hit, log off" warn "/avatar/$hash?s=128"
  count "avatar hit, log off, prefer_uploads=false" warn "/avatar/$hash?s=128" VISAGE__GRAVATAR__PREFER_UPLOADS=false
  count "u redirect, log off" warn "/u/$user?size=128"
  echo
  echo "Top functions by self instructions (callgrind_annotate), per case:"
  for f in "$work"/top-*.txt; do
    echo
    echo "$(basename "$f" .txt | sed 's/^top-//'):"
    echo '```'
    cat "$f"
    echo '```'
  done
} > "$work/report.md"
mkdir -p bench/out
cp "$work/report.md" bench/out/callgrind.md
cat bench/out/callgrind.md
