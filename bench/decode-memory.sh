#!/usr/bin/env bash
# Peak resident memory that ONE upload decode adds at the default pixel limit (limits.max_pixels,
# 40 MP), for each kind of picture that decodes differently: a baseline JPEG (shrunk on load), the
# same with a small crop (decoded at full size), a progressive JPEG with that crop (coefficients
# kept at full size), and a flat RGBA PNG (the decoded picture itself). The pipeline alone, one
# decode at a time, in a dev build (the buffers are the same size as in release). docs/DEPLOY.md
# sums memory as caches + this × limits.pipeline_concurrency.
# Usage: bench/decode-memory.sh   (needs Pillow: scripts/test puts it in target/test-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
py=python3
[ -x target/test-venv/bin/python ] && py=target/test-venv/bin/python
"$py" -c "import PIL" 2>/dev/null || { echo "decode-memory.sh: no Pillow (run scripts/test once)" >&2; exit 1; }

# 7300×5475 = 39,967,500 pixels, just under the limit.
[ -f "$out/photo-40mp.jpg" ] || "$py" scripts/make-fixtures.py --photo 7300 5475 "$out/photo-40mp.jpg"
[ -f "$out/photo-40mp-progressive.jpg" ] || "$py" -c "
from PIL import Image; Image.open('$out/photo-40mp.jpg').save('$out/photo-40mp-progressive.jpg', quality=90, progressive=True)"
[ -f "$out/flood-40mp-rgba.png" ] || "$py" -c "
from PIL import Image; Image.new('RGBA', (6320, 6320), (200, 40, 40, 255)).save('$out/flood-40mp-rgba.png')"

bin=$(cargo build --bench pipeline --message-format=json 2>/dev/null | "$py" -c '
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "pipeline":
        print(j["executable"])')
[ -x "$bin" ] || { echo "decode-memory.sh: the pipeline bench did not build" >&2; exit 1; }

run() { VISAGE_PIPELINE_ONCE="$1" VISAGE_PIPELINE_CROP="${2:-}" "$bin"; }
small_crop=3000,2000,600,600
echo "date: $(date -u +%F) $(uname -m); peak RSS added by one decode (KiB):"
run tests/fixtures/small-100.jpg
run "$out/photo-40mp.jpg"
run "$out/photo-40mp.jpg" "$small_crop"
run "$out/photo-40mp-progressive.jpg" "$small_crop"
run "$out/flood-40mp-rgba.png"
