// The queue contract on a local 3-master Redis Cluster (started here, torn down after): producers and an
// in-process worker reach it through ioredis' Cluster client (`redis.clusterNodes`), every partition's
// keys in one slot by their hash tag. Also, with several partitions spread over the masters, every keyed
// message completes once, in key order. Skipped, with the reason, when redis-server or redis-cli is missing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { streamKey } from '../../src/engines/redis/keys.js';
import { RedisWorker } from '../../src/engines/redis/worker.js';
import { fnv1a, open, type QueueOptions } from '../../src/index.js';
import { assertEachIdOnce, collectByPolling } from '../support/contract-kit.js';
import { exitWhenDone } from '../support/exit-when-done.js';
import { LocalRedisCluster, redisClusterToolsMissingReason } from '../support/redis-cluster.js';
import { uniqueQueueName } from '../support/redis-server.js';
import { runContractSuite } from './contract-suite.js';

exitWhenDone();

const skipReason = await redisClusterToolsMissingReason();
if (skipReason) console.log(`# redis cluster contract suite skipped: ${skipReason}`);

// Started here, at load time, so the suite's options can name its nodes; `after` tears it down.
const cluster = skipReason ? undefined : await LocalRedisCluster.start(3);
const seeds = cluster?.seeds ?? ['127.0.0.1:1'];
const name = uniqueQueueName('cluster');
// One partition for the suite, as on a single Redis (test/contract/redis.test.ts says why).
const redis = { clusterNodes: seeds, name, leaseMs: 2000, partitions: 1 };

let worker: RedisWorker | undefined;
before(async () => {
  if (!skipReason) worker = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 200, redis });
});
after(async () => {
  await worker?.stop();
  await cluster?.stop();
});

runContractSuite({
  name: 'redis (3-master cluster)',
  options: { backend: 'redis', redis } as unknown as QueueOptions,
  ...(skipReason ? { skipReason } : {}),
});

describe('the redis engine on a Redis Cluster', { skip: skipReason ?? false }, () => {
  it('spreads 8 partitions over the masters; every keyed message completes once, checksummed, in key order', async () => {
    const spread = { clusterNodes: seeds, name: uniqueQueueName('cluster-spread'), leaseMs: 2000, partitions: 8 };
    const probe = new Cluster(seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })));
    const spreadWorker = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 200, redis: spread });
    const q = await open({
      backend: 'redis',
      capacity: 1024,
      slotBytes: 64,
      handler: 'checksum',
      redis: spread,
    } as unknown as QueueOptions);
    try {
      const slots = new Set<number>();
      for (let p = 0; p < 8; p++) slots.add(Number(await probe.call('CLUSTER', 'KEYSLOT', streamKey(spread.name, p))));
      assert.ok(slots.size > 1, 'the partitions hash to more than one slot');
      const payloads = Array.from({ length: 800 }, (_, i) => Buffer.from(`cluster message ${i}`));
      const keys = payloads.map((_, i) => `key-${i % 13}`);
      const ids = await q.enqueueBatch(payloads, { keys });
      // Completions in the order they were harvested: each key's must follow enqueue order.
      const seen = await collectByPolling(q, ids.length);
      assertEachIdOnce(seen, ids);
      const lastByKey = new Map<string, number>();
      for (const c of seen) {
        const i = ids.indexOf(c.id);
        assert.equal(c.status, 'ok', `message ${c.id}`);
        assert.equal(Buffer.from(c.data).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array), `checksum of message ${c.id}`);
        const key = keys[i] as string;
        assert.ok((lastByKey.get(key) ?? -1) < c.id, `key ${key}: message ${c.id} completed after a later one`);
        lastByKey.set(key, c.id);
      }
      const stats = q.stats();
      assert.equal(stats.completed, payloads.length);
      assert.equal(stats.deadLettered, 0);
      assert.equal(spreadWorker.stats().partitions.length, 8, 'one worker took every partition');
    } finally {
      await q.shutdown();
      await spreadWorker.stop();
      probe.disconnect();
    }
  });
});
