#!/usr/bin/env bash
# Every benchmark BENCHMARKS.md quotes, one after the other; each writes its figures to bench/out/
# and prints them. A script that exits 2 says which tool it misses and is reported as skipped; a
# script that fails is reported and the others still run. At the end: what ran, what was skipped
# and why, what failed. Usage: bench/run-all.sh
#   RUN_ALL_LONG=1 adds the long or heavy ones: the 30-minute soak (bench/soak.sh), `compose up`
#   (bench/compose-up.sh, podman) and the editor's throttled upload (bench/editor.sh, Chromium).
# Nothing here asserts a time: the figures are for reading, with the machine's load beside them.
set -uo pipefail
cd "$(dirname "$0")"
ran=(); skipped=(); failed=()
run() { # script, args…
  local script=$1; shift
  echo "===== bench/$script $* ($(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg))"
  ./"$script" "$@"
  local status=$?
  case $status in
    0) ran+=("$script") ;;
    2) skipped+=("$script: a tool is missing (its message is above)") ;;
    *) failed+=("$script (exit $status)") ;;
  esac
}
skip() { skipped+=("$1: $2"); }

run formats.sh
run avif-frontier.sh
run initials.sh
run pipeline.sh
run upload.sh
run import.sh
run avatar.sh
run noise.sh
run callgrind.sh
run syscalls.sh
run profile.sh
run decoders.sh
run decode-memory.sh
if [ "${RUN_ALL_LONG:-0}" = 1 ]; then
  run soak.sh
  if command -v podman >/dev/null; then run compose-up.sh; else skip compose-up.sh "podman is missing"; fi
  if command -v chromium >/dev/null; then run editor.sh; else skip editor.sh "chromium is missing"; fi
else
  for script in soak.sh compose-up.sh editor.sh; do
    skip "$script" "long or heavy (30 minutes, podman images, Chromium): RUN_ALL_LONG=1 runs it"
  done
fi

echo "===== done ($(date -u '+%H:%M UTC'))"
echo "ran: ${ran[*]:-none}"
for line in "${skipped[@]}"; do echo "skipped: $line"; done
for line in "${failed[@]}"; do echo "FAILED: $line"; done
[ ${#failed[@]} -eq 0 ]
