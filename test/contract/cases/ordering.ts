// Per-key FIFO (UC-3): over 100k keyed messages with failures and retries, the completions of each key come
// back in the order the key's messages were enqueued, read through pollCompletions or the iterator.
import assert from 'node:assert/strict';
import { type Completion, fnv1a, type MessageKey } from '../../../src/index.js';
import {
  assertEachIdOnce,
  type CaseRegistrar,
  type ContractEngine,
  checksumBytes,
  collectByIterator,
  collectByPolling,
  expectedAttempts,
  type FaultSpec,
  idsByKeyInCompletionOrder,
  randomInt,
  seededRandom,
  u32Payload,
  withQueue,
} from '../../support/contract-kit.js';

const MESSAGES = 100_000;
const KEYS = 300;
const BATCH = 2000;

/** Key i: half numbers, half strings; about 5 % of messages carry no key at all. */
const keyName = (i: number): MessageKey => (i % 2 === 0 ? i : `account-${i}`);

const failures: { title: string; fault: FaultSpec }[] = [
  { title: 'with 1 % of messages dead-lettered', fault: { failRate: 0.01, failAttempts: Number.POSITIVE_INFINITY } },
  { title: 'with 5 % of messages retried twice before they succeed', fault: { failRate: 0.05, failAttempts: 2 } },
];
const readers: { title: string; collect: typeof collectByPolling }[] = [
  { title: 'pollCompletions', collect: collectByPolling },
  { title: 'the completions() iterator', collect: collectByIterator },
];

export function orderingCases(engine: ContractEngine, test: CaseRegistrar): void {
  for (const { title: failureTitle, fault } of failures) {
    for (const { title: readerTitle, collect } of readers) {
      test(`each key's completions, read through ${readerTitle}, come in enqueue order over 100k messages ${failureTitle}`, async () => {
        const maxRetries = 3;
        const rand = seededRandom(KEYS + Math.round(fault.failRate * 100));
        const keys: (MessageKey | undefined)[] = [];
        const payloads: Uint8Array[] = [];
        for (let seq = 0; seq < MESSAGES; seq++) {
          const k = randomInt(rand, KEYS);
          keys.push(rand() < 0.05 ? undefined : keyName(k));
          payloads.push(u32Payload([seq, k]));
        }
        const handler = { name: 'fault', inner: 'checksum', ...fault };
        // Two consumers where the engine has threads, so keys spread over shards that complete independently.
        await withQueue(engine, { capacity: 1024, slotBytes: 16, handler, maxRetries, workers: 2 }, async (q) => {
          const collected = collect(q, MESSAGES);
          const ids: number[] = [];
          for (let i = 0; i < MESSAGES; i += BATCH) {
            ids.push(...(await q.enqueueBatch(payloads.slice(i, i + BATCH), { keys: keys.slice(i, i + BATCH) })));
          }
          const completions: Completion[] = await collected;
          assertEachIdOnce(completions, ids);

          const keyOf = new Map<number, MessageKey>();
          ids.forEach((id, i) => {
            const key = keys[i];
            if (key !== undefined) keyOf.set(id, key);
          });
          const enqueueOrder = new Map<MessageKey, number[]>();
          ids.forEach((id, i) => {
            const key = keys[i];
            if (key === undefined) return;
            const list = enqueueOrder.get(key);
            if (list) list.push(id);
            else enqueueOrder.set(key, [id]);
          });
          const completionOrder = idsByKeyInCompletionOrder(completions, keyOf);
          assert.equal(completionOrder.size, enqueueOrder.size, 'keys that completed');
          for (const [key, expected] of enqueueOrder) {
            const got = completionOrder.get(key) ?? [];
            const firstOut = got.findIndex((id, i) => id !== expected[i]);
            assert.equal(
              firstOut,
              -1,
              `key ${String(key)}: completion ${firstOut} is message ${got[firstOut]}, enqueued as ${expected.indexOf(got[firstOut] as number)}`,
            );
          }

          const payloadOf = new Map(ids.map((id, i) => [id, payloads[i] as Uint8Array]));
          let dead = 0;
          let retries = 0;
          for (const c of completions) {
            const want = expectedAttempts(c.id, fault, maxRetries);
            assert.equal(c.status, want.dead ? 'dead-letter' : 'ok', `status of message ${c.id}`);
            assert.equal(c.attempts, want.attempts, `attempts of message ${c.id}`);
            if (!want.dead) assert.deepEqual(c.data, checksumBytes(fnv1a(payloadOf.get(c.id) as Uint8Array)));
            dead += want.dead ? 1 : 0;
            retries += want.attempts - 1;
          }
          const stats = q.stats();
          assert.equal(stats.deadLettered, dead, 'stats().deadLettered');
          assert.equal(stats.retries, retries, 'stats().retries');
          assert.equal(q.deadLetters().length, dead, 'deadLetters()');
        });
      });
    }
  }
}
