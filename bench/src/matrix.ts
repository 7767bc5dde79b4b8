// What gets measured: the full matrix (payload × batch × failure rate, plus round trips), or with
// --quick a subset that finishes in well under two minutes on 2 cores. Failure rates apply to gpuqueue's
// fault handler only; peers run each point once and report n/a there.
import type { CaseSpec, ContenderName } from './contender.js';

/** What every plan has: the sizes measured, how long each case runs, the round trips, and processes per case. */
export interface TimedPlan {
  payloadBytes: number[];
  batches: number[];
  warmupMs: number;
  durationMs: number;
  roundTripPayloadBytes: number[];
  roundTripWarmupMs: number;
  roundTripDurationMs: number;
  /** Processes per case: gpuqueue's rate differs a lot from one process to the next on 2 cores. */
  repeats: number;
}

export interface MatrixPlan extends TimedPlan {
  failRates: number[];
}

export const FULL: MatrixPlan = {
  payloadBytes: [256, 1024, 4096],
  batches: [256, 1024, 4096, 8192],
  failRates: [0, 0.01, 0.05],
  warmupMs: 400,
  durationMs: 1500,
  roundTripPayloadBytes: [256, 1024, 4096],
  roundTripWarmupMs: 300,
  roundTripDurationMs: 1000,
  repeats: 3,
};

export const QUICK: MatrixPlan = {
  payloadBytes: [256, 4096],
  batches: [256, 4096],
  failRates: [0, 0.05],
  warmupMs: 200,
  durationMs: 700,
  roundTripPayloadBytes: [256],
  roundTripWarmupMs: 200,
  roundTripDurationMs: 700,
  repeats: 1,
};

const PEERS: ContenderName[] = ['piscina-task', 'piscina-batched', 'plain-loop'];
const ROUND_TRIP: ContenderName[] = ['gpuqueue', 'piscina-task'];

export function planCases(plan: MatrixPlan, only?: Set<string>): CaseSpec[] {
  const cases: CaseSpec[] = [];
  const keep = (name: ContenderName) => only === undefined || only.has(name);
  const timing = { warmupMs: plan.warmupMs, durationMs: plan.durationMs };
  for (const payloadBytes of plan.payloadBytes) {
    for (const batch of plan.batches) {
      if (keep('gpuqueue')) {
        for (const failRate of plan.failRates)
          cases.push({ contender: 'gpuqueue', mode: 'throughput', payloadBytes, batch, failRate, ...timing });
      }
      for (const contender of PEERS) {
        if (keep(contender)) cases.push({ contender, mode: 'throughput', payloadBytes, batch, failRate: 0, ...timing });
      }
    }
  }
  const rtTiming = { warmupMs: plan.roundTripWarmupMs, durationMs: plan.roundTripDurationMs };
  for (const payloadBytes of plan.roundTripPayloadBytes) {
    for (const contender of ROUND_TRIP) {
      if (keep(contender)) cases.push({ contender, mode: 'round-trip', payloadBytes, batch: 1, failRate: 0, ...rtTiming });
    }
  }
  return cases;
}
