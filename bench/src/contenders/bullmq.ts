// BullMQ: a Queue adding each batch with one addBulk (job data { p: <payload, base64> }, removed once
// complete so Redis memory stays bounded, as gpuqueue's is), results read from QueueEvents' `completed`
// events (the return value is the FNV-1a), the Worker in a child process (workers/bullmq-consumer.ts).
// Round trip: add one job, await its `completed` event.
import { Queue, QueueEvents } from 'bullmq';
import type { Batch, CaseSpec, Probe } from '../contender.js';
import { type BenchRedis, type ConsumerProcess, startConsumer, startRedis } from '../redis/server.js';

/** Jobs the worker runs at once. BullMQ's default is 1, far slower for a processor this short; 64 keeps it fed. */
export const BULLMQ_CONCURRENCY = 64;
const QUEUE = 'bench';
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true };

interface Waiting {
  startedMs: number;
  expected: number;
  done(sum: number, atMs: number): void;
}

let probe: Probe;
let redis: BenchRedis | undefined;
let consumer: ConsumerProcess | undefined;
let queue: Queue;
let events: QueueEvents;
/** Jobs whose result is awaited, by job id; results that came before addBulk said the id wait in `early`. */
const waiting = new Map<string, Waiting>();
const early = new Map<string, { sum: number; atMs: number }>();

export async function setup(_spec: CaseSpec, p: Probe): Promise<void> {
  probe = p;
  redis = await startRedis();
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  consumer = await startConsumer('bullmq-consumer', { port: redis.port, queue: QUEUE, concurrency: BULLMQ_CONCURRENCY });
  queue = new Queue(QUEUE, { connection });
  // From the stream's start: with the default ('$') completions that land before QueueEvents' first
  // XREAD are never seen (the case's Redis is fresh, so '0' replays nothing old).
  events = new QueueEvents(QUEUE, { connection, lastEventId: '0' });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  events.on('completed', ({ jobId, returnvalue }) => {
    const atMs = performance.now();
    const sum = Number(returnvalue);
    const w = waiting.get(jobId);
    if (!w) {
      early.set(jobId, { sum, atMs });
      return;
    }
    waiting.delete(jobId);
    w.done(sum, atMs);
  });
}

function await1(id: string, w: Waiting): void {
  const e = early.get(id);
  if (e) {
    early.delete(id);
    w.done(e.sum, e.atMs);
  } else waiting.set(id, w);
}

export async function run(batch: Batch): Promise<void> {
  const startedMs = performance.now();
  const { payloads, expected } = batch;
  const jobs = payloads.map((payload) => ({ name: 'c', data: { p: Buffer.from(payload).toString('base64') }, opts: JOB_OPTIONS }));
  let left = payloads.length;
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const added = await queue.addBulk(jobs);
  added.forEach((job, i) => {
    await1(job.id as string, {
      startedMs,
      expected: expected[i] as number,
      done: (sum, atMs) => {
        probe.recordNs((atMs - startedMs) * 1e6);
        if (sum !== expected[i]) probe.mismatches++;
        if (--left === 0) resolveAll();
      },
    });
  });
  await all;
}

export async function roundTrip(payload: Uint8Array): Promise<number> {
  const job = await queue.add('c', { p: Buffer.from(payload).toString('base64') }, JOB_OPTIONS);
  return new Promise<number>((resolve) => {
    await1(job.id as string, { startedMs: 0, expected: 0, done: (sum) => resolve(sum) });
  });
}

export async function teardown(): Promise<Record<string, unknown>> {
  await events.close();
  await queue.close();
  const worker = (await consumer?.stop()) ?? {};
  await redis?.stop();
  return { ...worker, redisServer: redis?.version, jobOptions: JOB_OPTIONS };
}
