// The redis engine's pieces that need no Redis (the entry format, the batch config, the options), and
// the Lua scripts' exactly-once gates against the shared Redis (skipped, with the reason, without one).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { decodeBatchConfig, encodeBatchConfig } from '../../src/engines/redis/handler-config.js';
import { InlineRunner } from '../../src/engines/redis/inline-runner.js';
import { doneKey, GROUP, inboxKey, streamKey } from '../../src/engines/redis/keys.js';
import { resolveRedisOptions } from '../../src/engines/redis/options.js';
import { runScript, scripts } from '../../src/engines/redis/scripts.js';
import { packBatch, packResults, unpackBatch, unpackResults } from '../../src/engines/redis/wire.js';
import { resolveHandler } from '../../src/handlers/registry.js';
import { fnv1a, HandlerStatus } from '../../src/index.js';
import { expectedAttempts } from '../support/contract-kit.js';
import { exitWhenDone } from '../support/exit-when-done.js';
import { deleteQueueKeys, redisUnreachableReason, SHARED_REDIS_URL, uniqueQueueName } from '../support/redis-server.js';

exitWhenDone();

describe("a worker's inline runner (lone messages on the worker's thread)", () => {
  it('keeps the cpu engine semantics: results, attempts and dead letters as the fault reference says', () => {
    const fault = { failRate: 0.3, failAttempts: 2 };
    const maxRetries = 1;
    const spec = resolveHandler({ name: 'fault', inner: 'checksum', ...fault });
    const runner = InlineRunner.create(spec, 64, 4, maxRetries);
    assert.ok(runner, 'fault(checksum) may run inline');
    const messages = Array.from({ length: 200 }, (_, i) => ({ id: 1000 + i, keyHash: 0, flags: 0, payload: Buffer.from(`inline ${i}`) }));
    let dead = 0;
    for (let i = 0; i < messages.length; i += 4) {
      for (const r of runner.run(messages.slice(i, i + 4))) {
        const m = messages.find((x) => x.id === r.id);
        const want = expectedAttempts(r.id, fault, maxRetries);
        assert.equal(r.attempts, want.attempts, `attempts of message ${r.id}`);
        if (want.dead) {
          dead++;
          assert.equal(r.handlerStatus, HandlerStatus.FAILED, `message ${r.id} fails every attempt`);
          assert.equal(r.data.byteLength, 0);
        } else {
          assert.equal(r.handlerStatus, HandlerStatus.OK, `message ${r.id}`);
          assert.equal(Buffer.from(r.data).readUInt32LE(0), fnv1a(m?.payload as Uint8Array), `checksum of message ${r.id}`);
        }
      }
    }
    assert.ok(dead > 0, 'some messages fail every attempt');
  });

  it('never runs crash (it must kill a consumer thread, not the worker) and gives up on slow handlers', () => {
    assert.equal(InlineRunner.create(resolveHandler({ name: 'crash', inner: 'echo' }), 16, 16, 0), undefined);
    const slow = InlineRunner.create(resolveHandler({ name: 'slow', inner: 'echo', delayUs: 200 }), 16, 16, 0);
    assert.ok(slow);
    const one = [{ id: 1, keyHash: 0, flags: 0, payload: Buffer.from('x') }];
    for (let i = 0; i < 3; i++) slow.run(one);
    assert.equal(slow.usable, false, 'a handler slower than 50 µs per message goes back to the consumer threads');
  });
});

