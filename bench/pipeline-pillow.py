#!/usr/bin/env python3
"""Pillow peer for the image pipeline benchmark: exif_transpose, ImageOps.fit LANCZOS, JPEG 85.

Usage: pipeline-pillow.py FILE RUNS  → prints "pillow FILE median_ms"
"""

import io
import statistics
import sys
import time

from PIL import Image, ImageOps


def once(data):
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    square = ImageOps.fit(image, (512, 512), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def main():
    path, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30
    data = open(path, "rb").read()
    for _ in range(3):
        once(data)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        once(data)
        times.append((time.perf_counter() - start) * 1000)
    print(f"pillow {path} {statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
