// Shared by the sharp peers: the median wall time, in milliseconds, of `runs` awaited calls of
// `fn` (the upper one of two middles; NaN for no runs). Warm-ups are the caller's.
export async function medianMs(fn, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times.length ? times[Math.floor(times.length / 2)] : NaN;
}
