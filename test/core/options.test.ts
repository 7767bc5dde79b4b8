// Option validation (core/options.ts): the defaults come from DEFAULT_OPTIONS, and every option refuses
// a bad value with an InvalidArgumentError whose exact message names the option, the value and what is allowed.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { checkInteger, checkTimeout, DEFAULT_OPTIONS, isPowerOfTwo, LIMITS, resolveOptions } from '../../src/core/options.js';

const pick = (o: object, keys: string[]) => Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]]));
const invalid = (message: string) => ({ name: 'InvalidArgumentError', code: 'INVALID_ARG', message });

describe('resolveOptions', () => {
  it('fills every option from DEFAULT_OPTIONS when none is given', () => {
    const expected = {
      backend: DEFAULT_OPTIONS.backend,
      capacity: DEFAULT_OPTIONS.capacity,
      slotBytes: DEFAULT_OPTIONS.slotBytes,
      resultBytes: undefined,
      handler: DEFAULT_OPTIONS.handler,
      maxRetries: DEFAULT_OPTIONS.maxRetries,
      workers: Math.max(1, availableParallelism() - 1),
      partitioner: DEFAULT_OPTIONS.partitioner,
      enqueueTimeoutMs: DEFAULT_OPTIONS.enqueueTimeoutMs,
      resultTimeoutMs: DEFAULT_OPTIONS.resultTimeoutMs,
      maxRetainedResults: DEFAULT_OPTIONS.retainedResultsPerSlot * DEFAULT_OPTIONS.capacity,
      pollSpinUs: DEFAULT_OPTIONS.pollSpinUs,
      consumerSpinUs: DEFAULT_OPTIONS.consumerSpinUs,
      fallback: DEFAULT_OPTIONS.fallback,
    };
    // Compared field by field: options added later (engine-specific ones) do not make this case wrong.
    for (const config of [resolveOptions(undefined), resolveOptions({})]) {
      assert.deepEqual(pick(config, Object.keys(expected)), expected);
    }
  });

  it('accepts every option it has a default for (each key of DEFAULT_OPTIONS is a known option)', () => {
    for (const [key, value] of Object.entries(DEFAULT_OPTIONS)) {
      if (key === 'retainedResultsPerSlot') continue; // a factor behind maxRetainedResults, not an option
      assert.doesNotThrow(() => resolveOptions({ [key]: value }), `option ${key}: ${JSON.stringify(value)}`);
    }
  });

  it("accepts fallback 'none' and 'cpu' and refuses anything else", () => {
    assert.equal(resolveOptions({ fallback: 'cpu' }).fallback, 'cpu');
    assert.equal(resolveOptions({ fallback: 'none' }).fallback, 'none');
    assert.throws(() => resolveOptions({ fallback: 'gpu' }), invalid(`fallback must be 'none' or 'cpu'; got "gpu"`));
  });

  it("accepts harvest 'auto' and 'on-poll' and refuses anything else", () => {
    assert.equal(resolveOptions({}).harvest, 'auto');
    assert.equal(resolveOptions({ harvest: 'on-poll' }).harvest, 'on-poll');
    assert.throws(() => resolveOptions({ harvest: 'lazy' }), invalid(`harvest must be 'auto' or 'on-poll'; got "lazy"`));
  });

  it('accepts watchdogMs from 100 to 86400000 ms (default 10000) and refuses anything else', () => {
    assert.equal(resolveOptions({}).watchdogMs, 10_000);
    assert.equal(resolveOptions({ watchdogMs: 100 }).watchdogMs, 100);
    assert.equal(resolveOptions({ watchdogMs: 86_400_000 }).watchdogMs, 86_400_000);
    for (const [bad, shown] of [
      [99, '99'],
      [86_400_001, '86400001'],
      [1.5, '1.5'],
      ['5s', '"5s"'],
    ] as const) {
      assert.throws(() => resolveOptions({ watchdogMs: bad }), invalid(`watchdogMs must be an integer from 100 to 86400000; got ${shown}`));
    }
  });

  it('documents the defaults it applies (the values the README and docs promise)', () => {
    assert.deepEqual(
      {
        backend: DEFAULT_OPTIONS.backend,
        capacity: DEFAULT_OPTIONS.capacity,
        slotBytes: DEFAULT_OPTIONS.slotBytes,
        handler: DEFAULT_OPTIONS.handler,
        maxRetries: DEFAULT_OPTIONS.maxRetries,
        enqueueTimeoutMs: DEFAULT_OPTIONS.enqueueTimeoutMs,
        resultTimeoutMs: DEFAULT_OPTIONS.resultTimeoutMs,
        pollSpinUs: DEFAULT_OPTIONS.pollSpinUs,
        consumerSpinUs: DEFAULT_OPTIONS.consumerSpinUs,
      },
      {
        backend: 'auto',
        capacity: 4096,
        slotBytes: 2048,
        handler: 'echo',
        maxRetries: 3,
        enqueueTimeoutMs: 5000,
        resultTimeoutMs: 60_000,
        pollSpinUs: 20,
        consumerSpinUs: 200,
      },
    );
  });

  it('keeps the values it is given and scales the retained-results default with capacity', () => {
    const given = {
      backend: 'cpu',
      capacity: 64,
      slotBytes: 100,
      resultBytes: 8,
      handler: { name: 'fault', inner: 'echo' },
      maxRetries: 0,
      workers: 3,
      partitioner: { kind: 'hash' },
      enqueueTimeoutMs: 0,
      resultTimeoutMs: Number.POSITIVE_INFINITY,
      pollSpinUs: 0,
      consumerSpinUs: 1_000_000,
    };
    const config = resolveOptions(given);
    assert.deepEqual(pick(config, Object.keys(given)), given);
    assert.equal(config.maxRetainedResults, 64 * DEFAULT_OPTIONS.retainedResultsPerSlot);
    assert.equal(resolveOptions({ maxRetainedResults: 5 }).maxRetainedResults, 5);
  });

  it('refuses options that are not an object', () => {
    for (const [value, shown] of [
      [null, 'null'],
      [5, '5'],
      ['cpu', '"cpu"'],
      [[], 'an array of 0'],
    ] as const) {
      assert.throws(() => resolveOptions(value), invalid(`options must be an object; got ${shown}`));
    }
  });

  it('refuses an unknown option, listing the allowed ones', () => {
    const documented = ['backend', 'capacity', 'slotBytes', 'resultBytes', 'handler', 'maxRetries', 'workers', 'partitioner'];
    documented.push('enqueueTimeoutMs', 'resultTimeoutMs', 'maxRetainedResults', 'pollSpinUs', 'consumerSpinUs', 'fallback');
    assert.throws(
      () => resolveOptions({ capcity: 8 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'INVALID_ARG');
        const allowed = /^unknown option "capcity"; allowed: (.*)$/.exec(e.message)?.[1]?.split(', ') ?? [];
        assert.deepEqual(
          documented.filter((o) => !allowed.includes(o)),
          [],
          `options missing from the message: ${e.message}`,
        );
        return true;
      },
    );
  });

  it('refuses an unknown backend', () => {
    for (const [value, shown] of [
      ['gpu', '"gpu"'],
      [1, '1'],
    ] as const) {
      assert.throws(
        () => resolveOptions({ backend: value }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'INVALID_ARG');
          assert.match(e.message, new RegExp(`^backend must be one of (?=.*'auto')(?=.*'cpu').*; got ${shown}$`));
          return true;
        },
      );
    }
  });

  const rules: { option: string; bad: [unknown, string][]; message: (shown: string) => string }[] = [
    {
      option: 'capacity',
      bad: [
        [1000, '1000'],
        [0, '0'],
        [1, '1'],
        [-4, '-4'],
        [2.5, '2.5'],
        [LIMITS.capacity.max * 2, String(LIMITS.capacity.max * 2)],
        ['16', '"16"'],
      ],
      message: (shown) => `capacity must be a power of two from 2 to ${LIMITS.capacity.max}; got ${shown}`,
    },
    {
      option: 'slotBytes',
      bad: [
        [0, '0'],
        [-1, '-1'],
        [1.5, '1.5'],
        [LIMITS.slotBytes.max + 1, String(LIMITS.slotBytes.max + 1)],
        ['64', '"64"'],
      ],
      message: (shown) => `slotBytes must be an integer from 1 to ${LIMITS.slotBytes.max}; got ${shown}`,
    },
    {
      option: 'resultBytes',
      bad: [
        [0, '0'],
        [3.5, '3.5'],
        [LIMITS.slotBytes.max + 1, String(LIMITS.slotBytes.max + 1)],
      ],
      message: (shown) => `resultBytes must be an integer from 1 to ${LIMITS.slotBytes.max}; got ${shown}`,
    },
    {
      option: 'handler',
      bad: [
        [42, '42'],
        [{}, 'an object'],
        [{ name: 7 }, 'an object'],
      ],
      message: (shown) => `handler must be a handler name or an object with a string name; got ${shown}`,
    },
    {
      option: 'maxRetries',
      bad: [
        [-1, '-1'],
        [1001, '1001'],
        [1.5, '1.5'],
        ['3', '"3"'],
      ],
      message: (shown) => `maxRetries must be an integer from 0 to 1000; got ${shown}`,
    },
    {
      option: 'workers',
      bad: [
        [0, '0'],
        [257, '257'],
        [2.5, '2.5'],
      ],
      message: (shown) => `workers must be an integer from 1 to 256; got ${shown}`,
    },
    ...(['enqueueTimeoutMs', 'resultTimeoutMs'] as const).map((option) => ({
      option,
      bad: [
        [-1, '-1'],
        [Number.NaN, 'NaN'],
        ['10', '"10"'],
        [Number.NEGATIVE_INFINITY, '-Infinity'],
      ] as [unknown, string][],
      message: (shown: string) => `${option} must be a number of milliseconds ≥ 0 (or Infinity); got ${shown}`,
    })),
    {
      option: 'maxRetainedResults',
      bad: [
        [0, '0'],
        [2 ** 31 + 1, String(2 ** 31 + 1)],
        [1.5, '1.5'],
      ],
      message: (shown) => `maxRetainedResults must be an integer from 1 to ${2 ** 31}; got ${shown}`,
    },
    ...(['pollSpinUs', 'consumerSpinUs'] as const).map((option) => ({
      option,
      bad: [
        [-1, '-1'],
        [1_000_001, '1000001'],
        [0.5, '0.5'],
      ] as [unknown, string][],
      message: (shown: string) => `${option} must be an integer from 0 to 1000000; got ${shown}`,
    })),
  ];
  for (const { option, bad, message } of rules) {
    it(`refuses a bad ${option}, naming the value and the allowed range`, () => {
      for (const [value, shown] of bad) {
        assert.throws(() => resolveOptions({ [option]: value }), invalid(message(shown)), `${option}: ${shown}`);
      }
    });
  }

  it('treats an option set to undefined as not given', () => {
    assert.equal(resolveOptions({ capacity: undefined }).capacity, DEFAULT_OPTIONS.capacity);
  });
});

