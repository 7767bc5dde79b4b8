// How one batch is cut among producer threads: contiguous shares as equal as can be, the first
// `count % threads` one message longer. Pure: unit-tested without threads.

/** bounds[t]..bounds[t + 1] is thread t's share of a batch of `count`; `threads + 1` entries. */
export function shareBounds(count: number, threads: number): number[] {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer; got ${threads}`);
  const base = Math.floor(count / threads);
  const extra = count % threads;
  const bounds = [0];
  for (let t = 0; t < threads; t++) bounds.push((bounds[t] as number) + base + (t < extra ? 1 : 0));
  return bounds;
}
