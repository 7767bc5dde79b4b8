// Shutdown (UC-7): shutdown() drains what is queued and in flight, keeps the completions readable, refuses
// new work with ShutdownError, and when its timeout cuts the drain short, reports every unfinished message.
import assert from 'node:assert/strict';
import { type Completion, fnv1a, ShutdownError } from '../../../src/index.js';
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

const SHUTDOWN = { name: 'ShutdownError', code: 'SHUTDOWN' };

export function shutdownCases(engine: ContractEngine, test: CaseRegistrar): void {
  test('shutdown() drains every queued and in-flight message, and every completion stays retrievable afterwards', async () => {
    await withQueue(engine, { capacity: 256, slotBytes: 16, handler: { name: 'slow', inner: 'checksum', delayUs: 300 } }, async (q) => {
      const payloadOf = new Map<number, Uint8Array>();
      const batch = Array.from({ length: 150 }, (_, i) => u32Payload([i]));
      for (const [i, id] of (await q.enqueueBatch(batch)).entries()) payloadOf.set(id, batch[i] as Uint8Array);
      for (let i = 150; i < 200; i++) {
        const p = u32Payload([i]);
        payloadOf.set(await q.enqueue(p), p);
      }
      const before = q.stats();
      const report = await q.shutdown();
      assert.deepEqual(report.undelivered, [], 'a full drain leaves nothing undelivered');
      assert.equal(
        report.drained,
        payloadOf.size - before.completed - before.deadLettered,
        'report.drained counts what finished while draining',
      );
      const stats = q.stats();
      assert.equal(stats.state, 'shut-down');
      assert.equal(stats.completed, payloadOf.size);
      assert.equal(stats.depth, 0);
      assert.equal(await q.shutdown(), report, 'shutdown() again returns the same report');

      const ids = [...payloadOf.keys()];
      const checkResult = (c: Completion) => {
        assert.equal(c.status, 'ok', `message ${c.id}`);
        assert.deepEqual(c.data, checksumBytes(fnv1a(payloadOf.get(c.id) as Uint8Array)), `checksum of message ${c.id}`);
      };
      const third = Math.floor(ids.length / 3);
      for (const id of ids.slice(0, third)) {
        const c = await q.result(id);
        assert.equal(c.id, id);
        checkResult(c);
      }
      for (const id of ids.slice(third, 2 * third)) {
        const c = q.tryDequeueResult(id);
        assert.equal(c.id, id);
        checkResult(c);
      }
      const rest = q.pollCompletions(1000);
      assertEachIdOnce(rest, ids.slice(2 * third));
      rest.forEach(checkResult);
      assert.deepEqual(q.pollCompletions(), [], 'every completion was taken');
      assertFailure(await failureOf(() => q.tryDequeueResult(ids[0] as number)), { name: 'NotFoundError', code: 'NOT_FOUND' }, 'taken id');

      const p = u32Payload([1]);
      const refusals: [string, () => unknown][] = [
        ['enqueue', () => q.enqueue(p)],
        ['tryEnqueue', () => q.tryEnqueue(p)],
        ['enqueueBatch', () => q.enqueueBatch([p])],
        ['pause', () => q.pause()],
        ['resume', () => q.resume()],
      ];
      for (const [what, call] of refusals) {
        const error = await failureOf(call);
        assert.ok(error instanceof ShutdownError, `${what} after shutdown`);
        assertFailure(error, SHUTDOWN, `${what} after shutdown`);
      }
      assert.equal(q.stats().enqueued, payloadOf.size, 'refused calls enqueued nothing');
    });
  });

  test('an enqueue waiting for space when shutdown begins rejects with ShutdownError, and the messages already in still drain', async () => {
    await withQueue(engine, { capacity: 16, slotBytes: 16, handler: { name: 'slow', inner: 'checksum', delayUs: 200 } }, async (q) => {
      q.pause();
      const ids: number[] = [];
      for (let i = 0; i < 16; i++) ids.push(q.tryEnqueue(u32Payload([i])));
      const waiting = failureOf(() => q.enqueue(u32Payload([16]), { timeoutMs: 30_000 }));
      const report = await q.shutdown();
      assertFailure(await waiting, SHUTDOWN, 'the waiting enqueue');
      assert.deepEqual(report.undelivered, []);
      assertEachIdOnce(q.pollCompletions(), ids);
      assert.equal(q.stats().enqueued, 16);
    });
  });

  test('shutdown() whose timeoutMs ends the drain early reports every unfinished message: completed + undelivered = enqueued', async () => {
    await withQueue(engine, { capacity: 16, slotBytes: 16, handler: { name: 'slow', inner: 'checksum', delayUs: 20_000 } }, async (q) => {
      const payloadOf = new Map<number, Uint8Array>();
      for (let i = 0; i < 16; i++) {
        const p = u32Payload([i, 0xabcdef]);
        payloadOf.set(q.tryEnqueue(p, { key: 'one-key' }), p); // one key: one shard, one consumer, a real backlog
      }
      // Wait for the first to finish, so the handler is working through the backlog when shutdown comes.
      // The other 15 messages of 20 ms each cannot drain in 1 ms: most must come back as undelivered.
      const completed = await collectByPolling(q, 1);
      const report = await q.shutdown({ timeoutMs: 1 });
      completed.push(...q.pollCompletions());
      const undeliveredIds = report.undelivered.map((u) => u.id);
      assert.equal(completed.length + report.undelivered.length, payloadOf.size, 'completed + undelivered = enqueued');
      assertEachIdOnce([...completed, ...report.undelivered.map((u) => ({ id: u.id }) as Completion)], [...payloadOf.keys()]);
      for (const u of report.undelivered) {
        assert.deepEqual(u.payload, payloadOf.get(u.id), `undelivered message ${u.id} carries its payload`);
        assert.ok(u.state === 'queued' || u.state === 'in-flight', `state of undelivered ${u.id}: ${u.state}`);
      }
      for (const c of completed) assert.deepEqual(c.data, checksumBytes(fnv1a(payloadOf.get(c.id) as Uint8Array)));
      // A consumer that runs one message at a time cannot have finished the backlog; a GPU block may have
      // taken all 16 at once, and then they all finish (in flight) before it sees STOP.
      if (engine.runsShardInParallel && report.undelivered.length === 0) return;
      assert.ok(
        report.undelivered.length > 0,
        `a 1 ms drain of 15 messages of 20 ms each reported none undelivered: shutdown ran all ${completed.length} (took ${report.durationMs} ms)`,
      );
      const first = undeliveredIds[0] as number;
      assertFailure(await failureOf(() => q.result(first)), SHUTDOWN, 'result() of an undelivered message');
    });
  });
}
