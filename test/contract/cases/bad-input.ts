// Bad input: each mistake gets its own error class and code, a message that names the value given and what
// is allowed, and leaves the queue exactly as it was: afterwards it still takes and completes messages.
import assert from 'node:assert/strict';
import { fnv1a, open, type Queue } from '../../../src/index.js';
import {
  assertFailure,
  type CaseRegistrar,
  type ContractEngine,
  checksumBytes,
  failureOf,
  u32Payload,
  withQueue,
} from '../../support/contract-kit.js';

const INVALID = { name: 'InvalidArgumentError', code: 'INVALID_ARG' };
const SLOT_BYTES = 64;
const options = { capacity: 16, slotBytes: SLOT_BYTES, handler: 'checksum' };

/** Bypasses the static types, as a JavaScript caller would. */
const loose = (value: unknown) => value as never;

async function assertStillWorks(q: Queue, enqueuedBefore: number): Promise<void> {
  const stats = q.stats();
  assert.equal(stats.enqueued, enqueuedBefore, 'rejected calls enqueued nothing');
  const p = u32Payload([0xfeed]);
  const id = await q.enqueue(p);
  const r = await q.result(id);
  assert.equal(r.status, 'ok');
  assert.deepEqual(r.data, checksumBytes(fnv1a(p)));
}

