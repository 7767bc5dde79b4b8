// Abort signals: an already-aborted signal rejects at once with AbortedError (its reason as `cause`) and
// does nothing; aborting a call that waits (for space, for a result) rejects it, and the queue goes on.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AbortedError, fnv1a } from '../../../src/index.js';
import {
  assertFailure,
  type CaseRegistrar,
  type ContractEngine,
  checksumBytes,
  failureOf,
  u32Payload,
  withQueue,
} from '../../support/contract-kit.js';

const ABORTED = { name: 'AbortedError', code: 'ABORTED' };
const options = { capacity: 16, slotBytes: 16, handler: 'checksum' };

export function abortCases(engine: ContractEngine, test: CaseRegistrar): void {
  test('an already-aborted signal rejects enqueue, enqueueBatch and result at once, with the reason as cause, and enqueues nothing', async () => {
    await withQueue(engine, options, async (q) => {
      const reason = new Error('caller gave up');
      const signal = AbortSignal.abort(reason);
      q.pause(); // keeps `pending` unfinished, so result() has something to wait for
      const pending = q.tryEnqueue(u32Payload([1]));
      const calls: [string, () => Promise<unknown>][] = [
        ['enqueue', () => q.enqueue(u32Payload([2]), { signal })],
        ['enqueue with a key', () => q.enqueue(u32Payload([3]), { key: 'k', signal })],
        ['enqueueBatch', () => q.enqueueBatch([u32Payload([4]), u32Payload([5])], { signal })],
        ['result', () => q.result(pending, { signal })],
      ];
      for (const [what, call] of calls) {
        const error = await failureOf(call);
        assert.ok(error instanceof AbortedError, what);
        assertFailure(error, ABORTED, what);
        assert.equal(error.cause, reason, `${what}: cause is the signal's reason`);
      }
      assert.equal(q.stats().enqueued, 1, 'aborted enqueues put nothing in the queue');
      q.resume();
      const r = await q.result(pending);
      assert.deepEqual(r.data, checksumBytes(fnv1a(u32Payload([1]))), 'the pending message still completes');
      const after = await q.enqueue(u32Payload([6]));
      assert.equal((await q.result(after)).status, 'ok');
      assert.equal(q.stats().completed, 2);
    });
  });

  test('aborting an enqueue that waits for space in a full queue rejects it, and the queue still works', async () => {
    await withQueue(engine, options, async (q) => {
      q.pause();
      const accepted: number[] = [];
      for (let i = 0; i < 16; i++) accepted.push(q.tryEnqueue(u32Payload([i])));
      const single = new AbortController();
      const batch = new AbortController();
      const waitingSingle = failureOf(() => q.enqueue(u32Payload([100]), { signal: single.signal, timeoutMs: 30_000 }));
      const waitingBatch = failureOf(() =>
        q.enqueueBatch([u32Payload([101]), u32Payload([102])], { signal: batch.signal, timeoutMs: 30_000 }),
      );
      await nextTurn();
      single.abort();
      batch.abort(new Error('batch no longer needed'));
      assertFailure(await waitingSingle, ABORTED, 'the waiting enqueue');
      const batchError = await waitingBatch;
      assertFailure(batchError, ABORTED, 'the waiting enqueueBatch');
      assert.deepEqual((batchError as AbortedError).enqueuedIds, [], 'none of the aborted batch got in');
      assert.equal(q.stats().enqueued, 16);

      q.resume();
      const later = await q.enqueue(u32Payload([200]), { timeoutMs: 10_000 });
      for (const id of [...accepted, later]) assert.equal((await q.result(id)).status, 'ok', `message ${id}`);
      const stats = q.stats();
      assert.equal(stats.completed, 17, 'the 16 that got in and the one after; the aborted ones never ran');
      assert.equal(stats.depth, 0);
    });
  });

  test('aborting a result() that waits rejects it without losing the result, which a later result() takes', async () => {
    await withQueue(engine, options, async (q) => {
      q.pause();
      const id = q.tryEnqueue(u32Payload([7]));
      const controller = new AbortController();
      const waiting = failureOf(() => q.result(id, { signal: controller.signal }));
      await nextTurn();
      controller.abort();
      assertFailure(await waiting, ABORTED, 'the waiting result()');
      q.resume();
      const r = await q.result(id);
      assert.equal(r.id, id);
      assert.deepEqual(r.data, checksumBytes(fnv1a(u32Payload([7]))));
    });
  });
}
