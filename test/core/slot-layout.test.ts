// The ring's byte layout (core/slot-layout.ts): what a GPU and every thread rely on. Payload and result
// areas are 16-aligned with a stride that is a multiple of 16, slots start on a cache line, no two parties'
// words share a line, nothing overlaps, and positions wrap the way 32-bit counters do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AREA_ALIGN,
  alignUp,
  CONSUMER_DOORBELL_BYTES,
  CONTROL_BYTES,
  Control,
  computeLayout,
  consumerDoorbellWord,
  ENQUEUED_AT_BYTE,
  HEADER_BYTES,
  ID_COUNTER_BYTE,
  LINE_BYTES,
  type RingGeometry,
  SHARD_CONTROL_BYTES,
  ShardControl,
  SlotHeader,
  SlotState,
  shardWord,
  slotByteOffset,
} from '../../src/core/slot-layout.js';

function* geometries(): Generator<RingGeometry> {
  for (const shards of [1, 2, 4, 8])
    for (const consumers of [1, 3, 8])
      for (const shardCapacity of [2, 16, 1024])
        for (const slotBytes of [1, 15, 16, 17, 63, 64, 100, 2048, 4093])
          for (const resultBytes of [1, 4, 16, 100, 2048]) yield { shards, consumers, shardCapacity, slotBytes, resultBytes };
}

describe('computeLayout', () => {
  it('gives a stride that is a multiple of 16, 16-aligned payload and result areas, and slots that start on a 64-byte line', () => {
    let count = 0;
    for (const g of geometries()) {
      const l = computeLayout(g);
      const where = JSON.stringify(g);
      assert.equal(l.slotStride % AREA_ALIGN, 0, `stride ${l.slotStride} is a multiple of 16: ${where}`);
      assert.equal(l.slotsOffset % LINE_BYTES, 0, `slots start on a cache line: ${where}`);
      assert.equal(HEADER_BYTES % AREA_ALIGN, 0, 'the payload follows the header at a 16-aligned offset');
      assert.equal(l.resultOffset % AREA_ALIGN, 0, `the result area is 16-aligned: ${where}`);
      assert.ok(l.resultOffset >= HEADER_BYTES + g.slotBytes, `the result area starts after the payload: ${where}`);
      assert.ok(l.resultOffset < HEADER_BYTES + g.slotBytes + AREA_ALIGN, `the payload area is padded by less than 16: ${where}`);
      assert.ok(l.slotStride >= l.resultOffset + g.resultBytes, `the result fits in the slot: ${where}`);
      assert.ok(l.slotStride < l.resultOffset + g.resultBytes + AREA_ALIGN, `the result area is padded by less than 16: ${where}`);
      assert.equal(l.totalBytes, l.slotsOffset + g.shards * g.shardCapacity * l.slotStride, where);
      assert.equal(l.totalBytes % AREA_ALIGN, 0);
      count++;
    }
    assert.ok(count > 1000);
  });

  it('keeps the geometry it was given', () => {
    const g = { shards: 2, consumers: 3, shardCapacity: 8, slotBytes: 100, resultBytes: 4 };
    const l = computeLayout(g);
    assert.deepEqual([l.shards, l.consumers, l.shardCapacity, l.slotBytes, l.resultBytes], [2, 3, 8, 100, 4]);
  });

  it('places the control block, shard controls, doorbells and slots one after another without overlap', () => {
    for (const g of geometries()) {
      const l = computeLayout(g);
      const doorbellsEnd = CONTROL_BYTES + g.shards * SHARD_CONTROL_BYTES + g.consumers * CONSUMER_DOORBELL_BYTES;
      assert.ok(l.slotsOffset >= doorbellsEnd && l.slotsOffset < doorbellsEnd + LINE_BYTES, JSON.stringify(g));
      for (let s = 0; s < g.shards; s++) {
        const first = shardWord(s, ShardControl.HEAD) * 4;
        const last = shardWord(s, ShardControl.HARVEST_TAIL) * 4;
        assert.ok(first >= CONTROL_BYTES + s * SHARD_CONTROL_BYTES && last < CONTROL_BYTES + (s + 1) * SHARD_CONTROL_BYTES);
        const bell = consumerDoorbellWord(l, s) * 4;
        assert.ok(bell >= CONTROL_BYTES + g.shards * SHARD_CONTROL_BYTES && bell + 4 <= doorbellsEnd, `doorbell of shard ${s}`);
        assert.equal(bell % LINE_BYTES, 0, 'each doorbell has a line of its own');
      }
    }
  });

  it("puts each party's shard word (producers' HEAD, the consumer's cursor, the harvester's tail) on its own cache line", () => {
    const lines = Object.values(ShardControl).map((word) => Math.floor((word * 4) / LINE_BYTES));
    assert.equal(new Set(lines).size, lines.length);
    assert.equal(SHARD_CONTROL_BYTES % LINE_BYTES, 0);
    assert.ok(Math.max(...Object.values(ShardControl)) * 4 < SHARD_CONTROL_BYTES);
  });

  it('maps a shard to the doorbell of its consumer, shard % consumers', () => {
    const l = computeLayout({ shards: 8, consumers: 3, shardCapacity: 4, slotBytes: 16, resultBytes: 16 });
    for (let s = 0; s < 8; s++) assert.equal(consumerDoorbellWord(l, s), consumerDoorbellWord(l, s % 3));
    const bells = new Set([0, 1, 2].map((s) => consumerDoorbellWord(l, s)));
    assert.equal(bells.size, 3);
  });
});

