// What `--engine redis` measures: gpuqueue on Redis Streams against BullMQ and a hand-written Streams
// loop, each with its consumer in a child process and a redis-server of its own per case. Throughput at
// 256 B and 1 KB with batches of 256 and 1024 (two in flight), then single-message round trips. No
// failure rates: retries and dead letters on Redis are covered by the tests (BullMQ has no batch to
// dead-letter into, and the raw loop has no retries at all).
import { type CaseSpec, REDIS_CONTENDERS } from '../contender.js';
import type { MatrixPlan } from '../matrix.js';

export const REDIS_FULL: MatrixPlan = {
  payloadBytes: [256, 1024],
  batches: [256, 1024],
  failRates: [0],
  warmupMs: 500,
  durationMs: 2000,
  roundTripPayloadBytes: [256, 1024],
  roundTripWarmupMs: 300,
  roundTripDurationMs: 1500,
  repeats: 3,
};

export const REDIS_QUICK: MatrixPlan = {
  payloadBytes: [256],
  batches: [256],
  failRates: [0],
  warmupMs: 300,
  durationMs: 1000,
  roundTripPayloadBytes: [256],
  roundTripWarmupMs: 200,
  roundTripDurationMs: 700,
  repeats: 1,
};

export function planRedisCases(plan: MatrixPlan, only?: Set<string>): CaseSpec[] {
  const cases: CaseSpec[] = [];
  const chosen = REDIS_CONTENDERS.filter((c) => only === undefined || only.has(c));
  const timing = { warmupMs: plan.warmupMs, durationMs: plan.durationMs };
  for (const payloadBytes of plan.payloadBytes) {
    for (const batch of plan.batches) {
      for (const contender of chosen) cases.push({ contender, mode: 'throughput', payloadBytes, batch, failRate: 0, ...timing });
    }
  }
  const rtTiming = { warmupMs: plan.roundTripWarmupMs, durationMs: plan.roundTripDurationMs };
  for (const payloadBytes of plan.roundTripPayloadBytes) {
    for (const contender of chosen) cases.push({ contender, mode: 'round-trip', payloadBytes, batch: 1, failRate: 0, ...rtTiming });
  }
  return cases;
}
