// Delivery: every message comes back exactly once, and what comes back is what the handler's JS reference
// computes, for payloads from empty to slotBytes, whichever way they were enqueued.
import assert from 'node:assert/strict';
import { type Completion, fnv1a, HandlerStatus, type Queue, QueueFullError, vectorStats } from '../../../src/index.js';
import {
  assertEachIdOnce,
  type CaseRegistrar,
  type ContractEngine,
  checksumBytes,
  collectByPolling,
  expectedAttempts,
  randomBytes,
  randomInt,
  seededRandom,
  withQueue,
} from '../../support/contract-kit.js';

const SLOT_BYTES = 1024;
const MESSAGES = 1500;

/** Payload sizes from 0 to SLOT_BYTES, the edges included, in steps of `step` bytes. */
function payloadSizes(rand: () => number, count: number, step: number): number[] {
  const edges = [0, step, SLOT_BYTES - step, SLOT_BYTES];
  return Array.from({ length: count }, (_, i) => edges[i] ?? randomInt(rand, SLOT_BYTES / step + 1) * step);
}

/** Random float32 values: mostly finite of both signs and varied magnitude, sometimes -0, ±Infinity or NaN. */
function randomFloats(rand: () => number, n: number): Uint8Array {
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.01) values[i] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0][randomInt(rand, 4)] as number;
    else values[i] = (rand() * 2 - 1) * 10 ** randomInt(rand, 12);
  }
  return new Uint8Array(values.buffer);
}

/**
 * Enqueues every payload, mixing the three ways in (enqueueBatch of 1–100, enqueue, tryEnqueue falling back
 * to enqueue when full), while a collector takes completions; returns ids in payload order and completions.
 */
async function enqueueMixed(q: Queue, payloads: Uint8Array[], rand: () => number): Promise<{ ids: number[]; completions: Completion[] }> {
  const collected = collectByPolling(q, payloads.length);
  const ids: number[] = [];
  let i = 0;
  while (i < payloads.length) {
    const way = randomInt(rand, 3);
    if (way === 0) {
      const batch = payloads.slice(i, i + 1 + randomInt(rand, 100));
      ids.push(...(await q.enqueueBatch(batch)));
      i += batch.length;
    } else if (way === 1) {
      ids.push(await q.enqueue(payloads[i] as Uint8Array));
      i++;
    } else {
      try {
        ids.push(q.tryEnqueue(payloads[i] as Uint8Array));
      } catch (error) {
        if (!(error instanceof QueueFullError)) throw error;
        ids.push(await q.enqueue(payloads[i] as Uint8Array));
      }
      i++;
    }
  }
  return { ids, completions: await collected };
}

function byId(completions: Completion[]): Map<number, Completion> {
  return new Map(completions.map((c) => [c.id, c]));
}

function floatsOf(bytes: Uint8Array): number[] {
  return [...new Float32Array(bytes.slice().buffer)];
}