describe('control block and slot header', () => {
  it('gives every control word its own index inside the block, clear of the 64-bit id counter', () => {
    const words = Object.values(Control);
    assert.equal(new Set(words).size, words.length, 'control words are distinct');
    for (const w of words) {
      assert.ok(w >= 0 && (w + 1) * 4 <= CONTROL_BYTES, `control word ${w} inside the block`);
      assert.ok((w + 1) * 4 <= ID_COUNTER_BYTE || w * 4 >= ID_COUNTER_BYTE + 8, `control word ${w} clear of the id counter`);
    }
    const published = Control.PUBLISHED * 4;
    assert.equal(published % LINE_BYTES, 0, 'PUBLISHED, bumped by every producer, has a line of its own');
    for (const w of words) if (w !== Control.PUBLISHED) assert.notEqual(Math.floor((w * 4) / LINE_BYTES), published / LINE_BYTES);
    assert.equal(ID_COUNTER_BYTE % 8, 0, 'the id counter is 8-aligned for BigInt64 atomics');
    assert.ok(ID_COUNTER_BYTE + 8 <= CONTROL_BYTES);
    assert.equal(CONTROL_BYTES % LINE_BYTES, 0);
  });

  it('fits every header word and the float64 enqueue time in the header without overlap', () => {
    const words = Object.values(SlotHeader);
    assert.equal(new Set(words).size, words.length);
    for (const w of words) assert.ok(w >= 0 && (w + 1) * 4 <= ENQUEUED_AT_BYTE, `header word ${w}`);
    assert.equal(ENQUEUED_AT_BYTE % 8, 0, 'the enqueue time is 8-aligned for Float64Array');
    assert.ok(ENQUEUED_AT_BYTE + 8 <= HEADER_BYTES);
    assert.equal(SlotHeader.STATE, 0, 'the state word leads the slot');
  });

  it('has four distinct slot states with EMPTY = 0 (a fresh, zeroed buffer is all EMPTY)', () => {
    assert.equal(SlotState.EMPTY, 0);
    assert.equal(new Set(Object.values(SlotState)).size, 4);
  });
});

describe('slotByteOffset', () => {
  const g = { shards: 4, consumers: 2, shardCapacity: 8, slotBytes: 20, resultBytes: 4 };
  const l = computeLayout(g);

  it('gives every slot of every shard its own stride-sized place inside the buffer', () => {
    const offsets: number[] = [];
    for (let s = 0; s < g.shards; s++) for (let p = 0; p < g.shardCapacity; p++) offsets.push(slotByteOffset(l, s, p));
    const sorted = [...offsets].sort((a, b) => a - b);
    assert.deepEqual(sorted, offsets, 'shard 0 first, positions in order');
    sorted.forEach((off, i) => {
      assert.equal(off, l.slotsOffset + i * l.slotStride);
      assert.equal(off % AREA_ALIGN, 0);
    });
    assert.equal((sorted.at(-1) as number) + l.slotStride, l.totalBytes);
  });

  it('wraps positions by shardCapacity, across the 32-bit counter wrap too', () => {
    for (let s = 0; s < g.shards; s++) {
      for (const p of [0, 3, 7, 1000, 2 ** 31 - 1, -1, -8, -(2 ** 31)]) {
        const index = ((p % g.shardCapacity) + g.shardCapacity) % g.shardCapacity;
        assert.equal(slotByteOffset(l, s, p), slotByteOffset(l, s, index), `shard ${s} position ${p}`);
        assert.equal(slotByteOffset(l, s, p + g.shardCapacity), slotByteOffset(l, s, p));
      }
      const last = 2 ** 31 - 1;
      const next = (last + 1) | 0;
      assert.equal(
        slotByteOffset(l, s, next) - l.slotsOffset - s * g.shardCapacity * l.slotStride,
        0,
        'the position after 2³¹−1 is slot 0',
      );
      assert.equal(slotByteOffset(l, s, last), slotByteOffset(l, s, g.shardCapacity - 1));
    }
  });
});

describe('alignUp', () => {
  it('rounds up to the next multiple, keeping multiples as they are', () => {
    assert.deepEqual(
      [0, 1, 15, 16, 17, 63, 64, 65].map((n) => alignUp(n, 16)),
      [0, 16, 16, 16, 32, 64, 64, 80],
    );
  });
});
