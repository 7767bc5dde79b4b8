// What `--engine cuda` and `--engine webgpu` measure: a lineup of contenders (gpuqueue on each engine,
// the launch-per-batch baselines) at every payload × batch point, gpuqueue-on-cuda at several producer
// thread counts where each thread still gets a real share of the batch, plus single-message round trips.
// Sized to finish in about 6 minutes (full) and under 2 (--quick) on the H100 machine.
import type { CaseSpec, ContenderName, GpuqueueBackend } from './contender.js';
import type { TimedPlan } from './matrix.js';

export interface LineupEntry {
  contender: ContenderName;
  /** gpuqueue's engine (gpuqueue only). */
  backend?: GpuqueueBackend;
  /**
   * Producer threads: a count (0: the owner thread enqueues), several counts, or 'matrix' for the plan's
   * producerThreads (each only where every thread gets minMessagesPerProducer of a batch).
   */
  producers?: number | number[] | 'matrix';
  /** Only at batches of at least this many messages. */
  minBatch?: number;
  /** Also measure the single-message round trip. */
  roundTrip: boolean;
  /** gpuqueue: read results with pollCompletionsInto (no object per message). */
  completions?: 'bulk';
}

export interface GpuMatrixPlan extends TimedPlan {
  /** Thread counts for lineup entries with producers: 'matrix'. */
  producerThreads: number[];
  /** More than the fewest producer threads only where each thread enqueues at least this many messages per batch. */
  minMessagesPerProducer: number;
  lineup: LineupEntry[];
}

/** The producer thread counts measured at a batch size. */
export function producerCountsAt(plan: GpuMatrixPlan, batch: number): number[] {
  const fewest = Math.min(...plan.producerThreads);
  return plan.producerThreads.filter((t) => t === fewest || batch / t >= plan.minMessagesPerProducer);
}

export function planGpuCases(plan: GpuMatrixPlan, only?: Set<string>): CaseSpec[] {
  const cases: CaseSpec[] = [];
  const lineup = plan.lineup.filter((e) => only === undefined || only.has(e.contender));
  const timing = { warmupMs: plan.warmupMs, durationMs: plan.durationMs };
  const who = (e: LineupEntry) => ({
    contender: e.contender,
    ...(e.backend ? { backend: e.backend } : {}),
    ...(e.completions ? { completions: e.completions } : {}),
  });
  for (const payloadBytes of plan.payloadBytes) {
    for (const batch of plan.batches) {
      for (const e of lineup) {
        if (batch < (e.minBatch ?? 0)) continue;
        const counts =
          e.producers === 'matrix'
            ? producerCountsAt(plan, batch)
            : Array.isArray(e.producers)
              ? producerCountsAt({ ...plan, producerThreads: e.producers }, batch)
              : [e.producers];
        for (const producers of counts) {
          cases.push({
            ...who(e),
            mode: 'throughput',
            payloadBytes,
            batch,
            failRate: 0,
            ...(producers === undefined ? {} : { producers }),
            ...timing,
          });
        }
      }
    }
  }
  const rtTiming = { warmupMs: plan.roundTripWarmupMs, durationMs: plan.roundTripDurationMs };
  for (const payloadBytes of plan.roundTripPayloadBytes) {
    for (const e of lineup) {
      if (e.roundTrip) cases.push({ ...who(e), mode: 'round-trip', payloadBytes, batch: 1, failRate: 0, ...rtTiming });
    }
  }
  return cases;
}

/** gpuqueue on cuda (1-8 producer threads) beside launch-per-batch, CUDA Graph replay, the cpu and webgpu engines. */
const CUDA_LINEUP: LineupEntry[] = [
  { contender: 'gpuqueue', backend: 'cuda', producers: 'matrix', roundTrip: true },
  // The same with results read by pollCompletionsInto (no object per message), where batches are big.
  { contender: 'gpuqueue', backend: 'cuda', producers: [1, 8], completions: 'bulk', minBatch: 256, roundTrip: false },
  { contender: 'cuda-launch', roundTrip: true },
  { contender: 'cuda-graph', roundTrip: true },
  { contender: 'gpuqueue', backend: 'cpu', producers: 1, roundTrip: true },
  { contender: 'gpuqueue', backend: 'webgpu', producers: 1, roundTrip: true },
];

export const CUDA_FULL: GpuMatrixPlan = {
  payloadBytes: [256, 1024, 4096],
  batches: [1, 32, 256, 2048, 8192],
  producerThreads: [1, 2, 4, 8],
  minMessagesPerProducer: 32,
  warmupMs: 300,
  durationMs: 1000,
  roundTripPayloadBytes: [256, 1024, 4096],
  roundTripWarmupMs: 200,
  roundTripDurationMs: 800,
  repeats: 1,
  lineup: CUDA_LINEUP,
};

export const CUDA_QUICK: GpuMatrixPlan = {
  payloadBytes: [256, 4096],
  batches: [1, 8192],
  producerThreads: [1, 8],
  minMessagesPerProducer: 32,
  warmupMs: 150,
  durationMs: 400,
  roundTripPayloadBytes: [256],
  roundTripWarmupMs: 150,
  roundTripDurationMs: 400,
  repeats: 1,
  lineup: CUDA_LINEUP,
};

/** gpuqueue on webgpu beside the cpu and cuda engines, the owner thread enqueueing for all three; webgpu also with producer threads and bulk completions. */
const WEBGPU_LINEUP: LineupEntry[] = [
  { contender: 'gpuqueue', backend: 'webgpu', producers: 0, roundTrip: true },
  // Producer threads and results read by pollCompletionsInto, where batches are big: what the engine's
  // consumers (several on a GPU: webgpu/plan.ts) carry when the owner thread is not the bound.
  { contender: 'gpuqueue', backend: 'webgpu', producers: [1, 8], completions: 'bulk', minBatch: 256, roundTrip: false },
  { contender: 'gpuqueue', backend: 'cpu', producers: 0, roundTrip: true },
  { contender: 'gpuqueue', backend: 'cuda', producers: 0, roundTrip: true },
];

export const WEBGPU_FULL: GpuMatrixPlan = {
  ...CUDA_FULL,
  producerThreads: [0],
  lineup: WEBGPU_LINEUP,
};

export const WEBGPU_QUICK: GpuMatrixPlan = {
  ...CUDA_QUICK,
  batches: [1, 256, 8192],
  producerThreads: [0],
  lineup: WEBGPU_LINEUP,
};

/** The engine a case cannot run without, beyond the cpu. */
export function engineNeeded(spec: CaseSpec): 'cuda' | 'webgpu' | undefined {
  if (spec.contender === 'cuda-launch' || spec.contender === 'cuda-graph') return 'cuda';
  if (spec.contender === 'gpuqueue' && (spec.backend === 'cuda' || spec.backend === 'webgpu')) return spec.backend;
  return undefined;
}
