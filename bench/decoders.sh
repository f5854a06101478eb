#!/usr/bin/env bash
# Where the 12 MP pipeline's time goes: the 1/4-scale JPEG decode alone, jpeg-decoder (visage's)
# against libjpeg-turbo (sharp's and Pillow's decoder) built plain and with its x86 SIMD (nasm).
# One pinned core, rounds alternating. Usage: bench/decoders.sh [FILE]  (default: the 12 MP photo)
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-bench/out/photo-12mp.jpg}
[ -f "$file" ] || python3 scripts/make-fixtures.py --photo 4000 3000 "$file"
pin=()
command -v taskset >/dev/null && pin=(taskset -c "${BENCH_CORE:-1}")
manifest=bench/decoders/Cargo.toml
cargo build --quiet --release --manifest-path "$manifest"
"${pin[@]}" bench/decoders/target/release/jpeg-decoders-bench "$file"
if command -v nasm >/dev/null; then
  cargo build --quiet --release --manifest-path "$manifest" --features simd
  "${pin[@]}" bench/decoders/target/release/jpeg-decoders-bench "$file"
else
  echo "(nasm not installed: no libjpeg-turbo SIMD run)"
fi
