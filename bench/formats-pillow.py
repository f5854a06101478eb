#!/usr/bin/env python3
"""Pillow peer for bench/formats.sh: decodes each 512 px JPEG master and encodes it as AVIF
(Pillow's defaults, and its fastest speed), WebP and JPEG, one thread.

Usage: formats-pillow.py OUT_DIR AVIF_RUNS RUNS MASTER...
  → writes OUT_DIR/{stem}.{id}.{ext} and prints one line per master and setting:
    "{id} {format} {master} 512 {bytes} {median_ms} {settings}"
  (median of AVIF_RUNS or RUNS timed open+load+save-to-BytesIO runs on the master's bytes,
  after a warm-up)
       formats-pillow.py --versions  → one line of Pillow's library versions
"""

import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, features

# Pillow 13's AVIF defaults (PIL/AvifImagePlugin.py _save): quality 75, speed 6, subsampling
# 4:2:0, max_threads = the CPUs this process may use (1 under taskset; set explicitly here).
# libavif speed 10 is its fastest. WebP: quality 80, method 4 (WebPImagePlugin._save); JPEG:
# libjpeg-turbo's default 4:2:0, no Huffman optimisation (Pillow's defaults).
SETTINGS = [
    ("pillow-s6", "avif", "AVIF", {"quality": 75, "speed": 6, "max_threads": 1},
     "q75,speed6,4:2:0(defaults)"),
    ("pillow-s10", "avif", "AVIF", {"quality": 75, "speed": 10, "max_threads": 1},
     "q75,speed10(fastest),4:2:0"),
    ("pillow", "webp", "WEBP", {"quality": 80}, "q80,method4"),
    ("pillow", "jpg", "JPEG", {"quality": 85}, "libjpeg-turbo,q85,4:2:0"),
]


def once(data, kind, options):
    image = Image.open(io.BytesIO(data))
    image.load()
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def main():
    if sys.argv[1:2] == ["--versions"]:
        import PIL

        print(
            f"Pillow {PIL.__version__}, libavif {features.version('avif')} "
            f"(encoders: {', '.join(avif_encoders())}), libwebp {features.version('webp')}, "
            f"libjpeg-turbo {features.version('libjpeg_turbo')}"
        )
        return
    if len(sys.argv) < 5:
        sys.exit("usage: formats-pillow.py OUT_DIR AVIF_RUNS RUNS MASTER...")
    out_dir, avif_runs, runs, masters = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    for master in masters:
        data = Path(master).read_bytes()
        stem = Path(master).stem
        for ident, fmt, kind, options, settings in SETTINGS:
            encoded = once(data, kind, options)  # warm-up, and the file SSIM is measured on
            (out_dir / f"{stem}.{ident}.{fmt}").write_bytes(encoded)
            times = []
            for _ in range(avif_runs if fmt == "avif" else runs):
                start = time.perf_counter()
                once(data, kind, options)
                times.append((time.perf_counter() - start) * 1000)
            median = f"{statistics.median(times):.2f}" if times else "nan"
            print(f"{ident} {fmt} {master} 512 {len(encoded)} {median} {settings}", flush=True)


def avif_encoders():
    from PIL import _avif

    return [c for c in ("aom", "rav1e", "svt") if _avif.encoder_codec_available(c)]


if __name__ == "__main__":
    main()
