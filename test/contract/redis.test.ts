// The queue contract on the redis engine: producers ship to Redis Streams on the shared test server and
// an in-process worker (RedisWorker, cpu local engine) runs the batches. Skipped, with the reason, when
// Redis is unreachable or the redis backend is not registered in this build.
import { after, before } from 'node:test';
import { BACKENDS } from '../../src/core/options.js';
import { RedisWorker } from '../../src/engines/redis/worker.js';
import type { QueueOptions } from '../../src/index.js';
import { exitWhenDone } from '../support/exit-when-done.js';
import { deleteQueueKeys, redisUnreachableReason, SHARED_REDIS_URL, uniqueQueueName } from '../support/redis-server.js';
import { runContractSuite } from './contract-suite.js';

exitWhenDone();

const name = uniqueQueueName('contract');
// One partition: some cases put `capacity` messages of one key into the queue, which needs one shard
// as large as the queue. Several partitions are exercised by test/engines/redis-faults.test.ts.
const redis = { url: SHARED_REDIS_URL, name, leaseMs: 2000, partitions: 1 };
const skipReason = (BACKENDS as readonly string[]).includes('redis')
  ? await redisUnreachableReason()
  : "the 'redis' backend is not registered in src/core/options.ts (BACKENDS) yet";
if (skipReason) console.log(`# redis contract suite skipped: ${skipReason}`);

let worker: RedisWorker | undefined;
before(async () => {
  if (!skipReason) worker = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 200, redis });
});
after(async () => {
  await worker?.stop();
  if (!skipReason) await deleteQueueKeys(SHARED_REDIS_URL, name);
});

runContractSuite({
  name: 'redis',
  options: { backend: 'redis', redis } as unknown as QueueOptions,
  ...(skipReason ? { skipReason } : {}),
});
