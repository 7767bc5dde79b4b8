// pollCompletionsInto, the throughput path (harvest: 'on-poll'): completions written straight from the
// ring into typed arrays. Every message is accounted for exactly once, results equal the JS reference,
// dead letters are exactly faultFails' picks (with their records), per-key order holds, producers that
// wait for space get in as the poll frees it, and the object-returning calls are refused with a clear
// error. With harvest: 'auto' it reads what the background harvester already holds as well.
import assert from 'node:assert/strict';
import { BatchStatus, type CompletionBatch, createCompletionBatch, fnv1a, HandlerStatus, type Queue } from '../../../src/index.js';
import {
  assertFailure,
  type CaseRegistrar,
  type ContractEngine,
  expectedAttempts,
  failureOf,
  randomBytes,
  randomInt,
  seededRandom,
  sleep,
  withQueue,
} from '../../support/contract-kit.js';

interface Polled {
  id: number;
  status: number;
  attempts: number;
  handlerStatus: number;
  result: Uint8Array;
}

/** Polls until `n` completions came back (or a deadline), copying each out of the reused batch. */
async function pollAll(q: Queue, n: number, batch: CompletionBatch, out: Polled[] = []): Promise<Polled[]> {
  const deadline = performance.now() + 30_000;
  while (out.length < n) {
    const got = q.pollCompletionsInto(batch);
    for (let i = 0; i < got; i++) {
      const at = batch.resultOffsets[i] as number;
      out.push({
        id: batch.ids[i] as number,
        status: batch.statuses[i] as number,
        attempts: batch.attempts[i] as number,
        handlerStatus: batch.handlerStatuses[i] as number,
        result: batch.results.slice(at, at + (batch.resultLengths[i] as number)),
      });
    }
    if (got === 0) {
      if (performance.now() > deadline) assert.fail(`only ${out.length} of ${n} completions within 30 s`);
      await sleep(0);
    }
  }
  return out;
}

const INVALID = { name: 'InvalidArgumentError', code: 'INVALID_ARG' };

export function bulkCompletionCases(engine: ContractEngine, test: CaseRegistrar): void {
  test("harvest: 'on-poll' gives every message once through pollCompletionsInto, results and dead letters exact", async () => {
    const fault = { failRate: 0.02, failAttempts: Number.POSITIVE_INFINITY, seed: 4 };
    const maxRetries = 1;
    await withQueue(
      engine,
      { capacity: 1024, slotBytes: 128, maxRetries, harvest: 'on-poll', handler: { name: 'fault', inner: 'checksum', ...fault } },
      async (q) => {
        const rand = seededRandom(91);
        const payloads = Array.from({ length: 5000 }, () => randomBytes(rand, 1 + randomInt(rand, 128)));
        const batch = createCompletionBatch(300, 4); // smaller than the backlog: many polls, reused arrays
        // More messages than capacity: the enqueue waits for space that only the polls below free.
        const enqueued = q.enqueueBatch(payloads);
        const got = await pollAll(q, payloads.length, batch);
        const ids = await enqueued;
        const byId = new Map(got.map((p) => [p.id, p]));
        assert.equal(byId.size, payloads.length, 'each id once');
        let dead = 0;
        for (const [i, id] of ids.entries()) {
          const p = byId.get(id) as Polled;
          assert.ok(p, `message ${id} completed`);
          const expected = expectedAttempts(id, fault, maxRetries);
          assert.equal(p.attempts, expected.attempts, `attempts of ${id}`);
          if (expected.dead) {
            dead++;
            assert.equal(p.status, BatchStatus.DEAD_LETTER);
            assert.equal(p.handlerStatus, HandlerStatus.FAILED);
            assert.equal(p.result.length, 0);
          } else {
            assert.equal(p.status, BatchStatus.OK);
            assert.equal(Buffer.from(p.result).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array), `checksum of ${id}`);
          }
        }
        assert.ok(dead > 0, 'the run includes dead letters');
        assert.deepEqual(
          q
            .deadLetters()
            .map((d) => d.id)
            .sort((a, b) => a - b),
          got
            .filter((p) => p.status === BatchStatus.DEAD_LETTER)
            .map((p) => p.id)
            .sort((a, b) => a - b),
          'dead-letter records match',
        );
        const s = q.stats();
        assert.equal(s.completed + s.deadLettered, payloads.length);
        assert.equal(s.deadLettered, dead);
        assert.equal(q.pollCompletionsInto(batch), 0, 'nothing more');
        for (const call of [() => q.result(ids[0] as number), () => q.pollCompletions(), () => q.tryDequeueResult(ids[0] as number)]) {
          assertFailure(
            await failureOf(call),
            { ...INVALID, message: /harvest: 'on-poll'; read completions with pollCompletionsInto/ },
            'object call',
          );
        }
      },
    );
  });

  test('pollCompletionsInto keeps per-key order and reads what the background harvester holds (harvest: auto)', async () => {
    await withQueue(engine, { capacity: 512, slotBytes: 64, handler: 'checksum' }, async (q) => {
      const keys = ['a', 'b', 'c', 'd', 'e'];
      const payloads = Array.from({ length: 2000 }, (_, i) => Uint8Array.of(i & 0xff, i >> 8, 7));
      const keyOf = payloads.map((_, i) => keys[i % keys.length] as string);
      const ids = await (async () => {
        const out: number[] = [];
        for (let i = 0; i < payloads.length; i += 250) {
          out.push(...(await q.enqueueBatch(payloads.slice(i, i + 250), { keys: keyOf.slice(i, i + 250) })));
          // Half the completions are read as objects first: the rest of the poll must still see all.
          if (i === 1000) q.pollCompletions(100);
        }
        return out;
      })();
      const got = await pollAll(q, payloads.length - 100, createCompletionBatch(4096, 4));
      const indexOf = new Map(ids.map((id, i) => [id, i]));
      const last = new Map<string, number>();
      for (const p of got) {
        const i = indexOf.get(p.id) as number;
        assert.equal(Buffer.from(p.result).readUInt32LE(0), fnv1a(payloads[i] as Uint8Array));
        const key = keyOf[i] as string;
        assert.ok((last.get(key) ?? -1) < i, `key ${key}: message ${i} after ${last.get(key)}`);
        last.set(key, i);
      }
    });
  });

  test('pollCompletionsInto refuses a batch whose arrays do not line up', async () => {
    await withQueue(engine, { capacity: 64, slotBytes: 16, handler: 'echo' }, async (q) => {
      const bad = { ...createCompletionBatch(8, 16), attempts: new Uint32Array(4) };
      assertFailure(await failureOf(() => q.pollCompletionsInto(bad)), { ...INVALID, message: /typed arrays of one length/ }, 'bad batch');
      assertFailure(
        await failureOf(() => q.pollCompletionsInto(undefined as never)),
        { ...INVALID, message: /pollCompletionsInto takes a CompletionBatch/ },
        'no batch',
      );
    });
  });
}
