// The server's store of unread results (server/result-store.ts): results come back as they went in —
// data, status, attempts, reason — whatever order they are read in, through ring wrap-around and growth;
// the oldest are evicted first; and read results behind an unread old one do not pile up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Completion } from '../../src/index.js';
import { ResultStore } from '../../src/server/result-store.js';

const result = (id: number, bytes = id % 300): Completion => ({
  id,
  status: 'ok',
  data: Uint8Array.from({ length: bytes }, (_, i) => (id + i) & 255),
  attempts: 1 + (id % 3),
  handlerStatus: 0,
});

describe('ResultStore', () => {
  it('gives back each result once, in any order, across growth and wrap-around', () => {
    const store = new ResultStore();
    const kept = new Map<number, Completion>();
    let next = 1;
    // Add in runs and read some out of order, so the entry and byte rings wrap and grow.
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 500; i++) {
        const c = result(next++);
        store.add(c);
        kept.set(c.id, c);
      }
      const ids = [...kept.keys()].filter((id) => id % 3 !== round % 3).slice(0, 400);
      for (const id of ids) {
        assert.deepEqual(store.take(id), kept.get(id));
        kept.delete(id);
      }
      assert.equal(store.retained, kept.size);
    }
    for (const [id, c] of kept) assert.deepEqual(store.take(id), c);
    assert.equal(store.retained, 0);
    assert.equal(store.take(1), undefined, 'taken once');
  });

  it('keeps a dead letter with its reason and empty data', () => {
    const store = new ResultStore();
    const dead: Completion = { id: 7, status: 'dead-letter', data: new Uint8Array(0), attempts: 3, handlerStatus: 2, reason: 'why' };
    store.add(result(6));
    store.add(dead);
    assert.deepEqual(store.take(7), dead);
    assert.equal(store.take(8), undefined);
  });

  it('evicts the oldest unread first and lists what is unread', () => {
    const store = new ResultStore();
    for (let id = 1; id <= 10; id++) store.add(result(id));
    assert.ok(store.take(2));
    assert.equal(store.evictOldest(3), 3);
    assert.deepEqual(store.unreadIds(), [5, 6, 7, 8, 9, 10]);
    assert.equal(store.take(1), undefined);
    assert.deepEqual(store.take(5), result(5));
  });

  it('packs unread results together when read ones pile up behind an old unread one', () => {
    const store = new ResultStore();
    store.add(result(1, 1000));
    for (let id = 2; id < 200_000; id++) {
      store.add(result(id, 64));
      assert.ok(store.take(id));
    }
    assert.equal(store.retained, 1);
    // Memory follows what is kept: the old entry is still there and intact after all the packing.
    assert.deepEqual(store.take(1), result(1, 1000));
    const heapBytes = process.memoryUsage().arrayBuffers;
    assert.ok(heapBytes < 64 * 2 ** 20, `array buffers ${heapBytes}`);
  });
});