describe('redis entry format', () => {
  it('packs and unpacks batches and results bit for bit, ids above 2^32 included', () => {
    const messages = [
      { id: 1, keyHash: 0xdeadbeef, flags: 1, payload: Uint8Array.of(1, 2, 3) },
      { id: 2 ** 40 + 7, keyHash: 0, flags: 0, payload: new Uint8Array(0) },
    ];
    const back = unpackBatch(packBatch(messages));
    assert.deepEqual(
      back.map((m) => ({ ...m, payload: Uint8Array.from(m.payload) })),
      messages,
    );
    const results = [
      { id: 2 ** 33, handlerStatus: -5, attempts: 3, data: Uint8Array.of(9) },
      { id: 5, handlerStatus: 0, attempts: 1, data: new Uint8Array(0) },
    ];
    assert.deepEqual(
      unpackResults(packResults(results)).map((r) => ({ ...r, data: Uint8Array.from(r.data) })),
      results,
    );
  });

  it('refuses a truncated entry with a message saying so', () => {
    const packed = packBatch([{ id: 1, keyHash: 0, flags: 0, payload: new Uint8Array(10) }]);
    assert.throws(() => unpackBatch(packed.subarray(0, packed.length - 1)), /malformed gpuqueue stream entry/);
  });

  it("keeps a handler spec's non-finite numbers (the fault handler's failAttempts: Infinity) through Redis", () => {
    const config = {
      handler: { name: 'fault', params: { inner: { name: 'echo', params: {} }, failRate: 0.5, failAttempts: Infinity, seed: 1 } },
      slotBytes: 64,
      resultBytes: 64,
      maxRetries: 2,
    };
    assert.deepEqual(decodeBatchConfig(encodeBatchConfig(config)), config);
  });
});

describe('redis options', () => {
  it('fill in every default and name the bad value and what is allowed', () => {
    assert.equal(resolveRedisOptions(undefined).partitions, 4);
    assert.throws(() => resolveRedisOptions({ partitions: 3 }), /redis\.partitions must be a power of two from 1 to 1024; got 3/);
    assert.throws(() => resolveRedisOptions({ url: 'http://x' }), /redis\.url must be a redis:\/\/ or rediss:\/\/ URL; got "http:\/\/x"/);
    assert.throws(() => resolveRedisOptions({ name: 'a{b}' }), /redis\.name must be 1 to 128 characters/);
    assert.throws(() => resolveRedisOptions({ nope: 1 }), /unknown option redis\.nope/);
    assert.throws(() => resolveRedisOptions({ leaseMs: 5 }), /redis\.leaseMs must be an integer from 100/);
  });
});

const unreachable = await redisUnreachableReason();

describe('redis Lua scripts', { skip: unreachable ?? false }, () => {
  const name = uniqueQueueName('lua');
  const stream = streamKey(name, 0);
  const inbox = inboxKey(name, 0, 'prod');
  let client: Redis;
  before(async () => {
    client = new Redis(SHARED_REDIS_URL);
    await client.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    await client.xadd(inbox, 'MAXLEN', '0', '*', 'hello', '1');
  });
  after(async () => {
    client.disconnect();
    await deleteQueueKeys(SHARED_REDIS_URL, name);
  });

  const deliver = async (): Promise<string> => {
    const batch = packBatch([{ id: 41, keyHash: 0, flags: 0, payload: Uint8Array.of(1) }]);
    const id = (await runScript(client, scripts().ship, [stream], [100, 'prod', 'digest', batch])) as string;
    await client.xreadgroup('GROUP', GROUP, 'w1', 'COUNT', 1, 'STREAMS', stream, '>');
    return id;
  };
  const publish = (entryId: string) =>
    runScript(client, scripts().publishResult, [stream, inbox, doneKey(name, 0, 'prod', 41)], [GROUP, entryId, 60_000, packResults([])]);

  it('publishes a result once: a second delivery of the entry, or a duplicate entry of the batch, publishes nothing', async () => {
    const first = await deliver();
    assert.equal(await publish(first), 1, 'the first publication goes through');
    assert.equal(await publish(first), 0, 'the entry was already acknowledged');
    assert.equal(await client.xlen(stream), 0, 'an acknowledged entry is deleted');
    const duplicate = await deliver();
    assert.equal(await publish(duplicate), 0, 'the batch was already published (its done mark exists)');
    assert.equal(await client.xlen(inbox), 1, 'exactly one result entry reached the inbox');
    assert.ok((await client.pttl(doneKey(name, 0, 'prod', 41))) > 0, 'the done mark expires');
  });

  it('refuses to ship to a stream that holds maxStreamEntries entries (backpressure)', async () => {
    const s = streamKey(name, 1);
    assert.notEqual(await runScript(client, scripts().ship, [s], [1, 'prod', 'd', Buffer.alloc(4)]), null);
    assert.equal(await runScript(client, scripts().ship, [s], [1, 'prod', 'd', Buffer.alloc(4)]), null);
  });
});
