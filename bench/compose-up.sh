#!/usr/bin/env bash
# Time from `compose up` to a ready /readyz for deploy/compose.yaml, first start (fresh volumes:
# secrets, layout, key and bucket made) and restart (down, up: volumes kept), median of RUNS.
# It runs the suite's compose check (tests/deploy/test_compose.py, which also uploads a picture
# between the two and reads it back) and reads the times that check prints.
# The images are built as the suite builds them (deploy/image/local-base.sh, the installed Garage).
# Usage: bench/compose-up.sh [RUNS] (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
# The release binary when there is one (scripts/image builds it), as a deployment would run.
if [ -z "${VISAGE_DEPLOY_BINARY:-}" ] && [ -x target/release/visage ]; then
  export VISAGE_DEPLOY_BINARY=$PWD/target/release/visage
fi
first=(); again=()
for i in $(seq 1 "$runs"); do
  out=$(tests/deploy/run.sh -k compose -s -q 2>&1) || { printf '%s\n' "$out" | tail -40 >&2; exit 1; }
  first+=("$(printf '%s\n' "$out" | sed -n 's/.*compose up to a ready \/readyz: \([0-9.]*\) s.*/\1/p')")
  again+=("$(printf '%s\n' "$out" | sed -n 's/.*compose up again to a ready \/readyz: \([0-9.]*\) s.*/\1/p')")
  echo "run $i: first start ${first[-1]} s, restart ${again[-1]} s" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "compose up -> ready /readyz, median of $runs: first start $(median "${first[@]}") s, restart $(median "${again[@]}") s"