export function deliveryCases(engine: ContractEngine, test: CaseRegistrar): void {
  test('echo returns every payload byte for byte, from empty to slotBytes', async () => {
    const rand = seededRandom(1);
    const payloads = payloadSizes(rand, MESSAGES, 1).map((n) => randomBytes(rand, n));
    await withQueue(engine, { capacity: 256, slotBytes: SLOT_BYTES, handler: 'echo' }, async (q) => {
      const { ids, completions } = await enqueueMixed(q, payloads, rand);
      assertEachIdOnce(completions, ids);
      const got = byId(completions);
      ids.forEach((id, i) => {
        const c = got.get(id) as Completion;
        assert.equal(c.status, 'ok', `message ${id}`);
        assert.deepEqual(c.data, payloads[i], `echo result of message ${id} (${payloads[i]?.length} bytes)`);
      });
    });
  });

  test('checksum returns the FNV-1a 32 of every payload as 4 little-endian bytes', async () => {
    const rand = seededRandom(2);
    const payloads = payloadSizes(rand, MESSAGES, 1).map((n) => randomBytes(rand, n));
    await withQueue(engine, { capacity: 256, slotBytes: SLOT_BYTES, handler: 'checksum' }, async (q) => {
      const { ids, completions } = await enqueueMixed(q, payloads, rand);
      assertEachIdOnce(completions, ids);
      const got = byId(completions);
      ids.forEach((id, i) => {
        const c = got.get(id) as Completion;
        assert.equal(c.status, 'ok', `message ${id}`);
        assert.deepEqual(c.data, checksumBytes(fnv1a(payloads[i] as Uint8Array)), `checksum of message ${id}`);
      });
    });
  });

  test('vector-stats returns the same float32 bits as vectorStats, NaN, infinities and negatives included', async () => {
    const rand = seededRandom(3);
    const payloads = payloadSizes(rand, MESSAGES, 4).map((n) => randomFloats(rand, n / 4));
    await withQueue(engine, { capacity: 256, slotBytes: SLOT_BYTES, handler: 'vector-stats' }, async (q) => {
      const { ids, completions } = await enqueueMixed(q, payloads, rand);
      assertEachIdOnce(completions, ids);
      const got = byId(completions);
      ids.forEach((id, i) => {
        const c = got.get(id) as Completion;
        assert.equal(c.status, 'ok', `message ${id}`);
        assert.equal(c.data.length, 16, `result length of message ${id}`);
        const expected = vectorStats(new Float32Array((payloads[i] as Uint8Array).slice().buffer));
        // deepEqual compares with Object.is: NaN equals NaN and -0 differs from 0, as bit-identity needs.
        assert.deepEqual(floatsOf(c.data), expected, `vector-stats of message ${id}`);
      });
    });
  });

  test('a payload the handler rejects (vector-stats, length not a multiple of 4) becomes a dead letter naming BAD_PAYLOAD', async () => {
    await withQueue(engine, { capacity: 16, slotBytes: 64, handler: 'vector-stats', maxRetries: 2 }, async (q) => {
      const good = await q.enqueue(new Uint8Array(new Float32Array([1, 2]).buffer));
      const bad = await q.enqueue(new Uint8Array(6));
      const badResult = await q.result(bad);
      assert.equal(badResult.status, 'dead-letter');
      assert.equal(badResult.handlerStatus, HandlerStatus.BAD_PAYLOAD);
      assert.equal(badResult.attempts, 3, 'the first run and maxRetries = 2 retries');
      assert.match(badResult.reason ?? '', /BAD_PAYLOAD/);
      assert.deepEqual(floatsOf((await q.result(good)).data), [3, 5, 1, 2]);
      const dead = q.deadLetters();
      assert.deepEqual(
        dead.map((d) => [d.id, d.payload.length]),
        [[bad, 6]],
      );
    });
  });

  test('every message is accounted for exactly once: a result or a dead letter, never both, never neither', async () => {
    const rand = seededRandom(4);
    const fault = { failRate: 0.05, failAttempts: Number.POSITIVE_INFINITY };
    const payloads = payloadSizes(rand, 3000, 1).map((n) => randomBytes(rand, n));
    const handler = { name: 'fault', inner: 'checksum', ...fault };
    await withQueue(engine, { capacity: 256, slotBytes: SLOT_BYTES, handler, maxRetries: 2 }, async (q) => {
      const { ids, completions } = await enqueueMixed(q, payloads, rand);
      assertEachIdOnce(completions, ids);
      const deadLetters = q.deadLetters();
      const deadIds = new Set(deadLetters.map((d) => d.id));
      assert.equal(deadIds.size, deadLetters.length, 'a message was dead-lettered twice');
      const okIds = new Set(completions.filter((c) => c.status === 'ok').map((c) => c.id));
      const bothWays = [...okIds].filter((id) => deadIds.has(id));
      assert.deepEqual(bothWays, [], 'messages that have both a result and a dead letter');
      const payloadOf = new Map(ids.map((id, i) => [id, payloads[i] as Uint8Array]));
      const expectedDead = ids.filter((id) => expectedAttempts(id, fault, 2).dead);
      assert.deepEqual(
        [...deadIds].sort((a, b) => a - b),
        expectedDead,
        'dead-lettered ids (reference: faultFails)',
      );
      assert.equal(okIds.size + deadIds.size, ids.length);
      for (const c of completions) {
        if (c.status === 'ok') assert.deepEqual(c.data, checksumBytes(fnv1a(payloadOf.get(c.id) as Uint8Array)), `checksum of ${c.id}`);
        else assert.equal(c.data.length, 0, `a dead letter's completion carries no result (${c.id})`);
      }
      const stats = q.stats();
      assert.equal(stats.completed, okIds.size);
      assert.equal(stats.deadLettered, deadIds.size);
    });
  });
}
