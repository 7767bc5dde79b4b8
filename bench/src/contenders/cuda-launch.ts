// Launch per batch, by hand: copy the packed batch in, launch one thread per message, copy the results
// back, three driver calls per batch (cuda-batch.ts). Round trip: a batch of one through the same calls.
import type { Batch, CaseSpec, Probe } from '../contender.js';
import { CudaBatchBaseline } from '../cuda-batch.js';

let baseline: CudaBatchBaseline;

export async function setup(spec: CaseSpec, probe: Probe): Promise<void> {
  baseline = new CudaBatchBaseline('launch', spec.batch, spec.payloadBytes, probe);
}

export function run(batch: Batch): Promise<void> {
  return baseline.run(batch);
}

export function roundTrip(payload: Uint8Array): Promise<number> {
  return baseline.roundTrip(payload);
}

export async function teardown(): Promise<Record<string, unknown>> {
  return baseline.close();
}
