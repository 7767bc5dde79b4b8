// Ids, disposal, pause/resume and stats: ids only grow, `await using` shuts the queue down, pause holds
// work that resume releases, and stats() agrees with what the test itself did.
import assert from 'node:assert/strict';
import { open, type Queue } from '../../../src/index.js';
import {
  assertEachIdOnce,
  assertFailure,
  type CaseRegistrar,
  type ContractEngine,
  collectByPolling,
  expectedAttempts,
  failureOf,
  sleep,
  u32Payload,
  withQueue,
} from '../../support/contract-kit.js';

const SHUTDOWN = { name: 'ShutdownError', code: 'SHUTDOWN' };

function assertIncreasing(ids: number[], what: string): void {
  ids.forEach((id, i) => {
    assert.ok(Number.isSafeInteger(id) && id > 0, `${what}: id ${id} is a positive integer`);
    if (i > 0) assert.ok(id > (ids[i - 1] as number), `${what}: id ${id} follows ${ids[i - 1]}`);
  });
}

export function lifecycleCases(engine: ContractEngine, test: CaseRegistrar): void {
  test('ids increase monotonically in call order across enqueue, tryEnqueue and enqueueBatch, also for concurrent calls', async () => {
    await withQueue(engine, { capacity: 16, slotBytes: 16, handler: 'echo' }, async (q) => {
      const sequential: number[] = [];
      for (let round = 0; round < 20; round++) {
        sequential.push(await q.enqueue(u32Payload([round]), round % 2 === 0 ? { key: round % 3 } : {}));
        sequential.push(
          ...(await q.enqueueBatch([u32Payload([1]), u32Payload([2]), u32Payload([3])], round % 2 === 0 ? {} : { keys: ['a', 'b', 'a'] })),
        );
        await q.result(sequential[sequential.length - 1] as number); // make room so tryEnqueue has space
        sequential.push(q.tryEnqueue(u32Payload([round])));
      }
      assertIncreasing(sequential, 'sequential calls');
      // Concurrent calls: the queue fills at once, later calls wait, yet ids still follow call order.
      const calls: Promise<number[]>[] = [];
      for (let i = 0; i < 60; i++) {
        calls.push(i % 3 === 0 ? q.enqueueBatch([u32Payload([i]), u32Payload([i])]) : q.enqueue(u32Payload([i])).then((id) => [id]));
      }
      const concurrent = (await Promise.all(calls)).flat();
      assertIncreasing(concurrent, 'concurrent calls');
      assert.ok((concurrent[0] as number) > (sequential[sequential.length - 1] as number));
      const all = [...sequential, ...concurrent];
      const alreadyTaken = new Set(sequential.filter((_, i) => i % 5 === 3));
      assertEachIdOnce(
        await collectByPolling(q, all.length - alreadyTaken.size),
        all.filter((id) => !alreadyTaken.has(id)),
      );
    });
  });

  test('`await using` shuts the queue down when its block ends, after draining it', async () => {
    let escaped: Queue | undefined;
    let id = 0;
    {
      await using q = await open({
        ...engine.options,
        capacity: 16,
        slotBytes: 16,
        handler: { name: 'slow', inner: 'echo', delayUs: 2000 },
      });
      escaped = q;
      id = await q.enqueue(u32Payload([42]));
    }
    const q = escaped as Queue;
    assert.equal(q.stats().state, 'shut-down');
    const r = q.tryDequeueResult(id);
    assert.deepEqual(r.data, u32Payload([42]), 'the message enqueued in the block was drained');
    assertFailure(await failureOf(() => q.enqueue(u32Payload([1]))), SHUTDOWN, 'enqueue after the block');
  });

  test('Symbol.asyncDispose shuts the queue down', async () => {
    const q = await open({ ...engine.options, capacity: 16, slotBytes: 16, handler: 'echo' });
    const id = await q.enqueue(u32Payload([7]));
    await q[Symbol.asyncDispose]();
    assert.equal(q.stats().state, 'shut-down');
    assert.equal(q.tryDequeueResult(id).status, 'ok');
    assertFailure(await failureOf(() => q.tryEnqueue(u32Payload([1]))), SHUTDOWN, 'tryEnqueue after dispose');
  });

  test('pause() before enqueueing holds every message until resume()', async () => {
    await withQueue(engine, { capacity: 64, slotBytes: 16, handler: 'echo' }, async (q) => {
      q.pause();
      assert.equal(q.stats().state, 'paused');
      const ids = await q.enqueueBatch(Array.from({ length: 20 }, (_, i) => u32Payload([i])));
      await sleep(100);
      assert.deepEqual(q.pollCompletions(), [], 'nothing completes while paused');
      assertFailure(
        await failureOf(() => q.tryDequeueResult(ids[0] as number)),
        { name: 'NotReadyError', code: 'NOT_READY' },
        'paused message',
      );
      const stats = q.stats();
      assert.equal(stats.depth, 20);
      assert.equal(stats.completed, 0);
      q.resume();
      assert.equal(q.stats().state, 'ready');
      assertEachIdOnce(await collectByPolling(q, 20), ids);
    });
  });

  test('pause() while a slow handler works through a backlog stops it taking new messages; resume() finishes them', async () => {
    const total = 40;
    const late = 20;
    await withQueue(engine, { capacity: 64, slotBytes: 16, handler: { name: 'slow', inner: 'echo', delayUs: 5000 } }, async (q) => {
      const ids = await q.enqueueBatch(Array.from({ length: total }, (_, i) => u32Payload([i])));
      const done = [...(await collectByPolling(q, 1))];
      q.pause();
      await sleep(100); // the messages in flight when pause() came may still finish
      done.push(...q.pollCompletions());
      const atPause = done.length;
      // Messages enqueued while paused are taken by no engine, however parallel.
      const lateIds = await q.enqueueBatch(Array.from({ length: late }, (_, i) => u32Payload([total + i])));
      await sleep(200);
      const whilePaused = q.pollCompletions();
      assert.equal(
        whilePaused.length,
        0,
        `${whilePaused.length} messages completed between 100 and 300 ms after pause() (${atPause} of ${total} had completed by 100 ms)`,
      );
      if (!engine.runsShardInParallel) assert.ok(atPause < total, `all ${total} messages completed although pause() came after the first`);
      q.resume();
      done.push(...(await collectByPolling(q, total + late - done.length)));
      assertEachIdOnce(done, [...ids, ...lateIds]);
    });
  });

  test('stats() agrees with what happened: enqueued = completed + deadLettered + depth, latency counts every message', async () => {
    const fault = { failRate: 0.05, failAttempts: Number.POSITIVE_INFINITY };
    const maxRetries = 2;
    const handler = { name: 'fault', inner: 'checksum', ...fault };
    await withQueue(engine, { capacity: 512, slotBytes: 16, handler, maxRetries }, async (q) => {
      const initial = q.stats();
      assert.equal(initial.enqueued, 0);
      assert.equal(initial.capacity, 512);
      assert.equal(initial.state, 'ready');
      assert.ok(initial.engine.length > 0 && initial.engineDetail.length > 0, 'stats() names the engine');
      assert.ok(initial.timeToReadyMs >= 0);

      q.pause();
      const first = await q.enqueueBatch(Array.from({ length: 300 }, (_, i) => u32Payload([i])));
      const paused = q.stats();
      assert.deepEqual([paused.enqueued, paused.depth, paused.completed, paused.deadLettered], [300, 300, 0, 0]);
      assert.equal(paused.state, 'paused');
      q.resume();
      const seen = await collectByPolling(q, 100);
      const mid = q.stats();
      assert.equal(mid.enqueued, 300, 'enqueued stays 300 while messages complete');
      assert.equal(mid.completed + mid.deadLettered + mid.depth, 300);
      assert.equal(mid.retainedResults + seen.length, mid.completed + mid.deadLettered, 'harvested = taken + kept');
      seen.push(...(await collectByPolling(q, 200)));
      const second = await q.enqueueBatch(Array.from({ length: 200 }, (_, i) => u32Payload([300 + i])));
      seen.push(...(await collectByPolling(q, 200)));
      const ids = [...first, ...second];
      assertEachIdOnce(seen, ids);

      const expected = ids.map((id) => expectedAttempts(id, fault, maxRetries));
      const dead = expected.filter((e) => e.dead).length;
      const stats = q.stats();
      assert.equal(stats.enqueued, 500);
      assert.equal(stats.depth, 0);
      assert.equal(stats.deadLettered, dead);
      assert.equal(stats.completed, 500 - dead);
      assert.equal(
        stats.retries,
        expected.reduce((sum, e) => sum + e.attempts - 1, 0),
      );
      assert.equal(stats.droppedFull, 0);
      assert.equal(stats.retainedResults, 0, 'every completion was taken');
      assert.equal(stats.deadLetterRecordsDropped, 0, 'the dead-letter record kept every dead letter');
      assert.equal(q.deadLetters().length, dead);
      assert.ok(stats.maxDepth >= 300 && stats.maxDepth <= 512, `maxDepth ${stats.maxDepth}`);
      assert.equal(stats.latency.count, stats.completed + stats.deadLettered, 'latency.count');
    });
  });

  test('stats().latency percentiles are ordered and none is above maxUs', async () => {
    await withQueue(engine, { capacity: 16, slotBytes: 16, handler: 'echo' }, async (q) => {
      // One message at a time: with few values, a percentile that reports its histogram bucket's upper edge
      // lands above the largest value actually measured.
      for (let n = 1; n <= 3; n++) {
        await q.result(await q.enqueue(u32Payload([n])));
        const { latency } = q.stats();
        assert.equal(latency.count, n);
        const ordered = [latency.p50Us, latency.p95Us, latency.p99Us, latency.maxUs];
        assert.deepEqual(
          ordered,
          [...ordered].sort((a, b) => a - b),
          `p50 ≤ p95 ≤ p99 ≤ max after ${n} message(s): ${JSON.stringify(latency)}`,
        );
      }
    });
  });
}
