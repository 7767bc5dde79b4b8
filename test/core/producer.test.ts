// The producer's batch path on one thread (core/producer.ts): `onIds` hands over a batch's first id as
// soon as the ids are taken — before the batch has found space, so before any of its messages can
// complete — and the ids are consecutive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Producer } from '../../src/core/producer.js';
import { Control, SlotHeader, SlotState } from '../../src/core/slot-layout.js';
import { SlotRing } from '../../src/core/slot-ring.js';

const geometry = { shards: 1, consumers: 1, shardCapacity: 4, slotBytes: 8, resultBytes: 4 };
const payloads = (n: number) => Array.from({ length: n }, (_, i) => Uint8Array.of(i));

/** Plays consumer and harvester for every claimed slot: DONE, then freed. */
function finishAll(ring: SlotRing): number {
  for (const off of [...ring.unharvestedSlots()]) {
    if (Atomics.load(ring.i32, (off >> 2) + SlotHeader.STATE) === SlotState.READY)
      Atomics.store(ring.i32, (off >> 2) + SlotHeader.STATE, SlotState.DONE);
  }
  return ring.harvest(0, 1 << 20, () => {});
}

describe('Producer.enqueueMany with onIds', () => {
  it('calls onIds once, synchronously, with the first of consecutive ids, before the batch resolves', async () => {
    const ring = SlotRing.create(geometry, 0);
    let waits = 0;
    const producer = new Producer(ring, { kind: 'consistent-hash' }, async () => {
      waits++;
      finishAll(ring);
    });
    const seen: number[] = [];
    // 10 messages into 4 slots: the batch has to wait for space twice.
    const pending = producer.enqueueMany(payloads(10), undefined, 5000, undefined, (first) => seen.push(first));
    assert.deepEqual(seen, [1], 'called before enqueueMany returned');
    const ids = await pending;
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(waits >= 2, `waited ${waits} times`);
    assert.deepEqual(seen, [1], 'called once');
    const second: number[] = [];
    finishAll(ring);
    assert.deepEqual(await producer.enqueueMany(payloads(3), undefined, 5000, undefined, (first) => second.push(first)), [11, 12, 13]);
    assert.deepEqual(second, [11]);
  });

  it('does not call onIds when the batch is refused before ids are taken', () => {
    const ring = SlotRing.create(geometry, 0);
    const producer = new Producer(ring, { kind: 'consistent-hash' }, async () => {});
    ring.setControl(Control.CLOSED, 1);
    let called = false;
    assert.throws(
      () => producer.enqueueMany(payloads(2), undefined, 10, undefined, () => (called = true)),
      (e: Error & { code?: string }) => e.code === 'SHUTDOWN',
    );
    assert.equal(called, false);
    assert.equal(ring.peekNextId(), 1, 'no ids taken');
  });
});
