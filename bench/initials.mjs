// DiceBear peer for bench/initials.sh: the `initials` style rendered to PNG with
// @dicebear/converter (resvg), in process, one render at a time (one core).
// Prints one JSON line per size: {"size":N,"renders":R,"median_ms":M,"bytes":B}.
import { createAvatar } from '@dicebear/core';
import { initials } from '@dicebear/collection';
import { toPng } from '@dicebear/converter';

const sizes = (process.argv[2] ?? '64,128,512').split(',').map(Number);
const renders = Number(process.argv[3] ?? 200);
const warmup = 20;
// One font file, as DiceBear's docs advise for the converter: without `fonts`, resvg scans every
// system font on each render (about 25x slower on this machine), which would flatter visage.
const fonts = [new URL('../fonts/NotoSans-Regular.ttf', import.meta.url).pathname];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

for (const size of sizes) {
  const times = [];
  let bytes = 0;
  for (let i = 0; i < warmup + renders; i++) {
    const started = process.hrtime.bigint();
    const avatar = createAvatar(initials, { seed: `Jane Doe ${size} ${i}`, size });
    const png = await toPng(avatar, { fonts, size }).toArrayBuffer();
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    if (i >= warmup) {
      times.push(elapsed);
      bytes = png.byteLength;
    }
  }
  console.log(JSON.stringify({ size, renders, median_ms: median(times), bytes }));
}