describe('option checks', () => {
  it('isPowerOfTwo accepts exactly the positive integer powers of two', () => {
    const powers = Array.from({ length: 31 }, (_, k) => 2 ** k);
    for (const n of powers) assert.equal(isPowerOfTwo(n), true, String(n));
    for (const n of [0, -2, 3, 6, 12, 1000, 2.5, Number.NaN, 2 ** 20 + 1]) assert.equal(isPowerOfTwo(n), false, String(n));
  });

  it('checkInteger accepts the bounds and refuses outside them', () => {
    assert.equal(checkInteger('n', 1, 1, 3), 1);
    assert.equal(checkInteger('n', 3, 1, 3), 3);
    assert.throws(() => checkInteger('n', 4, 1, 3), invalid('n must be an integer from 1 to 3; got 4'));
    assert.throws(() => checkInteger('n', 0, 1, 3), invalid('n must be an integer from 1 to 3; got 0'));
  });

  it('checkTimeout accepts 0 and Infinity and refuses negatives, NaN and non-numbers', () => {
    assert.equal(checkTimeout('t', 0), 0);
    assert.equal(checkTimeout('t', Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
    assert.equal(checkTimeout('t', 2.5), 2.5);
    for (const [value, shown] of [
      [-0.5, '-0.5'],
      [Number.NaN, 'NaN'],
      [null, 'null'],
    ] as const) {
      assert.throws(() => checkTimeout('t', value), invalid(`t must be a number of milliseconds ≥ 0 (or Infinity); got ${shown}`));
    }
  });
});
