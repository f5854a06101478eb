#!/usr/bin/env python3
"""Summarizer for bench/formats.sh: SSIM of every encoded file against its master, then one
markdown table per format (AVIF, WebP, JPEG) and one for visage's cold-request sizes.

Usage: formats-summary.py DIR ROUNDS AVIF_RUNS RUNS CORE
  DIR holds raw.txt (lines "round id format master edge bytes median_ms settings"), versions.txt,
  and enc/{master stem}.{id}.{ext}, the 512 px outputs. Writes DIR/results.csv (per master).

Per contender and master, time is the median of the per-round medians; the table then shows
the median over masters (bytes, bytes ÷ master, SSIM, time) and the minimum SSIM. The time ratio
is the contender's median ms ÷ visage's median ms in the same table.
"""

import csv
import datetime
import os
import platform
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

FORMATS = (("avif", "AVIF"), ("webp", "WebP"), ("jpg", "JPEG"))
ORDER = ("visage", "sharp-e4", "sharp-e0", "sharp", "pillow-s6", "pillow-s10", "pillow")
NAMES = {
    "visage": "visage",
    "sharp-e4": "sharp, defaults",
    "sharp-e0": "sharp, fastest",
    "sharp": "sharp",
    "pillow-s6": "Pillow, defaults",
    "pillow-s10": "Pillow, fastest",
    "pillow": "Pillow",
}
# (format, bytes ÷ master at most, SSIM at least, which SSIM: "least" over the photos or "median")
# Issue 29: AVIF ≤ 0.50× the master's bytes with the *least* SSIM over the photos ≥ 0.95, encoded
# in ≤ 100 ms (≤ 50 ms with rav1e's assembly); WebP as before (issue 12: its median SSIM).
TARGETS = (("avif", 0.50, 0.95, "least"), ("webp", 0.75, 0.95, "median"))
AVIF_MS = {False: 100.0, True: 50.0}


