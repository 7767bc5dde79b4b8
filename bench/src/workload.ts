// The workload every contender gets: deterministic pseudo-random payloads of one size, cut into a few
// batches that are handed out in turn. Each payload owns its ArrayBuffer, so a peer that clones a
// message copies only that message (a view into one shared buffer would clone all of it).
import { fnv1a } from 'gpuqueue';
import type { Batch } from './contender.js';

/** Distinct batches per case: more than the two kept in flight, so no batch is reused while still out. */
const DISTINCT_BATCHES = 4;

export function makeBatches(payloadBytes: number, batch: number, seed = 0x9e3779b9): Batch[] {
  let x = seed >>> 0 || 1;
  const out: Batch[] = [];
  for (let b = 0; b < DISTINCT_BATCHES; b++) {
    const payloads: Uint8Array[] = [];
    const expected = new Uint32Array(batch);
    for (let i = 0; i < batch; i++) {
      const p = new Uint8Array(payloadBytes);
      for (let j = 0; j < payloadBytes; j++) {
        // xorshift32: cheap, deterministic, not constant bytes
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        p[j] = x & 0xff;
      }
      payloads.push(p);
      expected[i] = fnv1a(p);
    }
    out.push({ payloads, expected });
  }
  return out;
}
