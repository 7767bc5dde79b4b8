// The ring's byte layout (core/slot-layout.ts): what a GPU and every thread rely on. Each per-slot array
// (states, headers, outcomes, payloads, results) starts on a cache line, payload and result areas are
// 16-aligned, nothing overlaps, and positions wrap the way 32-bit counters do.
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
  enqueuedAtIndex,
  HEADER_BYTES,
  headerWord,
  ID_COUNTER_BYTE,
  LINE_BYTES,
  OUTCOME_BYTES,
  outcomeWord,
  payloadByte,
  type RingGeometry,
  resultByte,
  SHARD_CONTROL_BYTES,
  ShardControl,
  SlotHeader,
  SlotOutcome,
  SlotState,
  shardWord,
  slotOf,
  stateWord,
} from '../../src/core/slot-layout.js';

function* geometries(): Generator<RingGeometry> {
  for (const shards of [1, 2, 4, 8])
    for (const consumers of [1, 3, 8])
      for (const shardCapacity of [2, 16, 1024])
        for (const slotBytes of [1, 15, 16, 17, 63, 64, 100, 2048, 4093])
          for (const resultBytes of [1, 4, 16, 100, 2048]) yield { shards, consumers, shardCapacity, slotBytes, resultBytes };
}

/** The [start, end) byte ranges of a layout's five per-slot arrays, in buffer order. */
const arrays = (l: ReturnType<typeof computeLayout>) =>
  [
    ['states', l.statesOffset, l.statesOffset + l.slots * 4],
    ['headers', l.headersOffset, l.headersOffset + l.slots * HEADER_BYTES],
    ['outcomes', l.outcomesOffset, l.outcomesOffset + l.slots * OUTCOME_BYTES],
    ['payloads', l.payloadsOffset, l.payloadsOffset + l.slots * l.payloadArea],
    ['results', l.resultsOffset, l.resultsOffset + l.slots * l.resultArea],
  ] as const;

