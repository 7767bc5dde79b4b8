// gpuqueue on the redis engine: the same producer side as the cpu contender (contenders/gpuqueue.ts:
// enqueueBatch in, per-message results out through pollCompletions; round trip enqueue → result), with
// `backend: 'redis'` and its defaults, a redis-server of its own, and the consumer — a RedisWorker with
// its defaults, as `gpuqueue worker` runs — in a child process.
import type { Batch, CaseSpec, Probe } from '../contender.js';
import { type BenchRedis, type ConsumerProcess, startConsumer, startRedis } from '../redis/server.js';
import * as queue from './gpuqueue.js';

let redis: BenchRedis | undefined;
let consumer: ConsumerProcess | undefined;

export async function setup(spec: CaseSpec, p: Probe, batches: readonly Batch[]): Promise<void> {
  redis = await startRedis();
  const name = 'bench';
  consumer = await startConsumer('gpuqueue-redis-consumer', { url: redis.url, name });
  await queue.setupOn(spec, p, batches, { backend: 'redis', redis: { url: redis.url, name } });
}

export const run = queue.run;
export const roundTrip = queue.roundTrip;

export async function teardown(): Promise<Record<string, unknown>> {
  const detail = await queue.teardown();
  const worker = (await consumer?.stop()) ?? {};
  await redis?.stop();
  return { ...detail, ...worker, redisServer: redis?.version };
}
