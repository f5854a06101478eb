#!/usr/bin/env bash
# What each of rav1e's knobs costs and saves on the masters of bench/formats.sh: for every tuning
# below (quantizer, psychovisual or PSNR tune, partition sizes, segmentation), visage's AVIF
# encoder on ONE pinned core: median encode time, median bytes ÷ the JPEG master, median and
# least SSIM (scikit-image against the master, both decoded by Pillow). The service's own tuning
# is `q114,psy,16-16,seg` (src/domain/image/avif.rs); the rows show the frontier around it.
# Usage: bench/avif-frontier.sh [TUNING ...]   (default: the list below; RUNS=N encodes per
#        master and tuning, default 5; BENCH_CORE=N, default 1; FEATURES=asm for rav1e's
#        assembly, needs nasm). Run bench/formats.sh first: it makes the masters.
# Scratch: bench/out/avif-frontier/ (raw.txt, one .avif per master and tuning).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=bench/out/avif-frontier
masters_dir=bench/out/formats/masters
core=${BENCH_CORE:-1}
runs=${RUNS:-5}
features=${FEATURES:-}
[ -n "$(ls "$masters_dir"/*.jpg 2>/dev/null)" ] ||
  { echo "avif-frontier.sh: no masters in $masters_dir: run bench/formats.sh first" >&2; exit 2; }
if [ "$features" = asm ] && ! command -v nasm >/dev/null; then
  echo "avif-frontier.sh: FEATURES=asm needs nasm (apt-get install nasm)" >&2; exit 2
fi
tunings=("$@")
[ ${#tunings[@]} -gt 0 ] || tunings=(
  q114,psy,16-16,seg q114,psy,16-16,noseg q114,psnr,16-16,seg q114,psnr,16-16,noseg
  q114,psy,32-32,seg q114,psy,16-32,seg q114,psy,8-16,seg
  q100,psnr,32-32,noseg q108,psnr,16-16,noseg q120,psy,16-16,seg
)
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$core")
rm -rf "$dir"; mkdir -p "$dir"

bin=$(nice -n 19 cargo bench --bench avif_frontier --no-run ${features:+--features "$features"} --message-format=json 2>"$dir/build.log" | python3 -c '
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "avif_frontier":
        print(j["executable"])') || { cat "$dir/build.log" >&2; exit 1; }
[ -x "$bin" ] || { cat "$dir/build.log" >&2; echo "avif-frontier.sh: no executable" >&2; exit 1; }

"${pin[@]}" "$bin" "$dir" "$runs" "${tunings[@]}" -- "$masters_dir"/*.jpg > "$dir/raw.txt"

python3 - "$dir" "$masters_dir" "$features" "$core" "$runs" <<'PY'
import datetime, os, platform, statistics, sys
from collections import defaultdict
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity
out, masters_dir, features, core, runs = sys.argv[1:]
def rgb(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
rows = defaultdict(list)
order = []
for line in open(os.path.join(out, "raw.txt")):
    tuning, master, size, ms = line.split()
    stem = os.path.splitext(os.path.basename(master))[0]
    ssim = structural_similarity(rgb(master), rgb(os.path.join(out, f"{stem}.{tuning}.avif")),
                                 channel_axis=2, data_range=255)
    if tuning not in rows: order.append(tuning)
    rows[tuning].append((int(size) / os.path.getsize(master), ssim, float(ms)))
print(f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu}, one pinned core "
      f"({core}), {runs} encodes per master, rav1e {'with' if features == 'asm' else 'without'} assembly, "
      f"load average {' '.join(open('/proc/loadavg').read().split()[:3])} at the end")
print()
print("| tuning | median encode ms | median bytes ÷ JPEG master | median SSIM | least SSIM | ≤ 0.50× and least SSIM ≥ 0.95 |")
print("|---|---|---|---|---|---|")
for tuning in order:
    r = rows[tuning]
    ratio = statistics.median(x[0] for x in r)
    least = min(x[1] for x in r)
    ms = statistics.median(x[2] for x in r)
    mark = " (service)" if tuning == "q114,psy,16-16,seg" else ""
    print(f"| `{tuning}`{mark} | {ms:.1f} | {ratio:.3f} | {statistics.median(x[1] for x in r):.4f} "
          f"| {least:.4f} | {'yes' if ratio <= 0.50 and least >= 0.95 else 'no'} |")
PY
