// The floor of a naive Streams design, written by hand with ioredis: one stream entry per message (one
// pipelined XADD each), a consumer group read by workers/redis-streams-consumer.ts in a child process
// (XREADGROUP COUNT 256, FNV-1a, one XADD per result, XACK + XDEL), results read here with a blocked
// XREAD on the results stream. No retries, no dead letters, no ordering across consumers: just the wire.
import { Redis } from 'ioredis';
import type { Batch, CaseSpec, Probe } from '../contender.js';
import { type BenchRedis, type ConsumerProcess, startConsumer, startRedis } from '../redis/server.js';

const STREAM = 'raw:messages';
const RESULTS = 'raw:results';
const GROUP = 'workers';
const READ_COUNT = 256;

type Entries = [Buffer, Buffer[]][];

let probe: Probe;
let redis: BenchRedis | undefined;
let consumer: ConsumerProcess | undefined;
let producer: Redis;
let reader: Redis;
let stopping = false;
let readLoop: Promise<void> = Promise.resolve();
let nextSeq = 0;
/** Messages whose result is awaited, by sequence number. */
const waiting = new Map<number, (sum: number, atMs: number) => void>();

export async function setup(_spec: CaseSpec, p: Probe): Promise<void> {
  probe = p;
  redis = await startRedis();
  producer = new Redis(redis.url);
  reader = new Redis(redis.url);
  await producer.xgroup('CREATE', STREAM, GROUP, '$', 'MKSTREAM');
  consumer = await startConsumer('redis-streams-consumer', {
    url: redis.url,
    stream: STREAM,
    results: RESULTS,
    group: GROUP,
    count: READ_COUNT,
  });
  readLoop = readResults();
}

async function readResults(): Promise<void> {
  let last = '0-0';
  while (!stopping) {
    const reply = (await reader.xreadBuffer('COUNT', 4096, 'BLOCK', 200, 'STREAMS', RESULTS, last)) as [Buffer, Entries][] | null;
    const entries = reply?.[0]?.[1];
    if (!entries || entries.length === 0) continue;
    const atMs = performance.now();
    const ids: Buffer[] = [];
    // fields: i <sequence> c <checksum>
    for (const [id, fields] of entries) {
      ids.push(id);
      const seq = Number((fields[1] as Buffer).toString());
      const done = waiting.get(seq);
      if (!done) continue;
      waiting.delete(seq);
      done(Number((fields[3] as Buffer).toString()), atMs);
    }
    last = (ids[ids.length - 1] as Buffer).toString();
    producer.xdel(RESULTS, ...ids).catch(() => {});
  }
}

export async function run(batch: Batch): Promise<void> {
  const startedMs = performance.now();
  const { payloads, expected } = batch;
  let left = payloads.length;
  const all = new Promise<void>((resolve) => {
    const pipe = producer.pipeline();
    for (let i = 0; i < payloads.length; i++) {
      const seq = nextSeq++;
      waiting.set(seq, (sum, atMs) => {
        probe.recordNs((atMs - startedMs) * 1e6);
        if (sum !== expected[i]) probe.mismatches++;
        if (--left === 0) resolve();
      });
      pipe.xadd(
        STREAM,
        '*',
        'i',
        seq,
        'p',
        Buffer.from(payloads[i]?.buffer as ArrayBuffer, payloads[i]?.byteOffset, payloads[i]?.byteLength),
      );
    }
    pipe.exec();
  });
  await all;
}

export function roundTrip(payload: Uint8Array): Promise<number> {
  const seq = nextSeq++;
  return new Promise<number>((resolve) => {
    waiting.set(seq, (sum) => resolve(sum));
    producer.xadd(STREAM, '*', 'i', seq, 'p', Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  });
}

export async function teardown(): Promise<Record<string, unknown>> {
  stopping = true;
  await readLoop;
  const report = (await consumer?.stop()) ?? {};
  producer.disconnect();
  reader.disconnect();
  await redis?.stop();
  return { ...report, readCount: READ_COUNT, redisServer: redis?.version };
}