describe('computeLayout', () => {
  it('starts each per-slot array on a 64-byte line, after the one before, with 16-aligned payload and result areas', () => {
    let count = 0;
    for (const g of geometries()) {
      const l = computeLayout(g);
      const where = JSON.stringify(g);
      assert.equal(l.slots, g.shards * g.shardCapacity, where);
      assert.equal(l.payloadArea % AREA_ALIGN, 0, `payload area ${l.payloadArea}: ${where}`);
      assert.ok(l.payloadArea >= g.slotBytes && l.payloadArea < g.slotBytes + AREA_ALIGN, `payload area padded by less than 16: ${where}`);
      assert.equal(l.resultArea % AREA_ALIGN, 0, `result area ${l.resultArea}: ${where}`);
      assert.ok(l.resultArea >= g.resultBytes && l.resultArea < g.resultBytes + AREA_ALIGN, `result area padded by less than 16: ${where}`);
      let end = CONTROL_BYTES + g.shards * SHARD_CONTROL_BYTES + g.consumers * CONSUMER_DOORBELL_BYTES;
      for (const [name, from, to] of arrays(l)) {
        assert.equal(from % LINE_BYTES, 0, `${name} start on a cache line: ${where}`);
        assert.ok(from >= end && from < end + LINE_BYTES, `${name} follow the array before, padded to a line only: ${where}`);
        end = to;
      }
      assert.ok(l.totalBytes >= end && l.totalBytes < end + LINE_BYTES, where);
      assert.equal(l.totalBytes % LINE_BYTES, 0);
      count++;
    }
    assert.ok(count > 1000);
  });

  it('keeps the geometry it was given', () => {
    const g = { shards: 2, consumers: 3, shardCapacity: 8, slotBytes: 100, resultBytes: 4 };
    const l = computeLayout(g);
    assert.deepEqual([l.shards, l.consumers, l.shardCapacity, l.slotBytes, l.resultBytes], [2, 3, 8, 100, 4]);
  });

  it('places the control block, shard controls, doorbells and the slot arrays one after another without overlap', () => {
    for (const g of geometries()) {
      const l = computeLayout(g);
      const doorbellsEnd = CONTROL_BYTES + g.shards * SHARD_CONTROL_BYTES + g.consumers * CONSUMER_DOORBELL_BYTES;
      assert.ok(l.statesOffset >= doorbellsEnd && l.statesOffset < doorbellsEnd + LINE_BYTES, JSON.stringify(g));
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
    assert.equal(HEADER_BYTES % AREA_ALIGN, 0, 'headers are 16-aligned for 16-byte GPU loads');
    assert.ok(
      SlotHeader.PAYLOAD_LEN < 4 && SlotHeader.ID_LO < 4 && SlotHeader.ID_HI < 4,
      "a GPU reads a message's length and id in the header's first 16 bytes",
    );
  });

  it('fits every outcome word in the outcome record without overlap', () => {
    const words = Object.values(SlotOutcome);
    assert.equal(new Set(words).size, words.length);
    for (const w of words) assert.ok(w >= 0 && (w + 1) * 4 <= OUTCOME_BYTES, `outcome word ${w}`);
    assert.equal(OUTCOME_BYTES % AREA_ALIGN, 0);
  });

  it('has five distinct slot states (DONE for even and odd laps) with EMPTY = 0 (a fresh, zeroed buffer is all EMPTY)', () => {
    assert.equal(SlotState.EMPTY, 0);
    assert.equal(new Set(Object.values(SlotState)).size, 5);
  });
});

describe('slotOf and the per-array indices', () => {
  const g = { shards: 4, consumers: 2, shardCapacity: 8, slotBytes: 20, resultBytes: 4 };
  const l = computeLayout(g);

  it('numbers every slot of every shard once, shard 0 first, positions in order', () => {
    const slots: number[] = [];
    for (let s = 0; s < g.shards; s++) for (let p = 0; p < g.shardCapacity; p++) slots.push(slotOf(l, s, p));
    assert.deepEqual(
      slots,
      slots.map((_, i) => i),
    );
  });

  it("puts each slot's entry of each array inside that array, one entry apart", () => {
    const inside = (name: string, at: number, size: number) => {
      const range = arrays(l).find(([n]) => n === name) as readonly [string, number, number];
      assert.ok(at >= range[1] && at + size <= range[2], `${name} entry at byte ${at}`);
    };
    for (let slot = 0; slot < l.slots; slot++) {
      inside('states', stateWord(l, slot) * 4, 4);
      inside('headers', headerWord(l, slot) * 4, HEADER_BYTES);
      inside('outcomes', outcomeWord(l, slot) * 4, OUTCOME_BYTES);
      inside('payloads', payloadByte(l, slot), l.payloadArea);
      inside('results', resultByte(l, slot), l.resultArea);
      assert.equal(enqueuedAtIndex(l, slot) * 8, headerWord(l, slot) * 4 + ENQUEUED_AT_BYTE);
      assert.equal(payloadByte(l, slot) % AREA_ALIGN, 0);
      assert.equal(resultByte(l, slot) % AREA_ALIGN, 0);
    }
    assert.equal(stateWord(l, 1) - stateWord(l, 0), 1);
    assert.equal((headerWord(l, 1) - headerWord(l, 0)) * 4, HEADER_BYTES);
    assert.equal((outcomeWord(l, 1) - outcomeWord(l, 0)) * 4, OUTCOME_BYTES);
    assert.equal(payloadByte(l, 1) - payloadByte(l, 0), l.payloadArea);
    assert.equal(resultByte(l, 1) - resultByte(l, 0), l.resultArea);
  });

  it('wraps positions by shardCapacity, across the 32-bit counter wrap too', () => {
    for (let s = 0; s < g.shards; s++) {
      for (const p of [0, 3, 7, 1000, 2 ** 31 - 1, -1, -8, -(2 ** 31)]) {
        const index = ((p % g.shardCapacity) + g.shardCapacity) % g.shardCapacity;
        assert.equal(slotOf(l, s, p), slotOf(l, s, index), `shard ${s} position ${p}`);
        assert.equal(slotOf(l, s, p + g.shardCapacity), slotOf(l, s, p));
      }
      const last = 2 ** 31 - 1;
      assert.equal(slotOf(l, s, (last + 1) | 0), s * g.shardCapacity, 'the position after 2³¹−1 is slot 0');
      assert.equal(slotOf(l, s, last), slotOf(l, s, g.shardCapacity - 1));
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
