// Partitioners (core/partitioners.ts): every key lands in range, the same key always lands in the same
// place (on every thread: specs are plain data), round robin cycles, consistent hashing moves only about
// 1/n of the keys when a partition is added, and ranges honour their bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  consistentHashPartitioner,
  createPartitioner,
  hashKey,
  hashPartitioner,
  mix32,
  type Partitioner,
  rangePartitioner,
  roundRobinPartitioner,
  validatePartitionerSpec,
} from '../../src/core/partitioners.js';

const KEYS = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? i * 7919 : `user-${i}`));
const place = (p: Partitioner, key: string | number) => p.partition(key, hashKey(key));
const invalid = (message: string | RegExp) => ({ name: 'InvalidArgumentError', code: 'INVALID_ARG', message });

/** Counts per partition; asserts every key landed on an integer partition in [0, n). */
function spread(p: Partitioner, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const key of KEYS) {
    const at = place(p, key);
    assert.ok(Number.isInteger(at) && at >= 0 && at < n, `key ${key} went to partition ${at} of ${n}`);
    counts[at] = (counts[at] as number) + 1;
  }
  return counts;
}

describe('hashKey and mix32', () => {
  it('hashKey is the 32-bit FNV-1a of the key as UTF-8, with numbers hashed as their decimal text', () => {
    assert.equal(hashKey(''), 0x811c9dc5);
    assert.equal(hashKey('a'), 0xe40c292c);
    assert.equal(hashKey('foobar'), 0xbf9cf968);
    assert.equal(hashKey('é'), 0x1e9de8c1, 'multi-byte characters hash their UTF-8 bytes');
    assert.equal(hashKey(42), 0x87e38583);
    assert.equal(hashKey(42), hashKey('42'));
    for (const key of KEYS.slice(0, 1000)) {
      const h = hashKey(key);
      assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32, `hashKey(${key}) is an unsigned 32-bit integer`);
    }
  });

  it("mix32 is murmur3's 32-bit finalizer", () => {
    assert.equal(mix32(0), 0);
    assert.equal(mix32(1), 0x514e28b7);
    assert.equal(mix32(0xdeadbeef), 0x0de5c6a9);
  });
});

describe('hashPartitioner', () => {
  it('puts every key in range, the same key in the same partition, and spreads keys evenly', () => {
    for (const n of [1, 2, 3, 8, 13]) {
      const counts = spread(hashPartitioner(n), n);
      const again = hashPartitioner(n);
      for (const key of KEYS.slice(0, 2000)) assert.equal(place(again, key), place(hashPartitioner(n), key), `key ${key}`);
      for (const c of counts) assert.ok(c > (0.8 * KEYS.length) / n, `partition sizes ${counts} for n=${n}`);
    }
  });
});

describe('roundRobinPartitioner', () => {
  it('cycles 0, 1, …, n−1 regardless of the key, each instance from 0', () => {
    for (const n of [1, 3, 4]) {
      const p = roundRobinPartitioner(n);
      const got = Array.from({ length: 3 * n + 1 }, (_, i) => p.partition(i % 2 === 0 ? 'same' : i, 0));
      assert.deepEqual(
        got,
        Array.from({ length: 3 * n + 1 }, (_, i) => i % n),
      );
      assert.equal(roundRobinPartitioner(n).partition('x', 0), 0);
    }
  });
});

describe('consistentHashPartitioner', () => {
  it('puts every key in range, deterministically, with no partition starved', () => {
    for (const n of [1, 2, 5, 8]) {
      const counts = spread(consistentHashPartitioner(n), n);
      for (const key of KEYS.slice(0, 2000))
        assert.equal(place(consistentHashPartitioner(n), key), place(consistentHashPartitioner(n), key));
      for (const c of counts) assert.ok(c > (0.5 * KEYS.length) / n, `partition sizes ${counts} for n=${n}`);
    }
  });

  it('moves only about 1/(n+1) of the keys when a partition is added, and only onto the new partition', () => {
    for (const n of [1, 2, 4, 8, 16]) {
      const before = consistentHashPartitioner(n);
      const after = consistentHashPartitioner(n + 1);
      let moved = 0;
      for (const key of KEYS) {
        const from = place(before, key);
        const to = place(after, key);
        if (from === to) continue;
        moved++;
        assert.equal(to, n, `key ${key} moved from ${from} to ${to}, not to the new partition ${n}`);
      }
      const share = moved / KEYS.length;
      const ideal = 1 / (n + 1);
      assert.ok(
        share > 0.5 * ideal && share < 1.5 * ideal,
        `n=${n}→${n + 1}: ${(share * 100).toFixed(1)} % of keys moved, ideal ${(ideal * 100).toFixed(1)} %`,
      );
    }
  });

  it('moves far fewer keys than modulo hashing does', () => {
    const movedShare = (a: Partitioner, b: Partitioner) => KEYS.filter((k) => place(a, k) !== place(b, k)).length / KEYS.length;
    const consistent = movedShare(consistentHashPartitioner(8), consistentHashPartitioner(9));
    const modulo = movedShare(hashPartitioner(8), hashPartitioner(9));
    assert.ok(consistent * 3 < modulo, `consistent ${consistent}, modulo ${modulo}`);
  });

  it('honours virtualNodes: any count gives in-range, deterministic placement', () => {
    for (const v of [1, 7, 256]) {
      spread(consistentHashPartitioner(4, v), 4);
      assert.equal(place(consistentHashPartitioner(4, v), 'k'), place(consistentHashPartitioner(4, v), 'k'));
    }
  });
});

