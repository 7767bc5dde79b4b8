// The producer's batch path on one thread (core/producer.ts): `onIds` hands over a batch's first id as
// soon as the ids are taken — before the batch has found space, so before any of its messages can
// complete — and the ids are consecutive; packed payloads (one buffer, offsets) land in their slots as
// views would, and bad ones are refused with a message naming the payload.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Producer } from '../../src/core/producer.js';
import { Control, doneState, SlotState, slotOf, stateWord } from '../../src/core/slot-layout.js';
import { SlotRing } from '../../src/core/slot-ring.js';

const geometry = { shards: 1, consumers: 1, shardCapacity: 4, slotBytes: 8, resultBytes: 4 };
const payloads = (n: number) => Array.from({ length: n }, (_, i) => Uint8Array.of(i));

/** Plays consumer and harvester for every claimed slot: DONE, then freed. */
function finishAll(ring: SlotRing): number {
  const tail = ring.harvestTail(0);
  for (let i = 0; i < ring.depth(0); i++) {
    const position = (tail + i) | 0;
    const slot = slotOf(ring.layout, 0, position);
    if (ring.stateOf(slot) === SlotState.READY)
      Atomics.store(ring.i32, stateWord(ring.layout, slot), doneState(ring.layout.shardCapacity, position));
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

describe('Producer with packed payloads', () => {
  it('copies each packed payload into its slot, in order, across a wait for space', async () => {
    const ring = SlotRing.create(geometry, 0);
    const seen: string[] = [];
    const producer = new Producer(ring, { kind: 'consistent-hash' }, async () => {
      for (const off of [...ring.unharvestedSlots()]) seen.push(Buffer.from(ring.payloadAt(off)).toString());
      finishAll(ring);
    });
    // Frames "a", "", "ccc", "dddd", "e", "ffffffff" at odd offsets inside a Buffer (as a request body is).
    const body = Buffer.from('xxaxcccddddeffffffffyy');
    const packed = producer.checkPacked({
      bytes: body,
      starts: Uint32Array.of(2, 3, 4, 7, 11, 12),
      lengths: Uint32Array.of(1, 0, 3, 4, 1, 8),
    });
    assert.equal(packed.bytes.constructor, Uint8Array, 'a plain Uint8Array over the same memory');
    const ids = await producer.enqueueMany(packed, undefined, 5000);
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6]);
    for (const off of [...ring.unharvestedSlots()]) seen.push(Buffer.from(ring.payloadAt(off)).toString());
    assert.deepEqual(seen, ['a', '', 'ccc', 'dddd', 'e', 'ffffffff']);
  });

  it('refuses packed payloads that are malformed, too large or outside the buffer', () => {
    const producer = new Producer(SlotRing.create(geometry, 0), { kind: 'consistent-hash' }, async () => {});
    const bytes = new Uint8Array(20);
    const cases: [unknown, RegExp][] = [
      ['abc', /^payloads must be an array of Uint8Array; got "abc"$/],
      [{ bytes, starts: [0], lengths: Uint32Array.of(1) }, /starts: Uint32Array, lengths: Uint32Array } with as many/],
      [{ bytes, starts: Uint32Array.of(0, 1), lengths: Uint32Array.of(1) }, /as many starts as lengths/],
      [
        { bytes, starts: Uint32Array.of(0, 1), lengths: Uint32Array.of(1, 9) },
        /^payload 1 is 9 bytes; the queue's slotBytes allows at most 8$/,
      ],
      [{ bytes, starts: Uint32Array.of(15), lengths: Uint32Array.of(8) }, /^payload 0 \(bytes 15 to 23\) ends past bytes \(20\)$/],
    ];
    for (const [packed, message] of cases) {
      assert.throws(
        () => producer.checkPacked(packed),
        (e: Error & { code?: string }) => e.code === 'INVALID_ARG' && message.test(e.message),
      );
    }
  });
});
