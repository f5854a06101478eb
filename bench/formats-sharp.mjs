// sharp (libvips) peer for bench/formats.sh: decodes each 512 px JPEG master and encodes it as
// AVIF (sharp's defaults, and its fastest effort), WebP and JPEG; one thread, no operation cache.
// Usage: node formats-sharp.mjs OUT_DIR AVIF_RUNS RUNS MASTER...
//   → writes OUT_DIR/{stem}.{id}.{ext} and prints one line per master and setting:
//     "{id} {format} {master} 512 {bytes} {median_ms} {settings}"
//   (median of AVIF_RUNS or RUNS timed toBuffer() calls on the master's bytes, after a warm-up)
//   node formats-sharp.mjs --versions  → one line of sharp's library versions
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { medianMs } from './timing.mjs';

sharp.concurrency(1);
sharp.cache(false);

// sharp 0.34's AVIF defaults are quality 50, effort 4, chroma 4:4:4 (lib/constructor.js:
// heifQuality 50, heifEffort 4, heifChromaSubsampling '4:4:4'); libvips hands libheif/aom
// speed = 9 - effort, so effort 0 is its fastest. WebP and JPEG effort/subsampling are defaults.
const SETTINGS = [
  ['sharp-e4', 'avif', (s) => s.avif({ quality: 50, effort: 4 }), 'q50,effort4,4:4:4(defaults)'],
  ['sharp-e0', 'avif', (s) => s.avif({ quality: 50, effort: 0 }), 'q50,effort0(fastest),4:4:4'],
  ['sharp', 'webp', (s) => s.webp({ quality: 80 }), 'q80,effort4'],
  ['sharp', 'jpg', (s) => s.jpeg({ quality: 85 }), 'mozjpeg,q85,4:2:0'],
];

const args = process.argv.slice(2);
if (args[0] === '--versions') {
  const v = sharp.versions;
  console.log(`sharp ${v.sharp}, libvips ${v.vips}, aom ${v.aom}, libheif ${v.heif}, libwebp ${v.webp}, mozjpeg ${v.mozjpeg}`);
  process.exit(0);
}
const [outDir, avifRunsArg, runsArg, ...masters] = args;
if (!outDir || masters.length === 0) {
  console.error('usage: node formats-sharp.mjs OUT_DIR AVIF_RUNS RUNS MASTER...');
  process.exit(2);
}

for (const master of masters) {
  const input = readFileSync(master);
  const stem = basename(master, extname(master));
  for (const [id, format, encode, settings] of SETTINGS) {
    const runs = Number(format === 'avif' ? avifRunsArg : runsArg);
    const once = () => encode(sharp(input)).toBuffer();
    const encoded = await once(); // warm-up, and the file SSIM is measured on
    writeFileSync(join(outDir, `${stem}.${id}.${format}`), encoded);
    const ms = await medianMs(once, runs);
    const median = Number.isNaN(ms) ? 'nan' : ms.toFixed(2);
    console.log(`${id} ${format} ${master} 512 ${encoded.length} ${median} ${settings}`);
  }
}
