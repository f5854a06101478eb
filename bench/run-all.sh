#!/usr/bin/env bash
# Every benchmark, one after the other (the last, noise.sh, measures how finely this machine can
# compare two servers); each script writes its figures to bench/out/.
set -euo pipefail
cd "$(dirname "$0")"
./initials.sh "$@"
./pipeline.sh
./formats.sh
./upload.sh
./import.sh
./avatar.sh "$@"
./noise.sh
