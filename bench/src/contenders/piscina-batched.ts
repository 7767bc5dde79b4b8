// Piscina with hand-packed batches: the batch copied into one ArrayBuffer (fixed stride), transferred to
// a worker in one task, a Uint32Array of checksums moved back. All of a batch's results arrive together.
import type { Batch, CaseSpec, Probe } from '../contender.js';
import { CheckedPool } from '../piscina-pool.js';
import type { PackedBatch } from '../workers/checksum-worker.js';

let probe: Probe;
let pool: CheckedPool;

export async function setup(_spec: CaseSpec, p: Probe): Promise<void> {
  probe = p;
  pool = new CheckedPool();
}

export async function run(batch: Batch): Promise<void> {
  const started = performance.now();
  const { payloads, expected } = batch;
  const count = payloads.length;
  const stride = (payloads[0] as Uint8Array).byteLength;
  const buffer = new ArrayBuffer(count * stride);
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < count; i++) bytes.set(payloads[i] as Uint8Array, i * stride);
  const task: PackedBatch = { buffer, count, stride };
  const running = pool.pool.run(task, { name: 'checksumBatch', transferList: [buffer] }) as Promise<Uint32Array>;
  pool.noteThreads();
  const sums = await running;
  probe.recordNs((performance.now() - started) * 1e6, count);
  let bad = 0;
  for (let i = 0; i < count; i++) if (sums[i] !== expected[i]) bad++;
  probe.mismatches += bad;
}

export function teardown(): Promise<Record<string, unknown>> {
  return pool.close();
}
