// The compute floor: FNV-1a over the same payloads in a plain loop on one thread, no queue, no threads.
// A batch's results are all in hand when the loop returns, so every message gets the batch's time.
import { fnv1a } from 'gpuqueue';
import type { Batch, CaseSpec, Probe } from '../contender.js';

let probe: Probe;

export async function setup(_spec: CaseSpec, p: Probe): Promise<void> {
  probe = p;
}

export async function run(batch: Batch): Promise<void> {
  const started = performance.now();
  const { payloads, expected } = batch;
  let bad = 0;
  for (let i = 0; i < payloads.length; i++) if (fnv1a(payloads[i] as Uint8Array) !== expected[i]) bad++;
  probe.recordNs((performance.now() - started) * 1e6, payloads.length);
  probe.mismatches += bad;
}

export async function teardown(): Promise<Record<string, unknown>> {
  return { threads: 1 };
}
