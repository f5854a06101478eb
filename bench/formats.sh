#!/usr/bin/env bash
# Encoders vs sharp (libvips) and Pillow on camera photos: visage's AVIF (rav1e, 8-bit 4:2:0,
# quantizer 114, speed 10 trimmed: src/domain/image/avif.rs), WebP (libwebp q80) and JPEG
# (jpeg-encoder q85, 4:2:0) against sharp's and Pillow's, each
# peer at its library's AVIF defaults and at its fastest AVIF speed. Inputs: the five camera photos
# in scikit-image's wheel (astronaut, chelsea, coffee, rocket, motorcycle_left) and two generated
# photo-like JPEGs (2 MP, 12 MP), each made into a 512 px master as visage does (centre square
# crop, Lanczos, JPEG 85). Per format: bytes (and ÷ the JPEG master), SSIM against the master
# (scikit-image, both decoded with Pillow) and decode + encode time. Every contender runs on ONE
# pinned core (taskset) with one thread; times are medians of per-round medians, the contenders
# alternating round by round. Then visage's AVIF and WebP times at cold-request sizes (128, 256,
# 512 and 1024 px: AVIF is encoded inline up to 512 px, above it a WebP stands in while AVIF
# encodes). The binary is built with rav1e's assembly when FEATURES=asm (needs nasm).
# Usage: bench/formats.sh   (BENCH_CORE=N picks the core, default 1; ROUNDS=N, default 3;
#        RUNS=N encodes per round, default 20 (visage's bench binary uses it for all formats);
#        AVIF_RUNS=N for the peers' AVIF, default 5, or RUNS when only RUNS is set)
# Scratch: bench/out/formats/ (masters/, enc/, e128/…, raw.txt, results.csv, build.log).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=bench/out/formats
core=${BENCH_CORE:-1}
rounds=${ROUNDS:-3}
runs=${RUNS:-20}
avif_runs=${AVIF_RUNS:-${RUNS:-5}}
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$core")
mkdir -p "$dir"

# --- peers and inputs, installed or made only when missing -----------------------------
python3 -c "import PIL" 2>/dev/null || pip install --quiet pillow
python3 -c "import skimage" 2>/dev/null || pip install --quiet scikit-image
python3 -c "from PIL import features; assert features.check('avif') and features.check('webp')" ||
  { echo "formats.sh: this Pillow cannot write AVIF or WebP (pip install --upgrade pillow)" >&2; exit 1; }
[ -d bench/node_modules/sharp ] || (cd bench && npm install --no-audit --no-fund --silent)
[ -f bench/out/photo-12mp.jpg ] || python3 scripts/make-fixtures.py --photo 4000 3000 bench/out/photo-12mp.jpg
[ -f bench/out/photo-2mp.jpg ] || python3 scripts/make-fixtures.py --photo 1632 1224 bench/out/photo-2mp.jpg

# 512 px JPEG masters, remade every run (cheap): EXIF upright, centre square, Lanczos, quality 85.
# Four of the scikit-image photos are under 512 px on their short side, so they are enlarged.
rm -rf "$dir/masters" "$dir/enc" "$dir"/e[0-9]*
mkdir -p "$dir/masters" "$dir/enc"
python3 - "$dir/masters" bench/out/photo-2mp.jpg bench/out/photo-12mp.jpg <<'PY'
import os, sys
import skimage
from PIL import Image, ImageOps
out, *generated = sys.argv[1:]
data = os.path.join(os.path.dirname(skimage.__file__), "data")
photos = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
for source in [os.path.join(data, name) for name in photos] + generated:
    with Image.open(source) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    master = ImageOps.fit(upright, (512, 512), Image.Resampling.LANCZOS)
    master.save(os.path.join(out, os.path.splitext(os.path.basename(source))[0] + ".jpg"), quality=85)
PY
masters=("$dir"/masters/*.jpg)

echo "building benches/formats (release profile: the first build takes minutes)" >&2
features=${FEATURES:-}
if [ "$features" = asm ] && ! command -v nasm >/dev/null; then
  echo "formats.sh: FEATURES=asm needs nasm (apt-get install nasm)" >&2; exit 2
fi
bin=$(nice -n 19 cargo bench --bench formats --no-run ${features:+--features "$features"} --message-format=json 2>"$dir/build.log" | python3 -c '
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "formats":
        print(j["executable"])') || { cat "$dir/build.log" >&2; exit 1; }
[ -x "$bin" ] || { cat "$dir/build.log" >&2; echo "formats.sh: no formats bench executable" >&2; exit 1; }

python3 - "$features" > "$dir/versions.txt" <<'PY'
import sys, tomllib
with open("Cargo.lock", "rb") as f:
    crates = {p["name"]: p["version"] for p in tomllib.load(f)["package"]}
names = ("rav1e", "avif-serialize", "webp", "libwebp-sys", "jpeg-encoder")
print("visage: " + ", ".join(f"{n} {crates[n]}" for n in names if n in crates)
      + (", rav1e assembly on" if sys.argv[1:] == ["asm"] else ", rav1e without assembly"))
PY
node bench/formats-sharp.mjs --versions >> "$dir/versions.txt"
python3 bench/formats-pillow.py --versions >> "$dir/versions.txt"

# --- contenders: each appends "round id format master edge bytes median_ms settings" lines ---
raw=$dir/raw.txt
: > "$raw"
# visage's binary prints "master format edge bytes median_ms"; its settings are in src/domain/image/encode.rs.
visage_at() { # ROUND EDGE OUT_DIR
  "${pin[@]}" "$bin" "$3" "$runs" "$2" "${masters[@]}" | awk -v round="$1" '
    BEGIN { s["avif"] = "rav1e,q114,speed10-trimmed,psy,4:2:0"; s["webp"] = "libwebp,q80,method4"
            s["jpg"] = "jpeg-encoder,q85,4:2:0" }
    { print round, "visage", $2, $1, $3, $4, $5, s[$2] }' >> "$raw"
}
run_visage() { visage_at "$1" 512 "$dir/enc"; }
run_sharp() {
  "${pin[@]}" node bench/formats-sharp.mjs "$dir/enc" "$avif_runs" "$runs" "${masters[@]}" |
    sed "s/^/$1 /" >> "$raw"
}
run_pillow() {
  "${pin[@]}" python3 bench/formats-pillow.py "$dir/enc" "$avif_runs" "$runs" "${masters[@]}" |
    sed "s/^/$1 /" >> "$raw"
}

contenders=(visage sharp pillow)
for round in $(seq "$rounds"); do
  took=""
  for i in 0 1 2; do # each round starts with the next contender
    contender=${contenders[$(((round - 1 + i) % 3))]}
    start=$SECONDS
    "run_$contender" "$round"
    took+=" $contender $((SECONDS - start)) s,"
  done
  start=$SECONDS
  for edge in 128 256 1024; do
    mkdir -p "$dir/e$edge"
    visage_at "$round" "$edge" "$dir/e$edge"
  done
  echo "round $round/$rounds:$took cold sizes $((SECONDS - start)) s" >&2
done

python3 bench/formats-summary.py "$dir" "$rounds" "$avif_runs" "$runs" "$core"
