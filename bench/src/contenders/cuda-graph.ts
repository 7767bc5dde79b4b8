// CUDA Graph replay per batch: the copy-launch-copy of cuda-launch captured once per lane with stream
// capture, then one cuGraphLaunch per batch (cuda-batch.ts). Round trip: a batch of one through the graph.
import type { Batch, CaseSpec, Probe } from '../contender.js';
import { CudaBatchBaseline } from '../cuda-batch.js';

let baseline: CudaBatchBaseline;

export async function setup(spec: CaseSpec, probe: Probe): Promise<void> {
  baseline = new CudaBatchBaseline('graph', spec.batch, spec.payloadBytes, probe);
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
