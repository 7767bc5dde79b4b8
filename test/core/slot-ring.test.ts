// The slot ring's operations on one thread (core/slot-ring.ts): producers claim and publish, a stand-in
// consumer marks slots DONE, the harvester frees them in position order. Bounds, ids and wrap-around are
// checked here; the contract suite covers the same ring under real threads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Control,
  doneState,
  outcomeWord,
  resultByte,
  ShardControl,
  SlotHeader,
  SlotOutcome,
  SlotState,
  shardWord,
  slotOf,
  stateWord,
} from '../../src/core/slot-layout.js';
import { SlotRing } from '../../src/core/slot-ring.js';

const geometry = { shards: 2, consumers: 1, shardCapacity: 4, slotBytes: 8, resultBytes: 4 };

/** Plays the consumer: marks the slot at a position DONE with a result, as an engine would. */
function finish(ring: SlotRing, shard: number, position: number, result: number[]): void {
  const slot = slotOf(ring.layout, shard, position);
  ring.u8.set(result, resultByte(ring.layout, slot));
  ring.i32[outcomeWord(ring.layout, slot) + SlotOutcome.RESULT_LEN] = result.length;
  ring.i32[outcomeWord(ring.layout, slot) + SlotOutcome.ATTEMPTS] = 1;
  Atomics.store(ring.i32, stateWord(ring.layout, slot), doneState(ring.layout.shardCapacity, position));
}

function produce(ring: SlotRing, shard: number, payload: number[]): { position: number; id: number } {
  const position = ring.claim(shard, 1);
  assert.ok(position >= 0, `shard ${shard} has room`);
  const id = ring.takeIds(1);
  ring.write(shard, position, Uint8Array.from(payload), id, 0xabc, true, 1234.5);
  ring.publish(shard, position, 1);
  return { position, id };
}

