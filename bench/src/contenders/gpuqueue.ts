// gpuqueue on the engine the case names (cpu, cuda, webgpu): batches in through enqueueBatch, on the
// owner thread or split among producer worker threads (attachProducer, producer-threads.ts); results
// out one message at a time through pollCompletions on the owner thread (per-message results, as an
// application reads them), polled once per event-loop turn while batches are out. The handler is
// `checksum`, wrapped in `fault` when the case fails a share of messages; each result is checked against
// FNV-1a and each dead letter against the fault handler's own reference. Round trip: `enqueue` → `result(id)`.
import {
  BatchStatus,
  type CompletionBatch,
  createCompletionBatch,
  DEFAULT_OPTIONS,
  faultFails,
  open,
  type Queue,
  type QueueOptions,
} from 'gpuqueue';
import { type Batch, type CaseSpec, type Probe, readU32LE } from '../contender.js';
import { type IdSpan, ProducerThreads } from '../producer-threads.js';

/** A batch handed to the queue whose results are not all in; `spans` grow as its enqueues resolve. */
interface OutstandingBatch {
  startedMs: number;
  expected: Uint32Array;
  spans: IdSpan[];
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
let producers: ProducerThreads | undefined;
let batchIndex = new Map<Batch, number>();
const outstanding: OutstandingBatch[] = [];
/** One completion as the bench checks it: `value` is the 4-byte result, or -1 when there is none of that size. */
interface Outcome {
  id: number;
  ok: boolean;
  attempts: number;
  value: number;
  atMs: number;
}
/** Completions read before their enqueue told us their ids (enqueueBatch resolves once the whole share is in). */
const early = new Map<number, Outcome>();
/** `completions: 'bulk'` cases: the queue is opened with harvest: 'on-poll' and read with pollCompletionsInto. */
let bulk: CompletionBatch | undefined;
let polling = false;

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export function setup(spec: CaseSpec, p: Probe, batches: readonly Batch[]): Promise<void> {
  return setupOn(spec, p, batches, { backend: spec.backend ?? 'cpu' });
}

/** Opens the queue on an engine (`backend` and that engine's options, e.g. `redis`); the rest is the same everywhere. */
export async function setupOn(
  spec: CaseSpec,
  p: Probe,
  batches: readonly Batch[],
  engine: Pick<QueueOptions, 'backend' | 'redis'>,
): Promise<void> {
  probe = p;
  failRate = spec.failRate;
  const handler = failRate > 0 ? { name: 'fault', inner: 'checksum', failRate } : 'checksum';
  // Room for the batches kept in flight (--ring-batches: more, so GPU engines can hold bigger batches).
  const ringBatches = Math.max(spec.ringBatches ?? 2, spec.batchesInFlight ?? 2);
  const capacity = Math.max(DEFAULT_OPTIONS.capacity, nextPowerOfTwo(ringBatches * spec.batch));
  const harvest = spec.completions === 'bulk' ? 'on-poll' : 'auto';
  bulk = spec.completions === 'bulk' ? createCompletionBatch(POLL_MAX, 4) : undefined;
  engineConfig = { ...engine, capacity, slotBytes: spec.payloadBytes, handler, harvest };
  q = await open({ ...engine, capacity, slotBytes: spec.payloadBytes, handler, harvest });
  batchIndex = new Map(batches.map((b, i) => [b, i]));
  const threads = spec.producers ?? 0;
  if (threads > 0 && spec.mode === 'throughput') producers = await ProducerThreads.start(q.producerHandle(), batches, threads);
}

export function run(batch: Batch): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const count = batch.payloads.length;
    const o: OutstandingBatch = { startedMs: performance.now(), expected: batch.expected, spans: [], left: count, resolve, reject };
    outstanding.push(o);
    if (!polling) void pollWhileOutstanding();
    const fail = (error: Error) => {
      const at = outstanding.indexOf(o);
      if (at >= 0) outstanding.splice(at, 1);
      reject(error);
    };
    if (producers) {
      const index = batchIndex.get(batch);
      if (index === undefined) return fail(new Error('run() got a batch that setup() was not given'));
      producers.enqueue(index, (span) => addSpan(o, span), fail);
      return;
    }
    // onIds: the batch's ids are known before the first result can come back (a span learnt only when
    // enqueueBatch resolved left completions read first to wait in `early`, a Map entry per message).
    let firstId = -1;
    const onIds = (first: number) => {
      firstId = first;
      addSpan(o, { firstId: first, count, offset: 0 });
    };
    q.enqueueBatch(batch.payloads, { onIds }).then((ids) => {
      if (ids[0] !== firstId || ids[count - 1] !== firstId + count - 1) {
        fail(new Error(`enqueueBatch gave ids ${ids[0]}…${ids[count - 1]} for ${count} messages; onIds said ${firstId}`));
      }
    }, fail);
  });
}

/** Ids of `span` are known now: settle the completions that came back before we knew them. */
function addSpan(o: OutstandingBatch, span: IdSpan): void {
  o.spans.push(span);
  if (early.size === 0) return;
  for (let id = span.firstId; id < span.firstId + span.count; id++) {
    const e = early.get(id);
    if (e) {
      early.delete(id);
      settle(o, span, e);
    }
  }
}

