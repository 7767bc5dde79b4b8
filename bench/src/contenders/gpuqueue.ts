// gpuqueue: batches in through enqueueBatch, results out one message at a time through pollCompletions
// (per-message results, as an application reads them), polled once per event-loop turn while batches
// are out. The handler is `checksum`, wrapped in `fault` when the case fails a share of messages; each
// result is checked against FNV-1a and each dead letter against the fault handler's own reference. The
// round trip is `enqueue` → `result(id)`.
import { type Completion, DEFAULT_OPTIONS, faultFails, open, type Queue, type QueueOptions } from 'gpuqueue';
import { type Batch, type CaseSpec, type Probe, readU32LE } from '../contender.js';

/** A batch handed to the queue whose results are not all in. `firstId` is -1 until enqueueBatch resolves. */
interface OutstandingBatch {
  startedMs: number;
  expected: Uint32Array;
  firstId: number;
  left: number;
  resolve(): void;
  reject(error: Error): void;
}

const POLL_MAX = 8192;
const FAULT_PARAMS = { failAttempts: Number.POSITIVE_INFINITY, seed: 0 };

let q: Queue;
let probe: Probe;
let failRate = 0;
let engineConfig: Record<string, unknown> = {};
const outstanding: OutstandingBatch[] = [];
/** Completions read before enqueueBatch told us their ids (it resolves only once the whole batch is in). */
const early = new Map<number, { c: Completion; atMs: number }>();
let polling = false;

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export function setup(spec: CaseSpec, p: Probe): Promise<void> {
  return setupOn(spec, p, { backend: 'cpu' });
}

/** Opens the queue on an engine (`backend` and that engine's options, e.g. `redis`); the rest is the same everywhere. */
export async function setupOn(spec: CaseSpec, p: Probe, engine: Pick<QueueOptions, 'backend' | 'redis'>): Promise<void> {
  probe = p;
  failRate = spec.failRate;
  const handler = failRate > 0 ? { name: 'fault', inner: 'checksum', failRate } : 'checksum';
  // Room for the two batches kept in flight.
  const capacity = Math.max(DEFAULT_OPTIONS.capacity, nextPowerOfTwo(2 * spec.batch));
  engineConfig = { ...engine, capacity, slotBytes: spec.payloadBytes, handler };
  q = await open({ ...engine, capacity, slotBytes: spec.payloadBytes, handler });
}

export function run(batch: Batch): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const count = batch.payloads.length;
    const o: OutstandingBatch = { startedMs: performance.now(), expected: batch.expected, firstId: -1, left: count, resolve, reject };
    outstanding.push(o);
    if (!polling) void pollWhileOutstanding();
    q.enqueueBatch(batch.payloads).then((ids) => {
      const first = ids[0] as number;
      if (ids[count - 1] !== first + count - 1) {
        reject(
          new Error(
            `enqueueBatch gave non-contiguous ids (${first}…${ids[count - 1]} for ${count} messages); the bench's bookkeeping assumes one producer`,
          ),
        );
        return;
      }
      o.firstId = first;
      for (const [id, e] of early) {
        if (id >= first && id < first + count) {
          early.delete(id);
          settle(o, e.c, e.atMs);
        }
      }
    }, reject);
  });
}

async function pollWhileOutstanding(): Promise<void> {
  polling = true;
  try {
    while (outstanding.length > 0) {
      const got = q.pollCompletions(POLL_MAX);
      if (got.length > 0) {
        const atMs = performance.now();
        let dead = 0;
        for (const c of got) {
          if (c.status === 'dead-letter') dead++;
          const o = owner(c.id);
          if (o) settle(o, c, atMs);
          else early.set(c.id, { c, atMs });
        }
        if (dead > 0) q.deadLetters(); // drop the payload copies the queue keeps for inspection
      }
      await new Promise<void>((r) => setImmediate(r));
    }
  } catch (error) {
    for (const o of outstanding.splice(0)) o.reject(error as Error);
  } finally {
    polling = false;
  }
}

function owner(id: number): OutstandingBatch | undefined {
  for (const o of outstanding) if (o.firstId !== -1 && id >= o.firstId && id < o.firstId + o.expected.length) return o;
  return undefined;
}

function settle(o: OutstandingBatch, c: Completion, atMs: number): void {
  probe.recordNs((atMs - o.startedMs) * 1e6);
  probe.retries += c.attempts - 1;
  const mustFail = failRate > 0 && faultFails(c.id, 0, { failRate, ...FAULT_PARAMS });
  if (mustFail) probe.expectedDeadLetters++;
  if (c.status === 'ok') {
    if (mustFail || c.data.byteLength !== 4 || readU32LE(c.data) !== o.expected[c.id - o.firstId]) probe.mismatches++;
  } else {
    probe.deadLetters++;
    if (!mustFail) probe.mismatches++;
  }
  if (--o.left === 0) {
    outstanding.splice(outstanding.indexOf(o), 1);
    o.resolve();
  }
}

export async function roundTrip(payload: Uint8Array): Promise<number> {
  const id = await q.enqueue(payload);
  const r = await q.result(id);
  return r.status === 'ok' ? readU32LE(r.data) : -1;
}

export async function teardown(): Promise<Record<string, unknown>> {
  const s = q.stats();
  const report = await q.shutdown();
  return {
    ...engineConfig,
    engine: s.engine,
    engineDetail: s.engineDetail,
    maxDepth: s.maxDepth,
    /** The queue's own enqueue → harvest latency over the whole run, warm-up included. */
    queueLatencyUs: s.latency,
    timeToReadyMs: s.timeToReadyMs,
    undelivered: report.undelivered.length,
  };
}
