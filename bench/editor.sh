#!/usr/bin/env bash
# The page's upload of a 12 MP phone photo over a throttled connection (Chromium's network
# emulation: 10 Mbit/s up, 40 Mbit/s down, 40 ms): time from pressing Upload to the stored
# picture shown, the original bytes (the page before the editor) against the page's in-browser
# scaling, rounds alternating. It is the ignored test editor::bench_12_mp_upload_over_a_throttled_connection.
# Usage: bench/editor.sh [rounds, default 5]. Prints one line with both medians and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
export VISAGE_BENCH_ROUNDS=${1:-5}
export VISAGE_TEST_CHROMIUM=${VISAGE_TEST_CHROMIUM:-$(command -v chromium)}
export VISAGE_TEST_CHROMEDRIVER=${VISAGE_TEST_CHROMEDRIVER:-$(command -v chromedriver)}
export VISAGE_TEST_REQUIRE_BROWSER=1
cargo test --test api editor::bench_12_mp_upload_over_a_throttled_connection -- --ignored --nocapture 2>&1 \
  | grep -E '^12 MP photo|panicked|FAILED' || { echo "the benchmark did not run" >&2; exit 1; }
