#!/usr/bin/env bash
# Image pipeline vs sharp (libvips) and Pillow, in one run: a 12-megapixel (4000×3000) and a
# 2-megapixel (1632×1224) photo-like JPEG to the 512 px JPEG master (EXIF rotate, centre crop,
# Lanczos, quality 85). Every contender runs on ONE pinned core (taskset) with one thread; figures
# are medians of per-round medians, the contenders alternating round by round. Then peak RSS of the pipeline alone (12 MP, four 12 MP at once, pixel floods).
# Usage: bench/pipeline.sh   (BENCH_CORE=N picks the core; RUNS=N iterations per round; ROUNDS=N)
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
core=${BENCH_CORE:-1}
runs=${RUNS:-40}
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$core")

# --- inputs and peers, made or installed only when missing ----------------------------
python3 -c "import PIL" 2>/dev/null || pip install --quiet pillow
[ -d bench/node_modules/sharp ] || (cd bench && npm install --no-audit --no-fund --silent)
[ -f "$out/photo-12mp.jpg" ] || python3 scripts/make-fixtures.py --photo 4000 3000 "$out/photo-12mp.jpg"
[ -f "$out/photo-2mp.jpg" ] || python3 scripts/make-fixtures.py --photo 1632 1224 "$out/photo-2mp.jpg"
# A legitimate flood just under the default 40 MP limit: a flat 6320×6320 RGBA PNG (~150 KB).
[ -f "$out/flood-40mp-rgba.png" ] || python3 -c "
from PIL import Image; Image.new('RGBA', (6320, 6320), (200, 40, 40, 255)).save('$out/flood-40mp-rgba.png')"

bin=$(cargo bench --bench pipeline --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "pipeline":
        print(j["executable"])')

# --- speed -----------------------------------------------------------------------------
# Contenders alternate within each round, so a change in the machine's load hits all of them;
# the figure for each is the median of its per-round medians.
rounds=${ROUNDS:-5}
median() { python3 -c 'import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }
declare -A t
for round in $(seq "$rounds"); do
  for size in 12mp 2mp; do
    photo="$out/photo-$size.jpg"
    t[ours$size]+=" $(VISAGE_PIPELINE_TIME="$photo" VISAGE_PIPELINE_RUNS="$runs" "${pin[@]}" "$bin" | awk '{print $3}')"
    t[sharp$size]+=" $("${pin[@]}" node bench/pipeline-sharp.mjs "$photo" "$runs" | awk '{print $3}')"
    t[pillow$size]+=" $("${pin[@]}" python3 bench/pipeline-pillow.py "$photo" "$((runs / 4))" | awk '{print $3}')"
  done
  echo "round $round: visage${t[ours12mp]##* } sharp${t[sharp12mp]##* } (12 MP), visage${t[ours2mp]##* } sharp${t[sharp2mp]##* } (2 MP)" >&2
done
for key in "${!t[@]}"; do echo "per-round $key:${t[$key]}" >&2; done
# shellcheck disable=SC2086
{
ours12=$(median ${t[ours12mp]}); sharp12=$(median ${t[sharp12mp]}); pillow12=$(median ${t[pillow12mp]})
ours2=$(median ${t[ours2mp]}); sharp2=$(median ${t[sharp2mp]}); pillow2=$(median ${t[pillow2mp]})
}

# --- memory ----------------------------------------------------------------------------
rss() { VISAGE_PIPELINE_ONCE="$1" VISAGE_PIPELINE_THREADS="${2:-1}" "$bin"; }
echo "== peak RSS (pipeline alone)" >&2
mem12=$(rss "$out/photo-12mp.jpg")
mem12x4=$(rss "$out/photo-12mp.jpg" 4)
memflood=$(rss tests/fixtures/pixel-flood-100000.png)
memflood40=$(rss "$out/flood-40mp-rgba.png")

python3 - "$ours12" "$sharp12" "$pillow12" "$ours2" "$sharp2" "$pillow2" <<'PY'
import sys, datetime, platform
o12, s12, p12, o2, s2, p2 = map(float, sys.argv[1:])
print(f"date: {datetime.date.today()}  machine: {platform.machine()}, 2 cores (noisy), one pinned core each, medians of per-round medians")
print("| input | visage | sharp 1 thread | Pillow | visage / sharp | visage / Pillow |")
print("|---|---|---|---|---|---|")
for name, o, s, p in (("12 MP JPEG 4000×3000", o12, s12, p12), ("2 MP JPEG 1632×1224", o2, s2, p2)):
    print(f"| {name} | {o:.1f} ms | {s:.1f} ms | {p:.1f} ms | {o / s:.2f} | {o / p:.2f} |")
PY
printf '%s\n' "$mem12" "$mem12x4" "$memflood" "$memflood40"
