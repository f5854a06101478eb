// sharp (libvips) peer for the image pipeline benchmark: one thread, no operation cache.
// Usage: node pipeline-sharp.mjs FILE RUNS  → prints "sharp FILE median_ms"
import { readFileSync } from 'node:fs';
import sharp from 'sharp';

sharp.concurrency(1);
sharp.cache(false);

const [file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 30);
const input = readFileSync(file);

const once = () =>
  sharp(input).rotate().resize(512, 512, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();

for (let i = 0; i < 3; i++) await once(); // warm-up
const times = [];
for (let i = 0; i < runs; i++) {
  const start = process.hrtime.bigint();
  await once();
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
times.sort((a, b) => a - b);
console.log(`sharp ${file} ${times[Math.floor(times.length / 2)].toFixed(2)}`);