describe('SlotRing', () => {
  it('starts empty, with ids from 1, and its control block describes the geometry for attach()', () => {
    const ring = SlotRing.create(geometry, 5);
    assert.equal(ring.totalDepth(), 0);
    assert.equal(ring.peekNextId(), 1);
    assert.equal(ring.control(Control.MAX_RETRIES), 5);
    const attached = SlotRing.attach(ring.sab);
    assert.deepEqual(attached.layout, ring.layout);
  });

  it('refuses to attach to a buffer that is not a ring', () => {
    assert.throws(() => SlotRing.attach(new SharedArrayBuffer(1024)), /not a gpuqueue ring/);
  });

  it('hands out ids that only grow, in blocks', () => {
    const ring = SlotRing.create(geometry, 0);
    assert.equal(ring.takeIds(1), 1);
    assert.equal(ring.takeIds(10), 2);
    assert.equal(ring.takeIds(1), 12);
    assert.equal(ring.peekNextId(), 13);
  });

  it('claims at most shardCapacity slots per shard until the harvester frees them', () => {
    const ring = SlotRing.create(geometry, 0);
    assert.equal(ring.claim(0, 3), 0);
    assert.equal(ring.claim(0, 2), -1, 'only one slot is left');
    assert.equal(ring.claim(0, 1), 3);
    assert.equal(ring.claim(0, 1), -1);
    assert.equal(ring.freeSlots(0), 0);
    assert.equal(ring.freeSlots(1), 4, 'shards are independent');
    assert.equal(ring.depth(0), 4);
    assert.equal(ring.totalDepth(), 4);
  });

  it('writes the header and payload, publishes READY, and reads them back', () => {
    const ring = SlotRing.create(geometry, 0);
    const { position, id } = produce(ring, 1, [1, 2, 3]);
    assert.equal(ring.stateAt(1, position), SlotState.READY);
    const slot = slotOf(ring.layout, 1, position);
    assert.equal(ring.idAt(slot), id);
    assert.deepEqual([...ring.payloadAt(slot)], [1, 2, 3]);
    assert.equal(ring.header(slot, SlotHeader.KEY_HASH), 0xabc);
    assert.equal(ring.enqueuedAt(slot), 1234.5);
  });

  it('keeps ids above 2³² intact in a slot', () => {
    const ring = SlotRing.create(geometry, 0);
    const position = ring.claim(0, 1);
    const big = 2 ** 40 + 12345;
    ring.write(0, position, new Uint8Array(1), big, 0, false, 0);
    assert.equal(ring.idAt(slotOf(ring.layout, 0, position)), big);
  });

  it('harvests DONE slots in position order and stops at the first that is not DONE', () => {
    const ring = SlotRing.create(geometry, 0);
    const a = produce(ring, 0, [1]);
    const b = produce(ring, 0, [2]);
    const c = produce(ring, 0, [3]);
    finish(ring, 0, b.position, [20]);
    finish(ring, 0, c.position, [30]);
    const seen: number[] = [];
    const visit = (slot: number) => seen.push(ring.idAt(slot));
    assert.equal(ring.harvest(0, 10, visit), 0, 'the oldest slot is not done, so nothing is harvested (FIFO)');
    finish(ring, 0, a.position, [10]);
    assert.equal(ring.harvest(0, 2, visit), 2, 'max bounds one pass');
    assert.equal(ring.harvest(0, 10, visit), 1);
    assert.deepEqual(seen, [a.id, b.id, c.id]);
    assert.equal(ring.depth(0), 0);
    assert.equal(ring.stateAt(0, a.position), SlotState.DONE, 'a harvested slot keeps its DONE (the harvester stores no state)');
    assert.equal(ring.doneAt(0, a.position + geometry.shardCapacity), false, "and the next lap's check does not take it for done");
  });

  it('reuses slots around the ring many times over, positions wrapping, payloads and ids intact', () => {
    const ring = SlotRing.create(geometry, 0);
    const seen: number[] = [];
    let expectedId = 1;
    for (let round = 0; round < 50; round++) {
      const made = [produce(ring, 1, [round, 1]), produce(ring, 1, [round, 2]), produce(ring, 1, [round, 3])];
      for (const m of made) finish(ring, 1, m.position, [m.id & 0xff]);
      ring.harvest(1, 10, (slot) => {
        assert.equal(ring.u8[resultByte(ring.layout, slot)], ring.idAt(slot) & 0xff);
        assert.equal(ring.payloadAt(slot)[0], round);
        seen.push(ring.idAt(slot));
      });
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 150 }, () => expectedId++),
    );
    assert.equal(ring.harvestTail(1), 150);
  });
  it('doneRun stops after one lap of a full shard whose every slot is DONE, and release frees exactly that run', () => {
    const ring = SlotRing.create(geometry, 0);
    for (let i = 0; i < geometry.shardCapacity; i++) {
      const { position } = produce(ring, 0, [i]);
      finish(ring, 0, position, [i, i]);
    }
    assert.equal(ring.freeSlots(0), 0);
    assert.equal(ring.doneRun(0, Number.POSITIVE_INFINITY), geometry.shardCapacity);
    assert.equal(ring.doneRun(0, 2), 2);
    ring.release(0, geometry.shardCapacity);
    assert.equal(ring.freeSlots(0), geometry.shardCapacity);
    assert.equal(ring.doneRun(0, Number.POSITIVE_INFINITY), 0, "released slots keep the last lap's DONE, which is not this lap's");
  });

  it('DONE carries the lap parity, flipping where a run crosses the end of the shard, and writes reset ATTEMPTS', () => {
    const ring = SlotRing.create(geometry, 0);
    const cap = geometry.shardCapacity;
    const attemptsAt = (p: number) => ring.outcome(slotOf(ring.layout, 0, p), SlotOutcome.ATTEMPTS);
    // Lap 0: positions 0..3; harvest 0..2 so the next run (3, then lap 1's 4, 5) crosses the shard's end.
    for (let i = 0; i < cap; i++) finish(ring, 0, produce(ring, 0, [i]).position, [i]);
    assert.deepEqual(
      [0, 1, 2, 3].map((p) => ring.stateAt(0, p)),
      [SlotState.DONE, SlotState.DONE, SlotState.DONE, SlotState.DONE],
    );
    assert.equal(
      ring.harvest(0, 3, () => {}),
      3,
    );
    const next = [produce(ring, 0, [4]), produce(ring, 0, [5])].map((r) => r.position);
    assert.deepEqual(next, [cap, cap + 1]);
    assert.deepEqual(next.map(attemptsAt), [0, 0], 'a written slot starts at 0 attempts, whatever its last lap left');
    assert.equal(ring.doneRun(0, 10), 1, 'position 3 is done; lap 1 is not done yet');
    for (const p of next) finish(ring, 0, p, [p]);
    assert.equal(ring.stateAt(0, cap), SlotState.DONE_ODD_LAP);
    assert.equal(ring.doneRun(0, 10), 3, 'the run goes on across the end of the shard');
    assert.equal(
      ring.harvest(0, 10, () => {}),
      3,
    );
    assert.equal(ring.depth(0), 0);
    assert.equal(doneState(cap, 2 ** 31 + cap), SlotState.DONE_ODD_LAP);
    assert.equal(doneState(cap, (2 ** 32 - 1) | 0), SlotState.DONE_ODD_LAP, 'the last lap before the 32-bit wrap is odd…');
    assert.equal(doneState(cap, 0), SlotState.DONE, '…and the first after it even');
  });

  it('writeRun writes a run of views or packed payloads with consecutive ids, across the end of the shard', () => {
    const ring = SlotRing.create(geometry, 0);
    // Move the shard's positions to 3 so a run of 3 wraps past the end (indices 3, 0, 1).
    for (let i = 0; i < 3; i++) finish(ring, 0, produce(ring, 0, [9]).position, [9]);
    ring.release(0, ring.doneRun(0, 3));
    const packed = {
      bytes: Uint8Array.from([1, 2, 3, 4, 5, 6, 7]),
      starts: Uint32Array.from([0, 2, 3]),
      lengths: Uint32Array.from([2, 1, 4]),
    };
    const position = ring.claim(0, 3);
    assert.equal(position, 3);
    const first = ring.takeIds(3);
    ring.writeRun(0, position, packed, 0, 3, first, 99.5);
    const expected = [[1, 2], [3], [4, 5, 6, 7]];
    for (let j = 0; j < 3; j++) {
      const slot = slotOf(ring.layout, 0, position + j);
      assert.equal(ring.stateAt(0, position + j), SlotState.READY);
      assert.deepEqual([...ring.payloadAt(slot)], expected[j]);
      assert.equal(ring.idAt(slot), first + j);
      assert.equal(ring.enqueuedAt(slot), 99.5);
      assert.equal(ring.header(slot, SlotHeader.FLAGS), 0);
      assert.equal(ring.outcome(slot, SlotOutcome.ATTEMPTS), 0, 'writeRun resets the attempts the last lap left');
    }
    assert.equal(ring.control(Control.PUBLISHED), 6, 'PUBLISHED counts every slot published');
  });

  it('claims, publishes and harvests across 2³¹ and 2³² (HEAD reads negative past 2³¹; claim still answers the position)', () => {
    for (const start of [2 ** 31 - 2, 2 ** 32 - 2]) {
      const ring = SlotRing.create(geometry, 0);
      for (const word of [ShardControl.HEAD, ShardControl.HARVEST_TAIL, ShardControl.CONSUMER_CURSOR]) {
        ring.i32[shardWord(1, word)] = start | 0;
      }
      const positions = [0, 1, 2, 3].map((i) => produce(ring, 1, [i]).position);
      assert.deepEqual(
        positions,
        [0, 1, 2, 3].map((i) => (start + i) >>> 0),
        `consecutive positions from ${start}`,
      );
      assert.equal(ring.claim(1, 1), -1, 'and then the shard is full');
      for (const p of positions) finish(ring, 1, p, [p & 0xff]);
      const seen: number[] = [];
      assert.equal(
        ring.harvest(1, 10, (slot) => seen.push(ring.payloadAt(slot)[0] as number)),
        4,
      );
      assert.deepEqual(seen, [0, 1, 2, 3], 'harvested in position order across the wrap');
      assert.equal(ring.depth(1), 0);
    }
  });

  it("resumeShard starts after this lap's DONE and stops at a slot that still shows the last lap's", () => {
    const ring = SlotRing.create({ ...geometry, shards: 1 }, 0);
    // Lap 0: four messages, done and harvested; every slot keeps lap 0's DONE.
    for (let i = 0; i < 4; i++) finish(ring, 0, produce(ring, 0, [i]).position, [i]);
    assert.equal(
      ring.harvest(0, 10, () => {}),
      4,
    );
    // Lap 1: position 4 done, 5 taken by a consumer that died, 6 claimed but not yet written.
    finish(ring, 0, produce(ring, 0, [4]).position, [4]);
    const inflight = produce(ring, 0, [5]).position;
    Atomics.store(ring.i32, stateWord(ring.layout, slotOf(ring.layout, 0, inflight)), SlotState.INFLIGHT);
    assert.equal(ring.claim(0, 1), 6);
    assert.equal(ring.resumeShard(0), 5, "position 4 holds this lap's DONE; 5 is the first unfinished one");
    assert.equal(ring.stateAt(0, 5), SlotState.READY, 'the slot its consumer held runs again');
    assert.equal(ring.stateAt(0, 6), SlotState.DONE, "the unpublished slot still shows lap 0's DONE (not READY: no one takes it)");
    assert.deepEqual(
      [...ring.unharvestedSlots()],
      [4, 5].map((p) => slotOf(ring.layout, 0, p)),
      'only published messages are listed',
    );
  });
});
