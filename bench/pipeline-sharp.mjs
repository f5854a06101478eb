// sharp (libvips) peer for the image pipeline benchmark: one thread, no operation cache.
// Usage: node pipeline-sharp.mjs FILE RUNS  → prints "sharp FILE median_ms"
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { medianMs } from './timing.mjs';

sharp.concurrency(1);
sharp.cache(false);

const [file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 30);
const input = readFileSync(file);

const once = () =>
  sharp(input).rotate().resize(512, 512, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();

for (let i = 0; i < 3; i++) await once(); // warm-up
console.log(`sharp ${file} ${(await medianMs(once, runs)).toFixed(2)}`);