def rgb(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def ssim(a, b):
    return structural_similarity(a, b, channel_axis=2, data_range=255)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: formats-summary.py DIR ROUNDS AVIF_RUNS RUNS CORE")
    out = Path(sys.argv[1])
    rounds, avif_runs, runs, core = sys.argv[2:6]

    times = defaultdict(list)  # (id, format, master, edge) → per-round medians
    sizes = defaultdict(set)  # same key → bytes reported (should be one value)
    settings = {}  # (id, format) → settings string
    for line in (out / "raw.txt").read_text().splitlines():
        _round, ident, fmt, master, edge, size, ms, setting = line.split(maxsplit=7)
        key = (ident, fmt, master, int(edge))
        times[key].append(float(ms))
        sizes[key].add(int(size))
        settings[ident, fmt] = setting
    for key, seen in sizes.items():
        if len(seen) > 1:
            print(f"warning: {key} gave different sizes across rounds: {sorted(seen)}", file=sys.stderr)

    masters = sorted({key[2] for key in times}, key=lambda m: os.path.getsize(m))
    master_bytes = {m: os.path.getsize(m) for m in masters}
    master_rgb = {m: rgb(m) for m in masters}

    rows = []  # per master, for results.csv and the tables
    for (ident, fmt, master, edge), per_round in times.items():
        if edge != 512:
            continue
        encoded = out / "enc" / f"{Path(master).stem}.{ident}.{fmt}"
        size = encoded.stat().st_size
        decoded = rgb(encoded)
        if decoded.shape != master_rgb[master].shape:
            sys.exit(f"{encoded}: {decoded.shape} is not the master's {master_rgb[master].shape}")
        rows.append({
            "id": ident, "format": fmt, "master": master, "bytes": size,
            "master_bytes": master_bytes[master], "ratio": size / master_bytes[master],
            "ssim": ssim(master_rgb[master], decoded), "ms": statistics.median(per_round),
            "rounds": " ".join(f"{t:g}" for t in per_round),
        })
    rows.sort(key=lambda r: (r["format"], ORDER.index(r["id"]), r["master"]))
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    versions = (out / "versions.txt").read_text().strip().splitlines()
    print(
        f"date: {datetime.date.today()}  machine: {platform.machine()}, {cpu_model()}, "
        f"{os.cpu_count()} cores; every contender on one pinned core (taskset -c {core}), one "
        f"thread; decode of the 512 px JPEG master + encode; per master the median of per-round "
        f"medians (ROUNDS={rounds}, AVIF_RUNS={avif_runs}, RUNS={runs}, contenders alternating), "
        f"then medians over {len(masters)} masters"
    )
    print(f"masters: {', '.join(f'{Path(m).stem} {master_bytes[m]} B' for m in masters)} "
          f"(median {statistics.median(master_bytes.values()):.0f} B)")
    print("versions: " + "; ".join(versions))
    asm = any("assembly on" in line for line in versions)

    summary = {}
    for fmt, title in FORMATS:
        by_id = defaultdict(list)
        for row in rows:
            if row["format"] == fmt:
                by_id[row["id"]].append(row)
        if "visage" not in by_id:
            sys.exit(f"no visage {fmt} results")
        visage_ms = statistics.median(r["ms"] for r in by_id["visage"])
        print(f"\n### {title}, 512 px\n")
        print("| contender | settings | median bytes | bytes ÷ JPEG master | median SSIM | min SSIM "
              "| median encode ms | time ÷ visage |")
        print("|---|---|---|---|---|---|---|---|")
        for ident in sorted(by_id, key=ORDER.index):
            group = by_id[ident]
            med_bytes = statistics.median(r["bytes"] for r in group)
            ratio = statistics.median(r["ratio"] for r in group)
            med_ssim = statistics.median(r["ssim"] for r in group)
            min_ssim = min(r["ssim"] for r in group)
            ms = statistics.median(r["ms"] for r in group)
            summary[ident, fmt] = (ratio, min_ssim, ms, med_ssim)
            print(f"| {NAMES[ident]} | {settings[ident, fmt]} | {med_bytes:.0f} | {ratio:.2f} "
                  f"| {med_ssim:.4f} | {min_ssim:.4f} | {ms:.1f} | {ms / visage_ms:.2f} |")

    cold = sorted({key[3] for key in times if key[0] == "visage" and key[3] != 512})
    if cold:
        print("\n### visage cold-request sizes (master decode + resize + encode)\n")
        print("| edge | AVIF median ms | AVIF median bytes | WebP median ms | WebP median bytes |")
        print("|---|---|---|---|---|")
        for edge in sorted([*cold, 512]):
            cells = []
            for fmt in ("avif", "webp"):
                keys = [k for k in times if k[0] == "visage" and k[1] == fmt and k[3] == edge]
                ms = statistics.median(statistics.median(times[k]) for k in keys)
                size = statistics.median(next(iter(sizes[k])) for k in keys)
                cells += [f"{ms:.1f}", f"{size:.0f}"]
            print(f"| {edge} | {' | '.join(cells)} |")

    verdicts = []
    for fmt, max_ratio, min_ssim, which in TARGETS:
        ratio, least_ssim, ms, median_ssim = summary["visage", fmt]
        measured = least_ssim if which == "least" else median_ssim
        met = ratio <= max_ratio and measured >= min_ssim
        verdicts.append(
            f"{fmt.upper() if fmt == 'avif' else 'WebP'} median bytes ≤ {max_ratio:.2f}× the JPEG "
            f"master with {which} SSIM ≥ {min_ssim} (visage: {ratio:.3f}×, {which} SSIM "
            f"{measured:.4f}, {'met' if met else 'MISSED'})"
        )
        if fmt == "avif":
            limit = AVIF_MS[asm]
            verdicts.append(
                f"512 px AVIF in ≤ {limit:.0f} ms {'with' if asm else 'without'} rav1e's assembly "
                f"(visage: {ms:.1f} ms, {'met' if ms <= limit else 'MISSED'})"
            )
    print("\ntargets: " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