async function pollWhileOutstanding(): Promise<void> {
  polling = true;
  try {
    // One poll per event-loop turn, bulk too: spinning on polls while results come kept the producer
    // threads' span messages from being delivered, so every completion waited in `early`.
    while (outstanding.length > 0) {
      pollOnce();
      await new Promise<void>((r) => setImmediate(r));
    }
  } catch (error) {
    for (const o of outstanding.splice(0)) o.reject(error as Error);
  } finally {
    polling = false;
  }
}

/** Reads what is finished (completion objects, or the bulk batch) and settles it; returns how many. */
function pollOnce(): number {
  let dead = 0;
  let n = 0;
  if (bulk) {
    const b = bulk;
    n = q.pollCompletionsInto(b);
    const atMs = performance.now();
    // Completions of one batch read in one poll share a latency: settle them in place and record the
    // latency once per batch per poll (as the CUDA baselines record once per batch), not per message.
    let o: OutstandingBatch | undefined;
    let span: IdSpan | undefined;
    let settled = 0;
    for (let i = 0; i < n; i++) {
      const id = b.ids[i] as number;
      const ok = b.statuses[i] === BatchStatus.OK;
      if (!ok) dead++;
      const at = b.resultOffsets[i] as number;
      const r = b.results;
      const value =
        ok && b.resultLengths[i] === 4
          ? ((r[at] as number) | ((r[at + 1] as number) << 8) | ((r[at + 2] as number) << 16) | ((r[at + 3] as number) << 24)) >>> 0
          : -1;
      if (o === undefined || span === undefined || id < span.firstId || id >= span.firstId + span.count) {
        if (o !== undefined && settled > 0) finishSettled(o, atMs, settled);
        settled = 0;
        const found = findSpan(id);
        if (found === undefined) {
          o = undefined;
          early.set(id, { id, ok, attempts: b.attempts[i] as number, value, atMs });
          continue;
        }
        [o, span] = found;
      }
      checkOutcome(o, span, id, ok, b.attempts[i] as number, value);
      settled++;
    }
    if (o !== undefined && settled > 0) finishSettled(o, atMs, settled);
  } else {
    const got = q.pollCompletions(POLL_MAX);
    n = got.length;
    const atMs = performance.now();
    for (const c of got) {
      if (c.status === 'dead-letter') dead++;
      const value = c.status === 'ok' && c.data.byteLength === 4 ? readU32LE(c.data) : -1;
      settleOrKeep({ id: c.id, ok: c.status === 'ok', attempts: c.attempts, value, atMs });
    }
  }
  if (dead > 0) q.deadLetters(); // drop the payload copies the queue keeps for inspection
  return n;
}

/** Settles a completion whose batch and span are known, else keeps it until its ids come back. */
function settleOrKeep(c: Outcome): void {
  const found = findSpan(c.id);
  if (found === undefined) early.set(c.id, c);
  else settle(found[0], found[1], c);
}

/** The outstanding batch and span an id belongs to, once its enqueue has told us. */
function findSpan(id: number): [OutstandingBatch, IdSpan] | undefined {
  for (const o of outstanding) {
    for (const span of o.spans) if (id >= span.firstId && id < span.firstId + span.count) return [o, span];
  }
  return undefined;
}

function settle(o: OutstandingBatch, span: IdSpan, c: Outcome): void {
  checkOutcome(o, span, c.id, c.ok, c.attempts, c.value);
  finishSettled(o, c.atMs, 1);
}

/** Checks one completion against the reference (checksum, or the fault handler's verdict). */
function checkOutcome(o: OutstandingBatch, span: IdSpan, id: number, ok: boolean, attempts: number, value: number): void {
  probe.retries += attempts - 1;
  const mustFail = failRate > 0 && faultFails(id, 0, { failRate, ...FAULT_PARAMS });
  if (mustFail) probe.expectedDeadLetters++;
  if (ok) {
    const expected = o.expected[span.offset + id - span.firstId];
    if (mustFail || value !== expected) probe.mismatches++;
  } else {
    probe.deadLetters++;
    if (!mustFail) probe.mismatches++;
  }
}

/** `count` completions of a batch were checked, all read at `atMs`: record their latency, resolve when all are in. */
function finishSettled(o: OutstandingBatch, atMs: number, count: number): void {
  probe.recordNs((atMs - o.startedMs) * 1e6, count);
  o.left -= count;
  if (o.left === 0) {
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
  const threads = producers?.threads ?? 0;
  await producers?.close();
  const s = q.stats();
  const report = await q.shutdown();
  return {
    ...engineConfig,
    producerThreads: threads,
    engine: s.engine,
    engineDetail: s.engineDetail,
    maxDepth: s.maxDepth,
    /** The queue's own enqueue → harvest latency over the whole run, warm-up included. */
    queueLatencyUs: s.latency,
    timeToReadyMs: s.timeToReadyMs,
    undelivered: report.undelivered.length,
  };
}
