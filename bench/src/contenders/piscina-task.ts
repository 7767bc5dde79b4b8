// Piscina, one task per message: every payload is its own pool.run(), structured-cloned to a worker that
// returns its checksum. The round trip is one awaited pool.run().
import type { Batch, CaseSpec, Probe } from '../contender.js';
import { CheckedPool } from '../piscina-pool.js';

let probe: Probe;
let pool: CheckedPool;

export async function setup(_spec: CaseSpec, p: Probe): Promise<void> {
  probe = p;
  pool = new CheckedPool();
}

export async function run(batch: Batch): Promise<void> {
  const started = performance.now();
  const { payloads, expected } = batch;
  const tasks = new Array<Promise<void>>(payloads.length);
  for (let i = 0; i < payloads.length; i++) {
    tasks[i] = pool.pool.run(payloads[i]).then((sum: number) => {
      probe.recordNs((performance.now() - started) * 1e6);
      if (sum !== expected[i]) probe.mismatches++;
    });
  }
  pool.noteThreads();
  await Promise.all(tasks);
}

export function roundTrip(payload: Uint8Array): Promise<number> {
  return pool.pool.run(payload);
}

export function teardown(): Promise<Record<string, unknown>> {
  return pool.close();
}
