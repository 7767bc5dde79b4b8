// Backpressure (UC-6): a producer faster than the handler meets a bounded queue. Depth never passes
// capacity, fail-fast and timed enqueues report FULL and TIMEOUT, and everything that got in completes.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fnv1a, type Queue, QueueFullError, TimeoutError } from '../../../src/index.js';
import {
  assertEachIdOnce,
  assertFailure,
  type CaseRegistrar,
  type ContractEngine,
  checksumBytes,
  collectByPolling,
  failureOf,
  u32Payload,
  withQueue,
} from '../../support/contract-kit.js';

const CAPACITY = 16;
const slowChecksum = { name: 'slow', inner: 'checksum', delayUs: 200 };
const options = { capacity: CAPACITY, slotBytes: 16, handler: slowChecksum };

async function assertAllComplete(q: Queue, ids: number[], payloadOf: (id: number) => Uint8Array): Promise<void> {
  const results = await Promise.all(ids.map((id) => q.result(id)));
  results.forEach((r, i) => {
    assert.equal(r.id, ids[i]);
    assert.equal(r.status, 'ok', `message ${r.id}`);
    assert.deepEqual(r.data, checksumBytes(fnv1a(payloadOf(r.id))), `checksum of message ${r.id}`);
  });
}

export function backpressureCases(engine: ContractEngine, test: CaseRegistrar): void {
  test('depth never exceeds capacity while a slow handler falls behind, and every waiting enqueue gets in and completes', async () => {
    await withQueue(engine, options, async (q) => {
      const payloads = Array.from({ length: 400 }, (_, i) => u32Payload([i, i * 7]));
      let deepest = 0;
      const sample = () => {
        const { depth, maxDepth } = q.stats();
        assert.ok(depth <= CAPACITY, `stats().depth ${depth} exceeds capacity ${CAPACITY}`);
        assert.ok(maxDepth <= CAPACITY, `stats().maxDepth ${maxDepth} exceeds capacity ${CAPACITY}`);
        deepest = Math.max(deepest, depth);
      };
      // Results are taken as they come: a queue whose results nobody reads stops harvesting and fills for good.
      const collected = collectByPolling(q, payloads.length);
      const enqueued = Promise.all(payloads.map((p) => q.enqueue(p)));
      sample();
      let done = false;
      const sampler = (async () => {
        while (!done) {
          sample();
          await nextTurn();
        }
      })();
      let ids: number[];
      try {
        ids = await enqueued;
      } finally {
        done = true;
        await sampler;
      }
      assert.equal(deepest, CAPACITY, 'the producer should have filled the queue (else this case tests nothing)');
      const payloadOf = new Map(ids.map((id, i) => [id, payloads[i] as Uint8Array]));
      const completions = await collected;
      assertEachIdOnce(completions, ids);
      for (const c of completions) {
        assert.equal(c.status, 'ok', `message ${c.id}`);
        assert.deepEqual(c.data, checksumBytes(fnv1a(payloadOf.get(c.id) as Uint8Array)), `checksum of message ${c.id}`);
      }
      const stats = q.stats();
      assert.equal(stats.maxDepth, CAPACITY);
      assert.equal(stats.enqueued, payloads.length);
      assert.equal(stats.completed, payloads.length);
      assert.equal(stats.droppedFull, 0, 'enqueues that waited and got in are not dropped');
    });
  });

  test('when full, tryEnqueue throws QueueFullError (FULL) at once and enqueue with a short timeoutMs rejects with TimeoutError (TIMEOUT)', async () => {
    await withQueue(engine, options, async (q) => {
      q.pause(); // nothing leaves the queue, so "full" is certain rather than a race with the handler
      const accepted = new Map<number, Uint8Array>();
      for (let i = 0; i < CAPACITY; i++) {
        const p = u32Payload([i]);
        accepted.set(q.tryEnqueue(p), p);
      }
      const full = await failureOf(() => q.tryEnqueue(u32Payload([99])));
      assert.ok(full instanceof QueueFullError);
      assertFailure(full, { name: 'QueueFullError', code: 'FULL', message: /full/ }, 'tryEnqueue on a full queue');

      const timedOut = await failureOf(() => q.enqueue(u32Payload([100]), { timeoutMs: 20 }));
      assert.ok(timedOut instanceof TimeoutError);
      assertFailure(timedOut, { name: 'TimeoutError', code: 'TIMEOUT', message: /20 ms/ }, 'enqueue that waited 20 ms');

      const batch = await failureOf(() => q.enqueueBatch([u32Payload([101]), u32Payload([102])], { timeoutMs: 20 }));
      assertFailure(batch, { name: 'TimeoutError', code: 'TIMEOUT' }, 'enqueueBatch that waited 20 ms');
      assert.deepEqual((batch as TimeoutError).enqueuedIds, [], 'no message of the batch got in');

      const stats = q.stats();
      assert.equal(stats.depth, CAPACITY);
      assert.equal(stats.enqueued, CAPACITY, 'refused messages are not counted as enqueued');
      assert.equal(stats.droppedFull, 1 + 1 + 2, 'stats().droppedFull counts every refused message');
      q.resume();
      await assertAllComplete(q, [...accepted.keys()], (id) => accepted.get(id) as Uint8Array);
      assert.equal(q.stats().completed, CAPACITY);
    });
  });

  test('a batch that only partly fits before its timeout reports the ids that got in, and exactly those complete', async () => {
    await withQueue(engine, options, async (q) => {
      q.pause();
      const accepted = new Map<number, Uint8Array>();
      for (let i = 0; i < CAPACITY - 6; i++) {
        const p = u32Payload([i]);
        accepted.set(q.tryEnqueue(p), p);
      }
      const batch = Array.from({ length: 10 }, (_, i) => u32Payload([1000 + i]));
      const error = await failureOf(() => q.enqueueBatch(batch, { timeoutMs: 20 }));
      assertFailure(error, { name: 'TimeoutError', code: 'TIMEOUT' }, 'a batch of 10 with room for 6');
      const got = (error as TimeoutError).enqueuedIds;
      assert.equal(got.length, 6, 'ids of the batch that got in');
      const firstBatchId = got[0] as number;
      for (const id of got) accepted.set(id, batch[id - firstBatchId] as Uint8Array);
      assert.equal(q.stats().droppedFull, 4);
      q.resume();
      await assertAllComplete(q, [...accepted.keys()], (id) => accepted.get(id) as Uint8Array);
      const stats = q.stats();
      assert.equal(stats.completed, CAPACITY, 'only the messages that got in complete');
      assert.equal(stats.depth, 0);
    });
  });
}
