#!/usr/bin/env bash
# Every benchmark, one after the other; each script writes its figures to bench/out/.
set -euo pipefail
cd "$(dirname "$0")"
./initials.sh "$@"
./pipeline.sh
./formats.sh
./upload.sh
./avatar.sh "$@"