export function badInputCases(engine: ContractEngine, test: CaseRegistrar): void {
  test('open() rejects bad options, each with a message naming the value and what is allowed', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['capacity not a power of two', { capacity: 1000 }, /^capacity must be a power of two from 2 to \d+; got 1000$/],
      ['zero slotBytes', { slotBytes: 0 }, /^slotBytes must be an integer from 1 to \d+; got 0$/],
      ['an unknown handler', { handler: 'nope' }, /^unknown handler "nope"; known handlers: .*\bchecksum\b/],
      ['an unknown option', { bogus: 1 }, /^unknown option "bogus"; allowed: .*\bcapacity\b/],
      ['an unknown partitioner', { partitioner: { kind: 'nope' } }, /^partitioner must be .*consistent-hash.*; got "nope"$/],
      [
        'a bad handler parameter',
        { handler: { name: 'fault', inner: 'checksum', failRate: 2 } },
        /failRate must be a number from 0 to 1; got 2$/,
      ],
      ['a wrapper without inner', { handler: { name: 'slow' } }, /handler slow wraps another: give its name as `inner`/],
      [
        'a misspelt handler parameter',
        { handler: { name: 'fault', inner: 'checksum', failrate: 0.1 } },
        /^handler fault has no parameter "failrate"; its parameters: .*\bfailRate\b/,
      ],
      [
        'a partitioner that ignores keys',
        { partitioner: { kind: 'round-robin' } },
        /^partitioner 'round-robin' ignores keys, so it cannot keep per-key order/,
      ],
      [
        'a ring too large to allocate',
        { capacity: 2 ** 24, slotBytes: 2 ** 20 },
        /needs a \d+ MiB ring \(capacity 16777216, slotBytes 1048576, resultBytes \d+\); at most \d+ MiB is allowed/,
      ],
    ];
    await withQueue(engine, options, async (q) => {
      for (const [what, bad, message] of cases) {
        const error = await failureOf(() => open({ ...engine.options, ...options, ...bad }));
        assertFailure(error, { ...INVALID, message }, what);
      }
      await assertStillWorks(q, 0);
    });
  });

  test('oversize payloads and payloads that are not bytes are refused by enqueue, tryEnqueue and enqueueBatch', async () => {
    await withQueue(engine, options, async (q) => {
      const ok = u32Payload([1]);
      const cases: [string, unknown, RegExp][] = [
        ['an oversize payload', new Uint8Array(SLOT_BYTES + 1), /is 65 bytes; the queue's slotBytes allows at most 64$/],
        ['a string', 'abc', /must be a Uint8Array or Buffer; got "abc"$/],
        ['a number', 42, /must be a Uint8Array or Buffer; got 42$/],
        ['a plain array', [1, 2, 3], /must be a Uint8Array or Buffer; got an array of 3$/],
        ['a Float32Array', new Float32Array(2), /must be a Uint8Array or Buffer; got Float32Array\(8 bytes\)$/],
      ];
      for (const [what, payload, message] of cases) {
        assertFailure(await failureOf(() => q.enqueue(loose(payload))), { ...INVALID, message }, `enqueue of ${what}`);
        assertFailure(await failureOf(() => q.tryEnqueue(loose(payload))), { ...INVALID, message }, `tryEnqueue of ${what}`);
        const inBatch = await failureOf(() => q.enqueueBatch([ok, loose(payload)]));
        assertFailure(inBatch, { ...INVALID, message }, `enqueueBatch holding ${what}`);
        assert.match(inBatch.message, /^payloads\[1\] /, 'the batch error names the index');
      }
      assertFailure(
        await failureOf(() => q.enqueueBatch(loose('abc'))),
        { ...INVALID, message: /^payloads must be an array of Uint8Array; got "abc"$/ },
        'enqueueBatch of a string',
      );
      // A Buffer is a Uint8Array, so it is accepted.
      const fromBuffer = await q.result(await q.enqueue(Buffer.from('hi')));
      assert.deepEqual(fromBuffer.data, checksumBytes(fnv1a(Buffer.from('hi'))));
      await assertStillWorks(q, 1);
    });
  });

  test('bad keys and bad timeoutMs are refused, naming the value and what is allowed', async () => {
    await withQueue(engine, options, async (q) => {
      const p = u32Payload([1]);
      const keyRule = 'must be a string of at most 1024 characters or a safe integer';
      const badKeys: [unknown, string][] = [
        [{}, 'an object'],
        [1.5, '1.5'],
        [Number.NaN, 'NaN'],
        [2 ** 53, String(2 ** 53)],
        ['x'.repeat(1025), `"${'x'.repeat(40)}…"`],
      ];
      for (const [key, shown] of badKeys) {
        const message = `key ${keyRule}; got ${shown}`;
        assertFailure(await failureOf(() => q.enqueue(p, { key: loose(key) })), { ...INVALID, message }, `enqueue with key ${shown}`);
        assertFailure(await failureOf(() => q.tryEnqueue(p, { key: loose(key) })), { ...INVALID, message }, `tryEnqueue with key ${shown}`);
        assertFailure(
          await failureOf(() => q.enqueueBatch([p, p], { keys: ['ok', loose(key)] })),
          { ...INVALID, message: `keys[1] ${keyRule}; got ${shown}` },
          `enqueueBatch with key ${shown}`,
        );
      }
      assertFailure(
        await failureOf(() => q.enqueueBatch([p, p], { keys: ['only one'] })),
        { ...INVALID, message: 'keys must be an array as long as payloads (2); got an array of 1' },
        'enqueueBatch with too few keys',
      );
      // A misspelt option is refused, not ignored: `key` on enqueueBatch would silently drop per-key order.
      assertFailure(
        await failureOf(() => q.enqueueBatch([p, p], loose({ key: 'k' }))),
        {
          ...INVALID,
          message:
            'enqueueBatch has no option "key" (give keys: one key per payload, e.g. payloads.map(() => key)); its options: keys, timeoutMs, signal, onIds',
        },
        'enqueueBatch with key instead of keys',
      );
      assertFailure(
        await failureOf(() => q.enqueue(p, loose({ keys: ['k'] }))),
        { ...INVALID, message: 'enqueue has no option "keys"; its options: key, timeoutMs, signal' },
        'enqueue with keys',
      );
      for (const [timeoutMs, shown] of [
        [-5, '-5'],
        [Number.NaN, 'NaN'],
        ['soon', '"soon"'],
      ] as const) {
        const message = `timeoutMs must be a number of milliseconds ≥ 0 (or Infinity); got ${shown}`;
        assertFailure(
          await failureOf(() => q.enqueue(p, { timeoutMs: loose(timeoutMs) })),
          { ...INVALID, message },
          `enqueue timeoutMs ${shown}`,
        );
        assertFailure(
          await failureOf(() => q.enqueueBatch([p], { timeoutMs: loose(timeoutMs) })),
          { ...INVALID, message },
          `enqueueBatch timeoutMs ${shown}`,
        );
      }
      await assertStillWorks(q, 0);
    });
  });

  test('result() and tryDequeueResult() tell a never-issued id (NOT_FOUND), an in-flight one (NOT_READY) and a taken one (NOT_FOUND) apart', async () => {
    await withQueue(engine, options, async (q) => {
      q.pause();
      const inFlight = q.tryEnqueue(u32Payload([5]));
      const never = inFlight + 1000;
      for (const [what, call] of [
        ['result', () => q.result(never)],
        ['tryDequeueResult', () => q.tryDequeueResult(never)],
      ] as const) {
        assertFailure(
          await failureOf(call),
          { name: 'NotFoundError', code: 'NOT_FOUND', message: new RegExp(`^message ${never} was never enqueued`) },
          `${what} of an id never issued`,
        );
      }
      for (const bad of [0, -1, 1.5, '1']) {
        assertFailure(
          await failureOf(() => q.result(loose(bad))),
          { ...INVALID, message: /^id must be a message id \(a positive integer returned by enqueue\); got / },
          `result(${JSON.stringify(bad)})`,
        );
      }
      assertFailure(
        await failureOf(() => q.tryDequeueResult(inFlight)),
        { name: 'NotReadyError', code: 'NOT_READY', message: `message ${inFlight} is still queued or in flight` },
        'tryDequeueResult of a queued message',
      );
      assertFailure(
        await failureOf(() => q.pollCompletions(0)),
        { ...INVALID, message: /^max must be an integer from 1 to \d+; got 0$/ },
        'pollCompletions(0)',
      );
      q.resume();
      assert.equal((await q.result(inFlight)).status, 'ok');
      assertFailure(
        await failureOf(() => q.tryDequeueResult(inFlight)),
        { name: 'NotFoundError', code: 'NOT_FOUND', message: /already taken/ },
        'tryDequeueResult of a taken id',
      );
      await assertStillWorks(q, 1);
    });
  });

  test('calls that return a promise report bad arguments by rejecting it, never by throwing synchronously', async () => {
    await withQueue(engine, options, async (q) => {
      q.pause();
      const pending = q.tryEnqueue(u32Payload([1]));
      const calls: [string, () => Promise<unknown>][] = [
        ['enqueue(a string)', () => q.enqueue(loose('abc'))],
        ['enqueueBatch(a string)', () => q.enqueueBatch(loose('abc'))],
        ['result(an id never issued)', () => q.result(pending + 1000)],
        ['result(0)', () => q.result(0)],
        ['result(id, { timeoutMs: -1 })', () => q.result(pending, { timeoutMs: -1 })],
        ['shutdown({ timeoutMs: -1 })', () => q.shutdown({ timeoutMs: -1 })],
      ];
      const threw: string[] = [];
      for (const [what, call] of calls) {
        let promise: Promise<unknown>;
        try {
          promise = call();
        } catch {
          threw.push(what);
          continue;
        }
        await assert.rejects(promise, (e: { code?: string }) => e.code === 'INVALID_ARG' || e.code === 'NOT_FOUND', what);
      }
      assert.deepEqual(threw, [], 'these threw synchronously instead of returning a rejected promise');
      q.resume();
      await assertStillWorks(q, 1);
    });
  });
}
