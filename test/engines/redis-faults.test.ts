// The redis engine under faults, each test on a redis-server of its own (a free loopback port): a worker
// killed with SIGKILL mid-batch, Redis killed and restarted (with appendfsync always, and with no
// persistence at all), Redis unreachable at open(), and entries that keep killing their workers.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BACKENDS } from '../../src/core/options.js';
import { deadKey, GROUP, streamKey } from '../../src/engines/redis/keys.js';
import { RedisWorker } from '../../src/engines/redis/worker.js';
import { type Completion, fnv1a, HandlerStatus, open, type Queue, type QueueOptions } from '../../src/index.js';
import { exitWhenDone } from '../support/exit-when-done.js';
import { PrivateRedis, redisServerMissingReason, startWorkerProcess, uniqueQueueName } from '../support/redis-server.js';

exitWhenDone();

const skip =
  (await redisServerMissingReason()) ??
  ((BACKENDS as readonly string[]).includes('redis') ? undefined : "the 'redis' backend is not registered in src/core/options.ts yet");
if (skip) console.log(`# redis fault tests skipped: ${skip}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * How long a test waits for a real event (completions, a reconnect, a redelivery after a lease) before it
 * fails. Generous: on a loaded 2-core CI machine these take seconds, not milliseconds; a test never
 * sleeps a fixed time expecting something to have happened.
 */
const EVENT_WAIT_MS = 120_000;
/** A hang is a failure, never a stuck run. */
const TEST_TIMEOUT_MS = 240_000;

/** Polls `holds` every 10 ms until it is true; fails naming `what` after EVENT_WAIT_MS. */
async function waitUntil(what: string, holds: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + EVENT_WAIT_MS;
  while (!(await holds())) {
    if (Date.now() > deadline) assert.fail(`waited ${EVENT_WAIT_MS / 1000} s for ${what}`);
    await sleep(10);
  }
}
const payloadOf = (i: number): Uint8Array => Buffer.from(`message ${i} ${'x'.repeat(i % 17)}`);

function openRedisQueue(url: string, name: string, extra: Record<string, unknown> = {}): Promise<Queue> {
  const options = { backend: 'redis', capacity: 1024, slotBytes: 64, handler: 'checksum', redis: { url, name, leaseMs: 500 }, ...extra };
  return open(options as unknown as QueueOptions);
}

/** Every id's completion, checked against the checksum of its payload; per key in enqueue order. */
async function assertAllChecksummed(q: Queue, ids: number[], payloads: Uint8Array[], timeoutMs = EVENT_WAIT_MS): Promise<Completion[]> {
  const results = await Promise.all(ids.map((id) => q.result(id, { timeoutMs })));
  results.forEach((r, i) => {
    assert.equal(r.status, 'ok', `message ${ids[i]}: ${r.reason ?? ''}`);
    assert.equal(Buffer.from(r.data).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array), `checksum of message ${ids[i]}`);
  });
  return results;
}

/** Entries delivered to some consumer of the queue's group and not acknowledged, over its partitions. */
async function pendingEntries(url: string, name: string, partitions: number): Promise<number> {
  const client = new Redis(url);
  try {
    let n = 0;
    for (let p = 0; p < partitions; p++) n += Number(((await client.xpending(streamKey(name, p), GROUP)) as [number])[0]);
    return n;
  } finally {
    client.disconnect();
  }
}

async function assertNothingLeft(url: string, name: string, partitions: number): Promise<void> {
  const client = new Redis(url);
  try {
    for (let p = 0; p < partitions; p++) {
      assert.equal(await client.xlen(streamKey(name, p)), 0, `partition ${p}: processed entries are deleted`);
      const [pending] = (await client.xpending(streamKey(name, p), GROUP)) as [number];
      assert.equal(pending, 0, `partition ${p}: nothing is left pending`);
    }
  } finally {
    client.disconnect();
  }
}

/**
 * A TCP proxy in front of a redis-server: `muted` swallows what Redis sends (replies lost on the wire),
 * `cut()` drops every connection through it (the clients reconnect through it).
 */
class CuttableProxy {
  muted = false;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(redisPort: number): Promise<CuttableProxy> {
    const server = createServer();
    const proxy = new CuttableProxy(server);
    server.on('connection', (client) => {
      const upstream = createConnection(redisPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          proxy.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (!proxy.muted) client.write(d);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('redis engine faults', { skip: skip ?? false }, () => {
  it('a worker killed with SIGKILL mid-batch: another worker finishes its messages, in key order, each completed once', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const redis = await PrivateRedis.start();
    const name = uniqueQueueName('kill');
    let first: ChildProcess | undefined;
    let second: RedisWorker | undefined;
    try {
      const slow = { name: 'slow', inner: 'checksum', delayUs: 2000 };
      const q = await openRedisQueue(redis.url, name, { handler: slow });
      first = await startWorkerProcess({ url: redis.url, name, leaseMs: 500 });
      let batchesBeforeKill = 0;
      first.on('message', (m: { type?: string; stats?: { batches: number } }) => {
        if (m.type === 'stats') batchesBeforeKill = m.stats?.batches ?? 0;
      });
      const payloads = Array.from({ length: 400 }, (_, i) => payloadOf(i));
      const keys = payloads.map((_, i) => `k${i % 8}`);
      const ids = await q.enqueueBatch(payloads, { keys });
      await waitUntil('the first worker to publish 2 batches', () => batchesBeforeKill >= 2);
      first.kill('SIGKILL');
      if (first.exitCode === null && first.signalCode === null) await new Promise((resolve) => first?.once('exit', resolve));
      const completedAtKill = q.stats().completed;
      assert.ok(completedAtKill < payloads.length, 'the worker must die with work left');
      // What the dead worker held: entries delivered to it and never acknowledged. Almost always some (it
      // dies inside a batch of 2-ms messages); when the kill fell between two batches there are none, and
      // then nothing is reclaimed either (the second worker just reads on).
      const pendingAtKill = await pendingEntries(redis.url, name, 4);
      second = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 200, redis: { url: redis.url, name, leaseMs: 500 } });
      // Completions in the order they were harvested: each key's must follow enqueue order.
      const seen: Completion[] = [];
      const deadline = Date.now() + EVENT_WAIT_MS;
      while (seen.length < ids.length && Date.now() < deadline) {
        seen.push(...q.pollCompletions());
        await sleep(5);
      }
      assert.equal(seen.length, ids.length, 'every message completed');
      assert.equal(new Set(seen.map((c) => c.id)).size, ids.length, 'each message completed once');
      const lastByKey = new Map<string, number>();
      for (const c of seen) {
        const i = ids.indexOf(c.id);
        assert.equal(c.status, 'ok', `message ${c.id}`);
        assert.equal(Buffer.from(c.data).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array), `checksum of message ${c.id}`);
        const key = keys[i] as string;
        assert.ok((lastByKey.get(key) ?? 0) < c.id, `key ${key}: message ${c.id} completed after a later one`);
        lastByKey.set(key, c.id);
      }
      if (pendingAtKill > 0)
        assert.ok(second.stats().reclaimed >= 1, `the second worker re-ran the ${pendingAtKill} entries the first left pending`);
      else assert.equal(second.stats().reclaimed, 0, 'nothing was pending, so nothing is reclaimed');
      const stats = q.stats();
      assert.equal(stats.completed, payloads.length);
      assert.equal(stats.deadLettered, 0);
      await q.shutdown();
      await assertNothingLeft(redis.url, name, 4);
    } finally {
      first?.kill('SIGKILL');
      await second?.stop();
      await redis.stop();
    }
  });

  it('Redis killed and restarted with appendfsync always: no message is lost, results arrive once it is back', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const redis = await PrivateRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    const name = uniqueQueueName('aof');
    let worker: RedisWorker | undefined;
    try {
      const q = await openRedisQueue(redis.url, name, { handler: { name: 'slow', inner: 'checksum', delayUs: 1000 } });
      worker = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 200, redis: { url: redis.url, name, leaseMs: 500 } });
      const payloads = Array.from({ length: 600 }, (_, i) => payloadOf(i));
      const ids = await q.enqueueBatch(payloads);
      await waitUntil('50 completions', () => q.stats().completed >= 50);
      await redis.kill();
      // The client notices the dropped connection (and its reconnects failing) on its own schedule.
      await waitUntil('stats() to say that Redis fails', () => /Redis failing/.test(q.stats().engineDetail));
      await redis.restart();
      await assertAllChecksummed(q, ids, payloads);
      assert.equal(q.stats().completed, payloads.length);
      await q.shutdown();
    } finally {
      await worker?.stop();
      await redis.stop();
    }
  });

  it("a worker's XREADGROUP reply lost with its connection: the entry Redis delivered is still run, though the worker keeps its lease", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // What a Redis killed with appendfsync always can do: persist a delivery, then die before the reply is
    // written. ioredis re-sends the in-flight XREADGROUP >, which takes the next entry; the delivered one
    // stays pending to a worker whose lease outlived the outage, so nothing used to recover it.
    const redis = await PrivateRedis.start();
    const proxy = await CuttableProxy.start(redis.port);
    const name = uniqueQueueName('lostreply');
    const client = new Redis(redis.url);
    let worker: RedisWorker | undefined;
    try {
      // A lease far longer than the test: only the worker's own recovery can run the lost delivery.
      const leaseMs = 60_000;
      const q = await openRedisQueue(redis.url, name, { redis: { url: redis.url, name, partitions: 1, leaseMs } });
      worker = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 5000, redis: { url: proxy.url, name, leaseMs } });
      const first = await q.enqueue(payloadOf(1));
      assert.equal((await q.result(first, { timeoutMs: EVENT_WAIT_MS })).status, 'ok');
      // Mute only once the worker has its publication's reply and waits in XREADGROUP (the producer's
      // reader is the other blocked client).
      await waitUntil('the worker to block in XREADGROUP', async () => {
        const info = await client.info('clients');
        return worker?.stats().batches === 1 && Number(/blocked_clients:(\d+)/.exec(info)?.[1]) >= 2;
      });
      proxy.muted = true;
      const payload = payloadOf(2);
      const lost = await q.enqueue(payload);
      const stream = streamKey(name, 0);
      await waitUntil('the entry to be delivered to the worker', async () => ((await client.xpending(stream, GROUP)) as [number])[0] === 1);
      proxy.muted = false;
      proxy.cut();
      await assertAllChecksummed(q, [lost], [payload]);
      assert.ok(worker.stats().reclaimed >= 1, 'the worker re-ran the entry delivered to the read that was lost');
      await q.shutdown();
      await assertNothingLeft(redis.url, name, 1);
    } finally {
      client.disconnect();
      await worker?.stop();
      await proxy.stop();
      await redis.stop();
    }
  });

  it("a worker's read reply lost with no connection event (as a Cluster node's may be): the periodic sweep still runs the entry", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const redis = await PrivateRedis.start();
    const name = uniqueQueueName('sweep');
    let worker: RedisWorker | undefined;
    try {
      // A lease far longer than the test: only the worker's sweep can run the unseen delivery.
      const leaseMs = 60_000;
      const q = await openRedisQueue(redis.url, name, { redis: { url: redis.url, name, partitions: 1, leaseMs } });
      worker = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 100, sweepMs: 300, redis: { url: redis.url, name, leaseMs } });
      const first = await q.enqueue(payloadOf(1));
      assert.equal((await q.result(first, { timeoutMs: EVENT_WAIT_MS })).status, 'ok');
      // Drop the next reply that carries an entry, as a lost reply would: Redis delivered it to this
      // worker's name, and the worker never saw it. (A private field: the hazard has no public handle.)
      const reader = (worker as unknown as { owned: Map<number, { reader: Redis }> }).owned.get(0)?.reader;
      assert.ok(reader, 'the worker owns partition 0');
      const read = reader.xreadgroupBuffer.bind(reader) as (...args: unknown[]) => Promise<unknown>;
      let dropped = 0;
      let calls = 0;
      (reader as unknown as { xreadgroupBuffer: (...args: unknown[]) => Promise<unknown> }).xreadgroupBuffer = async (...args) => {
        calls++;
        const reply = await read(...args);
        if (reply !== null && dropped === 0) {
          dropped++;
          return null;
        }
        return reply;
      };
      // A read already in flight went out unpatched: enqueue only once the loop reads through the patch.
      await waitUntil('the worker to read through the patched reader', () => calls > 0);
      const payload = payloadOf(2);
      const unseen = await q.enqueue(payload);
      await assertAllChecksummed(q, [unseen], [payload], 20_000);
      assert.equal(dropped, 1, 'a reply was dropped');
      assert.ok(worker.stats().reclaimed >= 1, 'the sweep re-ran the entry whose reply was dropped');
      await q.shutdown();
      await assertNothingLeft(redis.url, name, 1);
    } finally {
      await worker?.stop();
      await redis.stop();
    }
  });

  it('refuses a worker blockMs or sweepMs that is not a positive number of milliseconds', async () => {
    for (const bad of [0, -1, Number.NaN, '5']) {
      await assert.rejects(RedisWorker.start({ sweepMs: bad as number }), /sweepMs must be a positive number of milliseconds/);
      await assert.rejects(RedisWorker.start({ blockMs: bad as number }), /blockMs must be a positive number of milliseconds/);
    }
  });

  it('Redis restarted with no persistence: batches it lost are shipped again and every message completes', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const redis = await PrivateRedis.start(['--appendonly', 'no']);
    const name = uniqueQueueName('lost');
    let worker: RedisWorker | undefined;
    try {
      const q = await openRedisQueue(redis.url, name, { handler: { name: 'slow', inner: 'checksum', delayUs: 1000 } });
      worker = await RedisWorker.start({ engine: 'cpu', threads: 1, blockMs: 200, redis: { url: redis.url, name, leaseMs: 500 } });
      const payloads = Array.from({ length: 400 }, (_, i) => payloadOf(i));
      const ids = await q.enqueueBatch(payloads);
      await waitUntil('50 completions', () => q.stats().completed >= 50);
      await redis.kill();
      await redis.restart();
      await assertAllChecksummed(q, ids, payloads);
      await q.shutdown();
    } finally {
      await worker?.stop();
      await redis.stop();
    }
  });

  it('Redis unreachable: open() fails with EngineUnavailableError naming where it looked, and works once Redis is up', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const redis = await PrivateRedis.start();
    const name = uniqueQueueName('down');
    try {
      await redis.kill();
      await assert.rejects(openRedisQueue(redis.url, name, { redis: { url: redis.url, name, connectTimeoutMs: 500 } }), (error: Error) => {
        assert.equal((error as { code?: string }).code, 'ENGINE_UNAVAILABLE');
        assert.match(error.message, new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${redis.port}`));
        return true;
      });
      await redis.restart();
      const worker = await RedisWorker.start({ engine: 'cpu', threads: 1, redis: { url: redis.url, name } });
      const q = await openRedisQueue(redis.url, name);
      const id = await q.enqueue(payloadOf(1));
      assert.equal((await q.result(id, { timeoutMs: EVENT_WAIT_MS })).status, 'ok');
      await q.shutdown();
      await worker.stop();
    } finally {
      await redis.stop();
    }
  });

  it('an entry delivered maxDeliveries times without acknowledgement is dead-lettered as CONSUMER_DIED, with its reason', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const redis = await PrivateRedis.start();
    const name = uniqueQueueName('poison');
    const client = new Redis(redis.url);
    let worker: RedisWorker | undefined;
    try {
      const q = await openRedisQueue(redis.url, name, { redis: { url: redis.url, name, partitions: 1, maxDeliveries: 3 } });
      const payloads = [payloadOf(1), payloadOf(2)];
      const ids = await q.enqueueBatch(payloads);
      const stream = streamKey(name, 0);
      await waitUntil('the first batch on the stream', async () => (await client.xlen(stream)) > 0);
      // Three workers take the entry and die before acknowledging it.
      await client.xreadgroup('GROUP', GROUP, 'dead-1', 'COUNT', 10, 'STREAMS', stream, '>');
      const [[entryId]] = (await client.xpending(stream, GROUP, '-', '+', 10)) as [[string]];
      await client.xclaim(stream, GROUP, 'dead-2', 0, entryId);
      await client.xclaim(stream, GROUP, 'dead-3', 0, entryId);
      worker = await RedisWorker.start({ engine: 'cpu', threads: 1, redis: { url: redis.url, name, maxDeliveries: 3 } });
      // The first batch of a partition holds one message (batches grow from one), so only ids[0] was taken.
      const poisoned = await q.result(ids[0] as number, { timeoutMs: EVENT_WAIT_MS });
      assert.equal(poisoned.status, 'dead-letter');
      assert.equal(poisoned.handlerStatus, HandlerStatus.CONSUMER_DIED);
      assert.equal(poisoned.attempts, 3);
      assert.match(poisoned.reason ?? '', /CONSUMER_DIED/);
      assert.equal(
        (await q.result(ids[1] as number, { timeoutMs: EVENT_WAIT_MS })).status,
        'ok',
        'the partition goes on after a dead letter',
      );
      assert.deepEqual(
        q.deadLetters().map((d) => d.id),
        [ids[0]],
      );
      const dead = (await client.xrange(deadKey(name, 0), '-', '+')) as [string, string[]][];
      assert.equal(dead.length, 1);
      assert.match(dead[0]?.[1].join(' ') ?? '', /delivered 3 times without being acknowledged/);
      assert.equal(worker.stats().deadLettered, 1);
      await q.shutdown();
    } finally {
      client.disconnect();
      await worker?.stop();
      await redis.stop();
    }
  });
});