describe('rangePartitioner', () => {
  it('sends numeric keys below bounds[0] to 0, [bounds[i−1], bounds[i]) to i, and the rest to the last', () => {
    const p = rangePartitioner(4, [10, 20, 30]);
    const cases: [number, number][] = [
      [-1e9, 0],
      [-1, 0],
      [0, 0],
      [9, 0],
      [10, 1],
      [19, 1],
      [20, 2],
      [29, 2],
      [30, 3],
      [1e12, 3],
    ];
    for (const [key, want] of cases) assert.equal(place(p, key), want, `key ${key}`);
    assert.equal(place(rangePartitioner(1, []), 123), 0);
  });

  it('falls back to the hash for string keys, in range and deterministic', () => {
    const p = rangePartitioner(3, [0, 100]);
    const counts = spread({ partitions: 3, partition: (k, h) => (typeof k === 'string' ? p.partition(k, h) : 0) }, 3);
    assert.ok(
      counts.every((c) => c > 0),
      `string keys reach every partition: ${counts}`,
    );
    assert.equal(place(p, 'abc'), place(rangePartitioner(3, [0, 100]), 'abc'));
  });
});

describe('validatePartitionerSpec and createPartitioner', () => {
  it('accepts each kind and builds the partitioner it names', () => {
    const specs = [
      { kind: 'hash' },
      { kind: 'round-robin' },
      { kind: 'consistent-hash', virtualNodes: 16 },
      { kind: 'range', bounds: [5, 50] },
    ];
    for (const spec of specs) assert.equal(validatePartitionerSpec(spec, 3), spec);
    const rr = createPartitioner({ kind: 'round-robin' }, 3);
    assert.deepEqual(
      [0, 1, 2, 3].map(() => rr.partition('k', 0)),
      [0, 1, 2, 0],
    );
    const range = createPartitioner({ kind: 'range', bounds: [5, 50] }, 3);
    assert.deepEqual(
      [4, 5, 50].map((k) => place(range, k)),
      [0, 1, 2],
    );
    assert.equal(place(createPartitioner({ kind: 'hash' }, 7), 'k'), place(hashPartitioner(7), 'k'));
    assert.equal(place(createPartitioner({ kind: 'consistent-hash' }, 7), 'k'), place(consistentHashPartitioner(7), 'k'));
    for (const spec of specs) assert.equal(createPartitioner(spec as never, 3).partitions, 3);
  });

  it('refuses an unknown kind, naming it and the kinds allowed', () => {
    const rule = 'partitioner must be { kind } with kind one of hash, round-robin, consistent-hash, range; got';
    assert.throws(() => validatePartitionerSpec({ kind: 'modulo' }, 2), invalid(`${rule} "modulo"`));
    assert.throws(() => validatePartitionerSpec(null, 2), invalid(`${rule} null`));
    assert.throws(() => validatePartitionerSpec('hash', 2), invalid(`${rule} "hash"`));
  });

  it('refuses virtualNodes outside 1 to 4096', () => {
    for (const [v, shown] of [
      [0, '0'],
      [4097, '4097'],
      [1.5, '1.5'],
      ['8', '"8"'],
    ] as const) {
      assert.throws(
        () => validatePartitionerSpec({ kind: 'consistent-hash', virtualNodes: v }, 2),
        invalid(`partitioner.virtualNodes must be an integer from 1 to 4096; got ${shown}`),
      );
    }
  });

  it('refuses range bounds that are not n − 1 ascending finite numbers', () => {
    const bad: [unknown, string][] = [
      [[10], 'an array of 1'],
      [[10, 20, 30], 'an array of 3'],
      [[20, 10], 'an array of 2'],
      [[10, 10], 'an array of 2'],
      [[0, Number.NaN], 'an array of 2'],
      [[0, Number.POSITIVE_INFINITY], 'an array of 2'],
      [undefined, 'undefined'],
    ];
    for (const [bounds, shown] of bad) {
      assert.throws(
        () => validatePartitionerSpec({ kind: 'range', bounds }, 3),
        invalid(`partitioner.bounds must be 2 ascending finite numbers (one fewer than the 3 partitions); got ${shown}`),
        JSON.stringify(bounds),
      );
    }
  });
});
