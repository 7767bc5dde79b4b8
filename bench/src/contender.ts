// The contract every contender file (contenders/*.ts) keeps, node-redis benchmark-runner style: a module
// exporting setup / run / teardown (and roundTrip when it has a one-message path), loaded by runner.ts
// inside a forked process of its own. A contender verifies every result it gets against the reference
// checksum and records latencies into the Probe it is given.
import * as hdr from 'hdr-histogram-js';

/** One measurement: a contender on one point of the matrix. Plain data: it crosses the fork boundary. */
export interface CaseSpec {
  contender: ContenderName;
  /** `throughput`: batches back to back, two in flight; `round-trip`: one message at a time. */
  mode: 'throughput' | 'round-trip';
  payloadBytes: number;
  /** Messages handed over per call (1 in round-trip mode). */
  batch: number;
  /** Fraction of messages the fault handler fails (gpuqueue only; 0 for peers). */
  failRate: number;
  /** The engine gpuqueue runs on (gpuqueue only). **Default:** `'cpu'` */
  backend?: GpuqueueBackend;
  /**
   * Worker threads enqueueing each batch (gpuqueue only: each attaches with attachProducer and enqueues
   * its share; the owner thread harvests). **Default:** `0`: the owner thread enqueues too.
   */
  producers?: number;
  warmupMs: number;
  durationMs: number;
  /** gpuqueue: how results are read — completion objects (`pollCompletions`, the default) or `bulk` (`pollCompletionsInto`, harvest: 'on-poll'). */
  completions?: 'objects' | 'bulk';
  /** gpuqueue: the queue's capacity in batches (rounded up to a power of two, at least the default capacity). **Default:** `2` */
  ringBatches?: number;
  /**
   * Throughput mode: batches handed over before the first is back (gpuqueue cases only; the ring is then
   * at least this many batches). **Default:** `2` (runner.ts BATCHES_IN_FLIGHT)
   */
  batchesInFlight?: number;
}

export const CONTENDERS = ['gpuqueue', 'piscina-task', 'piscina-batched', 'plain-loop', 'cuda-launch', 'cuda-graph'] as const;
/** `--engine redis`: gpuqueue on Redis Streams, BullMQ, and a hand-written Streams loop (redis/matrix.ts). */
export const REDIS_CONTENDERS = ['gpuqueue-redis', 'bullmq', 'redis-streams'] as const;
export type ContenderName = (typeof CONTENDERS)[number] | (typeof REDIS_CONTENDERS)[number];
export type GpuqueueBackend = 'cpu' | 'cuda' | 'webgpu';

/** What a contender is handed: payloads and the FNV-1a each must give. */
export interface Batch {
  payloads: Uint8Array[];
  expected: Uint32Array;
}

/** Latencies are recorded in nanoseconds: from the moment a batch is handed over until a message's result is in hand. */
export class Probe {
  readonly latencyNs = hdr.build({ numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, highestTrackableValue: 600e9 });
  /** Per batch (recorded by runner.ts): from hand-over until the last result is in hand and checked. */
  readonly batchLatencyNs = hdr.build({ numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, highestTrackableValue: 600e9 });
  messages = 0;
  mismatches = 0;
  deadLetters = 0;
  /** Dead letters the fault handler's reference (faultFails) says there must be. */
  expectedDeadLetters = 0;
  retries = 0;

  recordNs(ns: number, count = 1): void {
    const v = ns < 1 ? 1 : Math.round(ns);
    if (count === 1) this.latencyNs.recordValue(v);
    else this.latencyNs.recordValueWithCount(v, count);
  }

  recordBatchNs(ns: number): void {
    this.batchLatencyNs.recordValue(ns < 1 ? 1 : Math.round(ns));
  }

  reset(): void {
    this.latencyNs.reset();
    this.batchLatencyNs.reset();
    this.messages = 0;
    this.mismatches = 0;
    this.deadLetters = 0;
    this.expectedDeadLetters = 0;
    this.retries = 0;
  }
}

/** A contender module: what runner.ts imports. */
export interface Contender {
  /** Starts what the contender needs (a queue, a pool); nothing here is timed. `batches` are those run() will get. */
  setup(spec: CaseSpec, probe: Probe, batches: readonly Batch[]): Promise<void>;
  /** Processes one batch: resolves when every result is in hand and checked, latencies recorded. */
  run(batch: Batch): Promise<void>;
  /** One message there and back; resolves with its checksum (the runner checks and times it). */
  roundTrip?(payload: Uint8Array): Promise<number>;
  /** Stops everything; returns facts worth keeping in the JSON (threads used, engine detail…). */
  teardown(): Promise<Record<string, unknown>>;
}

/** The 4 little-endian bytes of the checksum handler's result as a number. */
export const readU32LE = (b: Uint8Array): number =>
  ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16) | ((b[3] as number) << 24)) >>> 0;
